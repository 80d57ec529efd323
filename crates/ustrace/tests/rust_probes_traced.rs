//! Probes written in Rust with `ustrace-usdt`, in this test program, traced
//! through the library while the program runs: exact argument values of
//! every width, strings, the shared semaphore of a guarded probe (0
//! untraced, raised while traced, 0 again after detaching; every site
//! fires), and a red-zone leaf function that fires a probe 1,000,000 times
//! traced and computes what it computes untraced.
//!
//! The tests of this file attach to their own process, each to probes of
//! its own, so they can run in parallel.

use std::ffi::CStr;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ustrace::{Record, Script, ScriptOptions, Usdt, UsdtEvent};

fn me() -> u32 {
    std::process::id()
}

/// Polls until `want` events of `probe` (`PROVIDER:NAME`) have arrived, or
/// 5 s have passed; returns them.
fn wait_events(tracer: &mut ustrace::UsdtTracer, probe: &str, want: usize) -> Vec<UsdtEvent> {
    let suffix = format!(":{probe}");
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while events.len() < want && Instant::now() < deadline {
        events.extend(
            tracer
                .poll(Duration::from_millis(100))
                .expect("polling")
                .into_iter()
                .filter(|e| e.probe.ends_with(&suffix)),
        );
    }
    events
}

// ---------------------------------------------------------------------------
// a. Every argument width, through the BCC-style API.

#[inline(never)]
fn fire_widths(p: *const u8) {
    ustrace_usdt::probe!(
        rust_traced,
        widths,
        black_box(-1i8),
        black_box(255u8),
        black_box(-300i16),
        black_box(65535u16),
        black_box(-70000i32),
        black_box(4_000_000_000u32),
        black_box(i64::MIN),
        black_box(u64::MAX),
        black_box(-123_456_789isize),
        black_box(0xdead_beef_cafe_usize),
        black_box(true),
        p,
    );
}

#[test]
fn every_width_arrives_with_its_exact_bits() {
    if !ustrace_testkit::bpf_available("every_width_arrives_with_its_exact_bits") {
        return;
    }
    let target = 0x5au8;
    let p: *const u8 = &target;
    let usdt = Usdt::for_pid(me())
        .enable_probe("rust_traced:widths")
        .expect("enabling rust_traced:widths");
    assert_eq!(usdt.enabled().len(), 1);
    assert_eq!(usdt.enabled()[0].arg_count, 12);
    assert!(!usdt.enabled()[0].has_semaphore);
    let script = usdt.compile().expect("compiling");
    let mut tracer = script.start().expect("attaching");
    fire_widths(p);
    let events = wait_events(&mut tracer, "rust_traced:widths", 1);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].pid, me());
    // Signed values sign-extended to 64 bits, unsigned ones zero-extended.
    let expected: Vec<u64> = vec![
        0xffff_ffff_ffff_ffff, // -1i8
        255,                   // 255u8
        0xffff_ffff_ffff_fed4, // -300i16
        65535,                 // 65535u16
        0xffff_ffff_fffe_ee90, // -70000i32
        4_000_000_000,         // 4000000000u32
        0x8000_0000_0000_0000, // i64::MIN
        0xffff_ffff_ffff_ffff, // u64::MAX
        0xffff_ffff_f8a4_32eb, // -123456789isize
        0xdead_beef_cafe,      // usize
        1,                     // true
        p.addr() as u64,       // the pointer
    ];
    assert_eq!(events[0].args, expected);
    assert_eq!((-300i64) as u64, expected[2]);
    assert_eq!((-70000i64) as u64, expected[4]);
    assert_eq!((-123_456_789i64) as u64, expected[8]);
}

// ---------------------------------------------------------------------------
// b. Strings, through a script.

#[inline(never)]
fn fire_text(c: &CStr, s: &str) {
    ustrace_usdt::probe!(rust_traced, text, c.as_ptr(), s.as_ptr(), s.len());
}

