//! `profile:hz:N`: CPU sampling through perf events, filtered by -p.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

#[test]
fn profile_samples_a_busy_process_at_the_requested_rate() {
    if !bpf_available("profile_samples_a_busy_process_at_the_requested_rate") {
        return;
    }
    let mut busy_cmd = Command::new("/bin/sh");
    busy_cmd.args(["-c", "while :; do :; done"]);
    let busy = spawn(busy_cmd);
    let pid = busy.0.id();
    let mut cmd = ustrace();
    cmd.args([
        "-e",
        "profile:hz:99 { @[pid] = count(); }",
        "-p",
        &pid.to_string(),
    ]);
    let out = interrupt_after(spawn(cmd), Duration::from_millis(2000));
    drop(busy);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let line = format!("@[{pid}]: ");
    let samples: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix(&line))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no samples of {pid} in:\n{text}"));
    // ~2 s at 99 Hz on the CPU it runs on; generous bounds for start-up and
    // a loaded machine.
    assert!((30..=260).contains(&samples), "{samples} samples:\n{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("@[")).count(),
        1,
        "-p must filter:\n{text}"
    );
}
