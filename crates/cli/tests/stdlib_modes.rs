//! Builtins with a mode argument (`nsecs(monotonic|boot|tai)`,
//! `pid(curr_ns|init)`, `tid(curr_ns|init)`) and `usermode`, run for real
//! (BPF loaded), and their misuse errors.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;

/// tests/c/type_tests.c: calls `take()` once.
fn target() -> PathBuf {
    build_c_once("type_tests", "tests/c/type_tests.c", &["-g", "-O0"])
}

/// The error of a script ustrace refuses (the run must fail).
fn refused(script: &str) -> String {
    let mut cmd = ustrace();
    cmd.args(["-e", script]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(!out.status.success(), "{script} was accepted");
    stderr(&out)
}

/// `clock_gettime(clock)` in nanoseconds.
fn now(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec the call writes.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({clock})");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

const CLOCKS: [libc::clockid_t; 4] = [
    libc::CLOCK_MONOTONIC,
    libc::CLOCK_MONOTONIC,
    libc::CLOCK_BOOTTIME,
    libc::CLOCK_TAI,
];

#[test]
fn each_nsecs_clock_reads_the_kernel_clock_it_names() {
    if !bpf_available("each_nsecs_clock_reads_the_kernel_clock_it_names") {
        return;
    }
    let before = CLOCKS.map(now);
    let out = run_script(
        "each_nsecs_clock_reads_the_kernel_clock_it_names",
        r#"BEGIN { printf("%lu %lu %lu %lu\n", nsecs, nsecs(monotonic), nsecs(boot), nsecs(tai)); exit(); }"#,
        &[],
    )
    .unwrap_or_default();
    let after = CLOCKS.map(now);
    let line = out.lines().nth(1).unwrap_or_default();
    let values: Vec<u64> = line.split(' ').filter_map(|v| v.parse().ok()).collect();
    assert_eq!(values.len(), 4, "{out}");
    for (i, v) in values.iter().enumerate() {
        assert!(
            (before[i]..=after[i]).contains(v),
            "clock {i}: {v} not within [{}, {}]",
            before[i],
            after[i]
        );
    }
}

#[test]
fn pid_and_tid_in_init_and_current_namespaces_are_the_traced_processs() {
    let bin = target();
    if !bpf_available("pid_and_tid_in_init_and_current_namespaces_are_the_traced_processs") {
        return;
    }
    // ustrace runs in the initial pid namespace here: both ids agree.
    let script = format!(
        r#"uprobe:{b}:take {{ printf("%d %d %d %d %d\n", pid == cpid, pid(init) == cpid, pid(curr_ns) == cpid,
                                   tid(init) == cpid, tid(curr_ns) == cpid); }}"#,
        b = bin.display()
    );
    let out = trace_command(&script, &bin.display().to_string());
    assert_eq!(out, "Attaching 1 probe...\n1 1 1 1 1\n\n\n");
}

#[test]
fn curr_ns_ids_are_those_of_ustraces_own_pid_namespace() {
    if !bpf_available("curr_ns_ids_are_those_of_ustraces_own_pid_namespace") {
        return;
    }
    // In a new pid namespace ustrace is process 1; BEGIN runs in it, and
    // its id in the initial namespace is another.
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork"])
        .arg(env!("CARGO_BIN_EXE_ustrace"))
        .args([
            "-e",
            r#"BEGIN { printf("%d %d %d\n", pid(curr_ns), tid(curr_ns), pid(init) > 1); exit(); }"#,
        ]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Attaching 1 probe...\n1 1 1\n\n\n");
}

#[test]
fn usermode_is_one_in_uprobes() {
    let bin = target();
    if !bpf_available("usermode_is_one_in_uprobes") {
        return;
    }
    let script = format!(
        r#"uprobe:{b}:take {{ printf("%d\n", usermode); }}"#,
        b = bin.display()
    );
    let out = trace_command(&script, &bin.display().to_string());
    assert_eq!(out, "Attaching 1 probe...\n1\n\n\n");
}

#[test]
fn usermode_in_profile_tells_kernel_work_from_user_work() {
    if !bpf_available("usermode_in_profile_tells_kernel_work_from_user_work") {
        return;
    }
    // dd from /dev/zero spends its time clearing pages in the kernel;
    // perl's loop spends it in user space. The split is by majority, which
    // load does not change. (`-c` traces the child alone: one run each.)
    let script = r#"profile:hz:997 { @[comm, usermode] = count(); }"#;
    let dd = trace_command(
        script,
        "dd if=/dev/zero of=/dev/null bs=1M count=3000 status=none",
    );
    let perl = trace_command(script, "perl -e '$x++ for 1..20000000'");
    let count = |out: &str, key: &str| -> u64 {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("@[{key}]: ")))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(count(&dd, "dd, 0") > count(&dd, "dd, 1"), "{dd}");
    assert!(count(&perl, "perl, 1") > count(&perl, "perl, 0"), "{perl}");
}

