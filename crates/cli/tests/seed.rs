//! The reference example, run for real: the C test-server with one USDT
//! probe, traced with the one-liner from the README.

mod common;
mod live;

use std::process::Command;
use std::time::Duration;

use common::*;
use live::Live;

/// Runs `cmd` (a ustrace tracing the one-liner) until it has printed two
/// counter values, however long a loaded machine takes to attach, then
/// interrupts it.
fn two_hits(cmd: Command) -> std::process::Output {
    let mut live = Live::start(cmd);
    live.wait_for(|l| l.parse::<i64>().is_ok(), 2);
    live.stop_output()
}

fn one_liner(server: &std::path::Path) -> String {
    format!(
        "usdt:{}:test_grp:test_idx {{ printf(\"%d\\n\", arg0); }}",
        server.display()
    )
}

/// Lines after "Attaching 1 probe..." must be consecutive counter values.
fn assert_counts_up(out: &str, from_at_least: i64) {
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("Attaching 1 probe..."), "output:\n{out}");
    let values: Vec<i64> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.parse()
                .unwrap_or_else(|_| panic!("not a number: {l:?} in\n{out}"))
        })
        .collect();
    assert!(
        values.len() >= 2,
        "expected at least two hits, got {values:?}"
    );
    assert!(values[0] >= from_at_least, "{values:?}");
    for w in values.windows(2) {
        assert_eq!(w[1], w[0] + 1, "hits must be consecutive: {values:?}");
    }
}

#[test]
fn seed_one_liner_with_pid() {
    if !bpf_available("seed_one_liner_with_pid") {
        return;
    }
    let server_path = test_server();
    let mut server_cmd = Command::new(&server_path);
    server_cmd.arg("1364");
    let server = spawn(server_cmd);
    // -p names the server once it runs (not the test forking it).
    wait_for_exec(server.0.id(), &server_path, Duration::from_secs(60));
    let mut cmd = ustrace();
    cmd.args([
        "-e",
        &one_liner(&server_path),
        "-p",
        &server.0.id().to_string(),
    ]);
    let out = two_hits(cmd);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_counts_up(&stdout(&out), 1365);
    drop(server);
}

#[test]
fn seed_one_liner_all_processes() {
    if !bpf_available("seed_one_liner_all_processes") {
        return;
    }
    let server_path = test_server_copy("test-server-all-processes");
    let mut server_cmd = Command::new(&server_path);
    server_cmd.arg("100");
    let server = spawn(server_cmd);
    let mut cmd = ustrace();
    cmd.args(["-e", &one_liner(&server_path)]);
    let out = two_hits(cmd);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_counts_up(&stdout(&out), 101);
    drop(server);
}

#[test]
fn seed_with_command_exits_with_the_child() {
    if !bpf_available("seed_with_command_exits_with_the_child") {
        return;
    }
    // -c: ustrace starts the program and stops when it is killed; here the
    // script exits on the third hit instead.
    let server_path = test_server();
    let script = format!(
        "usdt:{}:test_grp:test_idx {{ printf(\"%d\\n\", arg0); if (arg0 == 7) {{ exit(); }} }}",
        server_path.display()
    );
    let out = trace_command(&script, &format!("{} 4", server_path.display()));
    assert_eq!(out, "Attaching 1 probe...\n5\n6\n7\n\n\n");
}
