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
fn inline_range_loops_behave_as_callback_loops() {
    // Constant ranges with small bodies run inline (a bounded loop in the
    // probe's code), others as bpf_loop callbacks: the same script with
    // its bounds made variable (`+ $z`) runs every loop as a callback and
    // must print the same. Covers continue, break, assigning the loop
    // variable (the iterations do not change), empty and negative
    // ranges, inline loops around and inside map loops (callbacks), a
    // variable a callback writes on one path only (copied back
    // unchanged on the other), a loop inside a block expression, and
    // return from nested loops.
    let script = |z: &str| {
        format!(
            r#"begin {{ $z = (int64)0; $s = 7; for ($i : (0{z})..(100{z})) {{ $s = ($s * 33) ^ $i; }} print($s); for ($i : (1{z})..(5{z})) {{ if ($i == 2) {{ continue; }} if ($i == 4) {{ break; }} $i = $i * 10; print($i); }} for ($i : (5{z})..(1{z})) {{ print($i); }} for ($i : (-2{z})..(1{z})) {{ print($i); }} @m[1] = 2; for ($i : (0{z})..(2{z})) {{ for ($kv : @m) {{ printf("%d:%d:%d\n", $i, $kv.0, $kv.1); }} }} $w = 7; $v = 0; for ($kv : @m) {{ for ($j : (0{z})..(3{z})) {{ if ($j == 1) {{ continue; }} printf("kv %d %d\n", $kv.0, $j); }} if ($kv.1 > 5) {{ $w = 1; }} else {{ $v = $w + 1; }} }} printf("%d %d\n", $w, $v); $b = {{ for ($i : (0{z})..(2{z})) {{ print($i); }} 5 }}; print($b); for ($i : (0{z})..(3{z})) {{ for ($j : (0{z})..(2{z})) {{ if ($i == 2) {{ exit(); return; }} printf("%d%d\n", $i, $j); }} }} print("not reached"); }}"#
        )
    };
    let expected = "Attaching 1 probe...\n1540177254139217991\n10\n30\n-2\n-1\n0\n0:1:2\n1:1:2\nkv 1 0\nkv 1 2\n7 8\n0\n1\n5\n00\n01\n10\n11\n\n\n@m[1]: 2\n";
    for z in ["", " + $z"] {
        let Some(out) = run_script(
            "inline_range_loops_behave_as_callback_loops",
            &script(z),
            &[],
        ) else {
            return;
        };
        assert_eq!(out, expected, "bounds with {z:?}");
    }
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
