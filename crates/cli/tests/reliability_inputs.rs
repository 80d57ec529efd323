//! Reliability (issue 16): the bad-input corpus of the sweep. Each case
//! was a crash, a hang, an orphan or a silent wrong answer; each must now
//! be a clear one-line error (or warning) and the right exit status.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bpf_available, run_with_timeout, spawn, stderr, stdout, ustrace, Guard};

fn tmp(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("reliability");
    std::fs::create_dir_all(&dir).expect("creating the test directory");
    dir.join(name)
}

fn run(args: &[&str]) -> std::process::Output {
    let mut cmd = ustrace();
    cmd.args(args);
    run_with_timeout(cmd, Duration::from_secs(30))
}

fn run_env(env: (&str, &str), args: &[&str]) -> std::process::Output {
    let mut cmd = ustrace();
    cmd.env(env.0, env.1).args(args);
    run_with_timeout(cmd, Duration::from_secs(30))
}

/// One line on stderr containing all of `parts`, exit status 1, no panic.
fn assert_one_line_error(o: &std::process::Output, parts: &[&str]) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "status {:?}, stderr: {err}",
        o.status
    );
    assert!(!err.contains("panicked"), "{err}");
    let first = err.lines().next().unwrap_or("");
    for p in parts {
        assert!(first.contains(p), "missing {p:?} in first line: {err}");
    }
}

#[test]
fn very_long_expressions_are_an_error_not_a_stack_overflow() {
    for op in ["+", "*"] {
        let expr = vec!["1"; 14_000].join(op);
        let o = run(&["-e", &format!("BEGIN {{ @x = {expr}; exit(); }}")]);
        assert_one_line_error(&o, &["stdin:1:", "expression too deep (limit 1000)"]);
    }
}

#[test]
fn closed_stdout_and_stderr_end_quietly() {
    if !bpf_available("closed_stdout_and_stderr_end_quietly") {
        return;
    }
    let mut child = ustrace()
        .args(["-e", "BEGIN { printf(\"a\\n\"); exit(); }"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting ustrace");
    // Both read ends closed, as in `ustrace ... |& true`.
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().expect("waiting");
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?}");
}

#[test]
fn exec_failures_of_c_are_one_line_before_attaching() {
    for (cmd, why) in [
        ("/tmp", "is a directory"),
        ("/etc/passwd", "not executable"),
        ("/nonexistent/x", "No such file"),
        ("no-such-command-xyz", "not found in PATH"),
    ] {
        let o = run(&["-c", cmd, "-e", "BEGIN { }"]);
        assert_one_line_error(&o, &[cmd, why]);
        assert!(!stdout(&o).contains("Attaching"), "{cmd}: attached anyway");
    }
}

#[test]
fn an_exec_error_found_only_by_exec_is_one_line_and_non_zero() {
    if !bpf_available("an_exec_error_found_only_by_exec_is_one_line_and_non_zero") {
        return;
    }
    // Executable, regular, but not a program: only execve can tell.
    let fake = tmp("not-a-program");
    std::fs::write(&fake, "just text\n").expect("writing");
    let c = std::ffi::CString::new(fake.display().to_string()).expect("path");
    // SAFETY: chmod on a NUL-terminated path.
    assert_eq!(unsafe { libc::chmod(c.as_ptr(), 0o755) }, 0);
    let f = fake.display().to_string();
    let o = run(&["-c", &f, "-e", "BEGIN { }"]);
    assert_one_line_error(&o, &[&f, "Exec format error"]);
}

#[test]
fn the_c_child_starts_with_default_signals() {
    if !bpf_available("the_c_child_starts_with_default_signals") {
        return;
    }
    let o = run(&[
        "-c",
        "/bin/grep -E Sig(Ign|Blk) /proc/self/status",
        "-e",
        "BEGIN { }",
    ]);
    let out = stdout(&o);
    assert!(out.contains("SigIgn:\t0000000000000000"), "{out}");
    assert!(out.contains("SigBlk:\t0000000000000000"), "{out}");
}

/// The pid of the one live process whose command line contains `marker`.
fn find_process(marker: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let zombie = stat.rsplit_once(')')?.1.trim_start().starts_with('Z');
        (!zombie && String::from_utf8_lossy(&cmdline).contains(marker)).then_some(pid)
    })
}

