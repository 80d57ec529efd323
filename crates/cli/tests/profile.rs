//! `profile:hz:N`: CPU sampling through perf events, filtered by -p.

mod common;
mod live;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use live::Live;

#[test]
fn profile_samples_a_busy_process_at_the_requested_rate() {
    if !bpf_available("profile_samples_a_busy_process_at_the_requested_rate") {
        return;
    }
    // The shell spins only once a line arrives on its stdin.
    let mut busy_cmd = Command::new("/bin/sh");
    busy_cmd
        .args(["-c", "read go; while :; do :; done"])
        .stdin(Stdio::piped());
    let mut busy = spawn(busy_cmd);
    let pid = busy.0.id();
    let mut cmd = ustrace();
    cmd.args([
        "-e",
        "BEGIN { printf(\"ready\\n\"); } profile:hz:99 { @[pid] = count(); }",
        "-p",
        &pid.to_string(),
    ]);
    // The sampling window is the busy process's own CPU time from its
    // release (once BEGIN says the probe is attached) until it is killed:
    // a loaded machine gives it less of a CPU, and fewer samples and a
    // longer wait alike.
    let mut live = Live::start(cmd);
    live.wait_for(|l| l == "ready", 1);
    let from = cpu_time(pid);
    writeln!(busy.0.stdin.take().expect("the shell's stdin"), "go").expect("releasing the shell");
    let to = burn_cpu(pid, from, Duration::from_secs(2));
    drop(busy);
    let out = live.stop_output();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let line = format!("@[{pid}]: ");
    let samples: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix(&line))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no samples of {pid} in:\n{text}"));
    // 99 a second of its CPU time (the clock ticks of /proc are 10 ms; the
    // kernel tunes the period of a frequency event as it goes).
    let expected = (to - from).as_secs_f64() * 99.0;
    assert!(
        (expected * 0.8..=expected * 1.2 + 5.0).contains(&(samples as f64)),
        "{samples} samples for {:?} of CPU time ({expected:.0} expected):\n{text}",
        to - from
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("@[")).count(),
        1,
        "-p must filter:\n{text}"
    );
}
