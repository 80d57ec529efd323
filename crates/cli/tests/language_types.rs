//! The value types of today's bpftrace language run for real (BPF loaded,
//! output checked against what bpftrace's manual and its runtime tests
//! print): bools, tuples, `for` loops, `sizeof`, block expressions.

mod common;

use common::*;

#[test]
fn bools_print_true_and_false() {
    // bpftrace's tests/runtime/bool: `@a[true] = false` prints
    // `@a[true]: false`; conditionals take bools; printf's %d prints 1/0.
    let Some(out) = run_script(
        "bools_print_true_and_false",
        r#"BEGIN { print(true); print(false); print(1 < 2); print(!5); $b = 3 > 2; printf("%d %d\n", $b, false); @a[true] = false; @c = 1 == 1; if (true) { print("yes"); } if (0 == 1) { print("no"); } if ($b) { print("b"); } exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(
        out,
        "Attaching 1 probe...\ntrue\nfalse\ntrue\nfalse\n1 0\nyes\nb\n\n\n@a[true]: false\n@c: true\n"
    );
}

#[test]
fn tuples_print_the_bpftrace_way() {
    // bpftrace's manual (Tuples) and tests/runtime/bool: elements separated
    // by ", ", strings without quotes, nested tuples in parentheses.
    let Some(out) = run_script(
        "tuples_print_the_bpftrace_way",
        r#"BEGIN { $a = (1, "hello"); $b = (3, 4, $a); print($a); print($b); print($b.0); print($a[1]); print($b.2.0); print((true, false)); print((!0, !10)); printf("%d %s|%s\n", $b.1, $a.1, $b); @k[1, (2, "x")] = 7; @v[5] = (-1, "b", (true, 2)); $r = @v[5]; print($r.2.0); exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(
        out,
        "Attaching 1 probe...\n(1, hello)\n(3, 4, (1, hello))\n3\nhello\n1\n(true, false)\n(true, false)\n4 hello|(3, 4, (1, hello))\ntrue\n\n\n@k[1, (2, x)]: 7\n@v[5]: (-1, b, (true, 2))\n"
    );
}

#[test]
fn for_loops_over_ranges_and_maps() {
    // bpftrace's tests/runtime/for: ranges are [start, end), evaluated
    // once; break, continue and return; outer variables and maps are
    // readable and writable in the body; a map gives (key, value) tuples,
    // ((k1, k2), value) for two keys. Map order is the kernel's, so each
    // map loop sums (and counts) instead of printing in order.
    let Some(out) = run_script(
        "for_loops_over_ranges_and_maps",
        r#"BEGIN { for ($i : 0..5) { print($i); } $sum = 0; for ($i : 1..5) { $sum += $i; } print($sum); for ($i : (-3)..0) { print($i); } for ($i : 1..4) { if ($i == 2) { break; } print($i); } for ($i : 1..4) { if ($i == 2) { continue; } print($i); } for ($i : 5..5) { print("here"); } @a = 10; for ($i : 0..@a) { @a += 1; } print(@a); @m[16] = 32; @m[64] = 128; $k = 0; $v = 0; for ($kv : @m) { $k += $kv.0; $v += $kv.1; } printf("%d %d %d\n", $k, $v, len(@m)); @t[1, "x"] = 2; @t[3, "y"] = 4; $n = 0; for ($kv : @t) { if ($kv.0.1 == "y") { $n += $kv.0.0 * $kv.1; } } print($n); for ($i : 0..3) { for ($j : 0..2) { if ($i == 2) { return; } printf("%d%d ", $i, $j); } } print("not reached"); } BEGIN { exit(); } END { clear(@a); clear(@m); clear(@t); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(
        out,
        "Attaching 3 probes...\n0\n1\n2\n3\n4\n10\n-3\n-2\n-1\n1\n1\n3\n@a: 20\n80 160 2\n12\n00 01 10 11 \n\n\n\n\n"
    );
}

#[test]
fn block_expressions_and_scientific_literals() {
    // bpftrace's manual: `let $a = { let $b = 1; $b };` and `$i = 2e3;`.
    let Some(out) = run_script(
        "block_expressions_and_scientific_literals",
        r#"BEGIN { let $a = { let $b = 1; $b + 1 }; print($a); $c = { printf("side effect\n"); 5 }; print($c); $i = 2e3; print($i + 1e6); print(sizeof(true)); exit(); }"#,
        &[],
    ) else {
        return;
    };
    assert_eq!(
        out,
        "Attaching 1 probe...\n2\nside effect\n5\n1002000\n1\n\n\n"
    );
}

#[test]
fn for_over_count_maps_sums_every_cpu() {
    // bpftrace's tests/runtime/for "map two keys with a per cpu
    // aggregation": the value is the total over CPUs, as the map prints.
    let Some(out) = run_script(
        "for_over_count_maps_sums_every_cpu",
        r#"profile:hz:499 { @c[1] = count(); } interval:ms:700 { exit(); } END { for ($kv : @c) { printf("loop %d\n", $kv.1); } }"#,
        &[],
    ) else {
        return;
    };
    let looped = out
        .lines()
        .find_map(|l| l.strip_prefix("loop "))
        .unwrap_or_else(|| panic!("no loop line in {out}"));
    let printed = out
        .lines()
        .find_map(|l| l.strip_prefix("@c[1]: "))
        .unwrap_or_else(|| panic!("no map in {out}"));
    assert_eq!(looped, printed, "{out}");
    assert!(looped.parse::<u64>().unwrap_or(0) > 0, "{out}");
}
