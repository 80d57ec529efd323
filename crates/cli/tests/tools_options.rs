//! The tools' BCC options beyond the basics: funclatency -F and -i,
//! stackcount -P and -i, uflow -M/-C, ucalls -S (refused), and
//! `ustrace tool list`. Against tests/c/tool_work.c (work() called through
//! via_a for a third of the calls, via_b for the rest) and
//! tests/python/tool_calls.py, with exact counts.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::*;

fn tool_work() -> String {
    build_c_once("tool_work", "tests/c/tool_work.c", &["-O1", "-g"])
        .display()
        .to_string()
}

fn run(args: &[&str]) -> Output {
    let mut cmd = ustrace();
    cmd.args(args);
    run_with_timeout(cmd, Duration::from_secs(60))
}

/// The counts of every BCC log2 histogram row in `text`.
fn hist_counts(text: &str) -> Vec<u64> {
    text.lines()
        .filter(|l| l.contains(" -> ") && l.contains('|'))
        .filter_map(|l| l.split(':').nth(1)?.split_whitespace().next()?.parse().ok())
        .collect()
}

/// The histogram rows' counts of each `Function = NAME [PID]` section.
fn sections(text: &str) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("Function = ") {
            out.push((rest.to_string(), 0));
        } else if let (Some(last), [n]) = (out.last_mut(), hist_counts(l).as_slice()) {
            last.1 += n;
        }
    }
    out
}

#[test]
fn funclatency_per_function_histograms() {
    if !bpf_available("funclatency_per_function_histograms") {
        return;
    }
    let cmd = format!("{} 30", tool_work());
    let out = run(&["tool", "funclatency", "-F", "-u", "-c", &cmd, "via_*"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let found = sections(&text);
    assert_eq!(found.len(), 2, "{text}");
    let pid = found[0]
        .0
        .rsplit_once(" [")
        .map(|(_, p)| p.to_string())
        .unwrap_or_default();
    assert_eq!(
        found,
        [(format!("via_a [{pid}"), 10), (format!("via_b [{pid}"), 20)],
        "{text}"
    );
    assert!(pid.ends_with(']') && pid.len() > 1, "{text}");
    assert!(text.contains("     usecs               : count     distribution\n"));
    assert!(text.contains(", count: 30\n"), "{text}");
}

#[test]
fn funclatency_and_stackcount_print_every_interval() {
    if !bpf_available("funclatency_and_stackcount_print_every_interval") {
        return;
    }
    // 1200 calls of ~1 ms: at least one interval print before the end.
    let cmd = format!("{} 1200 1000", tool_work());
    let out = run(&[
        "tool",
        "funclatency",
        "-m",
        "-i",
        "1",
        "-T",
        "-c",
        &cmd,
        "work",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let headings = text.matches("     msecs               : count").count();
    assert!(headings >= 2, "{text}");
    // Cleared every interval: the counts of all prints add up to the calls
    // exactly (print() then clear() takes the entries, losing none).
    assert_eq!(hist_counts(&text).iter().sum::<u64>(), 1200, "{text}");
    // -T: each interval's output starts with the time.
    let times = text
        .lines()
        .filter(|l| l.len() == 8 && l.as_bytes()[2] == b':' && l.as_bytes()[5] == b':')
        .count();
    assert!(times >= 1 && times <= headings, "{text}");

    let out = run(&["tool", "stackcount", "-i", "1", "-c", &cmd, "work"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let counts: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert!(counts.len() >= 2, "{text}");
    assert_eq!(counts.iter().sum::<u64>(), 1200, "{text}");
}

#[test]
fn stackcount_per_process() {
    if !bpf_available("stackcount_per_process") {
        return;
    }
    // With -c, work right after exec (see tools.rs's stackcount test).
    let cmd = format!("{} 30", tool_work());
    let out = run(&["tool", "stackcount", "-P", "-c", &cmd, "work"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    // Each stack: frames, `    tool_work [PID]`, the count.
    let lines: Vec<&str> = text.lines().collect();
    let process: Vec<(&str, &str)> = lines
        .windows(2)
        .filter(|w| w[0].starts_with("    tool_work ["))
        .map(|w| (w[0], w[1]))
        .collect();
    assert_eq!(process.len(), 2, "{text}");
    assert_eq!(process[0].0, process[1].0, "{text}");
    assert_eq!((process[0].1, process[1].1), ("    10", "    20"), "{text}");
}

#[test]
fn uflow_filters_by_method_and_class() {
    let test = "uflow_filters_by_method_and_class";
    if !bpf_available(test) || !python_available(test) {
        return;
    }
    let script = short_path_copy("tests/python/tool_calls.py");
    let cmd = format!("/usr/bin/python3.11 {}", script.display());
    let flow = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["tool", "uflow"];
        args.extend_from_slice(extra);
        args.extend(["-c", &cmd]);
        let mut c = ustrace();
        c.args(&args);
        // uflow's output can exceed a pipe: read it all as it comes.
        let out = c.output().expect("running ustrace");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
            .lines()
            .filter(|l| l.contains(" <- ") || l.contains(" -> "))
            .map(|l| l.split_whitespace().last().unwrap_or("").to_string())
            .collect()
    };
    let leaf = format!("{}.leaf", script.display());
    let dir = script.parent().map(Path::display).map(|d| d.to_string());
    let dir = dir.unwrap_or_default();
    // -M leaf: the 20 returns of leaf(), nothing of mid() or <module>.
    let lines = flow(&["-M", "leaf"]);
    assert_eq!(lines.len(), 20, "{lines:?}");
    assert!(lines.iter().all(|l| *l == leaf), "{lines:?}");
    // -M mi with -C of the script's directory: mid() only (7 returns).
    let lines = flow(&["-M", "mi", "-C", &dir]);
    assert_eq!(lines.len(), 7, "{lines:?}");
    // -C of a file that does not run: nothing.
    assert!(flow(&["-C", "/nonexistent/"]).is_empty());
}

#[test]
fn syscalls_are_refused_in_one_line() {
    let out = run(&["tool", "ucalls", "-S", "-c", "/bin/true"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "ERROR: ucalls: -S (system calls) needs kernel probes (raw_syscalls tracepoints): ustrace traces user space only\n"
    );
}

#[test]
fn tool_list_describes_every_tool_and_help_has_examples() {
    let out = run(&["tool", "list"]);
    let text = stdout(&out);
    assert!(out.status.success());
    let names: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for tool in [
        "funccount",
        "funclatency",
        "stackcount",
        "argdist",
        "trace",
        "uflow",
        "ucalls",
    ] {
        assert!(names.contains(&tool), "{tool}: {text}");
    }
    for line in text.lines().skip(1) {
        let description = line.split_whitespace().skip(1).collect::<Vec<_>>();
        assert!(description.len() >= 3, "no description: {line}");
    }
    for name in names {
        let out = run(&["tool", name, "-h"]);
        let help = stdout(&out);
        assert!(out.status.success(), "{name}");
        let examples = help
            .lines()
            .skip_while(|l| *l != "examples:")
            .skip(1)
            .take_while(|l| l.starts_with("  ustrace tool "))
            .count();
        assert!(examples >= 2, "{name}: {help}");
    }
}
