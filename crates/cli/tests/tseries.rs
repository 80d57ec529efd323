//! `tseries()` run for real (BPF loaded, a traced C program): every
//! aggregation's value, the text graph and the JSON lists, slots of old
//! intervals overwritten, and the misuse errors.
//!
//! Load-proof by construction: the workload (tests/c/tseries_work.c)
//! reads the TAI clock around its calls and reports the intervals they
//! fell in, so the expected output is computed from what happened, never
//! from how long anything took. A burst that crossed an interval boundary
//! (rare: a few calls in a 10 s interval) is run again.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;

fn workload() -> PathBuf {
    build_c_once("tseries_work", "tests/c/tseries_work.c", &["-g", "-O0"])
}

/// ustrace with `extra` flags tracing `tseries_work ARGS`, times shown in
/// UTC (the workload reports UTC times).
fn run(extra: &[&str], script: &str, args: &str) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ustrace"));
    let command = format!("{} {args}", workload().display());
    cmd.env("TZ", "UTC")
        .args(extra)
        .args(["-e", script, "-c", &command]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "{script}: {}", stderr(&out));
    stdout(&out)
}

/// The graph of a series holding one interval (value `v`, starting at
/// time of day `time`): bpftrace widens min/max by one around a single
/// value and shows nanoseconds when there is one row.
fn one_row(header: &str, time: &str, v: i64) -> String {
    let bounds = format!("{:<21}{:>32}", v - 1, v + 1);
    let bar = "_".repeat(51);
    let half = " ".repeat(25);
    let pad = " ".repeat(18);
    format!(
        "{header}:\n{pad} {bounds}\nhh:mm:ss.ns{gap}|{bar}|\n{time} |{half}*{half}| {v}\n{pad} v{bar}v\n{pad} {bounds}\n\n",
        gap = " ".repeat(8)
    )
}

#[test]
fn every_aggregation_of_one_interval_prints_its_graph() {
    let bin = workload();
    if !bpf_available("every_aggregation_of_one_interval_prints_its_graph") {
        return;
    }
    let script = format!(
        r#"uprobe:{b}:sample {{ $v = (int64)arg0;
            @last = tseries($v, 10s, 5);
            @sum = tseries($v, 10s, 5, "sum");
            @min = tseries($v, 10s, 5, "min");
            @max = tseries($v, 10s, 5, "max");
            @avg = tseries($v, 10s, 5, "avg");
            @by[$v & 1] = tseries($v, 10s, 5, "sum"); }}"#,
        b = bin.display()
    );
    for _ in 0..3 {
        let out = run(&[], &script, "burst 10000000000 5 -3 12 7 -8 4");
        let report = out
            .lines()
            .find(|l| l.starts_with("burst "))
            .unwrap_or_else(|| panic!("no workload report in {out}"));
        let [_, e0, e1, time] = report.split(' ').collect::<Vec<_>>()[..] else {
            panic!("bad report {report}");
        };
        if e0 != e1 {
            continue; // the burst crossed a 10 s boundary: run again
        }
        // 5 - 3 + 12 + 7 - 8 + 4 = 17 (avg 17 / 6 = 2); odd values sum
        // to 9, even ones to 8.
        let expected = format!(
            "Attaching 1 probe...\n{report}\n\n\n{}{}{}{}{}{}{}",
            one_row("@avg", time, 2),
            one_row("@by[0]", time, 8),
            one_row("@by[1]", time, 9),
            one_row("@last", time, 4),
            one_row("@max", time, 12),
            one_row("@min", time, -8),
            one_row("@sum", time, 17),
        );
        assert_eq!(out, expected);
        return;
    }
    panic!("three bursts in a row crossed an interval boundary");
}