#[test]
fn misuse_is_one_error_line_with_a_caret() {
    let cases = [
        ("BEGIN { print(nsecs(wall)); }", "nsecs() takes a clock: monotonic, boot or tai", 20, 4),
        ("BEGIN { print(nsecs(sw_tai)); }", "nsecs(sw_tai) is not supported: bpftrace derives it from the boot clock and a TAI offset it samples at start-up; use nsecs(tai) (bpf_ktime_get_tai_ns, Linux 6.1)", 20, 6),
        ("BEGIN { print(pid(other)); }", "pid() takes a namespace: pid(curr_ns) or pid(init)", 18, 5),
        ("BEGIN { print(tid(1)); }", "tid() takes a namespace: tid(curr_ns) or tid(init)", 18, 1),
        ("BEGIN { print(usermode); }", "usermode is not available in special probes: they interrupt no task (uprobe, usdt and profile probes have it)", 14, 8),
        ("interval:s:1 { print(usermode); }", "usermode is not available in interval probes: they interrupt no task (uprobe, usdt and profile probes have it)", 21, 8),
    ];
    for (script, message, column, width) in cases {
        let want = format!(
            "stdin:1:{}: error: {message}\n  |\n1 | {script}\n  | {}{}\n",
            column + 1,
            " ".repeat(column),
            "^".repeat(width)
        );
        assert_eq!(refused(script), want, "{script}");
    }
}

#[test]
fn len_of_ustack_counts_the_frames_printed() {
    let bin = build_c_once("nested_calls", "tests/c/nested_calls.c", &["-g", "-O0"]);
    if !bpf_available("len_of_ustack_counts_the_frames_printed") {
        return;
    }
    let script = format!(
        r#"uprobe:{b}:mid,uprobe:{b}:leaf {{ printf("%s %d %d\n", func, len(ustack), len(ustack(2))); print(ustack); }}"#,
        b = bin.display()
    );
    let out = trace_command(&script, &bin.display().to_string());
    // Each record: "FUNC LEN 2", a blank line, one line per frame, a
    // blank line.
    let mut depths = Vec::new();
    let mut lines = out.lines().skip(1);
    while let Some(head) = lines.next() {
        let fields: Vec<&str> = head.split(' ').collect();
        let [func, len, two] = fields[..] else {
            break;
        };
        assert_eq!(two, "2", "{out}");
        assert_eq!(lines.next(), Some(""), "{out}");
        let frames: Vec<&str> = lines.by_ref().take_while(|l| !l.is_empty()).collect();
        assert_eq!(
            frames.first().map(|f| f.trim()),
            Some(format!("{func}+0").as_str()),
            "{out}"
        );
        assert_eq!(len.parse::<usize>().ok(), Some(frames.len()), "{out}");
        depths.push((func.to_string(), frames.len()));
    }
    assert_eq!(depths.len(), 2, "{out}");
    assert_eq!(depths[0].0, "mid", "{out}");
    assert_eq!(depths[1], ("leaf".to_string(), depths[0].1 + 1), "{out}");
}
