//! `ustrace tool argdist` and `ustrace tool trace`: BCC's probe specifiers
//! against a C program with known arguments (tests/c/argdist_work.c), with
//! exact counts, histogram rows and lines; bad specifiers fail with a
//! caret under the bad part.

mod common;

use std::process::Output;
use std::time::Duration;

use common::*;

/// The program with known work, built once (see `build_c_once`).
fn work() -> String {
    build_c_once("argdist_work", "tests/c/argdist_work.c", &["-O1", "-g"])
        .display()
        .to_string()
}

fn run(args: &[&str]) -> Output {
    let mut cmd = ustrace();
    cmd.args(args);
    run_with_timeout(cmd, Duration::from_secs(60))
}

/// The rows under `title` and its `COUNT EVENT` heading: one -C
/// specifier's counts.
fn rows_of(text: &str, title: &str) -> Vec<String> {
    let mut lines = text.lines().skip_while(|l| *l != title).skip(1);
    assert_eq!(lines.next(), Some("\tCOUNT      EVENT"), "{text}");
    lines
        .take_while(|l| l.starts_with('\t'))
        .map(str::to_string)
        .collect()
}

/// The tool's lines: without the traced program's own output (a number,
/// printed at its exit, anywhere between them).
fn tool_text(text: &str) -> String {
    text.lines()
        .filter(|l| l.is_empty() || !l.chars().all(|c| c.is_ascii_digit()))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn row(count: u64, event: &str) -> String {
    format!("\t{count:<10} {event}")
}

#[test]
fn argdist_counts_and_histograms_are_exact() {
    if !bpf_available("argdist_counts_and_histograms_are_exact") {
        return;
    }
    let p = work();
    let take = format!("p:{p}:take(unsigned long size, int fd):u64,int:size,fd");
    let sizes = format!("p:{p}:take(unsigned long size, int fd):u64:size");
    let malloc = "p:c:malloc(size_t size):size_t:size:size==12345";
    let names = format!("p:{p}:name_len(const char *name):char*:name#names");
    let twice = format!("r:{p}:twice(int x):int,int:$entry(x),$retval");
    let usdt = format!("u:{p}:argwork:item():u64:arg1");
    let latency = format!("r:{p}:take(unsigned long size, int fd):u64:$latency:$entry(fd)==2");
    let cmd = format!("{p} 2");
    let out = run(&[
        "tool", "argdist", "-i", "100", "-c", &cmd, "-C", &take, "-H", &sizes, "-C", malloc, "-C",
        &names, "-C", &twice, "-C", &usdt, "-H", &latency,
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        rows_of(&text, &take),
        [
            row(4, "size = 1000, fd = 1"),
            row(6, "size = 32, fd = 2"),
            row(10, "size = 16, fd = 1")
        ],
        "{text}"
    );
    assert_eq!(rows_of(&text, malloc), [row(14, "size = 12345")], "{text}");
    assert_eq!(
        rows_of(&text, "names"),
        [row(2, "name = beta"), row(4, "name = alpha")],
        "{text}"
    );
    let expected: Vec<String> = (0..4)
        .map(|x| row(2, &format!("$entry(x) = {x}, $retval = {}", 2 * x)))
        .collect();
    assert_eq!(rows_of(&text, &twice), expected, "{text}");
    assert_eq!(
        rows_of(&text, &usdt),
        [row(1, "arg1 = 0"), row(1, "arg1 = 1")],
        "{text}"
    );
    // The histogram: 16 -> bucket 16..31, 32 -> 32..63, 1000 -> 512..1023.
    assert!(
        text.contains("     size                : count     distribution\n"),
        "{text}"
    );
    let bucket = |low: u64, high: u64| {
        text.lines()
            .find(|l| l.starts_with(&format!("{low:>10} -> {high:<10} : ")))
            .and_then(|l| {
                l.split(':')
                    .nth(1)?
                    .split_whitespace()
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
    };
    assert_eq!(bucket(16, 31), Some(10), "{text}");
    assert_eq!(bucket(32, 63), Some(6), "{text}");
    assert_eq!(bucket(512, 1023), Some(4), "{text}");
    assert_eq!(bucket(64, 127), Some(0), "{text}");
    // $latency of the calls with fd 2 (3 a round): 6 in the histogram.
    let latencies: u64 = text
        .lines()
        .skip_while(|l| !l.starts_with("     $latency "))
        .skip(1)
        .take_while(|l| l.contains(" -> "))
        .filter_map(|l| {
            l.split(':')
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(latencies, 6, "{text}");
    // One print, at the end, with BCC's timestamp line.
    let stamps = text.lines().filter(|l| is_clock_line(l)).count();
    assert_eq!(stamps, 1, "{text}");
}

/// `[HH:MM:SS]`.
fn is_clock_line(l: &str) -> bool {
    let b = l.as_bytes();
    b.len() == 10 && b[0] == b'[' && b[9] == b']' && b[3] == b':' && b[6] == b':'
}

/// Equal counts go by their values (BCC leaves them in hash order), and
/// an empty label is no label (as BCC): the title is the specifier as
/// written, the histogram's heading the expression.
#[test]
fn argdist_orders_equal_counts_by_value_and_ignores_an_empty_label() {
    if !bpf_available("argdist_orders_equal_counts_by_value_and_ignores_an_empty_label") {
        return;
    }
    let p = work();
    // twice() returns 0, 2, 4, 6 once per round: 4, 6, 8, 10 twice each.
    let spec = format!("r:{p}:twice(int x):int:$retval+4#");
    let cmd = format!("{p} 2");
    let out = run(&[
        "tool", "argdist", "-i", "100", "-c", &cmd, "-C", &spec, "-H", &spec,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = tool_text(&stdout(&out));
    let body: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let expected = [
        spec.as_str(),
        "\tCOUNT      EVENT",
        "\t2          $retval+4 = 4",
        "\t2          $retval+4 = 6",
        "\t2          $retval+4 = 8",
        "\t2          $retval+4 = 10",
        "     $retval+4           : count     distribution",
        "         0 -> 1          : 0        |                                        |",
        "         2 -> 3          : 0        |                                        |",
        "         4 -> 7          : 4        |****************************************|",
        "         8 -> 15         : 4        |****************************************|",
    ];
    assert_eq!(body, expected.map(|l| format!("{l}\n")).concat(), "{text}");
    assert!(
        is_clock_line(text.lines().next().unwrap_or_default()),
        "{text}"
    );
}

#[test]
fn argdist_prints_every_interval_and_stops_after_the_count() {
    if !bpf_available("argdist_prints_every_interval_and_stops_after_the_count") {
        return;
    }
    let p = work();
    // 100000 rounds 10 ms apart: over 16 minutes, so exiting at all (within
    // run's 60 s limit) shows that -n 2 stopped the tool after two prints.
    let cmd = format!("{p} 100000 10000");
    // The USDT probe fires once per round with the round's number: each
    // print holds each round it saw exactly once, and a print that was not
    // cleared would repeat the rounds of the one before. No machine-speed
    // window: the rounds' number per interval does not matter.
    let spec = format!("u:{p}:argwork:item():u64:arg1#rounds");
    let out = run(&[
        "tool", "argdist", "-i", "1", "-n", "2", "-c", &cmd, "-C", &spec,
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        text.lines().filter(|l| is_clock_line(l)).count(),
        2,
        "{text}"
    );
    // Each print: `rounds`, the `COUNT EVENT` heading, `\t1          arg1 = R` rows.
    let lines: Vec<&str> = text.lines().collect();
    let prints: Vec<Vec<u64>> = (0..lines.len())
        .filter(|&i| lines[i] == "rounds")
        .map(|i| {
            assert_eq!(lines.get(i + 1), Some(&"\tCOUNT      EVENT"), "{text}");
            lines[i + 2..]
                .iter()
                .take_while(|l| l.starts_with('\t'))
                .map(|l| {
                    let (count, round) = l
                        .trim()
                        .split_once(" arg1 = ")
                        .unwrap_or_else(|| panic!("row {l:?}: {text}"));
                    assert_eq!(count.trim(), "1", "{text}");
                    round.parse().unwrap_or_else(|_| panic!("{text}"))
                })
                .collect()
        })
        .collect();
    assert_eq!(prints.len(), 2, "{text}");
    // Cleared in between and losing nothing: together the prints hold the
    // rounds 0..n, each exactly once.
    let mut all: Vec<u64> = prints.concat();
    all.sort_unstable();
    assert!(!prints[0].is_empty() && !prints[1].is_empty(), "{text}");
    assert_eq!(all, (0..all.len() as u64).collect::<Vec<_>>(), "{text}");
}

#[test]
fn trace_prints_bcc_columns_for_each_probe() {
    if !bpf_available("trace_prints_bcc_columns_for_each_probe") {
        return;
    }
    let p = work();
    let out = run(&[
        "tool",
        "trace",
        "-c",
        &format!("{p} 1"),
        &format!("p:{p}:take \"%d %d\", arg1, arg2"),
        &format!("r:{p}:twice (retval > 2) \"ret=%d\", retval"),
        &format!("u:{p}:argwork:item \"round %d %s\", arg1, arg2"),
        &format!("{p}:name_len(const char *name) \"%s\", name"),
        "c:malloc (arg1 == 12345)",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut lines = text
        .lines()
        .filter(|l| !l.chars().all(|c| c.is_ascii_digit()));
    assert_eq!(
        lines.next(),
        Some(format!("{:<7} {:<7} {:<15} {:<16} -", "PID", "TID", "COMM", "FUNC").as_str())
    );
    let body: Vec<&str> = lines.collect();
    let pid = body
        .first()
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{text}"));
    let line = |func: &str, msg: &str| {
        format!("{pid:<7} {pid:<7} {:<15} {func:<16} {msg}", "argdist_work")
    };
    let count = |want: &str| body.iter().filter(|l| **l == want).count();
    assert_eq!(count(&line("take", "16 1")), 5, "{text}");
    assert_eq!(count(&line("take", "32 2")), 3, "{text}");
    assert_eq!(count(&line("take", "1000 1")), 2, "{text}");
    assert_eq!(count(&line("twice", "ret=4")), 1, "{text}");
    assert_eq!(count(&line("twice", "ret=6")), 1, "{text}");
    assert_eq!(count(&line("argwork:item", "round 0 x")), 1, "{text}");
    assert_eq!(count(&line("name_len", "alpha")), 2, "{text}");
    assert_eq!(count(&line("name_len", "beta")), 1, "{text}");
    assert_eq!(count(&line("malloc", "")), 7, "{text}");
    assert_eq!(body.len(), 5 + 3 + 2 + 2 + 1 + 3 + 7, "{text}");
}

#[test]
fn trace_options_time_cpu_max_and_name() {
    if !bpf_available("trace_options_time_cpu_max_and_name") {
        return;
    }
    let p = work();
    let cmd = format!("{p} 1");
    let probe = format!("p:{p}:take \"%lu\", arg1");
    // -t -C: seconds since the start and the CPU first; -M 3: three lines.
    let out = run(&["tool", "trace", "-t", "-C", "-M", "3", "-c", &cmd, &probe]);
    let text = tool_text(&stdout(&out));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.starts_with(&format!(
        "{:<8} {:<3} {:<7} {:<7} {:<15} {:<16} -\n",
        "TIME", "CPU", "PID", "TID", "COMM", "FUNC"
    )));
    let events: Vec<&str> = text
        .lines()
        .filter(|l| l.ends_with(" take             16"))
        .collect();
    assert_eq!(events.len(), 3, "{text}");
    for e in &events {
        let cols: Vec<&str> = e.split_whitespace().collect();
        let (secs, micros) = cols[0].split_once('.').unwrap_or_else(|| panic!("{e}"));
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{e}");
        assert!(cols[1].parse::<u32>().is_ok(), "{e}");
    }
    // -T: the local time; -n: a name no process has: nothing.
    let out = run(&[
        "tool",
        "trace",
        "-T",
        "-n",
        "nosuchname",
        "-c",
        &cmd,
        &probe,
    ]);
    let text = tool_text(&stdout(&out));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.starts_with("TIME     PID "), "{text}");
    assert!(!text.contains(" take "), "{text}");
}

#[test]
fn trace_attaches_to_a_running_process() {
    if !bpf_available("trace_attaches_to_a_running_process") {
        return;
    }
    let p = work();
    // A round every 20 ms for up to 100 s (killed when done).
    let target = spawn({
        let mut c = std::process::Command::new(&p);
        c.args(["5000", "20000"]);
        c
    });
    // Attach once it runs the program (a loaded machine may take longer
    // than any fixed pause to exec it).
    wait_for_exec(
        target.0.id(),
        std::path::Path::new(&p),
        Duration::from_secs(30),
    );
    let pid = target.0.id().to_string();
    let out = run(&[
        "tool",
        "trace",
        "-p",
        &pid,
        "-M",
        "4",
        &format!("u:{p}:argwork:item \"round %d\", arg1"),
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let rounds: Vec<u64> = text
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(pid.as_str()))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    // Four consecutive rounds of this process.
    assert_eq!(rounds.len(), 4, "{text}");
    assert!(rounds.windows(2).all(|w| w[1] == w[0] + 1), "{text}");
    drop(target);
}

#[test]
fn trace_user_stacks_follow_each_line() {
    if !bpf_available("trace_user_stacks_follow_each_line") {
        return;
    }
    let p = work();
    let out = run(&[
        "tool",
        "trace",
        "-U",
        "-c",
        &format!("{p} 1"),
        &format!("p:{p}:twice \"%d\", arg1"),
    ]);
    let text = tool_text(&stdout(&out));
    assert!(out.status.success(), "{}", stderr(&out));
    // Each of the 4 events: its line, its frames (8 spaces in, as BCC),
    // an empty line.
    let lines: Vec<&str> = text.lines().skip(1).collect();
    let events: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].contains(" twice "))
        .collect();
    assert_eq!(events.len(), 4, "{text}");
    for (n, &at) in events.iter().enumerate() {
        assert!(lines[at].ends_with(&format!(" {n}")), "{text}");
        let frames = lines[at + 1..]
            .iter()
            .take_while(|l| l.starts_with("        ") && l.len() > 8)
            .count();
        assert!(frames >= 1, "{text}");
        assert_eq!(lines.get(at + 1 + frames), Some(&""), "{text}");
    }
}

#[test]
fn bad_specifiers_fail_with_a_caret() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["trace", "c:open (foo > 1) \"%d\", arg1"],
            "ERROR: trace: unknown name `foo`: use arg1, arg2, ..., retval, $pid, $tgid, $uid, $gid, $cpu or a parameter of the signature\n  c:open (foo > 1) \"%d\", arg1\n          ^^^\n",
        ),
        (
            &["trace", "do_sys_open"],
            "ERROR: trace: a function without a library is a kernel function, which needs kernel probes: ustrace traces user space only; name a library (c:open) or a file (/path/app:func)\n  do_sys_open\n  ^^^^^^^^^^^\n",
        ),
        (
            &["argdist", "-C", "p:c:malloc(size_t size):float:size"],
            "ERROR: argdist: unknown type `float`\n  p:c:malloc(size_t size):float:size\n                          ^^^^^\n",
        ),
        (
            &["argdist", "-H", "p:c:malloc(size_t size):u64:size->x"],
            "ERROR: argdist: `->`: struct fields and indexing are not supported\n  p:c:malloc(size_t size):u64:size->x\n                                  ^^\n",
        ),
        (
            &["argdist"],
            "ERROR: argdist: at least one -C or -H specifier is required (see `ustrace tool argdist -h`)\n",
        ),
        // Caught in the specifier, not in the generated script.
        (
            &["argdist", "-C", "p:c:malloc(size_t size):u64:size:size=="],
            "ERROR: argdist: expected an operand after this\n  p:c:malloc(size_t size):u64:size:size==\n                                       ^^\n",
        ),
        (
            &["trace", "c:open \"%s\", arg9"],
            "ERROR: trace: `arg9`: arguments are arg1 to arg6 here (BCC counts from 1)\n  c:open \"%s\", arg9\n               ^^^^\n",
        ),
        (
            &["trace", "r:c:open \"%d\", arg1"],
            "ERROR: trace: `arg1`: a return probe has no arguments (use the return value)\n  r:c:open \"%d\", arg1\n                 ^^^^\n",
        ),
        (
            &["trace", "c:open \"%d\", 99999999999999999999999"],
            "ERROR: trace: integer too large (at most 64 bits)\n  c:open \"%d\", 99999999999999999999999\n               ^^^^^^^^^^^^^^^^^^^^^^^\n",
        ),
    ];
    for (args, expected) in cases {
        let mut full = vec!["tool"];
        full.extend_from_slice(args);
        let out = run(&full);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&out), *expected, "{args:?}");
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
}

#[test]
fn verbose_prints_the_generated_script() {
    let out = run(&[
        "tool",
        "trace",
        "-v",
        "-p",
        "1",
        "-M",
        "0",
        "c:nosuchfunction_xyz",
    ]);
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "config = { print_maps_on_exit = false; max_strlen = 80; missing_probes = error }\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("uprobe:libc:nosuchfunction_xyz { if (@_events < 0)"),
        "{text}"
    );
    // The library then reports the missing function with the script line.
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("nosuchfunction_xyz"), "{err}");
    assert!(
        err.ends_with(
            "note: `ustrace tool trace` wrote this script from its probe specifiers; -v prints it\n"
        ),
        "{err}"
    );
}
