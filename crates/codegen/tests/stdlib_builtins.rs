//! bpftrace's stdlib helpers added for issue 11 (errorf, warnf, assert,
//! cat, signal, has_cpid, ...) at compile time: their records and layouts,
//! and misuse as one error pointing at the offending text.

use ustrace_codegen::program::{CompiledScript, FieldKind, PrintfKind};
use ustrace_codegen::{CompileOptions, TaskParentOffsets};

mod common;

use common::build_with;

fn build(src: &str) -> Result<CompiledScript, (String, String)> {
    build_with(src, &CompileOptions::default())
}

fn unsafe_opts() -> CompileOptions {
    CompileOptions {
        allow_unsafe: true,
        ..CompileOptions::default()
    }
}

fn error(src: &str) -> (String, String) {
    match build(src) {
        Ok(_) => panic!("{src} compiled"),
        Err(e) => e,
    }
}

#[test]
fn errorf_and_warnf_records_carry_the_calls_location() {
    let src =
        r#"BEGIN { errorf("Something bad with args: %d, %s", 10, "arg2"); warnf("w %d", 1); }"#;
    let c = build(src).expect("compiles");
    assert_eq!(c.printfs.len(), 2);
    assert_eq!(c.printfs[0].format, "Something bad with args: %d, %s");
    // Columns 9-62 in bpftrace's message are bytes 8..61.
    assert_eq!(c.printfs[0].kind, PrintfKind::Error { start: 8, end: 61 });
    assert_eq!(
        c.printfs[0].args,
        vec![FieldKind::Int { signed: false }, FieldKind::Str(5)]
    );
    assert_eq!(
        c.printfs[1].kind,
        PrintfKind::Warning { start: 63, end: 79 }
    );
}

