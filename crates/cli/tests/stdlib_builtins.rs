//! bpftrace's stdlib helpers added for issue 11, run for real (BPF loaded,
//! output compared with what bpftrace's manual prints).

mod common;

use std::time::Duration;

use common::*;

/// Runs `ustrace ARGS...`; None when BPF cannot run here (outside CI).
fn run(test: &str, args: &[&str]) -> Option<std::process::Output> {
    if !bpf_available(test) {
        return None;
    }
    let mut cmd = ustrace();
    cmd.args(args);
    Some(run_with_timeout(cmd, Duration::from_secs(60)))
}

#[test]
fn errorf_and_warnf_print_the_source_location_on_stderr() {
    // The manual's examples, verbatim; exit() added so the run ends.
    let Some(out) = run(
        "errorf_and_warnf_print_the_source_location_on_stderr",
        &[
            "-e",
            r#"BEGIN { errorf("Something bad with args: %d, %s", 10, "arg2"); }
BEGIN { warnf("Something kinda bad with args: %d, %s", 10, "arg2"); exit(); }"#,
        ],
    ) else {
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Attaching 2 probes...\n\n\n");
    assert_eq!(
        stderr(&out),
        "stdin:1:9-62: ERROR: Something bad with args: 10, arg2\n\
         stdin:2:9-67: WARNING: Something kinda bad with args: 10, arg2\n"
    );
    // --no-warnings silences warnf, not errorf.
    let Some(out) = run(
        "errorf_and_warnf_print_the_source_location_on_stderr",
        &[
            "--no-warnings",
            "-e",
            r#"BEGIN { warnf("quiet %d", 1); errorf("loud %d", 2); exit(); }"#,
        ],
    ) else {
        return;
    };
    assert_eq!(stderr(&out), "stdin:1:31-51: ERROR: loud 2\n");
}

#[test]
fn a_failed_assert_prints_an_error_and_exits_with_1() {
    let Some(out) = run(
        "a_failed_assert_prints_an_error_and_exits_with_1",
        &[
            "-e",
            r#"BEGIN { assert(1 == 1, "fine"); printf("a\n"); assert(2 < 1, "two is not below one"); printf("b\n"); }"#,
        ],
    ) else {
        return;
    };
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Attaching 1 probe...\na\n\n\n");
    assert_eq!(
        stderr(&out),
        "stdin:1:48-85: ERROR: assert failed: two is not below one\n"
    );
}

#[test]
fn cat_prints_a_file_and_reports_one_it_cannot_open() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("stdlib-cat");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let file = dir.join("lines.txt");
    std::fs::write(&file, "first line\nsecond line\n").expect("write");
    let script = format!(
        r#"BEGIN {{ cat("{}"); cat("{}/missing-%d", 7); printf("done\n"); exit(); }}"#,
        file.display(),
        dir.display()
    );
    let Some(out) = run(
        "cat_prints_a_file_and_reports_one_it_cannot_open",
        &["-e", &script],
    ) else {
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Attaching 1 probe...\nfirst line\nsecond line\ndone\n\n\n"
    );
    assert_eq!(
        stderr(&out),
        format!(
            "ERROR: failed to open file '{}/missing-7': No such file or directory\n",
            dir.display()
        )
    );
}

