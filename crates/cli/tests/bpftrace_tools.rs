//! bpftrace's user-space tools, run VERBATIM from Debian's bpftrace
//! package (/usr/sbin/*.bt; never copied into this repository) against
//! real workloads. Output checked exactly where it is deterministic.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The tool's file, or None (with the reason printed) outside CI when
/// Debian's bpftrace package is not installed. In CI it must exist.
fn tool(test: &str, name: &str) -> Option<String> {
    if !bpf_available(test) {
        return None;
    }
    let path = format!("/usr/sbin/{name}.bt");
    if Path::new(&path).exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{path} is missing: scripts/install-deps.sh installs bpftrace"
    );
    eprintln!("skipping {test}: {path} is not installed");
    None
}

/// Runs `tool` in the background (stdout to a file), waits for `ready` in
/// its output, runs `workload`, then interrupts it: (stdout, stderr).
fn trace_while(tool: &str, ready: &str, workload: impl FnOnce()) -> (String, String) {
    let dir = std::env::temp_dir().join(format!("ustrace-bt-tools-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out_path = dir.join(format!(
        "{}.out",
        Path::new(tool)
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or("t")
    ));
    let out_file = std::fs::File::create(&out_path).expect("output file");
    let mut cmd = ustrace();
    cmd.arg(tool).stdout(out_file).stderr(Stdio::piped());
    let child = cmd.spawn().expect("starting ustrace");
    let start = Instant::now();
    while !std::fs::read_to_string(&out_path)
        .unwrap_or_default()
        .contains(ready)
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{tool} never printed {ready:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    workload();
    std::thread::sleep(Duration::from_millis(500));
    let out = interrupt_after(Guard(child), Duration::ZERO);
    assert!(out.status.success(), "{tool}: {}", stderr(&out));
    (
        std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr(&out),
    )
}

#[test]
fn gethostlatency_times_getent() {
    let Some(tool) = tool("gethostlatency_times_getent", "gethostlatency") else {
        return;
    };
    let (out, err) = trace_while(&tool, "HOST", || {
        let status = Command::new("getent")
            .args(["ahosts", "localhost"])
            .stdout(Stdio::null())
            .status()
            .expect("getent");
        assert!(status.success());
    });
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("Attaching 7 probes..."));
    assert_eq!(
        lines.next(),
        Some("Tracing getaddr/gethost calls... Hit Ctrl-C to end.")
    );
    assert_eq!(
        lines.next(),
        Some("TIME      PID    COMM              LATms HOST")
    );
    let events: Vec<&str> = lines.filter(|l| l.contains(" getent ")).collect();
    assert_eq!(events.len(), 1, "{out}");
    // `HH:MM:SS  PID    getent           LATms localhost`
    let fields: Vec<&str> = events[0].split_whitespace().collect();
    assert_eq!(fields.len(), 5, "{}", events[0]);
    assert_eq!(
        (fields[2], fields[4]),
        ("getent", "localhost"),
        "{}",
        events[0]
    );
    assert_eq!(err, "");
}

