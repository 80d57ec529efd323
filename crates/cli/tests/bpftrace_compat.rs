//! Output identical to bpftrace's: the same scripts run under both tools,
//! stdout compared byte for byte.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

fn bpftrace_output(script: &str) -> String {
    let mut cmd = Command::new("bpftrace");
    cmd.args(["-e", script]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "bpftrace failed on {script}: {}",
        stderr(&out)
    );
    stdout(&out)
}

fn ustrace_output(script: &str) -> String {
    let mut cmd = ustrace();
    cmd.args(["-e", script]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "ustrace failed on {script}: {}",
        stderr(&out)
    );
    stdout(&out)
}

fn same_as_bpftrace(test: &str, script: &str) {
    if !bpf_available(test) || !bpftrace_available(test) {
        return;
    }
    let theirs = bpftrace_output(script);
    let ours = ustrace_output(script);
    assert_eq!(
        ours, theirs,
        "script: {script}\n--- ustrace:\n{ours}\n--- bpftrace:\n{theirs}"
    );
}

#[test]
fn printf_conversions() {
    same_as_bpftrace(
        "printf_conversions",
        r#"BEGIN { printf("%d|%5d|%-5d|%05d|%x|%X|%o|%u|%s|%10s|%-4s|%c\n", -42, 7, 7, 7, 255, 255, 8, 3, "str", "right", "l", 65); exit(); }"#,
    );
}

#[test]
fn integer_arithmetic_and_conditions() {
    same_as_bpftrace(
        "integer_arithmetic_and_conditions",
        r#"BEGIN { $a = 7; $b = -3; printf("%d %d %d %d %d %d %d\n", $a + $b, $a * $b, $a / 2, $a % 3, $a << 2, $a & 3, $a ^ 1); if ($a > 5 && $b < 0) { printf("yes\n"); } else { printf("no\n"); } $i = 0; while ($i < 3) { printf("i=%d\n", $i); $i++; } exit(); }"#,
    );
}

#[test]
fn scalar_and_keyed_maps() {
    same_as_bpftrace(
        "scalar_and_keyed_maps",
        r#"BEGIN { @b = 1; @a = -2; @s = "text"; @k[1, "x"] = 5; @k[2, "y"] = 3; @c["one"] = count(); @c["two"] = count(); @c["two"] = count(); exit(); }"#,
    );
}

#[test]
fn aggregations() {
    same_as_bpftrace(
        "aggregations",
        r#"BEGIN { @sum = sum(5); @sum = sum(-12); @min = min(4); @min = min(-9); @max = max(4); @max = max(11); @avg = avg(7); @avg = avg(8); @st = stats(10); @st = stats(21); exit(); }"#,
    );
}

#[test]
fn histograms() {
    same_as_bpftrace(
        "histograms",
        r#"BEGIN { @h = hist(0); @h = hist(1); @h = hist(5); @h = hist(5); @h = hist(1000); @h = hist(-1); @h = hist(1048576); @l = lhist(15, 0, 100, 10); @l = lhist(-5, 0, 100, 10); @l = lhist(150, 0, 100, 10); @l = lhist(15, 0, 100, 10); exit(); }"#,
    );
}

#[test]
fn print_clear_and_end() {
    same_as_bpftrace(
        "print_clear_and_end",
        r#"BEGIN { @x[1] = 10; @x[2] = 20; print(@x); clear(@x); @y = 3; exit(); } END { printf("end %d\n", @y); }"#,
    );
}

#[test]
fn signed_and_unsigned_keys_print_value_casts_unroll() {
    same_as_bpftrace(
        "signed_and_unsigned_keys_print_value_casts_unroll",
        r#"BEGIN { @x[1] = 1; @x[-1] = 2; @x[256] = 3; print(5); print(-5); print("abc"); $c = (uint8)300; $d = (int32)-1; $i = 0; unroll(4) { $i += 2; } printf("%d %d %d\n", $c, $d, $i); exit(); }"#,
    );
}

