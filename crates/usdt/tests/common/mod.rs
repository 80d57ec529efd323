//! What the USDT tests share: the probe sites of each test executable
//! (every test binary compiles them in; the tests look at their own
//! executable's notes), and helpers that read notes, sections and
//! mappings. Not every binary uses every item.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use ustrace_probes::{read_usdt_probes, ArgLocation, ArgSpec, UsdtFile, UsdtLocation};
use ustrace_usdt::{declare_semaphore, probe, probe_guarded, ProbeArg};

// ---------------------------------------------------------------------------
// Probe sites. `#[inline(never)]` keeps one copy of each (one note per site)
// in every build profile.

pub const PROVIDER: &str = "usdt_test";

#[inline(never)]
pub fn fire_basic(a: u64, b: i32, p: *const u8, r: &u64) {
    probe!(usdt_test, basic, a, b, p, r, true, -5i8, 'x', 7usize, -1isize, 300u16);
}

#[inline(never)]
pub fn fire_zero() {
    probe!(usdt_test, zero);
}

#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub fn fire_twelve(a: i8, b: u8, c: i16, d: u16, e: i32, f: u32, g: i64, h: u64) {
    probe!(
        usdt_test,
        twelve,
        a,
        b,
        c,
        d,
        e,
        f,
        g,
        h,
        a as isize - 100,
        b as usize + 100,
        -(g / 2),
        h / 2, // a trailing comma is accepted
    );
}

/// Only the trap test calls this one, so that the `int3` it patches in is
/// never hit by another test.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub fn fire_trapped(a: u64, b: i32, c: i8, d: u16, p: *const u8, r: &u64, t: bool, z: isize) {
    probe!(
        usdt_test,
        trapped,
        a,
        b,
        c,
        d,
        p,
        r,
        t,
        z,
        -1i64,
        u64::MAX,
        0u8,
        i64::MIN
    );
}

#[inline(never)]
pub fn fire_generic<T: ProbeArg>(x: T) {
    probe!(usdt_test, generic, x);
}

/// How many times the arguments of `usdt_test:twice_guarded` were
/// evaluated.
pub static TWICE_EVALS: AtomicU64 = AtomicU64::new(0);

pub fn twice_eval(x: u32) -> u32 {
    TWICE_EVALS.fetch_add(1, Ordering::SeqCst);
    x
}

/// Two sites of each probe in one function: they must link (no clashing
/// symbols) and give two locations each, the guarded ones sharing the
/// semaphore of `usdt_test:twice_guarded` with the site in
/// `elsewhere::fire_twice_guarded`.
#[inline(never)]
pub fn fire_twice(x: u32) {
    probe!(usdt_test, twice, x);
    probe!(usdt_test, twice, x + 1);
    probe_guarded!(usdt_test, twice_guarded, twice_eval(x));
    probe_guarded!(usdt_test, twice_guarded, twice_eval(x + 1));
}

/// A third site of `usdt_test:twice_guarded` in another module, which an
/// incremental (debug) build compiles into another codegen unit, hence
/// another object file: the semaphore is then defined twice before linking,
/// and the linker must keep one. (Checked with `cargo rustc -p ustrace-usdt
/// --test notes -- -C save-temps`: two of the kept `.rcgu.o` files each
/// have a COMDAT group `__ustrace_usdt_sem.usdt_test.twice_guarded`; the
/// test `unused_library_function_keeps_a_valid_probe` checks the same
/// across two crates, where separate objects are certain.)
pub mod elsewhere {
    #[inline(never)]
    pub fn fire_twice_guarded(x: u32) {
        ustrace_usdt::probe_guarded!(usdt_test, twice_guarded, super::twice_eval(x + 2));
    }

    /// `enabled!` of the same probe, in this other codegen unit.
    #[inline(never)]
    pub fn twice_guarded_enabled() -> bool {
        ustrace_usdt::enabled!(usdt_test, twice_guarded)
    }
}

/// Records the order in which probe arguments are evaluated.
pub static EVALUATED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

pub fn record(v: u32) -> u32 {
    EVALUATED.lock().unwrap().push(v);
    v
}

#[inline(never)]
pub fn fire_order() {
    probe!(usdt_test, order, record(1), record(2), record(3));
}

/// How many times the argument of `usdt_test:guarded` was evaluated.
pub static GUARDED_EVALS: AtomicU64 = AtomicU64::new(0);

#[inline(never)]
pub fn fire_guarded() {
    probe_guarded!(
        usdt_test,
        guarded,
        GUARDED_EVALS.fetch_add(1, Ordering::SeqCst) + 1,
        -3i32
    );
}