#[test]
fn sslsnoop_and_ssllatency_see_an_openssl_session() {
    for name in ["sslsnoop", "ssllatency"] {
        let Some(tool) = tool("sslsnoop_and_ssllatency_see_an_openssl_session", name) else {
            return;
        };
        let dir = std::env::temp_dir().join(format!("ustrace-ssl-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (key, cert) = (dir.join("k.pem"), dir.join("c.pem"));
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-days",
                "1",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .expect("openssl req");
        assert!(made.success());
        let port = 40000 + (std::process::id() % 20000) as u16 + u16::from(name == "ssllatency");
        let (out, err) = trace_while(&tool, "Tracing SSL/TLS handshake", || {
            let mut server = Command::new("openssl")
                .args([
                    "s_server",
                    "-quiet",
                    "-naccept",
                    "1",
                    "-accept",
                    &port.to_string(),
                    "-cert",
                ])
                .arg(&cert)
                .arg("-key")
                .arg(&key)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("openssl s_server");
            wait_for_listener(port);
            let mut client = Command::new("openssl")
                .args([
                    "s_client",
                    "-quiet",
                    "-connect",
                    &format!("127.0.0.1:{port}"),
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("openssl s_client");
            if let Some(mut stdin) = client.stdin.take() {
                use std::io::Write;
                let _ = stdin.write_all(b"hello\n");
            }
            let _ = client.wait();
            // `-naccept 1`: the server ends by itself once its one
            // connection is closed (killed only if it has not in 60 s).
            let start = Instant::now();
            while server.try_wait().expect("waiting for s_server").is_none() {
                if start.elapsed() > Duration::from_secs(60) {
                    let _ = server.kill();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        // Debian's libcrypto has no rsa_ossl_*/ossl_ecdsa_* symbols (they
        // are local functions): each skipped attach point is one warning,
        // as bpftrace 0.17 skips them (silently).
        assert!(
            err.lines()
                .all(|l| l.starts_with("WARNING: attach point `")),
            "{err}"
        );
        assert_eq!(err.lines().count(), 14, "{err}");
        let mut lines = out.lines();
        if name == "sslsnoop" {
            assert_eq!(lines.next(), Some("Attaching 11 probes..."));
            assert_eq!(
                lines.next(),
                Some("Tracing SSL/TLS handshake... Hit Ctrl-C to end.")
            );
            assert_eq!(
                lines.next(),
                Some("TIME(us)   TID      COMM     LAT(us)   RET FUNC")
            );
            let funcs: Vec<&str> = lines
                .filter(|l| l.contains(" openssl "))
                .filter_map(|l| l.split_whitespace().last())
                .collect();
            assert!(
                funcs.contains(&"SSL_write") && funcs.contains(&"SSL_read"),
                "{out}"
            );
            assert!(
                funcs
                    .iter()
                    .all(|f| f.starts_with("SSL_") || f.starts_with("RSA_")),
                "{out}"
            );
        } else {
            assert_eq!(lines.next(), Some("Attaching 12 probes..."));
            assert_eq!(
                lines.next(),
                Some("Tracing SSL/TLS handshake... Hit Ctrl-C to end.")
            );
            // END prints the title; the maps follow, keyed by function name.
            assert!(
                out.contains("\nLatency distribution in microsecond:"),
                "{out}"
            );
            assert!(
                out.contains("@hist[SSL_write]:") || out.contains("@histF[SSL_write]:"),
                "{out}"
            );
            assert!(
                out.contains("@stat[SSL_write]: count ")
                    || out.contains("@statF[SSL_write]: count "),
                "{out}"
            );
        }
    }
}

#[test]
fn threadsnoop_of_debian_skips_libpthread_as_bpftrace_does() {
    let Some(tool) = tool(
        "threadsnoop_of_debian_skips_libpthread_as_bpftrace_does",
        "threadsnoop",
    ) else {
        return;
    };
    // Debian 12's glibc has pthread_create in libc, not libpthread: like
    // bpftrace 0.17 on the same machine ("Attaching 1 probe..."), the
    // uprobe is skipped and only the header prints.
    let (out, err) = trace_while(&tool, "FUNC", || {});
    assert_eq!(
        out,
        "Attaching 1 probe...\nTIME(ms)   PID    COMM             FUNC\n\n\n"
    );
    assert_eq!(
        err,
        "WARNING: attach point `uprobe:libpthread:pthread_create` skipped: no function matches `pthread_create` in /lib/x86_64-linux-gnu/libpthread.so.0\n"
    );
}

/// The constructs of bpftrace's CURRENT tools/threadsnoop.bt (written here,
/// not copied): `config = { missing_probes = ignore; }`, the
/// libpthread/libc pair of attach points, `strftime("%H:%M:%S.%f")`
/// (microseconds) and `usym(arg2)`, on a threaded program.
#[test]
fn current_threadsnoop_constructs_name_the_thread_start_routine() {
    if !bpf_available("current_threadsnoop_constructs_name_the_thread_start_routine") {
        return;
    }
    let script = r#"config = { missing_probes = ignore; }
uprobe:libpthread:pthread_create, uprobe:libc:pthread_create {
  printf("%15s %7d %-16s %s\n", strftime("%H:%M:%S.%f", nsecs), pid, comm, usym(arg2));
}"#;
    // The Python process exits right after its thread: when the tracer
    // reads the event it may be gone, and usym(arg2) is then named from
    // the mapping the BPF side logged (the path from the file's dentries:
    // python3 may be a pyenv shim, whose python the tracer never saw).
    let mut cmd = ustrace();
    cmd.args([
        "-e",
        script,
        "-c",
        "python3 -c 'import threading; t = threading.Thread(target=print); t.start(); t.join()'",
    ]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = stdout(&out);
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("python3")).collect();
    assert_eq!(lines.len(), 1, "{out}");
    let fields: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(fields.len(), 4, "{}", lines[0]);
    // HH:MM:SS.micros
    let (hms, micros) = fields[0].split_once('.').expect("a fraction");
    assert_eq!((hms.len(), micros.len()), (8, 6), "{}", fields[0]);
    assert!(micros.bytes().all(|b| b.is_ascii_digit()), "{}", fields[0]);
    assert_eq!(
        (fields[2], fields[3]),
        ("python3", "pythread_wrapper"),
        "{}",
        lines[0]
    );
    assert!(out.starts_with("Attaching 1 probe...\n"), "{out}");
}

/// Waits until a socket listens on TCP `port` (in /proc/net/tcp or tcp6,
/// state 0A): the server is ready for its one client. Panics after 60 s.
fn wait_for_listener(port: u16) {
    let listening = || {
        ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
            std::fs::read_to_string(table)
                .unwrap_or_default()
                .lines()
                .skip(1)
                .any(|row| {
                    let fields: Vec<&str> = row.split_whitespace().collect();
                    fields.len() > 3
                        && fields[1].ends_with(&format!(":{port:04X}"))
                        && fields[3] == "0A"
                })
        })
    };
    let start = Instant::now();
    while !listening() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing listens on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs an interactive bash (readline on a pseudo-terminal from util-linux's
/// `script`), types `lines` into it and waits until it exits: its terminal
/// output.
fn interactive_bash(lines: &[&str]) -> String {
    use std::io::Write;
    let mut child = Command::new("script")
        .args(["-qfc", "bash --norc --noprofile -i", "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting script(1) with bash");
    // Kept open until bash has exited: `script` stops at end of input.
    let mut input = child.stdin.take().expect("script's stdin");
    for line in lines {
        writeln!(input, "{line}").expect("typing into bash");
    }
    let start = Instant::now();
    while child.try_wait().expect("waiting for bash").is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the interactive bash did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(input);
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut out)
        .expect("reading bash's terminal");
    out
}

#[test]
fn bashreadline_shows_the_commands_typed_into_an_interactive_bash() {
    let Some(tool) = tool(
        "bashreadline_shows_the_commands_typed_into_an_interactive_bash",
        "bashreadline",
    ) else {
        return;
    };
    let mut terminal = String::new();
    let (out, err) = trace_while(&tool, "COMMAND", || {
        terminal = interactive_bash(&["echo ustrace-pid=$$", "true  two  spaces", "exit"]);
    });
    // The bash's own PID, as it printed it on its terminal.
    // (The typed line itself may be echoed too, with `$$` unexpanded.)
    let pid: String = terminal
        .split("ustrace-pid=")
        .skip(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect())
        .find(|digits: &String| !digits.is_empty())
        .unwrap_or_else(|| panic!("no PID echoed by bash:\n{terminal}"));
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("Attaching 2 probes..."), "{out}");
    assert_eq!(
        lines.next(),
        Some("Tracing bash commands... Hit Ctrl-C to end.")
    );
    assert_eq!(lines.next(), Some("TIME      PID    COMMAND"));
    // `HH:MM:SS  PID    COMMAND`: the time, then the PID padded to 6.
    let commands: Vec<&str> = lines
        .filter_map(|l| l.get(10..))
        .filter_map(|l| l.strip_prefix(&format!("{pid:<6} ")))
        .collect();
    assert_eq!(
        commands,
        ["echo ustrace-pid=$$", "true  two  spaces", "exit"],
        "{out}"
    );
    assert_eq!(err, "");
}
