//! uprobes and uretprobes on functions of a real program started with -c.

mod common;

use std::time::Duration;

use common::*;

/// tests/c/functions.c, built once (rebuilding would swap the file under a
/// test that is tracing it).
fn functions() -> std::path::PathBuf {
    static P: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        build_c(
            "functions",
            "tests/c/functions.c",
            &["-O1", "-g", "-fno-inline"],
        )
    })
    .clone()
}

#[test]
fn uprobe_arguments_and_uretprobe_return_values() {
    if !bpf_available("uprobe_arguments_and_uretprobe_return_values") {
        return;
    }
    let bin = functions();
    let b = bin.display();
    let script = format!(
        r#"uprobe:{b}:add {{ printf("add %d %d\n", arg0, arg1); }}
uretprobe:{b}:add {{ printf("ret %d\n", retval); }}
uprobe:{b}:scal* {{ @calls[probe] = count(); }}"#
    );
    let text = trace_command(&script, &format!("{b} 3"));
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("add") || l.starts_with("ret"))
        .collect();
    assert_eq!(
        lines,
        [
            "add 0 100",
            "ret 100",
            "add 1 100",
            "ret 101",
            "add 2 100",
            "ret 102"
        ],
        "output:\n{text}"
    );
    assert!(
        text.contains(&format!("@calls[uprobe:{b}:scale]: 3\n")),
        "output:\n{text}"
    );
    assert!(
        text.starts_with("Attaching 3 probes...\n"),
        "output:\n{text}"
    );
}

#[test]
fn uprobe_on_a_library_by_name() {
    if !bpf_available("uprobe_on_a_library_by_name") {
        return;
    }
    // `libc` is found through ld.so.cache; python calls getpid() for real
    // (glibc does not cache it).
    let script = r#"uprobe:libc:getpid /pid == cpid/ { @n = count(); }"#;
    let text = trace_command(
        script,
        "/usr/bin/python3 -c 'import os; [os.getpid() for _ in range(5)]'",
    );
    let n: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("@n: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no @n in:\n{text}"));
    assert!(n >= 5, "expected at least 5 getpid calls, got {n}");
}

#[test]
fn unknown_function_is_an_error_at_the_attach_point() {
    let bin = functions();
    let script = format!(
        "uprobe:{}:no_such_function {{ printf(\"x\\n\"); }}",
        bin.display()
    );
    let mut cmd = ustrace();
    cmd.args(["-e", &script]);
    let out = run_with_timeout(cmd, Duration::from_secs(20));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.starts_with("stdin:1:1: error: no function matches `no_such_function`"),
        "{err}"
    );
}

#[test]
fn func_names_the_traced_function_and_elapsed_counts_up() {
    if !bpf_available("func_names_the_traced_function_and_elapsed_counts_up") {
        return;
    }
    let bin = functions();
    let b = bin.display();
    let script = format!(
        r#"uprobe:{b}:add,uprobe:{b}:scale {{ printf("%s %d %d\n", func, arg0, elapsed > 0); }}"#
    );
    let text = trace_command(&script, &format!("{b} 2"));
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("add") || l.starts_with("scale"))
        .collect();
    assert_eq!(
        lines,
        ["add 0 1", "scale 0 1", "add 1 1", "scale 1 1"],
        "output:\n{text}"
    );
}

#[test]
fn lists_functions_for_uprobes() {
    let bin = functions();
    let out = ustrace()
        .args(["-l", &format!("uprobe:{}:*a*", bin.display())])
        .output()
        .expect("running ustrace -l");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let b = bin.display();
    for f in ["add", "scale", "main"] {
        assert!(
            text.lines().any(|l| l == format!("uprobe:{b}:{f}")),
            "{f} missing in:\n{text}"
        );
    }
    assert!(text.lines().all(|l| l.contains('a')), "{text}");
}