#[test]
fn json_lists_the_intervals_in_the_window_and_old_slots_are_overwritten() {
    let bin = workload();
    if !bpf_available("json_lists_the_intervals_in_the_window_and_old_slots_are_overwritten") {
        return;
    }
    // Three slots, five intervals: the two oldest are overwritten.
    let script = format!(
        r#"uprobe:{b}:sample {{ @s = tseries((int64)arg0, 100ms, 3, "sum"); @s = tseries(-1, 100ms, 3, "sum"); }}"#,
        b = bin.display()
    );
    for _ in 0..3 {
        let out = run(&["-f", "json"], &script, "paced 100000000 10 20 30 40 50");
        if out.lines().any(|l| l == "straddle") {
            continue; // a call crossed into the next interval: run again
        }
        let calls: Vec<(u64, &str, i64)> = out
            .lines()
            .filter_map(|l| l.strip_prefix("paced "))
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                (f[0].parse().unwrap(), f[1], f[2].parse().unwrap())
            })
            .collect();
        assert_eq!(calls.len(), 5, "{out}");
        let last = calls[4].0;
        let items: Vec<String> = calls
            .iter()
            .filter(|c| c.0 + 3 > last)
            .map(|(_, start, v)| format!("{{\"interval_start\":\"{start}\",\"value\":{}}}", v - 1))
            .collect();
        let expected = format!(
            "{{\"type\": \"tseries\", \"data\": {{\"@s\": [{}]}}}}",
            items.join(",")
        );
        let line = out
            .lines()
            .find(|l| l.contains("\"tseries\""))
            .unwrap_or_else(|| panic!("no tseries line in {out}"));
        assert_eq!(line, expected, "{out}");
        return;
    }
    panic!("three paced runs in a row had a call crossing an interval boundary");
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
fn misuse_is_one_line_with_a_caret() {
    let cases = [
        (
            "BEGIN { @t = tseries(1, nsecs, 5); }",
            "stdin:1:25: error: tseries()'s interval must be a constant: a duration such as 100ms, or nanoseconds\n  |\n1 | BEGIN { @t = tseries(1, nsecs, 5); }\n  |                         ^^^^^\n",
        ),
        (
            "BEGIN { @t = tseries(1, 1s, 0); }",
            "stdin:1:29: error: tseries()'s num_intervals must be at least 1, not 0\n  |\n1 | BEGIN { @t = tseries(1, 1s, 0); }\n  |                             ^\n",
        ),
        (
            r#"BEGIN { @t = tseries(1, 1s, 3, "mean"); }"#,
            "stdin:1:32: error: unknown tseries() aggregation \"mean\": use one of \"avg\", \"max\", \"min\", \"sum\"\n  |\n1 | BEGIN { @t = tseries(1, 1s, 3, \"mean\"); }\n  |                                ^^^^^^\n",
        ),
        (
            "BEGIN { @t = tseries(1, 1s, 3, 4); }",
            "stdin:1:32: error: tseries()'s aggregation must be a string literal: one of \"avg\", \"max\", \"min\", \"sum\"\n  |\n1 | BEGIN { @t = tseries(1, 1s, 3, 4); }\n  |                                ^\n",
        ),
        (
            r#"BEGIN { @t = tseries("a", 1s, 2); }"#,
            "stdin:1:22: error: tseries() needs an integer value, not a string\n  |\n1 | BEGIN { @t = tseries(\"a\", 1s, 2); }\n  |                      ^^^\n",
        ),
        (
            "BEGIN { @t = tseries(1, 1s); }",
            "stdin:1:14: error: tseries() takes 3 or 4 arguments, 2 given: tseries(value, interval, num_intervals[, \"avg\" | \"max\" | \"min\" | \"sum\"])\n  |\n1 | BEGIN { @t = tseries(1, 1s); }\n  |              ^^^^^^^^^^^^^^\n",
        ),
        (
            "BEGIN { @t = tseries(1, 1s, 2); @t = tseries(1, 1s, 3); }",
            "stdin:1:38: error: map @t holds tseries(x, 1s, 2) but is used here as tseries(x, 1s, 3)\n  |\n1 | BEGIN { @t = tseries(1, 1s, 2); @t = tseries(1, 1s, 3); }\n  |                                      ^^^^^^^^^^^^^^^^^\n",
        ),
        (
            "BEGIN { $x = tseries(1, 1s, 2); }",
            "stdin:1:14: error: tseries() must be assigned to a map, e.g. @x = tseries(...)\n  |\n1 | BEGIN { $x = tseries(1, 1s, 2); }\n  |              ^^^^^^^^^^^^^^^^^\n",
        ),
    ];
    for (script, error) in cases {
        assert_eq!(refused(script), error, "{script}");
    }
}
