//! Helpers shared by the integration tests: building the C test programs
//! of `tests/c/`, running `readelf`, and skipping when a system file is
//! missing (failing instead when `CI=true`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository's `tests/c` directory.
pub fn c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/c")
}

/// The C test programs, built once per test binary.
pub struct Built {
    /// Directory holding everything built.
    pub dir: PathBuf,
    /// `probes_many` (links `libprobes.so`).
    pub probes_many: PathBuf,
    /// `libprobes.so`.
    pub libprobes: PathBuf,
    /// `argspecs` (every argument form, from inline asm).
    pub argspecs: PathBuf,
    /// `nop10` (a probe site of a 1-byte nop then a 10-byte nop).
    pub nop10: PathBuf,
}

fn gcc(args: &[&str], out: &Path, dir: &Path) {
    // Build to a temporary name, then rename: concurrent test binaries never
    // see a half-written file.
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        out.file_name().unwrap().to_string_lossy(),
        std::process::id()
    ));
    let status = Command::new("gcc")
        .args(args)
        .arg("-o")
        .arg(&tmp)
        .current_dir(dir)
        .status()
        .expect("running gcc (Debian packages gcc and systemtap-sdt-dev are needed)");
    assert!(status.success(), "gcc {args:?} failed");
    std::fs::rename(&tmp, out).unwrap();
}

/// Builds (once) and returns the C test programs.
pub fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("probes-c");
        std::fs::create_dir_all(&dir).unwrap();
        let c = c_dir();
        let src = |f: &str| c.join(f).to_string_lossy().into_owned();
        let libprobes = dir.join("libprobes.so");
        gcc(
            &["-O2", "-g", "-shared", "-fPIC", &src("libprobes.c")],
            &libprobes,
            &dir,
        );
        let probes_many = dir.join("probes_many");
        gcc(
            &[
                "-O2",
                "-g",
                &src("probes_many.c"),
                &src("probes_sem.c"),
                "-L.",
                "-lprobes",
                "-Wl,-rpath,$ORIGIN",
            ],
            &probes_many,
            &dir,
        );
        let argspecs = dir.join("argspecs");
        gcc(&["-O2", "-g", &src("argspecs.c")], &argspecs, &dir);
        let nop10 = dir.join("nop10");
        gcc(&["-O2", "-g", &src("nop10.c")], &nop10, &dir);
        Built {
            dir,
            nop10,
            probes_many,
            libprobes,
            argspecs,
        }
    })
}

/// True when `path` exists. Otherwise the test is skipped with a printed
/// reason, or fails in CI (`ustrace_testkit::unavailable`).
pub fn require(path: &Path, package: &str) -> bool {
    // The test harness names each test's thread after the test.
    let thread = std::thread::current();
    path.exists()
        || ustrace_testkit::unavailable(
            thread.name().unwrap_or("this test"),
            &format!("{} is missing (Debian package {package})", path.display()),
        )
}

/// One stapsdt note as `readelf -n` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadelfNote {
    pub provider: String,
    pub name: String,
    pub location: u64,
    pub base: u64,
    pub semaphore: u64,
    pub arguments: String,
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).unwrap()
}

/// The stapsdt notes of a file, in order, from `readelf -n` (binutils).
pub fn readelf_notes(path: &Path) -> Vec<ReadelfNote> {
    let out = Command::new("readelf")
        .arg("-nW")
        .arg(path)
        .output()
        .expect("running readelf (Debian package binutils)");
    assert!(out.status.success(), "readelf -n {} failed", path.display());
    let text = String::from_utf8_lossy(&out.stdout);
    let mut notes = Vec::new();
    let mut cur: Option<ReadelfNote> = None;
    for line in text.lines() {
        let l = line.trim_start();
        // Without -W readelf puts "Provider:" on its own line; with -W at the
        // end of the note's header line.
        if let Some(v) = l.split_once("Provider: ").map(|(_, v)| v) {
            cur = Some(ReadelfNote {
                provider: v.to_string(),
                name: String::new(),
                location: 0,
                base: 0,
                semaphore: 0,
                arguments: String::new(),
            });
        } else if let Some(v) = l.strip_prefix("Name: ") {
            if let Some(c) = cur.as_mut() {
                c.name = v.to_string();
            }
        } else if let Some(v) = l.strip_prefix("Location: ") {
            // Location: 0x..., Base: 0x..., Semaphore: 0x...
            let c = cur.as_mut().unwrap();
            let parts: Vec<&str> = v.split(',').collect();
            c.location = hex(parts[0]);
            c.base = hex(parts[1].trim().strip_prefix("Base: ").unwrap());
            c.semaphore = hex(parts[2].trim().strip_prefix("Semaphore: ").unwrap());
        } else if let Some(v) = l.strip_prefix("Arguments:") {
            let mut c = cur.take().unwrap();
            c.arguments = v.trim().to_string();
            notes.push(c);
        }
    }
    notes
}

/// A PT_LOAD segment as `readelf -l` prints it: (offset, vaddr, memsz).
pub fn readelf_loads(path: &Path) -> Vec<(u64, u64, u64)> {
    let out = Command::new("readelf")
        .arg("-lW")
        .arg(path)
        .output()
        .expect("running readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| l.trim_start().starts_with("LOAD "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (hex(f[1]), hex(f[2]), hex(f[5]))
        })
        .collect()
}

/// Symbol values from `readelf -sW` (first definition of a name wins).
pub fn readelf_symbol(path: &Path, name: &str) -> Option<u64> {
    let out = Command::new("readelf")
        .arg("-sW")
        .arg(path)
        .output()
        .expect("running readelf");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() >= 8 && f[7] == name && f[6] != "UND").then(|| hex(f[1]))
    })
}