#[test]
fn counts_a_programs_malloc_calls_in_libc() {
    if !bpf_available("counts_a_programs_malloc_calls_in_libc") {
        return;
    }
    let bin = build_c("mallocs", "tests/c/mallocs.c", &["-O1", "-g"]);
    let text = trace_command(
        "uprobe:libc:malloc /arg0 == 12345/ { @calls = count(); } uretprobe:libc:malloc /pid == cpid/ { @returned = count(); }",
        &format!("{} 42", bin.display()),
    );
    assert!(text.contains("@calls: 42\n"), "output:\n{text}");
    let returned: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("@returned: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(returned >= 42, "output:\n{text}");
}

#[test]
fn cpp_methods_by_demangled_name() {
    if !bpf_available("cpp_methods_by_demangled_name") {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cxx-methods");
    std::fs::create_dir_all(&dir).expect("build dir");
    let bin = dir.join("methods");
    let status = std::process::Command::new("g++")
        .args(["-O1", "-g"])
        .arg(repo().join("tests/c/methods.cpp"))
        .arg("-o")
        .arg(&bin)
        .status()
        .expect("running g++");
    assert!(status.success(), "g++ failed");
    let b = bin.display();
    // Listing shows demangled names; a wildcard over a namespace finds them.
    let listed = ustrace()
        .args(["-l", &format!("uprobe:{b}:ns::*")])
        .output()
        .expect("ustrace -l");
    assert_eq!(
        stdout(&listed),
        format!("uprobe:{b}:ns::Counter::add(int)\n")
    );
    // Attach by the name without parameters, quoted as bpftrace wants.
    let script = format!(r#"uprobe:{b}:"ns::Counter::add" {{ printf("%s %d\n", func, arg1); }}"#);
    let text = trace_command(&script, &format!("{b} 3"));
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("ns::")).collect();
    assert_eq!(
        lines,
        [
            "ns::Counter::add(int) 1",
            "ns::Counter::add(int) 2",
            "ns::Counter::add(int) 3"
        ],
        "{text}"
    );
}

#[test]
fn misspelled_function_gets_suggestions() {
    let bin = functions();
    let script = format!("uprobe:{}:scal {{ }}", bin.display());
    let out = ustrace()
        .args(["-e", &script])
        .output()
        .expect("running ustrace");
    assert!(!out.status.success());
    let err = stderr(&out);
    let first = err.lines().next().unwrap_or_default();
    assert!(
        first.contains("no function matches `scal`") && first.contains("did you mean `scale`"),
        "{err}"
    );
}

#[test]
fn stripped_binary_uses_its_separate_debug_file() {
    if !bpf_available("stripped_binary_uses_its_separate_debug_file") {
        return;
    }
    // Build, move the symbols to a .debug file, strip, link them with
    // .gnu_debuglink: the functions are found through the debug file.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-stripped");
    std::fs::create_dir_all(&dir).expect("dir");
    let bin = dir.join("functions");
    let dbg = dir.join("functions.debug");
    let sh = format!(
        "gcc -O1 -g -fno-inline {src} -o {b} && objcopy --only-keep-debug {b} {d} && strip --strip-all {b} && cd {dir} && objcopy --add-gnu-debuglink=functions.debug {b}",
        src = repo().join("tests/c/functions.c").display(),
        b = bin.display(),
        d = dbg.display(),
        dir = dir.display()
    );
    let ok = std::process::Command::new("/bin/sh")
        .args(["-c", &sh])
        .status()
        .expect("sh");
    assert!(ok.success(), "building the stripped program failed");
    let nm = std::process::Command::new("nm")
        .arg(&bin)
        .output()
        .expect("nm");
    assert!(
        String::from_utf8_lossy(&nm.stderr).contains("no symbols"),
        "not stripped"
    );
    let script = format!(
        r#"uprobe:{}:add {{ printf("add %d\n", arg0); }}"#,
        bin.display()
    );
    let text = trace_command(&script, &format!("{} 2", bin.display()));
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("add ")).collect();
    assert_eq!(lines, ["add 0", "add 1"], "{text}");
}

#[test]
fn addresses_outside_executable_code_are_refused() {
    let bin = functions();
    for (addr, why) in [
        ("0x318", "not in an executable segment"),
        ("0x9999999", "not in any PT_LOAD"),
    ] {
        let script = format!("uprobe:{}:{addr} {{ }}", bin.display());
        let out = ustrace()
            .args(["-e", &script])
            .output()
            .expect("running ustrace");
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.lines().next().unwrap_or_default().contains(why),
            "{addr}: {err}"
        );
    }
}
