//! bpftrace's compile-time type helpers (`is_integer`,
//! `is_unsigned_integer`, `is_str`, `is_ptr`, `is_array`, `is_literal`,
//! `assert_str`, `strcap`, `default_str_length`), run for real (BPF
//! loaded) with exact outputs, and their misuse errors.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;

/// tests/c/type_tests.c: calls `take(&item, 5)` once; `struct item` has
/// `int nums[4]`, `char name[8]` and `unsigned short id`.
fn type_tests() -> PathBuf {
    build_c_once("type_tests", "tests/c/type_tests.c", &["-g", "-O0"])
}

/// The error of a script ustrace refuses (the run must fail).
fn refused(script: &str) -> String {
    let mut cmd = ustrace();
    cmd.args(["-e", script]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(!out.status.success(), "{script} was accepted");
    stderr(&out)
}

#[test]
fn predicates_answer_from_the_types_of_literals_builtins_and_variables() {
    let Some(out) = run_script(
        "predicates_answer_from_the_types_of_literals_builtins_and_variables",
        r#"BEGIN { $s = "ab";
            printf("%d %d %d %d %d %d\n", is_literal(1), is_literal("a"), is_literal(true), is_literal($1), is_literal(pid), is_literal($s));
            printf("%d %d %d %d\n", is_integer(1), is_integer(-1), is_integer("a"), is_integer(true));
            printf("%d %d\n", is_unsigned_integer(pid), is_unsigned_integer((int32)1));
            printf("%d %d %d\n", is_str(comm), is_str($s), is_str(1));
            printf("%d %d %d\n", is_ptr(pid), is_array(comm), is_array(1));
            assert_str(comm); assert_str("x");
            printf("%d %d %d\n", strcap(comm), strcap("abc"), default_str_length);
            exit(); }"#,
        &["7"],
    ) else {
        return;
    };
    assert_eq!(
        out,
        "Attaching 1 probe...\n1 1 1 1 0 0\n1 1 0 0\n1 0\n1 1 0\n0 0 0\n16 4 64\n\n\n"
    );
}

#[test]
fn default_str_length_follows_max_strlen() {
    let Some(out) = run_script(
        "default_str_length_follows_max_strlen",
        r#"config = { max_strlen = 128 } BEGIN { printf("%d %d\n", default_str_length, strcap(str(0))); exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n128 128\n\n\n");
}

#[test]
fn is_ptr_and_is_array_read_the_traced_programs_dwarf_types() {
    let bin = type_tests();
    if !bpf_available("is_ptr_and_is_array_read_the_traced_programs_dwarf_types") {
        return;
    }
    let script = format!(
        r#"uprobe:{b}:take {{
            printf("%d %d %d %d\n", is_ptr(args.it), is_ptr(arg0), is_ptr(args.n), is_ptr(args.it->nums));
            printf("%d %d %d\n", is_array(args.it->nums), is_array(args.it->name), is_array(args.it));
            printf("%d %d %d %d\n", is_str(args.it->name), is_integer(args.it->id), is_unsigned_integer(args.it->id), is_integer(args.it));
            printf("%d\n", strcap(args.it->name)); }}"#,
        b = bin.display()
    );
    let out = trace_command(&script, &bin.display().to_string());
    // A `char[8]` is a string (read into 9 bytes, room for the NUL), not
    // an array, as in bpftrace; a pointer is not an integer.
    assert_eq!(
        out,
        "Attaching 1 probe...\n1 0 0 0\n1 0 0\n1 1 1 0\n9\n\n\n"
    );
}

#[test]
fn misuse_is_one_error_line_with_a_caret() {
    let cases = [
        (
            "BEGIN { assert_str(pid); }",
            "stdin:1:20: error: assert_str() needs a string, not uint64\n",
            "^^^",
            19,
        ),
        (
            "BEGIN { printf(\"%d\", strcap(1)); }",
            "stdin:1:29: error: strcap() needs a string, not uint64\n",
            "^",
            28,
        ),
        (
            "BEGIN { printf(\"%d\", is_str()); }",
            "stdin:1:22: error: a type predicate takes one expression: is_str(comm)\n",
            "^^^^^^^^",
            21,
        ),
    ];
    for (script, first, caret, column) in cases {
        let want = format!(
            "{first}  |\n1 | {script}\n  | {}{caret}\n",
            " ".repeat(column)
        );
        assert_eq!(refused(script), want, "{script}");
    }
}
