//! Macros, map declarations, literals and config keys of bpftrace's
//! current manual, run for real (BPF loaded), outputs as the manual gives.
//! (After `exit()`, bpftrace 0.17 prints two empty lines and one per
//! cleared map; ustrace keeps that output.)

mod common;

use std::time::Duration;

use common::*;

/// The manual's macro example (its missing `;` after `print($a + @b)`
/// and `side_effects(...)` added), ending with `exit()`.
const MANUAL_MACROS: &str = r#"
macro one() {
  1
}

macro add_one(x) {
  x + 1
}

macro add_one_to_each($a, @b) {
  $a += 1;
  @b += 1;
}

macro side_effects(x) {
  x;
  x;
  x;
}

macro add_two(x) {
  add_one(x) + 1
}

begin {
  print(one());                   // prints 1
  print(one);                     // prints 1 (bare identifier works if the macro accepts 0 args)

  $a = 10;
  print(add_one($a));             // prints 11
  print(add_one(1 + 1));          // prints 3

  @b = 5;
  add_one_to_each($a, @b);
  print($a + @b);                 // prints 17

  side_effects({ printf("hi") }); // prints hihihi

  print(add_two(1));              // prints 3
  clear(@b);
  exit();
}
"#;

#[test]
fn the_manuals_macro_example_prints_what_it_says() {
    let Some(out) = run_script(
        "the_manuals_macro_example_prints_what_it_says",
        MANUAL_MACROS,
        &[],
    ) else {
        return;
    };
    assert_eq!(
        out,
        "Attaching 1 probe...\n1\n1\n11\n3\n17\nhihihi3\n\n\n\n"
    );
}

