//! The language tools on real runtimes with known work: Ruby 3.1, PHP 8.2,
//! OpenJDK 17 and C threads (ucalls, uflow, ugc, uobjnew, uthreads, and
//! ustat discovering the runtimes of running processes), with exact
//! counts where the runtime makes them exact. Also the stress test of
//! issue 17: tracing Ruby's method probes never harms the traced Ruby.

mod common;
mod live;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use common::*;
use live::ustat_with_go;

const RUBY: &str = "/usr/bin/ruby";
const PHP: &str = "/usr/bin/php8.2";
const JAVA_HOME: &str = "/usr/lib/jvm/java-17-openjdk-amd64";

/// Runs `ustrace ARGS` to completion under `timeout`, reading its output
/// as it runs (flows fill more than a pipe).
fn tool(args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("90")
        .arg(env!("CARGO_BIN_EXE_ustrace"))
        .args(args)
        .output()
        .expect("running ustrace")
}

/// True when `path` is installed; in CI it must be.
fn installed(test: &str, path: &str) -> bool {
    Path::new(path).exists() || unavailable(test, &format!("{path} is not installed"))
}

/// The absolute path of a test program in the repository.
fn program(relative: &str) -> String {
    std::fs::canonicalize(repo().join(relative))
        .unwrap_or_else(|e| panic!("{relative}: {e}"))
        .display()
        .to_string()
}

/// The count in the row whose first column is `key` (column `col`).
fn column(text: &str, key: &str, col: usize) -> Option<u64> {
    text.lines().find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        if cols.first() == Some(&key) {
            cols.get(col)?.parse().ok()
        } else {
            None
        }
    })
}

/// The Ruby test program, with gems disabled: Ruby 3.1's own probe path
/// crashes during RubyGems' start-up (see docs/tools.md).
fn ruby_cmd() -> String {
    format!(
        "{RUBY} --disable-gems {}",
        program("tests/ruby/tool_calls.rb")
    )
}

