//! Examples of bpftrace's manual found wrong by the acceptance audit of
//! issue 11 (docs/sessions/2026-11-30d/audit.md), each run for real (BPF
//! loaded) with the manual's output.

mod common;

use std::time::Duration;

use common::*;

/// ustrace's stderr for a run that must fail (no panic, non-zero exit).
fn fails(args: &[&str]) -> String {
    let mut cmd = ustrace();
    cmd.args(args);
    let out = run_with_timeout(cmd, Duration::from_secs(20));
    let err = stderr(&out);
    assert!(!out.status.success(), "expected failure for {args:?}");
    assert!(!err.contains("panicked"), "panic for {args:?}: {err}");
    err
}

#[test]
fn str_of_a_positional_parameter_plus_a_constant_skips_bytes() {
    // The manual's "Positional Parameters" examples (bpftrace 0.17 too).
    let Some(out) = run_script(
        "str_of_a_positional_parameter_plus_a_constant_skips_bytes",
        r#"begin { printf("I got %d, %s (%d args)\n", $1, str($2), $#); printf("%s\n", str($2 + 1)); printf("[%s]\n", str($2 + 5)); exit(); }"#,
        &["42", "hello"],
    ) else {
        return;
    };
    assert_eq!(
        out,
        "Attaching 1 probe...\nI got 42, hello (2 args)\nello\n[]\n\n\n"
    );
    let err = fails(&["-e", r#"begin { printf("%s\n", str($1 + 6)); }"#, "hello"]);
    assert_eq!(
        err,
        "stdin:1:28: error: only addition of a single constant less or equal to the length of $1 (which is 5) is allowed inside str()\n  |\n1 | begin { printf(\"%s\\n\", str($1 + 6)); }\n  |                            ^^^^^^\n"
    );
}

#[test]
fn ustack_and_usym_are_map_values() {
    // Issue 11: "strings, tuples, func, probe, ustack, usym as map values",
    // printed as bpftrace prints them (a stack's lines after `@s[k]: `, a
    // symbol's name).
    if !bpf_available("ustack_and_usym_are_map_values") {
        return;
    }
    let bin = build_c_once(
        "stacks",
        "tests/c/stacks.c",
        &["-O0", "-g", "-fno-omit-frame-pointer"],
    );
    let script = format!(
        r#"uprobe:{b}:leaf {{ @s[arg0] = ustack(1); $u = usym(reg("ip")); @u[arg0] = $u; @f = func; @p = probe; }}"#,
        b = bin.display()
    );
    let out = trace_command(&script, &format!("{} 2", bin.display()));
    assert_eq!(
        out,
        format!(
            "Attaching 1 probe...\n\n\n@f: leaf\n@p: uprobe:{b}:leaf\n@s[0]: \n        leaf+0\n\n@s[1]: \n        leaf+0\n\n@u[0]: leaf\n@u[1]: leaf\n",
            b = bin.display()
        )
    );
    let err = fails(&["-e", "BEGIN { @s = ustack; @s = 1; }"]);
    assert_eq!(
        err,
        "stdin:1:22: error: map @s holds a ustack but is used here as an integer\n  |\n1 | BEGIN { @s = ustack; @s = 1; }\n  |                      ^^^^^^\n"
    );
}

#[test]
fn helpers_without_arguments_may_be_called() {
    // bpftrace's stdlib.md: "`pid` and `pid()` are equivalent"; every
    // helper without arguments can be written with or without the call.
    let Some(out) = run_script(
        "helpers_without_arguments_may_be_called",
        r#"begin { printf("%s %s %d %d\n", comm(), probetype(), uid() == uid, cpu() == cpu); exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\nustrace special 1 1\n\n\n");
    let err = fails(&["-e", "begin { print(comm(1)); }"]);
    assert_eq!(
        err,
        "stdin:1:15: error: comm(pid), the name of another process, is not supported: bpftrace finds that task with a kernel function and reads its kernel struct; `comm` is the current task's name\n  |\n1 | begin { print(comm(1)); }\n  |               ^^^^^^^\n"
    );
    let err = fails(&["-e", "begin { print(cpu(1)); }"]);
    assert_eq!(
        err,
        "stdin:1:15: error: `cpu` takes no arguments: write `cpu` or `cpu()`\n  |\n1 | begin { print(cpu(1)); }\n  |               ^^^^^^\n"
    );
}

#[test]
fn a_full_map_names_the_config_key_that_raises_it() {
    if !bpf_available("a_full_map_names_the_config_key_that_raises_it") {
        return;
    }
    let mut cmd = ustrace();
    cmd.args([
        "-e",
        "config = { max_map_keys = 2 } begin { @m[1] = 1; @m[2] = 2; @m[3] = 3; exit(); }",
    ]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "Attaching 1 probe...\n\n\n@m[1]: 1\n@m[2]: 2\n"
    );
    assert_eq!(
        stderr(&out),
        "stdin:1:61-70: WARNING: Map full; can't update element. Try increasing max_map_keys config or manually setting the max entries in a map declaration e.g. `let @a = hash(5000)`\nAdditional Info - helper: 2, retcode: -7\n"
    );
}

#[test]
fn a_conditional_may_choose_between_two_statements() {
    // The manual's "Conditionals": `$a == 1 ? print("true") : print("false");`.
    let Some(out) = run_script(
        "a_conditional_may_choose_between_two_statements",
        r#"begin { $a = 1; $a == 1 ? print("true") : print("false"); $a == 2 ? print("true") : print("false"); $b = $a > 0 ? $a : -1; print($b); exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\ntrue\nfalse\n1\n\n\n");
    let err = fails(&["-e", "begin { $a = 1 ? print(1) : 2; }"]);
    assert_eq!(
        err,
        "stdin:1:14: error: the two branches of `?:` differ in type (none and uint64)\n  |\n1 | begin { $a = 1 ? print(1) : 2; }\n  |              ^^^^^^^^^^^^^^^^\n"
    );
}

#[test]
fn an_interval_may_be_one_duration() {
    // The manual: `interval:1s`, `interval:1000000000` and `interval:s:1`
    // are the same.
    let Some(out) = run_script(
        "an_interval_may_be_one_duration",
        r#"interval:100000000 { @n++; if (@n == 3) { exit(); } } interval:10ms { @t = 1; }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 2 probes...\n\n\n@n: 3\n@t: 1\n");
    let err = fails(&["-e", "interval:1x { }"]);
    assert_eq!(
        err,
        "stdin:1:10: error: invalid period `1x`\n  |\n1 | interval:1x { }\n  |          ^^\n  = note: expected a positive number of nanoseconds, or one with a unit: `1s`, `100ms`, `10us`, `1m`\n"
    );
}

#[test]
fn a_typed_let_refuses_a_literal_its_type_cannot_hold() {
    // bpftrace: "Type mismatch for $z: trying to assign value of type
    // 'uint16' when variable already has a type 'uint8'"; a literal that
    // fits, and a cast, are kept.
    let Some(out) = run_script(
        "a_typed_let_refuses_a_literal_its_type_cannot_hold",
        r#"begin { let $a: uint8 = 255; let $b: int8 = -128; let $c: uint16 = (uint8)300; print(($a, $b, $c)); exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n(255, -128, 44)\n\n\n");
    let err = fails(&["-e", "begin { let $z: uint8 = 300; }"]);
    assert_eq!(
        err,
        "stdin:1:25: error: type mismatch for $z: 300 does not fit its declared type `uint8`\n  |\n1 | begin { let $z: uint8 = 300; }\n  |                         ^^^\n  = note: to keep only its low bits, cast it: `(uint8)300`\n"
    );
}

#[test]
fn cpp_prefix_and_cpp_demangle_false() {
    // The manual: `uprobe:BIN:cpp:"ns::f"` (the language prefix), and
    // `config = { cpp_demangle = false }` names stack frames and symbols
    // as the object file has them, also once the process has exited.
    if !bpf_available("cpp_prefix_and_cpp_demangle_false") {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("audit-cxx-methods");
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
    let script = format!(
        r#"config = {{ cpp_demangle = false }} uprobe:{b}:cpp:"ns::Counter::add" {{ printf("%s %s\n", func, usym(reg("ip"))); @[ustack(1)] = count(); }}"#
    );
    let out = trace_command(&script, &format!("{b} 2"));
    assert_eq!(
        out,
        "Attaching 1 probe...\nns::Counter::add(int) _ZN2ns7Counter3addEi\nns::Counter::add(int) _ZN2ns7Counter3addEi\n\n\n@[\n    _ZN2ns7Counter3addEi+0\n]: 2\n"
    );
}

#[test]
fn preamble_items_ustrace_cannot_honour_say_why() {
    // The manual's preamble example: `#include`, `#define`, `struct S`.
    let err = fails(&["-e", "#include <linux/socket.h>\nbegin { exit(); }"]);
    assert_eq!(
        err,
        "stdin:1:1: error: C preprocessor lines (`#include`, `#define`) are not supported: ustrace runs no C compiler; the traced program's types come from its debug information (DWARF)\n  |\n1 | #include <linux/socket.h>\n  | ^^^^^^^^\n"
    );
    let err = fails(&["-e", "struct S { int x; } begin { exit(); }"]);
    assert_eq!(
        err,
        "stdin:1:1: error: type definitions in the preamble are not supported: ustrace reads the traced program's own types from its debug information (DWARF)\n  |\n1 | struct S { int x; } begin { exit(); }\n  | ^^^^^^\n"
    );
}

#[test]
fn the_discard_expression_silences_the_discarded_value_warning() {
    // The manual's "Block Expressions": `has_key(@a, 1); // Warning`,
    // `_ = has_key(@a, 1); // No Warning`.
    let Some((out, err)) = run_script_with_stderr(
        "the_discard_expression_silences_the_discarded_value_warning",
        r#"begin { @a[1] = 1; _ = has_key(@a, 1); _ = "str"; has_key(@a, 1); exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n\n\n@a[1]: 1\n");
    assert_eq!(
        err,
        "WARNING: stdin:1:51-65: Return value discarded.\n  |\n1 | begin { @a[1] = 1; _ = has_key(@a, 1); _ = \"str\"; has_key(@a, 1); exit(); }\n  |                                                   ^^^^^^^^^^^^^^\n"
    );
}

#[test]
fn unstable_feature_gates_are_accepted() {
    // Scripts written for today's bpftrace enable map declarations with
    // `unstable_map_decl = enable` to silence its experimental warning.
    let Some(out) = run_script(
        "unstable_feature_gates_are_accepted",
        "config = { unstable_map_decl = enable; unstable_tseries = warn } let @a = hash(2); begin { @a[1] = 1; exit(); }",
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n\n\n@a[1]: 1\n");
    let err = fails(&[
        "-e",
        "config = { unstable_map_decl = error } begin { exit(); }",
    ]);
    assert_eq!(
        err,
        "stdin:1:32: error: `unstable_map_decl = error` is not supported: ustrace cannot forbid the feature (use `enable` or `warn`, which change nothing here)\n  |\n1 | config = { unstable_map_decl = error } begin { exit(); }\n  |                                ^^^^^\n"
    );
}
