//! `ustrace tool NAME`: BCC's tools against real programs with known work
//! (a C program, CPython 3.11, PostgreSQL 15), with exact counts where the
//! runtime makes them exact.

mod common;
mod live;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;
use live::ustat_with_go;

/// The C program with known work, built once (see `build_c_once`).
fn tool_work() -> PathBuf {
    build_c_once("tool_work", "tests/c/tool_work.c", &["-O1", "-g"])
}

fn run(args: &[&str]) -> Output {
    let mut cmd = ustrace();
    cmd.args(args);
    run_with_timeout(cmd, Duration::from_secs(60))
}

/// The value in the last column of the row whose first column is `key`.
fn row_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        match cols.as_slice() {
            [first, .., last] if *first == key => last.parse().ok(),
            _ => None,
        }
    })
}

/// The counts of a BCC log2 histogram's rows (`low -> high : count |...|`).
fn hist_counts(text: &str) -> Vec<u64> {
    text.lines()
        .filter(|l| l.contains(" -> ") && l.contains('|'))
        .filter_map(|l| l.split(':').nth(1)?.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn funccount_counts_calls_exactly() {
    if !bpf_available("funccount_counts_calls_exactly") {
        return;
    }
    let bin = tool_work();
    let cmd = format!("{} 777", bin.display());
    let out = run(&["tool", "funccount", "-c", &cmd, "work"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains(&format!("{:<36} {:>8}\n", "FUNC", "COUNT")),
        "{text}"
    );
    assert_eq!(row_value(&text, "work"), Some(777), "{text}");

    // The same script run directly, in bpftrace's layout.
    let script = repo().join("tools/funccount.bt");
    let out = run(&[
        "-c",
        &cmd,
        script.to_str().unwrap(),
        bin.to_str().unwrap(),
        "via_*",
    ]);
    let text = stdout(&out);
    assert!(text.contains("@counts[via_a]: 259\n"), "{text}");
    assert!(text.contains("@counts[via_b]: 518\n"), "{text}");
}

#[test]
fn ucalls_for_c_counts_every_function_of_the_program() {
    if !bpf_available("ucalls_for_c_counts_every_function_of_the_program") {
        return;
    }
    let cmd = format!("{} 30", tool_work().display());
    let out = run(&["tool", "ucalls", "-l", "c", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains(&format!("{:<50} {:>8}\n", "METHOD", "# CALLS")),
        "{text}"
    );
    for (func, calls) in [("main", 1), ("via_a", 10), ("via_b", 20), ("work", 30)] {
        assert_eq!(row_value(&text, func), Some(calls), "{func}: {text}");
    }
}

#[test]
fn funclatency_histogram_holds_every_call() {
    if !bpf_available("funclatency_histogram_holds_every_call") {
        return;
    }
    let bin = tool_work();
    // 40 calls of about 2 ms each.
    let cmd = format!("{} 40 2000", bin.display());
    let out = run(&["tool", "funclatency", "-m", "-c", &cmd, "work"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("     msecs               : count     distribution\n"),
        "{text}"
    );
    let counts = hist_counts(&text);
    assert_eq!(counts.iter().sum::<u64>(), 40, "{text}");
    // Every call took 2 ms or more (more on a loaded machine): none below.
    let below = text
        .lines()
        .find(|l| l.trim_start().starts_with("0 -> 1 "))
        .expect("a 0 -> 1 row");
    assert!(below.contains(": 0 "), "{text}");
    assert!(text.contains("count: 40\n"), "{text}");
}

#[test]
fn stackcount_separates_the_two_callers() {
    if !bpf_available("stackcount_separates_the_two_callers") {
        return;
    }
    // With -c the work starts right after exec, before the tracer has
    // written the process's own unwind entries: its files' tables (built
    // before the program is released) are found by the walker through the
    // kernel's mapping of each pc (bpf_find_vma). This program (-O1, no
    // frame pointers) finishes in microseconds.
    let bin = tool_work();
    let cmd = format!("{} 300", bin.display());
    let out = run(&["tool", "stackcount", "-c", &cmd, "work"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    // Two stacks (via_a: 100 calls, via_b: 200), ascending, counts indented
    // by four.
    let counts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
        .map(str::trim)
        .collect();
    assert_eq!(counts, ["100", "200"], "{text}");
}

fn python_calls() -> (String, PathBuf) {
    let script = short_path_copy("tests/python/tool_calls.py");
    (format!("/usr/bin/python3.11 {}", script.display()), script)
}

#[test]
fn ucalls_counts_python_functions_exactly() {
    let test = "ucalls_counts_python_functions_exactly";
    if !bpf_available(test) || !python_available(test) {
        return;
    }
    let (cmd, file) = python_calls();
    let out = run(&["tool", "ucalls", "-l", "python", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains(&format!("{:<50} {:>8}\n", "METHOD", "# CALLS")),
        "{text}"
    );
    let f = file.display();
    assert_eq!(row_value(&text, &format!("{f}.leaf")), Some(20), "{text}");
    assert_eq!(row_value(&text, &format!("{f}.mid")), Some(7), "{text}");
    assert_eq!(
        row_value(&text, &format!("{f}.<module>")),
        Some(1),
        "{text}"
    );

    // -T 2: the two most called only.
    let out = run(&["tool", "ucalls", "-T", "2", "-c", &cmd]);
    let rows = stdout(&out)
        .lines()
        .skip_while(|l| !l.starts_with("METHOD"))
        .skip(1)
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(rows, 2, "{}", stdout(&out));
}

#[test]
fn uflow_shows_every_python_return() {
    let test = "uflow_shows_every_python_return";
    if !bpf_available(test) || !python_available(test) {
        return;
    }
    let (cmd, file) = python_calls();
    // Python's start-up returns fill more than a pipe: read as it runs.
    let out = Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_ustrace"))
        .args(["tool", "uflow", "-c", &cmd])
        .output()
        .expect("running ustrace");
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("CPU PID    TID    TIME(us) METHOD\n"),
        "{text}"
    );
    let leaf = format!("<- {}.leaf", file.display());
    assert_eq!(
        text.lines().filter(|l| l.ends_with(&leaf)).count(),
        20,
        "{text}"
    );
}

/// A fresh PostgreSQL 15 cluster (owned by the postgres user) and the
/// command that runs a single-user backend on it; `None` (skipping) when
/// PostgreSQL is not installed outside CI.
fn postgres_cluster(test: &str) -> Option<(PathBuf, String)> {
    let bin = Path::new("/usr/lib/postgresql/15/bin");
    if !bin.join("postgres").exists() {
        unavailable(test, "postgresql-15 is not installed");
        return None;
    }
    let data = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("pgdata-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("creating the data directory");
    let as_postgres = "--reuid=postgres --regid=postgres --init-groups";
    let chown = Command::new("chown")
        .arg("postgres:postgres")
        .arg(&data)
        .status()
        .expect("running chown");
    assert!(chown.success());
    let initdb = Command::new("setpriv")
        .args(as_postgres.split(' '))
        .arg(bin.join("initdb"))
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
        .arg(&data)
        .output()
        .expect("running initdb");
    assert!(initdb.status.success(), "initdb: {}", stderr(&initdb));
    let backend = format!(
        "setpriv {as_postgres} {} --single -D {} postgres",
        bin.join("postgres").display(),
        data.display()
    );
    Some((data, backend))
}

/// Runs `ustrace ARGS` on a single-user backend fed `queries` (written
/// before the backend is released, so every query is traced).
fn run_queries(args: &[&str], queries: &str) -> Output {
    let mut cmd = ustrace();
    cmd.args(args).stdin(Stdio::piped());
    let mut g = spawn(cmd);
    if let Some(mut input) = g.0.stdin.take() {
        input
            .write_all(queries.as_bytes())
            .expect("writing the queries");
    }
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Ok(Some(_)) = g.0.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    interrupt_after(g, Duration::ZERO)
}

const QUERIES: &str = "select 1;\nselect pg_sleep(0.06);\nselect 2;\n";

#[test]
fn dbslower_prints_the_slow_postgres_query() {
    let test = "dbslower_prints_the_slow_postgres_query";
    if !bpf_available(test) {
        return;
    }
    let Some((data, backend)) = postgres_cluster(test) else {
        return;
    };
    let out = run_queries(
        &["tool", "dbslower", "-m", "50", "-c", &backend, "postgres"],
        QUERIES,
    );
    let all = run_queries(
        &["tool", "dbslower", "-m", "0", "-c", &backend, "postgres"],
        QUERIES,
    );
    let _ = std::fs::remove_dir_all(&data);
    let text = stdout(&out);
    assert!(
        text.contains("TIME(s)        PID           MS QUERY\n"),
        "{text}"
    );
    // Rows: TIME(s) PID MS QUERY (the backend's own output is interleaved).
    let rows: Vec<(f64, String)> = text
        .split(['\n', '>'])
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            if cols.len() < 4 || cols[0].parse::<f64>().is_err() || cols[1].parse::<u32>().is_err()
            {
                return None;
            }
            Some((cols[2].parse().ok()?, cols[3..].join(" ")))
        })
        .collect();
    assert_eq!(rows.len(), 1, "{text}");
    assert_eq!(rows[0].1, "select pg_sleep(0.06);");
    assert!(rows[0].0 >= 60.0 && rows[0].0 < 1000.0, "{text}");
    let all = stdout(&all);
    for q in ["select 1;", "select 2;", "select pg_sleep(0.06);"] {
        assert!(all.contains(&format!(" {q}\n")), "{q} missing:\n{all}");
    }
}

#[test]
fn dbstat_histogram_counts_each_postgres_query() {
    let test = "dbstat_histogram_counts_each_postgres_query";
    if !bpf_available(test) {
        return;
    }
    let Some((data, backend)) = postgres_cluster(test) else {
        return;
    };
    let out = run_queries(&["tool", "dbstat", "-c", &backend, "postgres"], QUERIES);
    let _ = std::fs::remove_dir_all(&data);
    let text = stdout(&out);
    assert!(
        text.contains("     query latency (ms)  : count     distribution\n"),
        "{text}"
    );
    assert_eq!(hist_counts(&text).iter().sum::<u64>(), 3, "{text}");
    // pg_sleep(0.06) at 32 ms or more (60 ms, more on a loaded machine);
    // the two others below.
    let slow: u64 = text
        .lines()
        .filter(|l| l.contains(" -> ") && l.contains('|'))
        .filter_map(|l| {
            let low: u64 = l.split_whitespace().next()?.parse().ok()?;
            let count: u64 = l
                .split(':')
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            (low >= 32).then_some(count)
        })
        .sum();
    assert_eq!(slow, 1, "{text}");
}

#[test]
fn tool_errors_are_one_line() {
    for (args, expect) in [
        (&["tool", "nope"][..], "no tool named `nope`"),
        (&["tool", "funccount", "-z", "c:x"][..], "unknown option -z"),
        (
            &["tool", "ugc", "-l", "php", "1"][..],
            "-l php: not supported by this tool",
        ),
        (
            &["tool", "ucalls", "-l", "java", "-c", "java X"][..],
            "-XX:+ExtendedDTraceProbes",
        ),
        (&["tool", "dbstat", "mysql"][..], "mysql: no MySQL"),
        (
            &["tool", "ucalls", "-p", "999999999"][..],
            "process 999999999 does not exist",
        ),
    ] {
        let out = run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    // A library that is not there is found in the tool's script (which
    // sets missing_probes = error, as BCC fails): the error shows that
    // script's line, and a note says whose script it is.
    let out = run(&["tool", "funccount", "nosuchlib:foo"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(": error: library `libnosuchlib` not found"),
        "{err}"
    );
    assert!(
        err.ends_with(
            "note: this is the script `ustrace tool funccount` runs, with its arguments as $1, $2, ... (see docs/tools.md)\n"
        ),
        "{err}"
    );
    let out = run(&["tool", "list"]);
    assert!(stdout(&out).contains("funccount"));
    let out = run(&["tool", "funclatency", "-h"]);
    assert!(stdout(&out).contains("examples:"), "{}", stdout(&out));
}

#[test]
fn ustat_rates_add_up_to_the_known_work() {
    let test = "ustat_rates_add_up_to_the_known_work";
    if !bpf_available(test) || !python_available(test) {
        return;
    }
    let go =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ustat-go-{}", std::process::id()));
    let _ = std::fs::remove_file(&go);
    // Its stdin stays open (it lingers) until the guard kills it.
    let python = Command::new("/usr/bin/python3.11")
        .arg(repo().join("tests/python/tool_rates.py"))
        .arg(&go)
        .stdin(Stdio::piped())
        .spawn()
        .expect("starting python3.11");
    let _python = Guard(python);
    let pid = _python.0.id();
    let (text, _) = ustat_with_go("1", &go, &[pid]);
    assert!(
        text.contains(
            "PID    CMDLINE              METHOD/s   GC/s   OBJNEW/s   CLOAD/s  EXC/s  THR/s"
        ),
        "{text}"
    );
    // Per-second rates over 1 s intervals: the sums are the counts.
    let (mut calls, mut gcs) = (0, 0);
    for l in text.lines() {
        let cols: Vec<&str> = l.split_whitespace().collect();
        if cols.first() == Some(&pid.to_string().as_str()) {
            let n = cols.len();
            calls += cols[n - 6].parse::<u64>().expect("METHOD/s");
            gcs += cols[n - 5].parse::<u64>().expect("GC/s");
        }
    }
    assert_eq!(calls, 5000, "{text}");
    assert!(gcs >= 3, "{text}");
}

#[test]
fn ugc_shows_the_known_python_collections() {
    let test = "ugc_shows_the_known_python_collections";
    if !bpf_available(test) || !python_available(test) {
        return;
    }
    let script = std::fs::canonicalize(repo().join("tests/python/tool_gc.py")).expect("tool_gc.py");
    let cmd = format!("/usr/bin/python3.11 {}", script.display());
    let out = run(&["tool", "ugc", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("START    TIME (us) DESCRIPTION"), "{text}");
    let gcs: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(" gen ").map(|(_, d)| d))
        .collect();
    // Start-up collections, then the program's three (automatic ones are
    // disabled), then those of the interpreter's shutdown.
    let gen1: Vec<usize> = (0..gcs.len())
        .filter(|&i| gcs[i].starts_with("1 "))
        .collect();
    assert_eq!(gen1.len(), 1, "{text}");
    let i = gen1[0];
    assert!(i > 0 && gcs[i - 1].starts_with("0 GC collected"), "{text}");
    assert_eq!(gcs[i], "1 GC collected 0 objects", "{text}");
    assert_eq!(
        gcs.get(i + 1).copied(),
        Some("2 GC collected 200 objects"),
        "{text}"
    );
}

#[test]
fn funccount_interval_tables_add_up() {
    if !bpf_available("funccount_interval_tables_add_up") {
        return;
    }
    // 1500 calls of 1 ms: at least two one-second tables.
    let cmd = format!("{} 1500 1000", tool_work().display());
    let out = run(&["tool", "funccount", "-i", "1", "-c", &cmd, "work"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("work "))
        .map(|n| n.trim().parse().expect("a count"))
        .collect();
    assert!(rows.len() >= 2, "{text}");
    assert_eq!(rows.iter().sum::<u64>(), 1500, "{text}");
}

#[test]
fn ucalls_counts_java_methods_exactly() {
    let test = "ucalls_counts_java_methods_exactly";
    if !bpf_available(test) {
        return;
    }
    let home = Path::new("/usr/lib/jvm/java-17-openjdk-amd64");
    if !home.join("bin/javac").exists() {
        unavailable(test, "openjdk-17-jdk-headless is not installed");
        return;
    }
    let classes = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tool-java");
    std::fs::create_dir_all(&classes).expect("creating the class directory");
    let javac = Command::new(home.join("bin/javac"))
        .arg("-d")
        .arg(&classes)
        .arg(repo().join("tests/java/ToolCalls.java"))
        .output()
        .expect("running javac");
    assert!(javac.status.success(), "javac: {}", stderr(&javac));
    let cmd = format!(
        "{} -XX:+ExtendedDTraceProbes -cp {} ToolCalls",
        home.join("bin/java").display(),
        classes.display()
    );
    // The JDK's own methods fill more than a pipe: read as it runs.
    let out = Command::new("timeout")
        .arg("60")
        .arg(env!("CARGO_BIN_EXE_ustrace"))
        .args(["tool", "ucalls", "-l", "java", "-L", "-c", &cmd])
        .output()
        .expect("running ustrace");
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains(&format!(
            "{:<50} {:>8} {:>8}\n",
            "METHOD", "# CALLS", "TIME (us)"
        )),
        "{text}"
    );
    for (method, calls) in [
        ("ToolCalls.leaf", 14),
        ("ToolCalls.mid", 4),
        ("ToolCalls.main", 1),
    ] {
        let row = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(method))
            .unwrap_or_else(|| panic!("no {method} row: {text}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[1].parse::<u64>().ok(), Some(calls), "{method}: {text}");
    }
}