#[test]
fn strings_are_read_from_the_pointers() {
    if !ustrace_testkit::bpf_available("strings_are_read_from_the_pointers") {
        return;
    }
    let script = Script::compile(
        r#"usdt:*:rust_traced:text { printf("%s|%s\n", str(arg0), str(arg1, arg2)); }"#,
        "text.bt",
        &ScriptOptions::builder().pid(me()).build(),
    )
    .expect("compiling");
    let mut tracer = script.start().expect("attaching");
    tracer.begin();
    // A `&str` is not NUL-terminated: the script reads its length too.
    let owned = String::from("a Rust &str, then more");
    fire_text(c"hello from a CStr", &owned[..11]);
    let mut texts = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while texts.is_empty() && Instant::now() < deadline {
        for r in tracer.poll(Duration::from_millis(100)).expect("polling") {
            if let Record::Printf { text, .. } = r {
                texts.push(text);
            }
        }
    }
    tracer.end().expect("ending");
    assert_eq!(texts, ["hello from a CStr|a Rust &str\n"]);
}

// ---------------------------------------------------------------------------
// c. The shared semaphore of a guarded probe.

/// How many times the arguments of `rust_traced:guarded` were evaluated.
static GUARDED_EVALS: AtomicU64 = AtomicU64::new(0);

fn counted(v: u64) -> u64 {
    GUARDED_EVALS.fetch_add(1, Ordering::SeqCst);
    v
}

#[inline(never)]
fn guarded_first(i: u64) {
    ustrace_usdt::probe_guarded!(rust_traced, guarded, counted(100 + i));
}

#[inline(never)]
fn guarded_second(i: u64) {
    ustrace_usdt::probe_guarded!(rust_traced, guarded, counted(200 + i));
}

fn guarded_enabled() -> bool {
    ustrace_usdt::enabled!(rust_traced, guarded)
}