declare_semaphore!(
    /// Shared by `usdt_test:named` and `usdt_test:named_other`.
    pub static NAMED
);

/// How many times the arguments of the `NAMED` probes were evaluated.
pub static NAMED_EVALS: AtomicU64 = AtomicU64::new(0);

#[inline(never)]
pub fn fire_named() {
    probe_guarded!(
        semaphore = NAMED,
        usdt_test,
        named,
        NAMED_EVALS.fetch_add(1, Ordering::SeqCst)
    );
    probe_guarded!(
        semaphore = crate::common::NAMED,
        usdt_test,
        named_other,
        NAMED_EVALS.fetch_add(1, Ordering::SeqCst)
    );
}

/// Fires every probe above except `trapped`, so each is compiled in.
pub fn fire_all() {
    let v = 9u64;
    fire_basic(1, -2, c"x".as_ptr().cast(), &v);
    fire_zero();
    fire_twelve(-1, 2, -3, 4, -5, 6, -70, 80);
    fire_generic(3u8);
    fire_generic(-3i16);
    fire_twice(1);
    elsewhere::fire_twice_guarded(1);
    fire_guarded();
    fire_named();
    fire_order();
}

// ---------------------------------------------------------------------------
// Helpers.

pub fn exe() -> PathBuf {
    std::env::current_exe().unwrap()
}

/// The probes of this executable (after firing all of them once).
pub fn probes() -> &'static UsdtFile {
    static FILE: OnceLock<UsdtFile> = OnceLock::new();
    FILE.get_or_init(|| {
        fire_all();
        read_usdt_probes(&exe()).expect("reading this test's own probes")
    })
}

/// The locations of `usdt_test:name`.
pub fn locations(name: &str) -> &'static [UsdtLocation] {
    &probes()
        .probe(PROVIDER, name)
        .unwrap_or_else(|| panic!("probe {PROVIDER}:{name} not found"))
        .locations
}

/// The only location of `usdt_test:name`.
pub fn location(name: &str) -> &'static UsdtLocation {
    let locs = locations(name);
    assert_eq!(locs.len(), 1, "{name}: {locs:#?}");
    &locs[0]
}

/// The parsed arguments of a location; every one must parse.
pub fn args(loc: &UsdtLocation) -> Vec<ArgSpec> {
    loc.args
        .iter()
        .map(|a| {
            a.clone()
                .unwrap_or_else(|e| panic!("{}: {e}", loc.args_text))
        })
        .collect()
}

/// Checks that every argument is a full 64-bit register and returns the
/// signs.
pub fn signs(loc: &UsdtLocation) -> Vec<bool> {
    args(loc)
        .iter()
        .map(|a| {
            assert_eq!(a.size, 8, "{}", loc.args_text);
            match &a.location {
                ArgLocation::Register(r) => assert_eq!(r.width, 8, "{}", loc.args_text),
                other => panic!("{}: not a register: {other:?}", loc.args_text),
            }
            a.signed
        })
        .collect()
}

/// The register of an argument.
pub fn register(a: &ArgSpec) -> ustrace_probes::Register {
    match &a.location {
        ArgLocation::Register(r) => r.reg,
        other => panic!("not a register: {other:?}"),
    }
}

/// Where file offset `offset` of this executable is mapped in memory, from
/// `/proc/self/maps`, in a mapping whose permissions include `perm` (`'x'`
/// for code, `'w'` for semaphores), as the kernel finds uprobe sites and
/// semaphores. The permission matters: a file page can be mapped twice,
/// e.g. the last page of the RELRO segment (read-only after relocation) is
/// also the first page of the writable data segment.
pub fn runtime_address(offset: u64, perm: char) -> u64 {
    let exe = exe();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 6 || Path::new(fields[5]) != exe || !fields[1].contains(perm) {
            continue;
        }
        let (start, end) = fields[0].split_once('-').unwrap();
        let start = u64::from_str_radix(start, 16).unwrap();
        let end = u64::from_str_radix(end, 16).unwrap();
        let map_offset = u64::from_str_radix(fields[2], 16).unwrap();
        if (map_offset..map_offset + (end - start)).contains(&offset) {
            return start + (offset - map_offset);
        }
    }
    panic!(
        "file offset {offset:#x} of {} is not mapped with {perm}",
        exe.display()
    );
}

/// The semaphore of a location, as the kernel would find it: from the
/// note's file offset through `/proc/self/maps`.
pub fn semaphore_at(loc: &UsdtLocation) -> &'static AtomicU16 {
    let offset = loc.semaphore_offset.expect("a semaphore");
    let addr = runtime_address(offset, 'w') as *mut u16;
    assert_eq!(addr as usize % 2, 0, "misaligned semaphore");
    // SAFETY: the address is a `Semaphore` static (a `repr(transparent)`
    // `AtomicU16`) of this executable, as the tests check.
    unsafe { AtomicU16::from_ptr(addr) }
}