/// Waits until the -c child runs `sleep MARKER` (argv[0] a sleep, argv[1]
/// the marker): ustrace releases its child only after installing its
/// signal handlers (ustrace's own command line holds the marker from the
/// start, and so does its forked child before exec). Panics after 60 s.
fn wait_for_sleep(marker: &str) {
    let running = || {
        std::fs::read_dir("/proc").ok().is_some_and(|dir| {
            dir.flatten().any(|e| {
                let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                let mut args = cmdline.split(|b| *b == 0);
                let argv0 = String::from_utf8_lossy(args.next().unwrap_or_default());
                (argv0 == "sleep" || argv0.ends_with("/sleep"))
                    && args.next() == Some(marker.as_bytes())
            })
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !running() {
        assert!(Instant::now() < deadline, "the -c child never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_gone(marker: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if find_process(marker).is_none() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_c_child_ignoring_sigterm_is_killed_soon_after_ctrl_c() {
    if !bpf_available("a_c_child_ignoring_sigterm_is_killed_soon_after_ctrl_c") {
        return;
    }
    let marker = "61.0101";
    let child_cmd = format!("/bin/sh -c 'trap \"\" TERM; while :; do sleep {marker}; done'");
    for second_ctrl_c in [false, true] {
        let mut cmd = ustrace();
        cmd.args(["-c", &child_cmd, "-e", "BEGIN { @a = 1; }"]);
        let mut g = spawn(cmd);
        wait_for_sleep(marker);
        let start = Instant::now();
        // SAFETY: signalling our own child.
        unsafe { libc::kill(g.0.id() as i32, libc::SIGINT) };
        if second_ctrl_c {
            std::thread::sleep(Duration::from_millis(20));
            unsafe { libc::kill(g.0.id() as i32, libc::SIGINT) };
        }
        let status = loop {
            if let Ok(Some(s)) = g.0.try_wait() {
                break s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "ustrace hangs after SIGINT"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "{status:?}");
        assert!(
            wait_gone(marker, Duration::from_secs(3)),
            "the -c child outlived ustrace"
        );
        let out = common::interrupt_after(g, Duration::ZERO);
        assert!(
            stdout(&out).contains("@a: 1"),
            "maps not printed: {}",
            stdout(&out)
        );
    }
}

#[test]
fn an_output_error_ends_the_c_child() {
    if !bpf_available("an_output_error_ends_the_c_child") {
        return;
    }
    let marker = "62.0202";
    let mut child = ustrace()
        .args([
            "-c",
            &format!("/bin/sleep {marker}"),
            "-e",
            "interval:ms:50 { printf(\"tick\\n\"); }",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting ustrace");
    wait_for_sleep(marker);
    drop(child.stdout.take()); // like `| head -1` exiting
    let status = Guard(child).0.wait().expect("waiting");
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?}");
    assert!(
        wait_gone(marker, Duration::from_secs(3)),
        "the -c child outlived ustrace"
    );
}

#[test]
fn devices_and_fifos_are_refused_without_blocking() {
    let fifo = tmp("a-fifo");
    let _ = std::fs::remove_file(&fifo);
    let c = std::ffi::CString::new(fifo.display().to_string()).expect("path");
    // SAFETY: mkfifo on a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let f = fifo.display().to_string();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["-e".into(), "usdt:/dev/zero:a:b { }".into()],
            "/dev/zero".into(),
        ),
        (vec!["-e".into(), format!("usdt:{f}:a:b {{ }}")], f.clone()),
        (
            vec!["-e".into(), format!("uprobe:{f}:main {{ }}")],
            f.clone(),
        ),
        (vec!["-l".into(), format!("usdt:{f}:*")], f.clone()),
        (vec![f.clone()], f.clone()),
    ];
    for (args, path) in cases {
        let start = Instant::now();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = run(&args);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{args:?} was slow"
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&path) && err.contains("not a regular file"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn invalid_settings_are_errors_naming_the_value() {
    for var in ["USTRACE_STRLEN", "BPFTRACE_STRLEN", "BPFTRACE_MAX_STRLEN"] {
        for bad in ["-5", "abc", "0", "201", "4294967296"] {
            let o = run_env((var, bad), &["-e", "BEGIN { exit(); }"]);
            assert_one_line_error(&o, &[var, bad]);
        }
    }
    for var in ["USTRACE_MAX_MAP_KEYS", "BPFTRACE_MAX_MAP_KEYS"] {
        let o = run_env((var, "lots"), &["-e", "BEGIN { exit(); }"]);
        assert_one_line_error(&o, &[var, "lots"]);
    }
    let o = run(&["-p", "1", "-c", "/bin/true", "-e", "BEGIN { }"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("'-p <PID>' cannot be used with '-c <CMD>'"),
        "{}",
        stderr(&o)
    );
    let o = run(&["-e", "BEGIN { printf(\"%s\\n\", 1); }"]);
    assert_one_line_error(&o, &["stdin:1:24", "%s wants a string", "an integer"]);
    let o = run(&["-e", "BEGIN { printf(\"%d\\n\", comm); }"]);
    assert_one_line_error(&o, &["stdin:1:24", "%d wants an integer", "a string"]);
}

/// bpftrace's warning for a failed update of a full map (after the
/// `stdin:LINE:COL-COL: ` location of the update).
const MAP_FULL: &str = "WARNING: Map full; can't update element. Try increasing max_map_keys config or manually setting the max entries in a map declaration e.g. `let @a = hash(5000)`\nAdditional Info - helper: 2, retcode: -7\n";

#[test]
fn a_full_map_is_reported_and_the_limit_can_be_raised() {
    if !bpf_available("a_full_map_is_reported_and_the_limit_can_be_raised") {
        return;
    }
    let script = "BEGIN { $i = 0; while ($i < 300) { @m[$i] = 1; $i++; } exit(); }";
    let o = run_env(("USTRACE_MAX_MAP_KEYS", "100"), &["-e", script]);
    assert!(o.status.success(), "{}", stderr(&o));
    let entries = stdout(&o).lines().filter(|l| l.starts_with("@m[")).count();
    assert_eq!(entries, 100);
    let err = stderr(&o);
    assert_eq!(err, format!("stdin:1:36-46: {MAP_FULL}"));
    // Aggregations (per-CPU maps, created on first update) are counted too.
    let agg = "BEGIN { $i = 0; while ($i < 300) { @c[$i] = count(); $i++; } exit(); }";
    let o = run_env(("USTRACE_MAX_MAP_KEYS", "100"), &["-e", agg]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).lines().filter(|l| l.starts_with("@c[")).count(),
        100
    );
    let err = stderr(&o);
    assert_eq!(err, format!("stdin:1:45-52: {MAP_FULL}"));
    let o = run_env(("BPFTRACE_MAX_MAP_KEYS", "400"), &["-e", script]);
    let entries = stdout(&o).lines().filter(|l| l.starts_with("@m[")).count();
    assert_eq!(entries, 300);
    assert!(!stderr(&o).contains("full"), "{}", stderr(&o));
}

#[test]
fn a_refused_function_in_a_wildcard_is_named_and_the_rest_attach() {
    if !bpf_available("a_refused_function_in_a_wildcard_is_named_and_the_rest_attach") {
        return;
    }
    let target = Guard(
        Command::new("/bin/sleep")
            .arg("60")
            .spawn()
            .expect("starting sleep"),
    );
    let pid = target.0.id().to_string();
    let start = Instant::now();
    let o = run(&[
        "-p",
        &pid,
        "-e",
        "uprobe:libc:pthread_spin_* { } interval:ms:100 { printf(\"ran\\n\"); exit(); }",
    ]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(stdout(&o).contains("ran"), "{}", stdout(&o));
    // glibc's pthread_spin_lock starts with a `lock` instruction, which
    // uprobes refuse (error 524).
    assert!(
        err.contains("WARNING: the kernel refused uprobes on 1 function(s), attached the rest: pthread_spin_lock"),
        "{err}"
    );
}

#[test]
fn output_file_is_kept_until_attached_and_never_the_script() {
    if !bpf_available("output_file_is_kept_until_attached_and_never_the_script") {
        return;
    }
    // A failing run leaves the file as it was.
    let out = tmp("kept.out");
    std::fs::write(&out, "precious\n").expect("writing");
    let o = run(&[
        "-o",
        &out.display().to_string(),
        "-e",
        "BEGIN { @x = nosuch; }",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&out).expect("reading"),
        "precious\n"
    );

    // -o naming the script itself (directly or through a link).
    let script = tmp("self.bt");
    std::fs::write(&script, "BEGIN { printf(\"hi\\n\"); exit(); }\n").expect("writing");
    let link = tmp("self-link.bt");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&script, &link).expect("symlink");
    for target in [&script, &link] {
        let s = script.display().to_string();
        let o = run(&["-o", &target.display().to_string(), &s]);
        assert_one_line_error(&o, &["refusing to write output into the script file"]);
        assert!(std::fs::read_to_string(&script)
            .expect("reading")
            .contains("printf"));
    }

    // A symlink owned by another user is not followed.
    let victim = tmp("victim");
    std::fs::write(&victim, "victim\n").expect("writing");
    let planted = tmp("planted.out");
    let _ = std::fs::remove_file(&planted);
    std::os::unix::fs::symlink(&victim, &planted).expect("symlink");
    let c = std::ffi::CString::new(planted.display().to_string()).expect("path");
    // SAFETY: lchown on a NUL-terminated path (we are root in these tests).
    assert_eq!(unsafe { libc::lchown(c.as_ptr(), 65534, 65534) }, 0);
    let o = run(&[
        "-o",
        &planted.display().to_string(),
        "-e",
        "BEGIN { exit(); }",
    ]);
    assert_one_line_error(&o, &["symlink owned by another user", "uid 65534"]);
    assert_eq!(
        std::fs::read_to_string(&victim).expect("reading"),
        "victim\n"
    );

    // And a good run writes the file.
    let o = run(&[
        "-o",
        &out.display().to_string(),
        "-e",
        "BEGIN { printf(\"new\\n\"); exit(); }",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&out).expect("reading"),
        "Attaching 1 probe...\nnew\n\n\n"
    );
}