#[test]
fn shared_semaphore_is_raised_while_traced() {
    if !ustrace_testkit::bpf_available("shared_semaphore_is_raised_while_traced") {
        return;
    }
    assert!(!guarded_enabled(), "semaphore must be 0 untraced");
    let before = GUARDED_EVALS.load(Ordering::SeqCst);
    guarded_first(0);
    guarded_second(0);
    assert_eq!(GUARDED_EVALS.load(Ordering::SeqCst), before);

    let usdt = Usdt::for_pid(me())
        .enable_probe("rust_traced:guarded")
        .expect("enabling rust_traced:guarded");
    assert_eq!(usdt.enabled()[0].locations, 2, "one probe, two sites");
    assert!(usdt.enabled()[0].has_semaphore);
    let script = usdt.compile().expect("compiling");
    let mut tracer = script.start().expect("attaching");
    assert!(guarded_enabled(), "semaphore must be >= 1 while traced");
    guarded_first(1);
    guarded_second(1);
    assert_eq!(
        GUARDED_EVALS.load(Ordering::SeqCst),
        before + 2,
        "both sites evaluate their arguments while traced"
    );
    let events = wait_events(&mut tracer, "rust_traced:guarded", 2);
    let mut args: Vec<Vec<u64>> = events.into_iter().map(|e| e.args).collect();
    args.sort();
    assert_eq!(args, [vec![101], vec![201]], "both sites fire");

    drop(tracer);
    assert!(!guarded_enabled(), "semaphore must be 0 after detaching");
    guarded_first(2);
    guarded_second(2);
    assert_eq!(GUARDED_EVALS.load(Ordering::SeqCst), before + 2);

    // Attaching again, with one perf-event uprobe per site this time: the
    // kernel raises the same semaphore for each.
    let script = Script::compile(
        "usdt:*:rust_traced:guarded { @n = count(); }",
        "guarded.bt",
        &ScriptOptions::builder()
            .pid(me())
            .force_perf_attach(true)
            .build(),
    )
    .expect("compiling");
    let mut tracer = script.start().expect("attaching with perf events");
    assert!(guarded_enabled());
    guarded_first(3);
    guarded_second(3);
    tracer.end().expect("ending");
    let maps: Vec<String> = tracer
        .final_maps()
        .expect("reading maps")
        .into_iter()
        .filter_map(|r| match r {
            Record::Map { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(maps, ["@n: 2\n"]);
    drop(tracer);
    assert!(!guarded_enabled());
    assert_eq!(GUARDED_EVALS.load(Ordering::SeqCst), before + 4);
}

// ---------------------------------------------------------------------------
// d. The red zone.

/// A leaf function (no calls, no stack frame: it never moves %rsp) that
/// keeps a small array in the x86-64 red zone, the 128 bytes below %rsp,
/// and four scalars in registers, across a probe fired every round. A
/// breakpoint handler that wrote below the user %rsp (as the kernel's
/// reverted optimization of uprobes on 5-byte nops could) would corrupt
/// the array or the registers, and change the result.
///
/// How this was verified: `objdump -d --no-show-raw-insn` of this test
/// binary (built by `cargo test`, where the workspace compiles the
/// `ustrace` package's tests with opt-level 2) shows the function with no
/// `call` and no `sub ...,%rsp`: after pushing the callee-saved registers
/// it keeps using, it stores the array at `-0x30(%rsp)` ... `-0x8(%rsp)`
/// (`movq $0x1111,-0x30(%rsp)`, then `xor %rbp,(%rax,%rsi,8)` through the
/// pointer), all below the final %rsp, and reads it back after the probe's
/// `nop` + `cs nopw 0x0(%rax,%rax,1)` (the 10-byte nop). The test
/// `the_leaf_keeps_its_array_in_the_red_zone` checks the same.
#[inline(never)]
fn rust_red_zone_leaf(rounds: u64) -> u64 {
    let mut buf = [0x1111u64, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666];
    let (mut a, mut b, mut c, mut d) = (1u64, 2u64, 3u64, 4u64);
    let p = buf.as_mut_ptr();
    let mut i = 0u64;
    while i < rounds {
        let k = (i % 6) as usize;
        // SAFETY: k < 6 = buf.len().
        unsafe { *p.add(k) ^= a.wrapping_add(i) };
        a = a.rotate_left(5) ^ b;
        b = b.wrapping_add(c ^ i);
        c = c.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        d ^= a >> 3;
        // The array must be in memory, up to date, before the probe...
        black_box(p);
        ustrace_usdt::probe!(rust_traced, red_zone, i, a);
        // ...and is read back from memory after it.
        black_box(p);
        // SAFETY: (k + 3) % 6 < 6.
        a ^= unsafe { *p.add((k + 3) % 6) };
        i += 1;
    }
    buf.iter().fold(a ^ b ^ c ^ d, |x, y| x.rotate_left(7) ^ y)
}

/// The disassembly of `rust_red_zone_leaf` in this test binary.
fn leaf_disassembly() -> String {
    let exe = std::env::current_exe().expect("current_exe");
    let out = std::process::Command::new("objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(&exe)
        .output()
        .expect("running objdump (Debian package binutils)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let start = text
        .lines()
        .position(|l| l.contains("18rust_red_zone_leaf17h") && l.ends_with(">:"))
        .expect("rust_red_zone_leaf in the disassembly");
    text.lines()
        .skip(start + 1)
        .take_while(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_leaf_keeps_its_array_in_the_red_zone() {
    let code = leaf_disassembly();
    let lines: Vec<&str> = code.lines().collect();
    assert!(
        !lines.iter().any(|l| l.contains("call")),
        "not a leaf:\n{code}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("sub ") && l.trim_end().ends_with(",%rsp")),
        "allocates a stack frame:\n{code}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("mov") && l.contains(",-0x") && l.contains("(%rsp)")),
        "no store below %rsp:\n{code}"
    );
    assert!(
        lines
            .windows(2)
            .any(|w| w[0].trim_end().ends_with("nop") && w[1].contains("nopw")),
        "no nop + nop10 probe site:\n{code}"
    );
}

#[test]
fn traced_red_zone_leaf_computes_the_untraced_result() {
    if !ustrace_testkit::bpf_available("traced_red_zone_leaf_computes_the_untraced_result") {
        return;
    }
    const ROUNDS: u64 = 1_000_000;
    let untraced = rust_red_zone_leaf(ROUNDS);
    let script = Script::compile(
        "usdt:*:rust_traced:red_zone { @c = count(); }",
        "red_zone.bt",
        &ScriptOptions::builder().pid(me()).build(),
    )
    .expect("compiling");
    let mut tracer = script.start().expect("attaching");
    tracer.begin();
    let traced = rust_red_zone_leaf(ROUNDS);
    tracer.poll(Duration::from_millis(100)).expect("polling");
    tracer.end().expect("ending");
    let maps: Vec<String> = tracer
        .final_maps()
        .expect("reading maps")
        .into_iter()
        .filter_map(|r| match r {
            Record::Map { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(traced, untraced, "the traced run computed another result");
    assert_eq!(maps, ["@c: 1000000\n"], "every round must be counted");
}
