//! Bad input: one clear line naming what is wrong, a caret under the
//! script's fault, a non-zero exit, and never a panic.

mod common;

use std::time::Duration;

use common::*;

fn fails(args: &[&str]) -> String {
    let mut cmd = ustrace();
    cmd.args(args);
    let out = run_with_timeout(cmd, Duration::from_secs(20));
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "expected failure for {args:?}, stdout: {}",
        stdout(&out)
    );
    assert!(!err.contains("panicked"), "panic for {args:?}: {err}");
    err
}

#[test]
fn syntax_error_points_at_line_and_column() {
    let err = fails(&["-e", "BEGIN { printf(\"%d\\n\", 1) \n  @x = ; }"]);
    let first = err.lines().next().unwrap_or_default();
    assert!(first.starts_with("stdin:2:"), "{err}");
    assert!(err.contains('^'), "no caret: {err}");
}

#[test]
fn missing_file_is_named() {
    let err = fails(&[
        "-e",
        "usdt:/nonexistent/prog:grp:name { printf(\"x\\n\"); }",
    ]);
    assert!(err.contains("/nonexistent/prog"), "{err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
}

#[test]
fn unknown_probe_is_named() {
    let server = test_server();
    let script = format!(
        "usdt:{}:test_grp:no_such_probe {{ printf(\"x\\n\"); }}",
        server.display()
    );
    let err = fails(&["-e", &script]);
    assert!(err.contains("no_such_probe"), "{err}");
    assert!(err.contains('^'), "no caret under the attach point: {err}");
}

#[test]
fn missing_pid_is_named() {
    let err = fails(&["-e", "BEGIN { exit(); }", "-p", "999999999"]);
    assert!(err.contains("999999999"), "{err}");
}

#[test]
fn printf_argument_count_is_checked() {
    let err = fails(&["-e", "BEGIN { printf(\"%d %d\\n\", 1); }"]);
    assert!(err.starts_with("stdin:1:9: error: printf"), "{err}");
}

#[test]
fn unknown_script_file_is_named() {
    let err = fails(&["/nonexistent/script.bt"]);
    assert!(err.contains("/nonexistent/script.bt"), "{err}");
}

#[test]
fn misspelled_probe_gets_a_suggestion() {
    let server = test_server();
    let script = format!(
        "usdt:{}:test_grp:test_id {{ printf(\"x\\n\"); }}",
        server.display()
    );
    let err = fails(&["-e", &script]);
    assert!(
        err.lines()
            .next()
            .unwrap_or_default()
            .ends_with("did you mean `test_grp:test_idx`?"),
        "{err}"
    );
}

#[test]
fn missing_argument_names_the_probe_and_its_arguments() {
    let server = test_server();
    let script = format!(
        "usdt:{}:test_grp:test_idx {{ printf(\"%d\\n\", arg5); }}",
        server.display()
    );
    let err = fails(&["-e", &script]);
    let first = err.lines().next().unwrap_or_default();
    assert!(first.contains("cannot read `arg5`"), "{err}");
    assert!(
        first.ends_with(":test_grp:test_idx has only 1 argument (arg0)"),
        "{err}"
    );
}

#[test]
fn unprivileged_user_gets_one_line() {
    let test = "unprivileged_user_gets_one_line";
    if !root(test) {
        return;
    }
    if !std::path::Path::new("/usr/sbin/runuser").exists() {
        unavailable(test, "/usr/sbin/runuser is missing");
        return;
    }
    // A copy nobody can execute, outside the (maybe private) target dir.
    let dir = std::env::temp_dir().join(format!("ustrace-nobody-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bin = dir.join("ustrace");
    std::fs::copy(env!("CARGO_BIN_EXE_ustrace"), &bin).expect("copying ustrace");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut cmd = std::process::Command::new("/usr/sbin/runuser");
    cmd.args(["-u", "nobody", "--"])
        .arg(&bin)
        .args(["-e", "BEGIN { exit(); }"]);
    let out = run_with_timeout(cmd, Duration::from_secs(20));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("needs root"), "{err}");
    assert_eq!(stdout(&out), "", "nothing on stdout before the error");
}