#[test]
fn a_macro_binding_its_argument_once_and_block_expressions() {
    // The manual's note: bind the expression to a variable to run it once.
    let script = r#"
macro add_one(x) {
  let $x = x;
  $x + 1
}
begin {
  let $a = {
    let $b = 1;
    $b
  };
  @calls = 0;
  $r = add_one({ @calls += 1; 41 });
  printf("%d %d %d\n", $a, $r, @calls);
  clear(@calls);
  exit();
}"#;
    let Some(out) = run_script(
        "a_macro_binding_its_argument_once_and_block_expressions",
        script,
        &[],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n1 42 1\n\n\n\n");
}

#[test]
fn literals_with_scientific_duration_and_c_suffixes() {
    // The manual: `1m` prints 60000000000; `2e3` is 2000; C suffixes are ignored.
    let script = r#"begin { $a = 1m; print($a); printf("%d %d %d %d\n", 2e3, 1_000_123_000, 123UL, 5ms / 1e6); exit(); }"#;
    let Some(out) = run_script(
        "literals_with_scientific_duration_and_c_suffixes",
        script,
        &[],
    ) else {
        return;
    };
    assert_eq!(
        out,
        "Attaching 1 probe...\n60000000000\n2000 1000123000 123 5\n\n\n"
    );
}

/// ustrace's stdout and stderr for `script`.
fn run_both(test: &str, script: &str) -> Option<(String, String)> {
    run_script_with_stderr(test, script, &[])
}

#[test]
fn a_declared_hash_has_its_size_and_a_full_one_is_reported() {
    let Some((out, err)) = run_both(
        "a_declared_hash_has_its_size_and_a_full_one_is_reported",
        "let @a = hash(2); begin { @a[1] = 1; @a[2] = 2; @a[3] = 3; exit(); }",
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n\n\n@a[1]: 1\n@a[2]: 2\n");
    assert_eq!(err, format!("stdin:1:49-58: {MAP_FULL}"));
}

/// bpftrace's warning for a failed update of a full map (after the
/// `stdin:LINE:COL-COL: ` location of the update).
const MAP_FULL: &str = "WARNING: Map full; can't update element. Try increasing max_map_keys config or manually setting the max entries in a map declaration e.g. `let @a = hash(5000)`\nAdditional Info - helper: 2, retcode: -7\n";

#[test]
fn a_full_map_is_warned_at_run_time_once_per_update_site() {
    // Three distinct keys into a map of two, from two sites (one in a loop
    // that fails twice): one warning per site, at its location; nothing
    // at exit; none with --no-warnings.
    let script = "let @m = hash(2);\nbegin { @m[1] = 1; @m[2] = 2;\n  $i = 3; while ($i < 5) { @m[$i] = $i; $i++; }\n  @m[9] = 9; exit(); }";
    let Some((out, err)) = run_both(
        "a_full_map_is_warned_at_run_time_once_per_update_site",
        script,
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n\n\n@m[1]: 1\n@m[2]: 2\n");
    assert_eq!(
        err,
        format!("stdin:3:28-39: {MAP_FULL}stdin:4:3-12: {MAP_FULL}")
    );
    let Some((out, err)) = run_script_with_stderr(
        "a_full_map_is_warned_at_run_time_once_per_update_site",
        script,
        &["--no-warnings"],
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n\n\n@m[1]: 1\n@m[2]: 2\n");
    assert_eq!(err, "");
}

#[test]
fn an_lru_hash_makes_room_and_is_never_full() {
    let Some((out, err)) = run_both(
        "an_lru_hash_makes_room_and_is_never_full",
        "let @b = lruhash(2); begin { @b[1] = 1; @b[2] = 2; @b[3] = 3; exit(); }",
    ) else {
        return;
    };
    // Eviction is approximate (the manual says so): two entries stay, the
    // newest among them.
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("@b[")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines.contains(&"@b[3]: 3"), "{out}");
    assert_eq!(err, "");
}

#[test]
fn per_cpu_declared_maps_sum_their_aggregations() {
    let Some((out, _)) = run_both(
        "per_cpu_declared_maps_sum_their_aggregations",
        "let @c = percpulruhash(10); let @e = percpuhash(4); begin { @c[1] = count(); @c[1] = count(); @e = sum(5); @e = sum(6); exit(); }",
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n\n\n@c[1]: 2\n@e: 11\n");
}

#[test]
fn config_keys_from_the_environment_win_over_the_block() {
    if !bpf_available("config_keys_from_the_environment_win_over_the_block") {
        return;
    }
    let script = "config = { print_maps_on_exit = true; missing_probes = error } begin { @x = 1; exit(); } uprobe:/bin/true:no_such_function_here { }";
    let mut cmd = ustrace();
    cmd.args(["-e", script])
        .env("BPFTRACE_PRINT_MAPS_ON_EXIT", "false")
        .env("BPFTRACE_MISSING_PROBES", "ignore");
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
    // `@x` is not printed: the environment turned print_maps_on_exit off.
    assert_eq!(stdout(&out), "Attaching 1 probe...\n\n\n");
    assert_eq!(stderr(&out), "");
    // The block alone: missing_probes = error stops at the missing function.
    let mut cmd = ustrace();
    cmd.args(["-e", script]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("stdin:1:90: error: no function matches `no_such_function_here`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_probes_warn_goes_on_with_a_warning() {
    let Some((out, err)) = run_both(
        "missing_probes_warn_goes_on_with_a_warning",
        "config = { missing_probes = warn } begin { exit(); } uprobe:/bin/true:no_such_function_here { }",
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n\n\n");
    assert!(
        err.starts_with("WARNING: attach point `uprobe:/bin/true:no_such_function_here` skipped: no function matches `no_such_function_here`"),
        "{err}"
    );
}

/// `missing_probes` unset, as bpftrace 0.17: a missing function is skipped
/// with a warning, a missing library or file stops with a caret.
#[test]
fn missing_probes_unset_skips_functions_but_not_files() {
    let Some((out, err)) = run_both(
        "missing_probes_unset_skips_functions_but_not_files",
        "begin { exit(); } uprobe:/bin/true:no_such_function_here { }",
    ) else {
        return;
    };
    assert_eq!(out, "Attaching 1 probe...\n\n\n");
    assert!(
        err.starts_with("WARNING: attach point `uprobe:/bin/true:no_such_function_here` skipped: no function matches `no_such_function_here`"),
        "{err}"
    );
    // A library name: the caret under the attach point; a path: the
    // one-line "no such file" error.
    for (script, message) in [
        (
            "begin { exit(); } uprobe:libno_such_lib_here:f { }",
            "stdin:1:19: error: library `libno_such_lib_here` not found",
        ),
        (
            "begin { exit(); } usdt:/no/such/file:p:n { }",
            "ERROR: /no/such/file: no such file\n",
        ),
    ] {
        let mut cmd = ustrace();
        cmd.args(["-e", script]);
        let out = run_with_timeout(cmd, Duration::from_secs(60));
        assert_eq!(out.status.code(), Some(1), "{script}: {}", stderr(&out));
        assert_eq!(stdout(&out), "", "{script}");
        let err = stderr(&out);
        assert!(err.starts_with(message), "{script}: {err}");
    }
}