#[test]
fn has_cpid_and_cpid_follow_dash_c() {
    let Some(out) = run(
        "has_cpid_and_cpid_follow_dash_c",
        &[
            "-e",
            r#"BEGIN { printf("has %d\n", has_cpid); if (has_cpid) { printf("cpid %d\n", cpid); } }"#,
            "-c",
            "/bin/sh -c 'echo child $$'",
        ],
    ) else {
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let child = text
        .lines()
        .find_map(|l| l.strip_prefix("child "))
        .unwrap_or_else(|| panic!("no child line in {text:?}"));
    assert!(text.contains("has 1\n"), "{text}");
    assert!(text.contains(&format!("cpid {child}\n")), "{text}");
    // Without -c: has_cpid is 0 and cpid is 0 with a warning.
    let Some(out) = run(
        "has_cpid_and_cpid_follow_dash_c",
        &[
            "-e",
            r#"BEGIN { printf("%d %d\n", has_cpid, cpid); exit(); }"#,
        ],
    ) else {
        return;
    };
    assert_eq!(stdout(&out), "Attaching 1 probe...\n0 0\n\n\n");
    assert_eq!(
        stderr(&out),
        "WARNING: stdin:1:37-41: cpid is 0: no child process was started with -c (test has_cpid first)\n"
    );
}

#[test]
fn signal_and_signal_thread_reach_the_traced_process() {
    if !bpf_available("signal_and_signal_thread_reach_the_traced_process") {
        return;
    }
    let bin = build_c("signal_target", "tests/c/signal_target.c", &["-O1", "-g"]);
    let script = format!(
        r#"uprobe:{b}:ping {{ if (arg0 == 1) {{ signal("SIGUSR1"); }} else {{ signal_thread(12); }} }}"#,
        b = bin.display()
    );
    let out = trace_command_with(&["--unsafe"], &script, &bin.display().to_string());
    let text = stdout(&out);
    assert!(
        text.contains("after ping 1: signal 10\nafter ping 2: signal 12\n"),
        "{text}"
    );
}

#[test]
fn misuse_is_one_line_with_a_caret() {
    let cases: [(&[&str], &str); 6] = [
        (
            &["-e", r#"BEGIN { $x = pton("1.2.3"); }"#],
            "stdin:1:19: error: pton(): `1.2.3` is not an IPv4 or IPv6 address\n  |\n1 | BEGIN { $x = pton(\"1.2.3\"); }\n  |                   ^^^^^^^\n",
        ),
        (
            &["-e", r#"BEGIN { $x = ntop(comm); }"#],
            "stdin:1:19: error: ntop() needs an integer (IPv4) or a 4- or 16-byte buffer, not a string\n  |\n1 | BEGIN { $x = ntop(comm); }\n  |                   ^^^^\n",
        ),
        (
            &["-e", r#"uprobe:/bin/bash:readline { signal("SIGKILL"); }"#],
            "stdin:1:29: error: signal() sends signals; it needs the --unsafe flag\n  |\n1 | uprobe:/bin/bash:readline { signal(\"SIGKILL\"); }\n  |                             ^^^^^^\n",
        ),
        (
            &["--unsafe", "-e", r#"uprobe:/bin/bash:readline { signal("SIGWHAT"); }"#],
            "stdin:1:36: error: unknown signal `SIGWHAT` (e.g. \"SIGTERM\", \"KILL\" or a number 1-64)\n  |\n1 | uprobe:/bin/bash:readline { signal(\"SIGWHAT\"); }\n  |                                    ^^^^^^^^^\n",
        ),
        (
            &["-e", r#"BEGIN { errorf(); }"#],
            "stdin:1:9: error: errorf() needs a format string: errorf(\"bad value %d\", arg0)\n  |\n1 | BEGIN { errorf(); }\n  |         ^^^^^^^^\n",
        ),
        (
            &["-e", r#"BEGIN { assert(1); }"#],
            "stdin:1:9: error: assert() takes a condition and a message: assert(arg0 > 0, \"no size\")\n  |\n1 | BEGIN { assert(1); }\n  |         ^^^^^^^^^\n",
        ),
    ];
    for (args, want) in cases {
        let mut cmd = ustrace();
        cmd.args(args);
        let out = run_with_timeout(cmd, Duration::from_secs(60));
        assert!(!out.status.success(), "{args:?}");
        assert_eq!(stderr(&out), want, "{args:?}");
    }
}

#[test]
fn ppid_is_the_parent_process() {
    if !bpf_available("ppid_is_the_parent_process") {
        return;
    }
    // BEGIN runs in ustrace: its parent is this test. The traced child's
    // parent is ustrace (-c forks it).
    let bin = build_c("ppid_target", "tests/c/signal_target.c", &["-O1", "-g"]);
    let script = format!(
        r#"BEGIN {{ printf("begin %d %d\n", pid, ppid); }} uprobe:{b}:ping /arg0 == 1/ {{ printf("child %d %d\n", ppid, ppid()); }}"#,
        b = bin.display()
    );
    let text = stdout(&trace_command_with(
        &[],
        &script,
        &bin.display().to_string(),
    ));
    let begin = text
        .lines()
        .find_map(|l| l.strip_prefix("begin "))
        .unwrap_or_else(|| panic!("no begin line in {text:?}"));
    let (ustrace_pid, parent) = begin.split_once(' ').expect("two numbers");
    assert_eq!(parent, std::process::id().to_string(), "{text}");
    assert!(
        text.contains(&format!("child {ustrace_pid} {ustrace_pid}\n")),
        "{text}"
    );
}

#[test]
fn hist_with_k_prints_finer_buckets_as_bpftrace() {
    // Labels from bpftrace's text printer: 2^k buckets per power of two,
    // starts shifted by whole powers of 1024 with a suffix.
    let Some(out) = run(
        "hist_with_k_prints_finer_buckets_as_bpftrace",
        &[
            "-e",
            "BEGIN { @a = hist(224, 2); @a = hist(255, 2); @b = hist(1500, 1); @c = hist(1048576, 1); \
             @d = hist(100, 3); @e = hist(-3, 2); @e = hist(7, 2); @f = hist(0x7fffffffffffffff, 5); \
             @g = hist(5, 0); @h[1] = hist(5, 1); @h[1] = hist(3, 1); @h[1] = hist(4, 1); exit(); }",
        ],
    ) else {
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let bar = |n: usize| format!("|{}{}|", "@".repeat(n), " ".repeat(52 - n));
    let want = format!(
        "Attaching 1 probe...\n\n\n\
         @a: \n[224, 256)             2 {full}\n\n\
         @b: \n[1024, 1536)           1 {full}\n\n\
         @c: \n[1024K, 1536K)         1 {full}\n\n\
         @d: \n[96, 104)              1 {full}\n\n\
         @e: \n(..., 0)               1 {full}\n[0]                    0 {empty}\n\
         [1]                    0 {empty}\n[2]                    0 {empty}\n\
         [3]                    0 {empty}\n[4]                    0 {empty}\n\
         [5]                    0 {empty}\n[6]                    0 {empty}\n\
         [7]                    1 {full}\n\n\
         @f: \n[8064P, 8192P)         1 {full}\n\n\
         @g: \n[4, 8)                 1 {full}\n\n\
         @h[1]: \n[3]                    1 {half}\n[4, 6)                 2 {full}\n\n",
        full = bar(52),
        half = bar(26),
        empty = bar(0)
    );
    assert_eq!(stdout(&out), want);
}

#[test]
fn username_ntop_and_pton_as_the_manual_describes() {
    let Some(out) = run(
        "username_ntop_and_pton_as_the_manual_describes",
        &[
            "-e",
            r#"BEGIN { printf("%s %s\n", username, ntop(0x0100007f));
              printf("%s|%s|%s|%s\n", ntop(pton("::1")), ntop(pton("10.1.2.3")), ntop(2, pton("192.168.0.255")), ntop(10, pton("fe80::1:2")));
              $a = ntop(pton("2001:db8::ff00:42:8329")); print($a); printf("%r\n", pton("1.2.3.4"));
              @u[username] = count(); @n[ntop(0x0100007f)] = 1; exit(); }"#,
        ],
    ) else {
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let me = std::process::Command::new("id")
        .arg("-un")
        .output()
        .expect("id -un");
    let me = String::from_utf8_lossy(&me.stdout).trim().to_string();
    assert_eq!(
        stdout(&out),
        format!(
            "Attaching 1 probe...\n{me} 127.0.0.1\n::1|10.1.2.3|192.168.0.255|fe80::1:2\n\
             2001:db8::ff00:42:8329\n\\x01\\x02\\x03\\x04\n\n\n@n[127.0.0.1]: 1\n@u[{me}]: 1\n"
        )
    );
}

/// The GNU build id of `file`, as readelf prints it.
fn build_id(file: &std::path::Path) -> String {
    let out = std::process::Command::new("readelf")
        .arg("-n")
        .arg(file)
        .output()
        .expect("readelf (binutils)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: ").map(str::to_string))
        .expect("a build id")
}

#[test]
fn ustack_raw_and_build_id_modes() {
    if !bpf_available("ustack_raw_and_build_id_modes") {
        return;
    }
    let server = test_server_copy("stack-modes-server");
    let guard = spawn(std::process::Command::new(&server));
    let pid = guard.0.id().to_string();
    let script = format!(
        r#"usdt:{s}:test_grp:test_idx {{ printf("%s|%s", ustack(raw, 2), ustack(build_id, 1)); exit(); }}"#,
        s = server.display()
    );
    let mut cmd = ustrace();
    cmd.args(["-e", &script, "-p", &pid]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // raw: "\n" then one hex address per line, no indent, no symbol.
    let (raw, build) = text
        .strip_prefix("Attaching 1 probe...\n")
        .and_then(|t| t.split_once('|'))
        .unwrap_or_else(|| panic!("{text:?}"));
    let raw_lines: Vec<&str> = raw.lines().collect();
    assert_eq!(raw_lines.len(), 3, "{raw:?}");
    assert_eq!(raw_lines[0], "");
    for l in &raw_lines[1..] {
        assert!(u64::from_str_radix(l, 16).is_ok(), "{raw:?}");
    }
    // build_id: the server's build id and the frame's file offset.
    let want = format!("\n{} 0x", build_id(&server));
    assert!(
        build.starts_with(&want),
        "{build:?} does not start with {want:?}"
    );
    let offset = build[want.len()..].lines().next().unwrap_or_default();
    assert!(u64::from_str_radix(offset, 16).is_ok(), "{build:?}");
    drop(guard);

    // config = { stack_mode = raw } makes raw the default for ustack.
    let bin = build_c(
        "stack_mode_target",
        "tests/c/signal_target.c",
        &["-O1", "-g"],
    );
    let script = format!(
        r#"config = {{ stack_mode = raw }} uprobe:{b}:ping /arg0 == 1/ {{ printf("%s", ustack(1)); }}"#,
        b = bin.display()
    );
    let text = stdout(&trace_command_with(
        &[],
        &script,
        &bin.display().to_string(),
    ));
    let line = text
        .lines()
        .skip_while(|l| !l.is_empty())
        .nth(1)
        .unwrap_or_default();
    assert!(u64::from_str_radix(line, 16).is_ok(), "{text:?}");
}

#[test]
fn strstr_and_strcontains_with_a_needle_known_at_run_time() {
    // The manual's semantics: index of the first occurrence or -1; the
    // empty needle is found at 0.
    let Some(out) = run(
        "strstr_and_strcontains_with_a_needle_known_at_run_time",
        &[
            "-e",
            r#"BEGIN { $a = strstr("hello world", pid > 0 ? "wor" : "x"); $b = strstr("hello", pid > 0 ? "xyz" : "x");
              $c = strstr("abc", pid > 0 ? "" : "x"); $d = strstr("aab", pid > 0 ? "ab" : "zz"); printf("%d %d %d %d\n", $a, $b, $c, $d);
              $f = strcontains(comm, pid > 0 ? "trace" : "x"); $g = strcontains("ustrace", comm); $h = strstr(comm, comm);
              $j = strstr("abcabd", pid > 0 ? "abd" : ""); $k = strstr("abc", pid > 0 ? "abcd" : "");
              printf("%d %d %d %d %d\n", $f, $g, $h, $j, $k); exit(); }"#,
        ],
    ) else {
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Attaching 1 probe...\n6 -1 0 1\n1 1 0 3 -1\n\n\n"
    );
}
