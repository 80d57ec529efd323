//! Constructs of bpftrace's current manual that bpftrace 0.17 lacks: an
//! unused map declaration's warning, bare blocks, tuples of one and no
//! element, tuple comparison, `sizeof` of tuples, `typeof`. Run for real
//! (BPF loaded); outputs exact. (After `exit()`, bpftrace 0.17 prints two
//! empty lines; ustrace keeps that output.)

mod common;

use common::*;

#[test]
fn an_unused_map_declaration_is_warned_about_in_bpftrace_words() {
    let script =
        "let @unused = hash(10);\nlet @used = lruhash(4);\nbegin { @used[1] = 2; exit(); }";
    let Some((out, err)) = run_script_with_stderr(
        "an_unused_map_declaration_is_warned_about_in_bpftrace_words",
        script,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n\n\n@used[1]: 2\n");
    assert_eq!(err, "WARNING: stdin:1:1-24: Unused map: @unused\n");
}

/// ustrace's stderr for a script it must refuse before loading anything.
fn refused(script: &str) -> String {
    let mut cmd = ustrace();
    cmd.args(["-e", script]);
    let out = run_with_timeout(cmd, std::time::Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1), "{script}: {}", stderr(&out));
    stderr(&out)
}

#[test]
fn a_bare_block_runs_its_statements_and_scopes_its_lets() {
    // bpftrace's tests/runtime/scripts/variable_scope.bt, with bare blocks
    // in place of `if (1)`, and a bare block inside a loop's body.
    let script = r#"begin {
  { $x = 1; }
  let $y = 10;
  {
    let $y = 0;
    { printf("inner %d\n", $y + 1); }
    print($y);
  }
  print($y);
  for ($i : 0..3) { { if ($i == 1) { continue; } print($i); } }
  { 7 }
  exit();
}"#;
    let Some((out, err)) = run_script_with_stderr(
        "a_bare_block_runs_its_statements_and_scopes_its_lets",
        script,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\ninner 1\n0\n10\n0\n2\n\n\n");
    // The dropped `7` is warned about, as current bpftrace does.
    assert_eq!(
        err,
        "WARNING: stdin:11:5-6: Return value discarded.\n   |\n11 |   { 7 }\n   |     ^\n"
    );
}

#[test]
fn a_let_of_a_bare_block_is_gone_after_it() {
    assert_eq!(
        refused("begin { { let $b = 1; } print($b); }"),
        "stdin:1:31: error: `$b` is not declared here: its `let` is in a block that has ended\n  |\n1 | begin { { let $b = 1; } print($b); }\n  |                               ^^\n"
    );
    assert_eq!(
        refused("begin { { break; } }"),
        "stdin:1:11: error: `break` and `continue` are only valid inside a loop\n  |\n1 | begin { { break; } }\n  |           ^^^^^\n"
    );
}

#[test]
fn tuples_of_one_and_no_element_compare_and_have_bpftraces_size() {
    let script = r#"begin {
  $a = (1,);
  $e = ();
  print($a); print($e); print(((1,), ()));
  print((1, "hello") == (1, "hello"));
  print((1, "hello") != (1, "hello"));
  $t = (2, comm, (true, 3));
  print($t == (2, comm, (true, 3)));
  print($t == (2, comm, (true, 4)));
  print($t != (2, "other", (true, 3)));
  print(sizeof((1, "ab")));
  print(sizeof(((uint8)1, (uint16)2, (uint32)3)));
  print(sizeof(((uint8)1, "ab")));
  print(sizeof(()));
  @m[(5,)] = (7,);
  exit();
}"#;
    let Some(out) = run_script(
        "tuples_of_one_and_no_element_compare_and_have_bpftraces_size",
        script,
        &[],
    ) else {
        return;
    };
    assert_eq!(
        out,
        "Attaching 1 probe...\n(1)\n()\n((1), ())\ntrue\nfalse\ntrue\nfalse\ntrue\n16\n8\n4\n0\n\n\n@m[5]: (7)\n"
    );
}

#[test]
fn comparing_tuples_of_other_types_is_refused_with_a_caret() {
    assert_eq!(
        refused(r#"begin { print((1, 2) == (1, "a")); }"#),
        "stdin:1:15: error: tuples compared with `==` must have the same element types: (uint64, uint64) and (uint64, string)\n  |\n1 | begin { print((1, 2) == (1, \"a\")); }\n  |               ^^^^^^^^^^^^^^^^^^\n"
    );
}

#[test]
fn typeof_declares_casts_and_sizes_as_the_named_type() {
    // The first macro is the example of bpftrace's pull request that
    // introduced `typeof` (a zero of a value's type).
    let script = r#"macro val_or_zero(x, c) { let $v = x; let $zero: typeof($v); c ? $v : $zero }
begin {
  print(val_or_zero((uint16)7, 1));
  print(val_or_zero(9, 0));
  @m[1, "a"] = (uint16)5;
  $x = (int8)-1;
  let $y: typeof($x) = 300;
  print($y);
  print((typeof($x))255);
  print((typeof(true))5);
  let $k: typeof(@m);
  print($k);
  let $t: typeof((1, "x")) = (3, "yy");
  print($t);
  let $s: typeof(comm);
  print($s == "");
  print(sizeof(typeof(uint16)));
  print(sizeof(typeof($x)));
  print(sizeof(typeof(((uint8)1, (uint32)2))));
  clear(@m);
  exit();
}"#;
    let Some(out) = run_script(
        "typeof_declares_casts_and_sizes_as_the_named_type",
        script,
        &[],
    ) else {
        return;
    };
    assert_eq!(
        out,
        "Attaching 1 probe...\n7\n0\n44\n-1\ntrue\n(0, )\n(3, yy)\ntrue\n2\n1\n8\n\n\n\n"
    );
}

#[test]
fn typeof_where_no_type_is_written_is_refused_with_a_caret() {
    assert_eq!(
        refused("begin { print(typeof(1)); }"),
        "stdin:1:15: error: `typeof(...)` names a type, it has no value\n  |\n1 | begin { print(typeof(1)); }\n  |               ^^^^^^\n  = note: write it as `let $x: typeof(e)`, a cast `(typeof(e)) v` or `sizeof(typeof(e))`\n"
    );
    assert_eq!(
        refused(r#"begin { let $a: typeof(1) = "s"; }"#),
        "stdin:1:29: error: cannot convert a string to the type typeof() names, uint64\n  |\n1 | begin { let $a: typeof(1) = \"s\"; }\n  |                             ^^^\n"
    );
}

#[test]
fn a_range_loop_bounded_by_a_variable_another_loop_changes_passes_the_verifier() {
    // Found by the compile fuzz test: with a branch on the iteration count
    // the verifier tracked `$y` exactly through `$y++` and gave up after a
    // million instructions.
    let script = "begin { @t[1] = 5; $y = 2; for ($kv : @t) { $y = $kv.1; } for ($j : 0..$y) { $y++; } print($y); for ($j : 0..$y) { } for ($i : 3..1) { print($i); } exit(); }";
    let Some(out) = run_script(
        "a_range_loop_bounded_by_a_variable_another_loop_changes_passes_the_verifier",
        script,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n10\n\n\n@t[1]: 5\n");
}
