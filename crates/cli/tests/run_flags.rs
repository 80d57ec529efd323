//! bpftrace's run-control flags, with the meaning its manual gives them:
//! -q, -B none|line|full, --dry-run, --info, --no-warnings, -k (failed reads
//! reported with their script location) and
//! --usdt-file-activation.

mod common;
mod live;

use std::time::{Duration, Instant};

use common::*;
use live::Live;

/// Runs ustrace with `args` to completion.
fn run(args: &[&str]) -> std::process::Output {
    let mut cmd = ustrace();
    cmd.args(args);
    run_with_timeout(cmd, Duration::from_secs(30))
}

#[test]
fn quiet_drops_the_attaching_line() {
    if !bpf_available("quiet_drops_the_attaching_line") {
        return;
    }
    let out = run(&["-q", "-e", r#"begin { printf("hi\n"); exit(); }"#]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n\n\n");
    let out = run(&["-e", r#"begin { printf("hi\n"); exit(); }"#]);
    assert_eq!(stdout(&out), "Attaching 1 probe...\nhi\n\n\n");
}

#[test]
fn dry_run_attaches_then_exits_without_running() {
    if !bpf_available("dry_run_attaches_then_exits_without_running") {
        return;
    }
    let server = test_server();
    let script = format!(
        r#"BEGIN {{ printf("begin\n"); }} usdt:{}:test_grp:test_idx {{ printf("%d\n", arg0); }} END {{ printf("end\n"); }}"#,
        server.display()
    );
    // With -c the child is started (stopped), the probes attached, and
    // both end at once: no BEGIN, no event, no END, no maps.
    let started = Instant::now();
    let out = run(&[
        "--dry-run",
        "-e",
        &script,
        "-c",
        &format!("{} 41", server.display()),
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "Attaching 3 probes...\n");
    assert!(started.elapsed() < Duration::from_secs(10));
    // What fails to attach fails a dry run too.
    let out = run(&[
        "--dry-run",
        "-e",
        &format!("uprobe:{}:no_such_function {{ }}", server.display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no function matches `no_such_function`"),
        "{}",
        stderr(&out)
    );
}

/// Ticks every 100 ms under `-B mode` until three ticks were made, then
/// interrupts; returns (stdout lines that arrived before the interrupt,
/// all stdout lines). Each tick is also a `warnf` on stderr, which `-B`
/// does not buffer: under `-B full` that shows the ticks were made while
/// stdout shows nothing yet.
fn ticks_under(mode: &str) -> (Vec<String>, Vec<String>) {
    let mut cmd = ustrace();
    cmd.args([
        "-B",
        mode,
        "-e",
        r#"interval:ms:100 { printf("tick\n"); warnf("tick"); }"#,
    ]);
    let mut live = Live::start(cmd);
    if mode == "full" {
        live.wait_for_stderr(|l| l.ends_with("WARNING: tick"), 3);
    } else {
        live.wait_for(|l| l == "tick", 3);
    }
    let interrupted = Instant::now();
    live.interrupt();
    let (lines, err) = live.finish();
    let before = lines
        .iter()
        .filter(|(t, _)| *t < interrupted)
        .map(|(_, l)| l.clone())
        .collect();
    let all: Vec<String> = lines.into_iter().map(|(_, l)| l).collect();
    assert!(
        all.iter().filter(|l| *l == "tick").count() >= 3,
        "-B {mode}: {all:?}, stderr: {err}"
    );
    (before, all)
}

#[test]
fn output_buffering_modes() {
    if !bpf_available("output_buffering_modes") {
        return;
    }
    for mode in ["line", "none"] {
        let (before, _) = ticks_under(mode);
        assert_eq!(
            before.first().map(String::as_str),
            Some("Attaching 1 probe...")
        );
        assert!(
            before.iter().filter(|l| *l == "tick").count() >= 3,
            "-B {mode}: lines must arrive while tracing: {before:?}"
        );
    }
    // full: nothing reaches the pipe before exit (less than a block).
    let (before, all) = ticks_under("full");
    assert!(before.is_empty(), "-B full wrote early: {before:?}");
    assert_eq!(all[0], "Attaching 1 probe...");
    let out = run(&["-B", "sometimes", "-e", "begin { exit(); }"]);
    assert_eq!(out.status.code(), Some(2), "clap rejects an unknown mode");
    assert!(stderr(&out).contains("possible values: none, line, full"));
}

#[test]
fn info_reports_kernel_features() {
    if !bpf_available("info_reports_kernel_features") {
        return;
    }
    let out = run(&["--info"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    for heading in ["System", "Build", "Kernel features", "Helpers", "Map types"] {
        assert!(text.lines().any(|l| l == heading), "{heading} in\n{text}");
    }
    // BPF loads here (bpf_available), so these were tried and worked.
    for line in [
        "  BPF programs: yes",
        "  hash: yes",
        "  percpu hash: yes",
        "  ring buffer: yes",
        "  probe_read_user: yes (arguments behind pointers, str())",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    for feature in [
        "uprobe_multi links",
        "attach cookies",
        "kernel BTF",
        "uprobe nop5 optimization",
        "uretprobe syscall",
    ] {
        let prefix = format!("  {feature}: ");
        let line = text
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{feature} in\n{text}"));
        let answer = &line[prefix.len()..];
        assert!(
            answer.starts_with("yes") || answer.starts_with("no"),
            "{line}"
        );
    }
}

#[test]
fn helper_error_flag_warns_unless_no_warnings() {
    if !bpf_available("helper_error_flag_warns_unless_no_warnings") {
        return;
    }
    let script = r#"begin { printf("%s\n", str(0)); exit(); }"#;
    // -k: each failed read at once, with its script location (bpftrace's
    // wording); without it, one count at exit.
    let out = run(&["-k", "-e", script]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "stdin:1:24-30: WARNING: Failed to probe_read_user_str: Bad address (-14)\n"
    );
    assert_eq!(stdout(&out), "Attaching 1 probe...\n\n\n\n");
    let out = run(&["-e", script]);
    assert!(out.status.success());
    assert_eq!(
        stderr(&out),
        "WARNING: 1 read(s) of user memory failed and gave zeros (an address not mapped, or a page not yet loaded)\n"
    );
    let out = run(&["-k", "--no-warnings", "-e", script]);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "");
}

#[test]
fn usdt_file_activation_is_accepted() {
    if !bpf_available("usdt_file_activation_is_accepted") {
        return;
    }
    let server = test_server();
    let out = run(&[
        "--usdt-file-activation",
        "-e",
        &format!(
            r#"usdt:{}:test_grp:test_idx {{ printf("%d\n", arg0); exit(); }}"#,
            server.display()
        ),
        "-c",
        &format!("{} 41", server.display()),
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(stdout(&out).starts_with("Attaching 1 probe...\n42\n"));
    let help = run(&["--help"]);
    assert!(stdout(&help).contains("the kernel counts USDT semaphores"));
}