#[test]
fn interval_and_end() {
    same_as_bpftrace(
        "interval_and_end",
        r#"BEGIN { @n = 0; } interval:ms:100 { @n++; if (@n == 3) { exit(); } } END { printf("ticks %d\n", @n); }"#,
    );
}

#[test]
fn json_output() {
    let test = "json_output";
    if !bpf_available(test) || !bpftrace_available(test) {
        return;
    }
    let script = r#"BEGIN { printf("hi %d\n", 1); @c = count(); @x[1, "a"] = 5; @s["k"] = sum(3); @h = hist(5); @h = hist(100); @h = hist(-3); @l = lhist(5, 0, 10, 5); @l = lhist(50, 0, 10, 5); @st = stats(4); @a = avg(3); @str = "v"; @k[1] = hist(2); @ks[1] = stats(2); @e[1] = count(); delete(@e[1]); exit(); }"#;
    let run = |mut cmd: Command| {
        cmd.args(["-f", "json", "-e", script]);
        let out = run_with_timeout(cmd, Duration::from_secs(60));
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let theirs = run(Command::new("bpftrace"));
    let ours = run(ustrace());
    assert_eq!(ours, theirs);
}

#[test]
fn system_needs_unsafe_and_prints_like_bpftrace() {
    let test = "system_needs_unsafe_and_prints_like_bpftrace";
    if !bpf_available(test) || !bpftrace_available(test) {
        return;
    }
    let script = r#"BEGIN { system("echo hello %d", 42); printf("after\n"); exit(); }"#;
    let run = |mut cmd: Command| {
        cmd.args(["--unsafe", "-e", script]);
        let out = run_with_timeout(cmd, Duration::from_secs(60));
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(run(ustrace()), run(Command::new("bpftrace")));
    let refused = ustrace()
        .args(["-e", script])
        .output()
        .expect("running ustrace");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("needs the --unsafe flag"));
}

#[test]
fn buf_and_strftime() {
    let test = "buf_and_strftime";
    if !bpf_available(test) || !bpftrace_available(test) {
        return;
    }
    let bin = build_c("bytes", "tests/c/bytes.c", &["-O1", "-g"]);
    let script = format!(
        r#"usdt:{}:t:bytes {{ printf("%r|%r\n", buf(arg0, arg1), buf(arg0, 4)); @b[buf(arg0, 2)] = count(); printf("%s\n", strftime("%Y-%m-%d", nsecs)); }}"#,
        bin.display()
    );
    let run = |mut cmd: Command| {
        cmd.args(["-e", &script, "-c", &bin.display().to_string()]);
        let out = run_with_timeout(cmd, Duration::from_secs(60));
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let ours = run(ustrace());
    assert_eq!(ours, run(Command::new("bpftrace")));
    assert!(
        ours.contains("A\\x00\\xff\\x0aB\\x7f|A\\x00\\xff\\x0a\n"),
        "{ours}"
    );
}

#[test]
fn print_with_top_and_div() {
    same_as_bpftrace(
        "print_with_top_and_div",
        r#"BEGIN { @a[1] = 10; @a[2] = 20; @a[3] = 5; print(@a, 2); print(@a, 2, 5); @c = count(); @c = count(); print(@c, 0, 2); exit(); }"#,
    );
}

/// A scalar `count()` map holding nothing (cleared, deleted, or written
/// only by a block that never fired) prints `@c: 0`; other empty maps an
/// empty line.
#[test]
fn empty_scalar_counts_print_zero() {
    same_as_bpftrace(
        "empty_scalar_counts_print_zero",
        "BEGIN { @c = count(); clear(@c); print(@c); @d = count(); delete(@d); @e = sum(1); clear(@e); @k[1] = count(); clear(@k); exit(); }",
    );
}

/// A function that does not exist (bpftrace 0.17 skips it; ustrace with a
/// warning on stderr): its block's maps exist and print as never written.
#[test]
fn a_missing_functions_block_is_skipped() {
    same_as_bpftrace(
        "a_missing_functions_block_is_skipped",
        r#"uprobe:/bin/true:no_such_function_here { @n = count(); @s = str(arg0); } BEGIN { printf("[%s]\n", @s); exit(); }"#,
    );
}
