//! The probes of this test executable, as `ustrace_probes` and `readelf`
//! see them: provider, name, argument specs and signs, semaphores (one per
//! `provider:name`, shared by its guarded sites), the `nop` + 10-byte `nop`
//! at each site, the values in the registers when a probe fires (by
//! trapping on the `nop` ourselves), semaphore-guarded evaluation, and, in
//! small crates built with rustc, the `--gc-sections` anchor and a
//! semaphore shared across crates.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use ustrace_probes::{read_usdt_probes, ArgLocation, ArgSpec, NopKind, UsdtFile, UsdtLocation};
use ustrace_usdt::{declare_semaphore, enabled, probe, probe_guarded, ProbeArg, Semaphore};

const PROVIDER: &str = "usdt_test";

// ---------------------------------------------------------------------------
// Probe sites. `#[inline(never)]` keeps one copy of each (one note per site)
// in every build profile.

#[inline(never)]
fn fire_basic(a: u64, b: i32, p: *const u8, r: &u64) {
    probe!(usdt_test, basic, a, b, p, r, true, -5i8, 'x', 7usize, -1isize, 300u16);
}

#[inline(never)]
fn fire_zero() {
    probe!(usdt_test, zero);
}

#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn fire_twelve(a: i8, b: u8, c: i16, d: u16, e: i32, f: u32, g: i64, h: u64) {
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
fn fire_trapped(a: u64, b: i32, c: i8, d: u16, p: *const u8, r: &u64, t: bool, z: isize) {
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
fn fire_generic<T: ProbeArg>(x: T) {
    probe!(usdt_test, generic, x);
}

/// How many times the arguments of `usdt_test:twice_guarded` were
/// evaluated.
static TWICE_EVALS: AtomicU64 = AtomicU64::new(0);

fn twice_eval(x: u32) -> u32 {
    TWICE_EVALS.fetch_add(1, Ordering::SeqCst);
    x
}

/// Two sites of each probe in one function: they must link (no clashing
/// symbols) and give two locations each, the guarded ones sharing the
/// semaphore of `usdt_test:twice_guarded` with the site in
/// `elsewhere::fire_twice_guarded`.
#[inline(never)]
fn fire_twice(x: u32) {
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
mod elsewhere {
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
static EVALUATED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn record(v: u32) -> u32 {
    EVALUATED.lock().unwrap().push(v);
    v
}

#[inline(never)]
fn fire_order() {
    probe!(usdt_test, order, record(1), record(2), record(3));
}

/// How many times the argument of `usdt_test:guarded` was evaluated.
static GUARDED_EVALS: AtomicU64 = AtomicU64::new(0);

#[inline(never)]
fn fire_guarded() {
    probe_guarded!(
        usdt_test,
        guarded,
        GUARDED_EVALS.fetch_add(1, Ordering::SeqCst) + 1,
        -3i32
    );
}

declare_semaphore!(
    /// Shared by `usdt_test:named` and `usdt_test:named_other`.
    static NAMED
);

/// How many times the arguments of the `NAMED` probes were evaluated.
static NAMED_EVALS: AtomicU64 = AtomicU64::new(0);

#[inline(never)]
fn fire_named() {
    probe_guarded!(
        semaphore = NAMED,
        usdt_test,
        named,
        NAMED_EVALS.fetch_add(1, Ordering::SeqCst)
    );
    probe_guarded!(
        semaphore = crate::NAMED,
        usdt_test,
        named_other,
        NAMED_EVALS.fetch_add(1, Ordering::SeqCst)
    );
}

/// Fires every probe above except `trapped`, so each is compiled in.
fn fire_all() {
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

fn exe() -> PathBuf {
    std::env::current_exe().unwrap()
}

/// The probes of this executable (after firing all of them once).
fn probes() -> &'static UsdtFile {
    static FILE: OnceLock<UsdtFile> = OnceLock::new();
    FILE.get_or_init(|| {
        fire_all();
        read_usdt_probes(&exe()).expect("reading this test's own probes")
    })
}

/// The locations of `usdt_test:name`.
fn locations(name: &str) -> &'static [UsdtLocation] {
    &probes()
        .probe(PROVIDER, name)
        .unwrap_or_else(|| panic!("probe {PROVIDER}:{name} not found"))
        .locations
}

/// The only location of `usdt_test:name`.
fn location(name: &str) -> &'static UsdtLocation {
    let locs = locations(name);
    assert_eq!(locs.len(), 1, "{name}: {locs:#?}");
    &locs[0]
}

/// The parsed arguments of a location; every one must parse.
fn args(loc: &UsdtLocation) -> Vec<ArgSpec> {
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
fn signs(loc: &UsdtLocation) -> Vec<bool> {
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
fn register(a: &ArgSpec) -> ustrace_probes::Register {
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
fn runtime_address(offset: u64, perm: char) -> u64 {
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
fn semaphore_at(loc: &UsdtLocation) -> &'static AtomicU16 {
    let offset = loc.semaphore_offset.expect("a semaphore");
    let addr = runtime_address(offset, 'w') as *mut u16;
    assert_eq!(addr as usize % 2, 0, "misaligned semaphore");
    // SAFETY: the address is a `Semaphore` static (a `repr(transparent)`
    // `AtomicU16`) of this executable, as the tests check.
    unsafe { AtomicU16::from_ptr(addr) }
}

/// Serializes the tests that turn semaphores on and off or count
/// evaluations.
static SEMAPHORE_LOCK: Mutex<()> = Mutex::new(());

// ---------------------------------------------------------------------------
// The notes.

#[test]
fn basic_probe_note() {
    let loc = location("basic");
    assert_eq!(
        signs(loc),
        [false, true, false, false, false, true, false, false, true, false]
    );
    // `8@%rax -8@%rcx ...`: the substituted operands of the asm block.
    for spec in loc.args_text.split(' ') {
        assert!(
            spec.starts_with("8@%r") || spec.starts_with("-8@%r"),
            "{}",
            loc.args_text
        );
    }
    assert_eq!(loc.semaphore, 0);
    assert_eq!(loc.semaphore_offset, None);
    assert_ne!(loc.base, 0, "the note must record .stapsdt.base");
}

#[test]
fn every_site_is_a_nop_then_a_nop10() {
    let data = std::fs::read(exe()).unwrap();
    let mut sites = 0;
    for probe in probes().probes.iter().filter(|p| p.provider == PROVIDER) {
        for loc in &probe.locations {
            assert_eq!(
                loc.nop,
                NopKind::Nop1Nop10,
                "{}:{}",
                probe.provider,
                probe.name
            );
            let at = loc.file_offset as usize;
            assert_eq!(
                &data[at..at + 11],
                &[0x90, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
                "{}: the site must be nop + nop10",
                probe.name
            );
            sites += 1;
        }
    }
    // basic zero twelve trapped generic(2) twice(2) twice_guarded(3)
    // order guarded named named_other
    assert_eq!(sites, 15);
}

#[test]
fn zero_arguments() {
    let loc = location("zero");
    assert_eq!(loc.args_text, "");
    assert!(loc.args.is_empty());
}

#[test]
fn twelve_arguments_in_twelve_registers() {
    let loc = location("twelve");
    assert_eq!(
        signs(loc),
        [true, false, true, false, true, false, true, false, true, false, true, false]
    );
    // All twelve values differ (see `fire_all`), so they need twelve
    // registers (the compiler may share one between equal values).
    let regs: BTreeSet<_> = args(loc).iter().map(register).collect();
    assert_eq!(regs.len(), 12, "{}", loc.args_text);
}

#[test]
fn generic_sites_take_their_sign_from_the_type() {
    let locs = locations("generic");
    assert_eq!(locs.len(), 2, "one per instantiation: {locs:#?}");
    let mut signs: Vec<bool> = locs.iter().map(|l| signs(l)[0]).collect();
    signs.sort();
    assert_eq!(signs, [false, true]);
}

#[test]
fn same_probe_at_several_sites() {
    let plain = locations("twice");
    assert_eq!(plain.len(), 2);
    assert_ne!(plain[0].pc, plain[1].pc);

    let guarded = locations("twice_guarded");
    assert_eq!(guarded.len(), 3, "two in fire_twice, one elsewhere");
    let pcs: BTreeSet<u64> = guarded.iter().map(|l| l.pc).collect();
    assert_eq!(pcs.len(), 3);
    assert!(guarded.iter().all(|l| l.semaphore_offset.is_some()));
    assert!(
        guarded.iter().all(|l| (l.semaphore, l.semaphore_offset)
            == (guarded[0].semaphore, guarded[0].semaphore_offset)),
        "all sites of a probe share its semaphore: {guarded:#?}"
    );
    // A different probe has a different semaphore.
    assert_ne!(location("guarded").semaphore, guarded[0].semaphore);
}

/// The semaphore symbols of this executable's `.symtab` (the linker makes
/// the hidden symbols local, and keeps them).
fn semaphore_symbols() -> Vec<(u64, String)> {
    readelf(&["-s", "-W"], &exe())
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Num: Value Size Type Bind Vis Ndx Name
            let name = *f.get(7)?;
            name.starts_with("__ustrace_usdt_sem.usdt_test.").then(|| {
                assert_eq!(f[2], "2", "{l}");
                assert_eq!(f[3], "OBJECT", "{l}");
                assert_eq!(f[5], "HIDDEN", "{l}");
                (u64::from_str_radix(f[1], 16).unwrap(), name.to_string())
            })
        })
        .collect()
}

#[test]
fn one_semaphore_symbol_per_probe() {
    let mut syms = semaphore_symbols();
    syms.sort_by(|a, b| a.1.cmp(&b.1));
    let names: Vec<&str> = syms.iter().map(|(_, n)| n.as_str()).collect();
    // Each exactly once, although `twice_guarded` is used in two codegen
    // units; `semaphore =` probes have none of their own; `never_guarded`
    // has one because `enabled!` names it, though no note records it.
    assert_eq!(
        names,
        [
            "__ustrace_usdt_sem.usdt_test.guarded",
            "__ustrace_usdt_sem.usdt_test.never_guarded",
            "__ustrace_usdt_sem.usdt_test.twice_guarded",
        ]
    );
    for (addr, name) in &syms {
        let probe = name.rsplit('.').next().unwrap();
        if probe != "never_guarded" {
            assert!(
                locations(probe).iter().all(|l| l.semaphore == *addr),
                "{name} at {addr:#x}"
            );
        }
        let (start, size) = section_range(".probes");
        assert!(
            (start..start + size).contains(addr),
            "{name} not in .probes"
        );
        assert_eq!(addr % 2, 0, "{name} misaligned");
    }
}

#[test]
fn arguments_are_evaluated_once_in_order() {
    let _lock = SEMAPHORE_LOCK.lock().unwrap();
    probes();
    EVALUATED.lock().unwrap().clear();
    fire_order();
    assert_eq!(*EVALUATED.lock().unwrap(), [1, 2, 3]);
}

// ---------------------------------------------------------------------------
// Semaphores.

#[test]
fn guarded_probe_has_a_semaphore_in_probes_section() {
    let loc = location("guarded");
    assert_ne!(loc.semaphore, 0);
    assert!(loc.semaphore_offset.is_some());
    assert_eq!(signs(loc), [false, true]);
    assert!(
        section_flags(".probes").contains('W'),
        "`.probes` must be writable"
    );
    let (addr, size) = section_range(".probes");
    assert!(
        (addr..addr + size).contains(&loc.semaphore),
        "semaphore {:#x} outside .probes",
        loc.semaphore
    );
}

#[test]
fn guarded_arguments_are_evaluated_only_when_enabled() {
    let _lock = SEMAPHORE_LOCK.lock().unwrap();
    let sem = semaphore_at(location("guarded"));
    assert_eq!(sem.load(Ordering::SeqCst), 0);

    let before = GUARDED_EVALS.load(Ordering::SeqCst);
    fire_guarded();
    assert_eq!(
        GUARDED_EVALS.load(Ordering::SeqCst),
        before,
        "evaluated while disabled"
    );

    // What the kernel does when a uprobe with this ref_ctr_offset is created.
    sem.fetch_add(1, Ordering::SeqCst);
    fire_guarded();
    fire_guarded();
    sem.fetch_sub(1, Ordering::SeqCst);
    assert_eq!(GUARDED_EVALS.load(Ordering::SeqCst), before + 2);

    fire_guarded();
    assert_eq!(GUARDED_EVALS.load(Ordering::SeqCst), before + 2);
}

#[test]
fn shared_semaphore_guards_every_site_and_enabled_reads_it() {
    let _lock = SEMAPHORE_LOCK.lock().unwrap();
    let sem = semaphore_at(&locations("twice_guarded")[0]);
    assert_eq!(sem.load(Ordering::SeqCst), 0);
    assert!(!enabled!(usdt_test, twice_guarded));
    assert!(!elsewhere::twice_guarded_enabled());
    assert!(!enabled!(usdt_test, guarded));
    // A probe with no guarded site has a semaphore that stays 0.
    assert!(!enabled!(usdt_test, never_guarded));

    let before = TWICE_EVALS.load(Ordering::SeqCst);
    fire_twice(5);
    elsewhere::fire_twice_guarded(5);
    assert_eq!(TWICE_EVALS.load(Ordering::SeqCst), before);

    // What the kernel does for each of the three sites it attaches to.
    sem.fetch_add(3, Ordering::SeqCst);
    assert!(enabled!(usdt_test, twice_guarded));
    assert!(elsewhere::twice_guarded_enabled());
    assert!(!enabled!(usdt_test, guarded), "another probe's semaphore");
    fire_twice(5);
    elsewhere::fire_twice_guarded(5);
    sem.fetch_sub(3, Ordering::SeqCst);
    assert_eq!(
        TWICE_EVALS.load(Ordering::SeqCst),
        before + 3,
        "all three sites fire"
    );
    assert!(!enabled!(usdt_test, twice_guarded));
    fire_twice(5);
    assert_eq!(TWICE_EVALS.load(Ordering::SeqCst), before + 3);
}

/// How many writable `PT_LOAD` segments of `file` map the file page that
/// holds `offset` (the kernel maps whole pages, so the last page of one
/// segment can also be the first of the next).
fn writable_segments_mapping(file: &Path, offset: u64) -> usize {
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
fn assert_semaphores_mapped_once(file: &Path, probes: &UsdtFile) {
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

#[test]
fn semaphores_are_on_a_page_of_their_own() {
    assert_semaphores_mapped_once(&exe(), probes());
    let (addr, _) = section_range(".probes");
    assert_eq!(addr % 4096, 0, ".probes must start on a page");
}

#[test]
fn named_semaphore_is_shared_and_recorded() {
    let _lock = SEMAPHORE_LOCK.lock().unwrap();
    let a = location("named");
    let b = location("named_other");
    assert_eq!(a.semaphore, b.semaphore);
    assert_eq!(a.semaphore_offset, b.semaphore_offset);
    // The note's semaphore is the declared static.
    assert_eq!(semaphore_at(a).as_ptr(), NAMED.as_ptr());

    assert!(!NAMED.is_enabled());
    let before = NAMED_EVALS.load(Ordering::SeqCst);
    fire_named();
    assert_eq!(NAMED_EVALS.load(Ordering::SeqCst), before);

    // SAFETY: `as_ptr` points at the live static, written only by the
    // tests holding SEMAPHORE_LOCK.
    let counter = unsafe { AtomicU16::from_ptr(NAMED.as_ptr()) };
    counter.fetch_add(2, Ordering::SeqCst);
    assert!(NAMED.is_enabled());
    assert_eq!(NAMED.count(), 2);
    fire_named();
    counter.fetch_sub(2, Ordering::SeqCst);
    assert_eq!(
        NAMED_EVALS.load(Ordering::SeqCst),
        before + 2,
        "both sites fire"
    );
    assert!(!NAMED.is_enabled());
}

#[test]
fn semaphore_api() {
    let s = Semaphore::new();
    assert!(!s.is_enabled());
    assert_eq!(s.count(), 0);
    assert_eq!(format!("{s:?}"), "Semaphore { count: 0 }");
    assert_eq!(Semaphore::default().count(), 0);
    assert_eq!(std::mem::size_of::<Semaphore>(), 2);
    assert_eq!(std::mem::align_of::<Semaphore>(), 2);
}

#[test]
fn probe_arg_values() {
    assert_eq!((-1i8).into_probe_value(), u64::MAX);
    assert_eq!(255u8.into_probe_value(), 255);
    assert_eq!((-2i32).into_probe_value(), (-2i64) as u64);
    assert_eq!(u32::MAX.into_probe_value(), 0xffff_ffff);
    assert_eq!(true.into_probe_value(), 1);
    assert_eq!('A'.into_probe_value(), 65);
    let x = 5u32;
    assert_eq!((&x).into_probe_value(), &x as *const u32 as u64);
    let s: &[u8] = b"abc";
    assert_eq!(s.into_probe_value(), s.as_ptr() as u64);
    const { assert!(i64::SIGNED && isize::SIGNED && !usize::SIGNED && !<*const u8>::SIGNED) };
}

// ---------------------------------------------------------------------------
// Register values at the probe, by trapping on the nop.

mod trap {
    //! A minimal breakpoint: replace the probe's `nop` by `int3` and read
    //! the registers in a SIGTRAP handler, like a uprobe does. Raw system
    //! calls, so that the crate needs no `libc`.

    use std::arch::{asm, global_asm};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    /// The general registers at the trap, in `mcontext_t.gregs` order.
    pub static GREGS: [AtomicU64; 23] = [const { AtomicU64::new(0) }; 23];
    /// Set by the handler.
    pub static HIT: AtomicBool = AtomicBool::new(false);

    const SYS_MPROTECT: u64 = 10;
    const SYS_RT_SIGACTION: u64 = 13;
    const SIGTRAP: u64 = 5;
    const SA_SIGINFO: u64 = 4;
    const SA_RESTORER: u64 = 0x0400_0000;
    /// Offset of `uc_mcontext.gregs` in x86-64 `ucontext_t`.
    const GREGS_OFFSET: usize = 40;

    global_asm!(
        ".pushsection .text.ustrace_usdt_test_restorer,\"ax\",@progbits",
        ".globl ustrace_usdt_test_restorer",
        ".hidden ustrace_usdt_test_restorer",
        "ustrace_usdt_test_restorer:",
        "mov $15, %eax", // rt_sigreturn
        "syscall",
        ".popsection",
        options(att_syntax)
    );

    unsafe extern "C" {
        fn ustrace_usdt_test_restorer();
    }

    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }

    extern "C" fn on_trap(_sig: i32, _info: *mut u8, ucontext: *mut u8) {
        // SAFETY: the kernel passes a valid ucontext_t.
        let gregs = unsafe { ucontext.add(GREGS_OFFSET) } as *const u64;
        for (i, g) in GREGS.iter().enumerate() {
            // SAFETY: gregs has 23 entries.
            g.store(unsafe { gregs.add(i).read() }, Ordering::SeqCst);
        }
        // Execution resumes after the int3, i.e. after the 1-byte nop.
        HIT.store(true, Ordering::SeqCst);
    }

    unsafe fn syscall4(n: u64, a: u64, b: u64, c: u64, d: u64) -> i64 {
        let ret: i64;
        // SAFETY: up to the caller.
        unsafe {
            asm!(
                "syscall",
                inlateout("rax") n as i64 => ret,
                in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d,
                lateout("rcx") _, lateout("r11") _,
                options(nostack)
            );
        }
        ret
    }

    fn mprotect(page: u64, prot: u64) {
        // SAFETY: changes the protection of one page of our own text.
        let r = unsafe { syscall4(SYS_MPROTECT, page, 4096, prot, 0) };
        assert_eq!(r, 0, "mprotect failed");
    }

    /// Runs `f` with an `int3` in place of the `nop` at `pc`, and returns
    /// the registers at the trap.
    pub fn with_breakpoint(pc: u64, f: impl FnOnce()) -> [u64; 23] {
        let new = KernelSigaction {
            handler: on_trap as *const () as usize,
            flags: SA_SIGINFO | SA_RESTORER,
            restorer: ustrace_usdt_test_restorer as *const () as usize,
            mask: 0,
        };
        let mut old = KernelSigaction {
            handler: 0,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        let page = pc & !4095;
        let site = pc as *mut u8;
        // SAFETY: installs a handler for SIGTRAP, which nothing else uses,
        // and patches the probe nop of a function only this test calls.
        unsafe {
            let r = syscall4(
                SYS_RT_SIGACTION,
                SIGTRAP,
                &new as *const _ as u64,
                &mut old as *mut _ as u64,
                8,
            );
            assert_eq!(r, 0, "rt_sigaction failed");
            mprotect(page, 7);
            assert_eq!(site.read_volatile(), 0x90);
            site.write_volatile(0xcc);
        }
        HIT.store(false, Ordering::SeqCst);
        f();
        // SAFETY: undoes the above.
        unsafe {
            site.write_volatile(0x90);
            mprotect(page, 5);
            syscall4(SYS_RT_SIGACTION, SIGTRAP, &old as *const _ as u64, 0, 8);
        }
        assert!(HIT.load(Ordering::SeqCst), "the probe did not trap");
        std::array::from_fn(|i| GREGS[i].load(Ordering::SeqCst))
    }

    /// Index of a register in `gregs`.
    pub fn greg_index(r: ustrace_probes::Register) -> usize {
        use ustrace_probes::Register::*;
        match r {
            R8 => 0,
            R9 => 1,
            R10 => 2,
            R11 => 3,
            R12 => 4,
            R13 => 5,
            R14 => 6,
            R15 => 7,
            Rdi => 8,
            Rsi => 9,
            Rbp => 10,
            Rbx => 11,
            Rdx => 12,
            Rax => 13,
            Rcx => 14,
            Rsp => 15,
            Rip => 16,
        }
    }
}

#[test]
fn registers_hold_the_arguments_at_the_nop() {
    let loc = location("trapped");
    let pc = runtime_address(loc.file_offset, 'x');
    let value = 77u64;
    let text = b"hello\0";
    let (a, b, c, d, p, r, t, z) = (
        0x1122_3344_5566_7788u64,
        -2i32,
        -5i8,
        60000u16,
        text.as_ptr(),
        &value,
        true,
        -9isize,
    );
    let gregs = trap::with_breakpoint(pc, || fire_trapped(a, b, c, d, p, r, t, z));
    assert_eq!(gregs[16], pc + 1, "rip after the int3");

    let expected = [
        a.into_probe_value(),
        b.into_probe_value(),
        c.into_probe_value(),
        d.into_probe_value(),
        p.into_probe_value(),
        r.into_probe_value(),
        t.into_probe_value(),
        z.into_probe_value(),
        (-1i64).into_probe_value(),
        u64::MAX,
        0,
        i64::MIN as u64,
    ];
    let specs = args(loc);
    assert_eq!(specs.len(), expected.len());
    for (i, (spec, want)) in specs.iter().zip(expected).enumerate() {
        let got = gregs[trap::greg_index(register(spec))];
        assert_eq!(got, want, "argument {i} ({})", loc.args_text);
    }
    assert_eq!(
        signs(loc),
        [false, true, true, false, false, false, false, true, true, false, false, true]
    );
}

// ---------------------------------------------------------------------------
// readelf.

fn readelf(args: &[&str], file: &Path) -> String {
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
fn section_range(name: &str) -> (u64, u64) {
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
fn section_flags(name: &str) -> String {
    let line = section_line(name);
    let fields: Vec<&str> = line.split_whitespace().collect();
    let i = fields.iter().position(|f| *f == name).unwrap();
    fields[i + 6].to_string()
}

fn section_line(name: &str) -> String {
    readelf(&["-S", "-W"], &exe())
        .lines()
        .find(|l| l.split_whitespace().any(|f| f == name))
        .unwrap_or_else(|| panic!("no section {name}"))
        .to_string()
}

/// One note as printed by `readelf -n`.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ReadelfNote {
    provider: String,
    name: String,
    location: u64,
    base: u64,
    semaphore: u64,
    arguments: String,
}

fn readelf_notes(file: &Path) -> Vec<ReadelfNote> {
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

#[test]
fn readelf_agrees() {
    let mut ours: Vec<ReadelfNote> = probes()
        .probes
        .iter()
        .filter(|p| p.provider == PROVIDER)
        .flat_map(|p| {
            p.locations.iter().map(|l| ReadelfNote {
                provider: p.provider.clone(),
                name: p.name.clone(),
                location: l.pc,
                base: l.base,
                semaphore: l.semaphore,
                arguments: l.args_text.clone(),
            })
        })
        .collect();
    let mut theirs: Vec<ReadelfNote> = readelf_notes(&exe())
        .into_iter()
        .filter(|n| n.provider == PROVIDER)
        .collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
    assert_eq!(theirs.len(), 15);

    // One `.stapsdt.base` byte, at the address every note records.
    let (base, size) = section_range(".stapsdt.base");
    assert_eq!(size, 1);
    assert!(theirs.iter().all(|n| n.base == base));
    assert!(section_flags(".stapsdt.base").contains('A'));
    // The notes are not loaded.
    assert!(!section_flags(".note.stapsdt").contains('A'));
}

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