#[test]
fn assert_is_an_error_record_then_exit() {
    let c = build(r#"BEGIN { assert(pid > 1, "no pid"); }"#).expect("compiles");
    assert_eq!(c.printfs.len(), 1);
    assert_eq!(c.printfs[0].format, "assert failed: %s");
    assert_eq!(c.printfs[0].kind, PrintfKind::Error { start: 8, end: 33 });
    assert_eq!(
        error(r#"BEGIN { assert(pid > 1); }"#),
        (
            "assert() takes a condition and a message: assert(arg0 > 0, \"no size\")".into(),
            "assert(pid > 1)".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { assert(pid > 1, 5); }"#),
        (
            "assert()'s message must be a string, not a uint64".into(),
            "5".into()
        )
    );
}

#[test]
fn cat_is_a_printf_like_record() {
    let c = build(r#"BEGIN { cat("/proc/%d/status", pid); }"#).expect("compiles");
    assert_eq!(c.printfs[0].kind, PrintfKind::Cat);
    assert_eq!(c.printfs[0].format, "/proc/%d/status");
    assert_eq!(
        error(r#"BEGIN { cat("/proc/%d/status"); }"#).0,
        "printf: the format wants 1 argument(s) but 0 given"
    );
    assert_eq!(
        error(r#"BEGIN { cat(); }"#).0,
        "cat() needs a file name format: cat(\"/proc/%d/status\", pid)"
    );
}

#[test]
fn has_cpid_and_cpid_are_constants_from_the_options() {
    let with_child = CompileOptions {
        child_pid: Some(4242),
        ..CompileOptions::default()
    };
    for src in [
        r#"BEGIN { printf("%d %d\n", has_cpid, cpid); }"#,
        r#"BEGIN { printf("%d %d\n", has_cpid(), cpid()); }"#,
        r#"BEGIN { if (has_cpid) { printf("%d\n", cpid); } }"#,
    ] {
        build_with(src, &with_child).unwrap_or_else(|e| panic!("{src}: {e:?}"));
        // Without -c, cpid is 0 (the library warns), as bpftrace's manual says.
        build(src).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    }
}

#[test]
fn signal_needs_unsafe_a_known_signal_and_a_traced_task() {
    let opts = unsafe_opts();
    for src in [
        r#"profile:hz:99 { signal("SIGUSR1"); }"#,
        r#"profile:hz:99 { signal("USR1"); signal_thread(12); }"#,
        r#"profile:hz:99 { signal(pid % 30 + 1); }"#,
    ] {
        build_with(src, &opts).unwrap_or_else(|e| panic!("{src}: {e:?}"));
    }
    assert_eq!(
        error(r#"profile:hz:99 { signal("SIGUSR1"); }"#),
        (
            "signal() sends signals; it needs the --unsafe flag".into(),
            "signal".into()
        )
    );
    let err = |src: &str| match build_with(src, &opts) {
        Ok(_) => panic!("{src} compiled"),
        Err(e) => e,
    };
    assert_eq!(
        err(r#"profile:hz:99 { signal("SIGNOPE"); }"#),
        (
            "unknown signal `SIGNOPE` (e.g. \"SIGTERM\", \"KILL\" or a number 1-64)".into(),
            "\"SIGNOPE\"".into()
        )
    );
    assert_eq!(
        err(r#"profile:hz:99 { signal_thread(0); }"#),
        (
            "signal 0 is out of range: signals are 1-64".into(),
            "0".into()
        )
    );
    assert_eq!(
        err(r#"profile:hz:99 { signal(comm); }"#).0,
        "expected a signal name literal (\"SIGTERM\") or an integer"
    );
    assert_eq!(
        err(r#"BEGIN { signal(9); }"#).0,
        "signal() cannot be used in special probes (only uprobe, uretprobe, usdt and profile: the current task must be the traced one)"
    );
    assert_eq!(
        err(r#"profile:hz:99 { signal(); }"#).0,
        "signal() takes a signal name or number: signal(\"SIGUSR1\")"
    );
}

#[test]
fn ppid_reads_the_offsets_the_kernels_btf_gave() {
    let src = r#"BEGIN { printf("%d %d\n", ppid, ppid()); }"#;
    assert_eq!(
        error(src),
        (
            "ppid needs task_struct's layout from the kernel's BTF: the kernel's type information was not read".into(),
            "ppid".into()
        )
    );
    let opts = CompileOptions {
        task_parent: Ok(TaskParentOffsets {
            real_parent: 2456,
            tgid: 2348,
        }),
        ..CompileOptions::default()
    };
    let c = build_with(src, &opts).expect("compiles");
    // `r3 += offset`: the source address of each bpf_probe_read_kernel.
    let adds: Vec<i32> = c.programs[0]
        .insns
        .iter()
        .filter(|i| i.code == 0x07 && i.dst == 3)
        .map(|i| i.imm)
        .collect();
    let reads = c.programs[0]
        .insns
        .iter()
        .filter(|i| i.code == 0x85 && i.imm == 113)
        .count();
    assert_eq!(reads, 4);
    assert_eq!(adds, vec![2456, 2348, 2456, 2348]);
    assert_eq!(
        build_with(r#"BEGIN { $p = ppid(curtask); }"#, &opts)
            .map(|_| ())
            .expect_err("ppid(task)")
            .0,
        "ppid takes no argument (`ppid(task)` needs kernel struct types, which ustrace does not read)"
    );
}

#[test]
fn hist_takes_a_constant_k_from_0_to_5() {
    use ustrace_codegen::program::{MapRole, ValueKind};
    let c = build(r#"BEGIN { @a = hist(rand); @b = hist(rand, 0); @c = hist(rand, 3); }"#)
        .expect("compiles");
    let kinds: Vec<ValueKind> = c
        .maps
        .iter()
        .filter_map(|m| match &m.role {
            MapRole::User(u) => Some(u.value),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ValueKind::Hist,
            ValueKind::Hist,
            ValueKind::FineHist { bits: 3 }
        ]
    );
    assert_eq!(
        error(r#"BEGIN { @h = hist(1, 6); }"#),
        (
            "hist(value, k): k is 6, it must be between 0 and 5".into(),
            "hist(1, 6)".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { @h = hist(1, pid); }"#),
        (
            "hist()'s k must be an integer constant".into(),
            "pid".into()
        )
    );
    assert_eq!(
        error(r#"BEGIN { @h = hist(1, 2, 3); }"#).0,
        "hist() takes 1 or 2 argument(s), 3 given"
    );
}

#[test]
fn ntop_pton_and_username_types_and_errors() {
    use ustrace_codegen::program::FieldKind;
    let c = build(
        r#"BEGIN { printf("%s %s %s %r\n", username, ntop(1), ntop(10, pton("::1")), pton("1.2.3.4")); }"#,
    )
    .expect("compiles");
    assert_eq!(
        c.printfs[0].args,
        vec![
            FieldKind::Username,
            FieldKind::Inet,
            FieldKind::Inet,
            FieldKind::Buffer(4)
        ]
    );
    for (src, want) in [
        (
            r#"BEGIN { $x = pton("1.2.3"); }"#,
            ("pton(): `1.2.3` is not an IPv4 or IPv6 address", "\"1.2.3\""),
        ),
        (
            r#"BEGIN { $x = pton("1.2.3.4:80"); }"#,
            ("pton(): `1.2.3.4:80` is not an IPv4 or IPv6 address", "\"1.2.3.4:80\""),
        ),
        (
            r#"BEGIN { $x = pton(comm); }"#,
            ("pton() needs a string literal (it is evaluated at compile time)", "comm"),
        ),
        (
            r#"BEGIN { $x = ntop(10, 1); }"#,
            ("ntop(): family 10 does not fit this address (2 = AF_INET: an integer, 4 or 16 bytes; 10 = AF_INET6: 16 bytes)", "10"),
        ),
        (
            r#"BEGIN { $x = ntop(pid, 1); }"#,
            ("ntop()'s family must be a constant (2 or 10)", "pid"),
        ),
        (
            r#"BEGIN { $x = ntop(1, 2, 3); }"#,
            ("ntop() takes an address and an optional family: ntop(addr), ntop(AF, addr)", "ntop(1, 2, 3)"),
        ),
        (
            r#"BEGIN { printf("%d\n", username); }"#,
            ("printf: %d wants an integer, but this argument is a user name", "username"),
        ),
    ] {
        assert_eq!(error(src), (want.0.to_string(), want.1.to_string()), "{src}");
    }
}

#[test]
fn ustack_takes_every_stack_mode_of_the_manual() {
    use ustrace_codegen::program::{FieldKind, StackFormat, StackMode};
    let c = build(
        r#"profile:hz:99 { printf("%s%s%s%s", ustack(raw, 2), ustack(build_id), ustack(bpftrace, 3), ustack(perf)); }"#,
    )
    .expect("compiles");
    let mode = |format, depth| FieldKind::UStack(StackMode { format, depth });
    assert_eq!(
        c.printfs[0].args,
        vec![
            mode(StackFormat::Raw, 2),
            mode(StackFormat::BuildId, 127),
            mode(StackFormat::Bpftrace, 3),
            mode(StackFormat::Perf, 127)
        ]
    );
    // config = { stack_mode = raw }: the default of a ustack without a mode.
    let opts = CompileOptions {
        stack_format: StackFormat::Raw,
        ..CompileOptions::default()
    };
    let c = build_with(r#"profile:hz:99 { printf("%s", ustack(5)); }"#, &opts).expect("compiles");
    assert_eq!(c.printfs[0].args, vec![mode(StackFormat::Raw, 5)]);
    assert_eq!(
        error(r#"profile:hz:99 { printf("%s", ustack(fancy)); }"#),
        (
            "ustack() takes a mode (bpftrace, perf, raw, build_id) and/or a frame count from 1 to 127: ustack(perf, 8)".into(),
            "fancy".into()
        )
    );
}

#[test]
fn a_needle_known_at_run_time_is_searched_by_a_bounded_loop() {
    // One bpf_loop call and one callback subprogram whose size follows the
    // needle's capacity (not haystack x needle).
    let c = build(r#"BEGIN { $i = strstr(comm, comm); $c = strcontains(comm, comm); }"#)
        .expect("compiles");
    let insns = &c.programs[0].insns;
    let loops = insns
        .iter()
        .filter(|i| i.code == 0x85 && i.imm == 181)
        .count();
    assert_eq!(loops, 2, "two bpf_loop calls");
    let callbacks = insns
        .iter()
        .filter(|i| i.code == 0x18 && i.src == ustrace_codegen::insn::BPF_PSEUDO_FUNC)
        .count();
    assert_eq!(callbacks, 2, "each call references the callback");
    assert!(insns.len() < 300, "{} instructions", insns.len());
}
