//! Probes in other executables: the crate's example program, and small
//! crates built here with rustc, where `--gc-sections` drops a library
//! function's code but must keep a valid note, and a semaphore defined in
//! two crates must be linked into one.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use ustrace_probes::{read_usdt_probes, NopKind};

// ---------------------------------------------------------------------------
// The example.

#[test]
fn example_probes() {
    // target/<profile>/deps/notes-HASH -> target/<profile>/examples/probe_demo
    let exe = exe();
    let demo = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("examples/probe_demo"))
        .unwrap();
    if !demo.exists() {
        ustrace_testkit::unavailable(
            "example_probes",
            &format!("{} is not built (cargo test builds it)", demo.display()),
        );
        return;
    }
    let file = read_usdt_probes(&demo).unwrap();
    let tick = file.probe("demo", "tick").expect("demo:tick");
    assert_eq!(signs(&tick.locations[0]), [false, true, false]);
    assert_eq!(tick.locations[0].semaphore_offset, None);
    for name in ["checksum", "report"] {
        let p = file
            .probe("demo", name)
            .unwrap_or_else(|| panic!("demo:{name}"));
        assert!(p.locations[0].semaphore_offset.is_some(), "demo:{name}");
        assert_eq!(signs(&p.locations[0]), [false, false]);
    }
    let out = Command::new(&demo).args(["2", "0"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 ticks, 0 with demo:report traced"));
    assert_eq!(readelf_notes(&demo).len(), 3);
    assert_semaphores_mapped_once(&demo, &file);
}

// ---------------------------------------------------------------------------
// --gc-sections: a probe in a library function that the program never calls.

fn rustc(args: &[&str], dir: &Path) {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let out = Command::new(&rustc)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running rustc");
    assert!(
        out.status.success(),
        "rustc {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unused_library_function_keeps_a_valid_probe() {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("usdt-gc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lib_rs = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs");
    std::fs::write(
        dir.join("gclib.rs"),
        // `inline(never)`: rustc would otherwise treat such small functions
        // as inline ones and not compile them into the library at all.
        "#[inline(never)] pub fn used(x: u64) { ustrace_usdt::probe!(gc, used, x); }\n\
         #[inline(never)] pub fn unused(x: i64) { ustrace_usdt::probe!(gc, unused, x); }\n\
         #[inline(never)] pub fn shared(x: u64) { ustrace_usdt::probe_guarded!(gc, shared, x); }\n\
         #[inline(never)] pub fn unused_guarded(x: u64) {\n\
             ustrace_usdt::probe_guarded!(gc, unused_guarded, x);\n\
         }\n",
    )
    .unwrap();
    // The program has its own site of `gc:shared`: the semaphore is defined
    // in both crates' objects, and the linker must keep one copy.
    std::fs::write(
        dir.join("gcmain.rs"),
        "fn main() { gclib::used(1); gclib::shared(2); ustrace_usdt::probe_guarded!(gc, shared, 3u64); }\n",
    )
    .unwrap();
    let common = ["--edition", "2021", "-O", "-L", "."];
    rustc(
        &[
            &common[..],
            &["--crate-type", "rlib", "--crate-name", "ustrace_usdt"],
            &[lib_rs.to_str().unwrap(), "-o", "libustrace_usdt.rlib"],
        ]
        .concat(),
        &dir,
    );
    rustc(
        &[
            &common[..],
            &[
                "--crate-type",
                "rlib",
                "--extern",
                "ustrace_usdt=libustrace_usdt.rlib",
            ],
            // One object file: an unused function in an object the linker
            // does not pull in at all has no note, which is fine; here both
            // functions share the object, and `unused` is garbage.
            &["-C", "codegen-units=1"],
            &["gclib.rs"],
        ]
        .concat(),
        &dir,
    );
    // rustc's default linker (rust-lld), then GNU ld.
    for (extra, out) in [
        (&[][..], "gcmain_default"),
        (&["-C", "link-arg=-fuse-ld=bfd"][..], "gcmain_bfd"),
    ] {
        rustc(
            &[
                &common[..],
                &["--extern", "gclib=libgclib.rlib", "gcmain.rs", "-o", out],
                &["--extern", "ustrace_usdt=libustrace_usdt.rlib"],
                extra,
            ]
            .concat(),
            &dir,
        );
        // Without the anchor, the note of `unused` survives the removal of
        // its code with a pc of 0, and reading the file fails.
        let file = read_usdt_probes(&dir.join(out)).unwrap_or_else(|e| panic!("{out}: {e}"));
        for (name, signed) in [("used", false), ("unused", true)] {
            let p = file
                .probe("gc", name)
                .unwrap_or_else(|| panic!("{out}: gc:{name}"));
            assert_eq!(p.locations.len(), 1, "{out}");
            let loc = &p.locations[0];
            assert_eq!(loc.nop, NopKind::Nop1Nop10, "{out}: gc:{name}");
            assert_ne!(loc.base, 0, "{out}: .stapsdt.base was dropped");
            assert_eq!(signs(loc), [signed], "{out}");
        }
        // One semaphore for the two crates' sites of `gc:shared`, another
        // for the (unused but kept) `gc:unused_guarded`.
        let shared = &file
            .probe("gc", "shared")
            .unwrap_or_else(|| panic!("{out}: gc:shared"))
            .locations;
        assert_eq!(shared.len(), 2, "{out}: {shared:#?}");
        assert_ne!(shared[0].pc, shared[1].pc);
        assert_ne!(shared[0].semaphore, 0, "{out}");
        assert!(shared[0].semaphore_offset.is_some(), "{out}");
        assert_eq!(shared[0].semaphore, shared[1].semaphore, "{out}");
        let unused = &file
            .probe("gc", "unused_guarded")
            .unwrap_or_else(|| panic!("{out}: gc:unused_guarded"))
            .locations;
        assert_eq!(unused.len(), 1, "{out}");
        assert!(unused[0].semaphore_offset.is_some(), "{out}");
        assert_ne!(unused[0].semaphore, shared[0].semaphore, "{out}");
        let defs = readelf(&["-s", "-W"], &dir.join(out))
            .lines()
            .filter(|l| l.trim_end().ends_with(" __ustrace_usdt_sem.gc.shared"))
            .count();
        assert_eq!(defs, 1, "{out}: one copy of the semaphore");
        assert_semaphores_mapped_once(&dir.join(out), &file);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