#[test]
fn ruby_calls_flow_objects_and_collections() {
    let test = "ruby_calls_flow_objects_and_collections";
    if !bpf_available(test) || !installed(test, RUBY) {
        return;
    }
    let cmd = ruby_cmd();
    let out = tool(&["tool", "ucalls", "-l", "ruby", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains(&format!("{:<50} {:>8}\n", "METHOD", "# CALLS")),
        "{text}"
    );
    // Ruby-defined methods (through the TracePoint the tool loads) and C
    // methods.
    assert_eq!(column(&text, "Object.leaf", 1), Some(10), "{text}");
    assert_eq!(column(&text, "Object.mid", 1), Some(5), "{text}");
    assert_eq!(column(&text, "Greeter.hi", 1), Some(5), "{text}");

    let out = tool(&["tool", "uflow", "-l", "ruby", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("CPU PID    TID    TIME(us) METHOD\n"),
        "{text}"
    );
    let count = |what: &str| text.lines().filter(|l| l.ends_with(what)).count();
    assert_eq!(count("-> Object.leaf"), 10, "{text}");
    assert_eq!(count("<- Object.leaf"), 10, "{text}");
    // leaf() runs one level below mid().
    let mid = text
        .lines()
        .find(|l| l.ends_with("-> Object.mid"))
        .expect("mid");
    let leaf = text
        .lines()
        .find(|l| l.ends_with("-> Object.leaf"))
        .expect("leaf");
    let indent = |l: &str| l.find("->").unwrap_or(0);
    assert_eq!(indent(leaf), indent(mid) + 2, "{text}");

    // -M: only methods whose name starts with "lea" (BCC's uflow -M).
    let out = tool(&["tool", "uflow", "-l", "ruby", "-M", "lea", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let flow: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" -> ") || l.contains(" <- "))
        .collect();
    assert_eq!(flow.len(), 20, "{text}");
    assert!(flow.iter().all(|l| l.ends_with("Object.leaf")), "{text}");

    let out = tool(&["tool", "uobjnew", "-l", "ruby", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains(&format!(
            "{:<30} {:>8} {:>12}\n",
            "NAME/TYPE", "# ALLOCS", "# BYTES"
        )),
        "{text}"
    );
    assert_eq!(column(&text, "Widget", 1), Some(300), "{text}");
    assert_eq!(column(&text, "Greeter", 1), Some(1), "{text}");

    // One mark stage per collection: GC.count, printed by the program.
    let out = tool(&["tool", "ugc", "-l", "ruby", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("START    TIME (us) DESCRIPTION"), "{text}");
    let gcs: usize = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("gc ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .expect("the program's GC.count");
    assert!(gcs >= 3, "{text}");
    let marks = text
        .lines()
        .filter(|l| l.ends_with(" GC mark stage"))
        .count();
    assert_eq!(marks, gcs, "{text}");
}

/// Issue 17's stress test, short: tracing every Ruby method and C method
/// entry with their class and method strings (the runs that once crashed)
/// never harms the traced Ruby. scripts/ruby-probe-stress.sh runs it
/// hundreds of times and reproduces Ruby's own crash without a tracer.
#[test]
fn tracing_ruby_method_probes_never_harms_ruby() {
    let test = "tracing_ruby_method_probes_never_harms_ruby";
    if !bpf_available(test) || !installed(test, RUBY) {
        return;
    }
    let lib = "/usr/lib/x86_64-linux-gnu/libruby-3.1.so.3.1";
    let script = format!(
        "usdt:{lib}:ruby:method__entry {{ @m[str(arg0), str(arg1)] = count(); }} \
         usdt:{lib}:ruby:cmethod__entry {{ @c[str(arg0), str(arg1)] = count(); }}"
    );
    let tracepoint = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ruby-tracepoint.rb");
    std::fs::write(&tracepoint, "TracePoint.new(:call, :return) {}.enable\n")
        .expect("writing the TracePoint file");
    let cmd = format!("{RUBY} --disable-gems {}", program("tests/ruby/fib.rb"));
    for run in 0..10 {
        let out = Command::new("timeout")
            .arg("60")
            .arg(env!("CARGO_BIN_EXE_ustrace"))
            .args(["-e", &script, "-c", &cmd])
            .env("RUBYOPT", format!("-r{}", tracepoint.display()))
            .stdin(Stdio::null())
            .output()
            .expect("running ustrace");
        let text = stdout(&out);
        let err = stderr(&out);
        assert!(out.status.success(), "run {run}: {err}\n{text}");
        assert!(
            !text.contains("RSTRING_PTR") && !err.contains("RSTRING_PTR"),
            "run {run}: {text}{err}"
        );
        assert!(text.lines().any(|l| l == "610"), "run {run}: {text}");
        // fib(15) makes 1973 calls.
        assert!(
            text.contains("@m[Object, fib]: 1973\n"),
            "run {run}: {text}"
        );
    }
}

#[test]
fn php_calls_and_flow() {
    let test = "php_calls_and_flow";
    if !bpf_available(test) || !installed(test, PHP) {
        return;
    }
    let cmd = format!("{PHP} {}", program("tests/php/tool_calls.php"));
    let out = tool(&["tool", "ucalls", "-l", "php", "-L", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains(&format!(
            "{:<50} {:>8} {:>8}\n",
            "METHOD", "# CALLS", "TIME (us)"
        )),
        "{text}"
    );
    assert_eq!(column(&text, "leaf", 1), Some(10), "{text}");
    assert_eq!(column(&text, "mid", 1), Some(5), "{text}");
    assert_eq!(column(&text, "Greeter.hi", 1), Some(5), "{text}");

    let out = tool(&["tool", "uflow", "-l", "php", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let count = |what: &str| text.lines().filter(|l| l.ends_with(what)).count();
    assert_eq!(count("-> leaf"), 10, "{text}");
    assert_eq!(count("<- Greeter.hi"), 5, "{text}");
}

/// ToolRuntime.java compiled once; the java command running it.
fn java_cmd(args: &str) -> String {
    static CLASSES: OnceLock<PathBuf> = OnceLock::new();
    let classes = CLASSES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tool-runtime-java");
        std::fs::create_dir_all(&dir).expect("creating the class directory");
        let javac = Command::new(Path::new(JAVA_HOME).join("bin/javac"))
            .arg("-d")
            .arg(&dir)
            .arg(repo().join("tests/java/ToolRuntime.java"))
            .output()
            .expect("running javac");
        assert!(javac.status.success(), "javac: {}", stderr(&javac));
        dir
    });
    format!(
        "{JAVA_HOME}/bin/java -XX:+ExtendedDTraceProbes -cp {} ToolRuntime {args}",
        classes.display()
    )
}

#[test]
fn java_flow_collections_objects_and_threads() {
    let test = "java_flow_collections_objects_and_threads";
    if !bpf_available(test) || !installed(test, &format!("{JAVA_HOME}/bin/javac")) {
        return;
    }
    let cmd = java_cmd("");
    let out = tool(&["tool", "uflow", "-l", "java", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let count = |text: &str, what: &str| text.lines().filter(|l| l.ends_with(what)).count();
    assert_eq!(count(&text, "-> ToolRuntime.leaf"), 10, "{text}");
    assert_eq!(count(&text, "<- ToolRuntime.step"), 5, "{text}");

    let out = tool(&["tool", "ugc", "-l", "java", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    // System.gc() three times: three full collections, nothing else in so
    // short a run.
    assert_eq!(count(&text, " full GC"), 3, "{text}");

    let out = tool(&["tool", "uobjnew", "-l", "java", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(column(&text, "ToolRuntime$Widget", 1), Some(300), "{text}");
    // OpenJDK 17 gives sizes for some allocations only (docs/tools.md): a
    // Widget is 32 bytes when it gives one.
    let bytes = column(&text, "ToolRuntime$Widget", 2).expect("Widget bytes");
    assert!(bytes.is_multiple_of(32) && bytes <= 300 * 32, "{text}");

    let out = tool(&["tool", "uthreads", "-l", "java", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("TIME     ID               TYPE     DESCRIPTION"),
        "{text}"
    );
    for worker in ["tool-worker-1", "tool-worker-2"] {
        for kind in ["start", "stop"] {
            let seen = text
                .lines()
                .filter(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    cols.get(2) == Some(&kind) && cols.get(3) == Some(&worker)
                })
                .count();
            assert_eq!(seen, 1, "{worker} {kind}: {text}");
        }
    }
}

#[test]
fn c_threads_and_mallocs() {
    let test = "c_threads_and_mallocs";
    if !bpf_available(test) {
        return;
    }
    let bin = build_c(
        "tool_threads",
        "tests/c/tool_threads.c",
        &["-O1", "-g", "-pthread"],
    );
    let cmd = bin.display().to_string();
    let out = tool(&["tool", "uthreads", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let workers = text
        .lines()
        .filter(|l| l.contains(" pthread ") && l.trim_end().ends_with("worker"))
        .count();
    assert_eq!(workers, 3, "{text}");

    let out = tool(&["tool", "uobjnew", "-l", "c", "-c", &cmd]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let row = text
        .lines()
        .find(|l| l.starts_with("block size 4321 "))
        .unwrap_or_else(|| panic!("no 4321-byte row: {text}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[3..], ["7", "30247"], "{text}");
}

/// The sum of column `col` (0-based from the end: 5 is METHOD/s) over
/// ustat's rows of `pid`.
fn ustat_sum(text: &str, pid: u32, from_end: usize) -> u64 {
    text.lines()
        .filter(|l| l.split_whitespace().next() == Some(pid.to_string().as_str()))
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols[cols.len() - from_end].parse::<u64>().expect("a rate")
        })
        .sum()
}

#[test]
fn ustat_finds_the_runtimes_of_running_processes() {
    let test = "ustat_finds_the_runtimes_of_running_processes";
    if !bpf_available(test)
        || !installed(test, RUBY)
        || !installed(test, PHP)
        || !installed(test, &format!("{JAVA_HOME}/bin/javac"))
    {
        return;
    }
    let go =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ustat-rt-{}", std::process::id()));
    let _ = std::fs::remove_file(&go);
    let go_arg = go.display().to_string();
    let start = |cmd: String, env: &[(&str, &str)]| {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let mut c = Command::new(words[0]);
        c.args(&words[1..]).arg(&go_arg).envs(env.iter().copied());
        // Their stdin stays open (they linger) until the guards kill them.
        c.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Guard(c.spawn().expect("starting a runtime"))
    };
    let ruby = start(ruby_cmd(), &[]);
    let php = start(
        format!("{PHP} {}", program("tests/php/tool_calls.php")),
        &[("USE_ZEND_DTRACE", "1")],
    );
    let java = start(java_cmd(""), &[]);
    // Each program creates GO.PID.ready once it runs (its runtime mapped),
    // however long a loaded machine takes to start a JVM; ustat looks only
    // then, and reads until the tables after their work.
    let (r, p, j) = (ruby.0.id(), php.0.id(), java.0.id());
    let (text, out) = ustat_with_go("1", &go, &[r, p, j]);
    assert!(
        text.contains(
            "PID    CMDLINE              METHOD/s   GC/s   OBJNEW/s   CLOAD/s  EXC/s  THR/s"
        ),
        "{text}\n{}",
        stderr(&out)
    );
    // Columns from the end: METHOD/s 6, GC/s 5, OBJNEW/s 4, CLOAD/s 3,
    // EXC/s 2, THR/s 1; 1 s intervals, so the sums are counts.
    assert_eq!(ustat_sum(&text, r, 2), 4, "ruby raises: {text}");
    assert!(ustat_sum(&text, r, 5) >= 3, "ruby GCs: {text}");
    assert!(ustat_sum(&text, r, 4) >= 300, "ruby objects: {text}");
    assert_eq!(ustat_sum(&text, p, 6), 20, "php calls: {text}");
    assert_eq!(ustat_sum(&text, p, 2), 2, "php exceptions: {text}");
    assert!(ustat_sum(&text, j, 6) >= 16, "java calls: {text}");
    assert!(ustat_sum(&text, j, 5) >= 3, "java GCs: {text}");
    assert!(ustat_sum(&text, j, 4) >= 300, "java objects: {text}");
    assert!(ustat_sum(&text, j, 3) >= 1, "java class loads: {text}");
    assert!(ustat_sum(&text, j, 1) >= 2, "java threads: {text}");
}

#[test]
fn runtime_errors_are_one_line() {
    let test = "runtime_errors_are_one_line";
    if !installed(test, PHP) {
        return;
    }
    // A PHP process without USE_ZEND_DTRACE=1: its probes would never fire.
    let mut php = Command::new(PHP);
    php.args(["-r", "sleep(20);"])
        .env_remove("USE_ZEND_DTRACE")
        .stdout(Stdio::null());
    let php = Guard(php.spawn().expect("starting php"));
    let sleeper = Guard(
        Command::new("sleep")
            .arg("20")
            .spawn()
            .expect("starting sleep"),
    );
    let (php_pid, sleep_pid) = (php.0.id().to_string(), sleeper.0.id().to_string());
    for (args, expect) in [
        (
            vec!["tool", "ucalls", "-l", "php", "-p", &php_pid],
            format!("process {php_pid} runs without USE_ZEND_DTRACE=1"),
        ),
        (
            vec!["tool", "ucalls", "-l", "ruby", &sleep_pid],
            format!("process {sleep_pid} maps no ruby runtime with `ruby` USDT probes"),
        ),
        (
            vec!["tool", "uobjnew", "-l", "python"],
            "-l python: not supported by this tool; supported: java, ruby, c".to_string(),
        ),
        (
            vec!["tool", "ustat", "-x", PHP, "1", "1"],
            "-x PATH needs -l LANG".to_string(),
        ),
        (
            vec!["tool", "uflow", "-l", "java", "-c", "java App"],
            "-XX:+ExtendedDTraceProbes".to_string(),
        ),
    ] {
        let out = tool(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(&expect), "{args:?}: {err}");
    }
}
