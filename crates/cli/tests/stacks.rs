//! User stacks: `ustack` in printf and as map keys, symbolized, and a
//! one-line CPU profiler (`profile` + `ustack`) finding the hot function.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::*;

fn stacks() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        build_c(
            "stacks",
            "tests/c/stacks.c",
            &["-O0", "-g", "-fno-omit-frame-pointer"],
        )
    })
    .clone()
}

/// The function names of a stack's lines (`level3+64` -> `level3`).
fn names(block: &str) -> Vec<String> {
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('+').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn ustack_lists_the_call_chain_in_order() {
    if !bpf_available("ustack_lists_the_call_chain_in_order") {
        return;
    }
    let bin = stacks();
    let script = format!(
        r#"uprobe:{b}:leaf {{ printf("stack:%s|\n", ustack(5)); @[ustack(3)] = count(); @p[ustack(perf, 1)] = count(); }}"#,
        b = bin.display()
    );
    let out = trace_command(&script, &format!("{} 2", bin.display()));
    let first = out
        .split("stack:")
        .nth(1)
        .and_then(|s| s.split('|').next())
        .unwrap_or_default();
    assert!(
        first.starts_with("\n        leaf+0\n"),
        "printf form:\n{out}"
    );
    assert_eq!(
        names(first),
        ["leaf", "level3", "level2", "level1", "main"],
        "{out}"
    );
    assert!(
        out.contains("@[\n    leaf+0\n    level3+"),
        "map key form:\n{out}"
    );
    assert!(out.contains("]: 2\n"), "{out}");
    let perf = "@p[\n\t";
    let at = out
        .find(perf)
        .unwrap_or_else(|| panic!("perf form missing:\n{out}"));
    let line = out[at + perf.len()..].lines().next().unwrap_or_default();
    assert!(
        line.ends_with(&format!(" leaf+0 ({})", bin.display())),
        "perf line {line:?}"
    );
}

#[test]
fn profile_with_ustack_finds_the_hot_function() {
    if !bpf_available("profile_with_ustack_finds_the_hot_function") {
        return;
    }
    let bin = stacks();
    let out = trace_command(
        "profile:hz:99 /pid == cpid/ { @[ustack(4)] = count(); }",
        &format!("{} 2 spin", bin.display()),
    );
    // The spinner burns 2 s of its own CPU time, ~198 samples at 99 Hz
    // however busy the machine is; they spread over a few offsets inside
    // level3, so count every stack whose functions are the hot chain.
    let mut hot = 0;
    let mut all = 0;
    for block in out.split("@[").skip(1) {
        let (stack, count) = block
            .split_once("]: ")
            .unwrap_or_else(|| panic!("bad map entry {block:?} in:\n{out}"));
        let count: u64 = count.trim().parse().unwrap_or(0);
        all += count;
        if names(stack) == ["level3", "level2", "level1", "main"] {
            hot += count;
        }
    }
    assert!(
        hot >= 100 && hot * 10 >= all * 9,
        "{hot} of {all} samples in main;level1;level2;level3:\n{out}"
    );
}

#[test]
fn folded_output_feeds_flame_graphs() {
    if !bpf_available("folded_output_feeds_flame_graphs") {
        return;
    }
    let bin = stacks();
    let out = trace_command_with(
        &["-f", "folded"],
        "profile:hz:99 /pid == cpid/ { @[ustack(4)] = count(); }",
        &format!("{} 2 spin", bin.display()),
    );
    let text = stdout(&out);
    // Every line is `frames count`; nothing else on stdout.
    for line in text.lines() {
        let (frames, n) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        assert!(
            !frames.is_empty() && n.parse::<u64>().is_ok(),
            "bad line {line:?}"
        );
    }
    let hot = text
        .lines()
        .find_map(|l| l.strip_prefix("main;level1;level2;level3 "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no hot stack in:\n{text}"));
    // 2 s of the spinner's CPU time at 99 Hz (~198 samples), spread over
    // a few offsets that fold into one line.
    assert!(hot >= 100, "{hot} samples:\n{text}");
}

#[test]
fn usym_and_reg_name_the_function() {
    if !bpf_available("usym_and_reg_name_the_function") {
        return;
    }
    let bin = stacks();
    let script = format!(
        r#"uprobe:{b}:level2 {{ printf("%s %s\n", usym(reg("ip")), func); @[usym(reg("ip"))] = count(); }}"#,
        b = bin.display()
    );
    let out = trace_command(&script, &format!("{} 2", bin.display()));
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("level2 ")).collect();
    assert_eq!(lines, ["level2 level2", "level2 level2"], "{out}");
    // Named while the process lived, so still named at exit.
    assert!(out.ends_with("@[level2]: 2\n"), "{out}");
}

#[test]
fn uaddr_gives_the_symbols_link_time_address() {
    if !bpf_available("uaddr_gives_the_symbols_link_time_address") {
        return;
    }
    let bin = stacks();
    let nm = std::process::Command::new("nm")
        .arg(&bin)
        .output()
        .expect("running nm (binutils)");
    let table = String::from_utf8_lossy(&nm.stdout);
    let addr = |name: &str| {
        table
            .lines()
            .find_map(|l| {
                let mut it = l.split_whitespace();
                let (a, _, n) = (it.next()?, it.next()?, it.next()?);
                (n == name)
                    .then(|| u64::from_str_radix(a, 16).ok())
                    .flatten()
            })
            .unwrap_or_else(|| panic!("{name} not in nm output"))
    };
    let script = format!(
        r#"uprobe:{}:level2 {{ printf("%lx %lx\n", uaddr("level2"), uaddr("spin")); exit(); }}"#,
        bin.display()
    );
    let out = trace_command(&script, &format!("{} 1", bin.display()));
    let want = format!("{:x} {:x}", addr("level2"), addr("spin"));
    assert!(out.lines().any(|l| l == want), "want {want} in:\n{out}");
    // An unknown symbol is a compile error at its string.
    let bad = format!(
        r#"uprobe:{}:level2 {{ printf("%lx\n", uaddr("nope")); }}"#,
        bin.display()
    );
    let err = ustrace()
        .args(["-e", &bad])
        .output()
        .expect("running ustrace");
    assert!(String::from_utf8_lossy(&err.stderr).contains("no symbol `nope`"));
}