/// Serializes the tests that turn semaphores on and off or count
/// evaluations.
pub static SEMAPHORE_LOCK: Mutex<()> = Mutex::new(());

/// How many writable `PT_LOAD` segments of `file` map the file page that
/// holds `offset` (the kernel maps whole pages, so the last page of one
/// segment can also be the first of the next).
pub fn writable_segments_mapping(file: &Path, offset: u64) -> usize {
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
    readelf(&["-l", "-W"], file)
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // LOAD Offset VirtAddr PhysAddr FileSiz MemSiz Flg(1 or 2 words) Align
            if f.first() != Some(&"LOAD") || !f[6..f.len() - 1].concat().contains('W') {
                return false;
            }
            let start = hex(f[1]) & !4095;
            let end = (hex(f[1]) + hex(f[4]) + 4095) & !4095;
            (start..end).contains(&offset)
        })
        .count()
}

/// Every semaphore of `file` is on a page that only one writable segment
/// maps: otherwise the kernel may raise it in the wrong copy when the
/// program maps its file after a tracer has attached (see the crate
/// documentation, "`.probes` starts on a page").
pub fn assert_semaphores_mapped_once(file: &Path, probes: &UsdtFile) {
    let mut checked = 0;
    for p in &probes.probes {
        for l in &p.locations {
            if let Some(off) = l.semaphore_offset {
                assert_eq!(
                    writable_segments_mapping(file, off),
                    1,
                    "{}: {}:{} semaphore at file offset {off:#x}",
                    file.display(),
                    p.provider,
                    p.name
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "{}: no semaphore", file.display());
}

// ---------------------------------------------------------------------------
// readelf.

pub fn readelf(args: &[&str], file: &Path) -> String {
    let out = Command::new("readelf")
        .args(args)
        .arg(file)
        .output()
        .expect("running readelf (binutils)");
    assert!(out.status.success(), "readelf {args:?} failed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.trim().is_empty(),
        "readelf {args:?} warned: {stderr}"
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `(address, size)` of a section of this executable, from `readelf -S -W`.
pub fn section_range(name: &str) -> (u64, u64) {
    let line = section_line(name);
    let fields: Vec<&str> = line.split_whitespace().collect();
    // [Nr] Name Type Address Off Size ES Flg Lk Inf Al
    let i = fields.iter().position(|f| *f == name).unwrap();
    (
        u64::from_str_radix(fields[i + 2], 16).unwrap(),
        u64::from_str_radix(fields[i + 4], 16).unwrap(),
    )
}

/// The flags column of a section of this executable.
pub fn section_flags(name: &str) -> String {
    let line = section_line(name);
    let fields: Vec<&str> = line.split_whitespace().collect();
    let i = fields.iter().position(|f| *f == name).unwrap();
    fields[i + 6].to_string()
}

pub fn section_line(name: &str) -> String {
    readelf(&["-S", "-W"], &exe())
        .lines()
        .find(|l| l.split_whitespace().any(|f| f == name))
        .unwrap_or_else(|| panic!("no section {name}"))
        .to_string()
}

/// One note as printed by `readelf -n`.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReadelfNote {
    pub provider: String,
    pub name: String,
    pub location: u64,
    pub base: u64,
    pub semaphore: u64,
    pub arguments: String,
}

pub fn readelf_notes(file: &Path) -> Vec<ReadelfNote> {
    let text = readelf(&["-n"], file);
    let hex = |s: &str| u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).unwrap();
    let mut notes = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if !line.starts_with("stapsdt") {
            continue;
        }
        assert!(line.contains("NT_STAPSDT"), "{line}");
        let mut field = |key: &str| {
            let l = lines.next().unwrap_or_else(|| panic!("missing {key}"));
            l.strip_prefix(key)
                .unwrap_or_else(|| panic!("expected {key}, got {l}"))
                .trim()
                .to_string()
        };
        let provider = field("Provider:");
        let name = field("Name:");
        let addrs = field("Location:");
        let arguments = field("Arguments:");
        let mut parts = addrs.split(',').map(str::trim);
        let location = hex(parts.next().unwrap());
        let base = hex(parts.next().unwrap().strip_prefix("Base:").unwrap());
        let semaphore = hex(parts.next().unwrap().strip_prefix("Semaphore:").unwrap());
        notes.push(ReadelfNote {
            provider,
            name,
            location,
            base,
            semaphore,
            arguments,
        });
    }
    notes
}
