//! Attach points that match nothing (`config = { missing_probes = ... }`),
//! run for real on tests/c/argdist_work.c: a skipped block is still
//! compiled (the maps it alone writes exist and print as bpftrace 0.17
//! prints maps that were never written: `@c: 0` for a scalar count,
//! an empty line for the others), only nothing attaches there.

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use common::*;

/// tests/c/argdist_work.c: each round calls take() 10 times; two rounds
/// print `4639` (on ustrace's stdout: the command inherits it).
fn work() -> PathBuf {
    build_c_once("argdist_work", "tests/c/argdist_work.c", &["-O1", "-g"])
}

/// ustrace on `script` (`PROG` replaced by the work program), tracing
/// two rounds of it; None when BPF cannot be loaded outside CI.
fn run(test: &str, script: &str) -> Option<(Output, String)> {
    if !bpf_available(test) {
        return None;
    }
    let prog = work().display().to_string();
    let mut cmd = ustrace();
    cmd.args(["-e", &script.replace("PROG", &prog), "-c"])
        .arg(format!("{prog} 2"));
    Some((run_with_timeout(cmd, Duration::from_secs(60)), prog))
}

/// Blocks that only skipped attach points write: their maps exist, the
/// END block reads them, and the skip warnings are printed.
const SKIPPED_WRITERS: &str = r#"uprobe:PROG:take { @take = count(); }
uprobe:PROG:no_such_function { @c = count(); @s = str(arg0); @m[func] = count(); }
usdt:PROG:argwork:no_such_probe { @u = arg1; }
end { printf("s=[%s] u=%d\n", @s, @u); print(@c); }"#;

#[test]
fn unset_skips_with_a_warning_and_keeps_the_blocks_maps() {
    let Some((out, prog)) = run(
        "unset_skips_with_a_warning_and_keeps_the_blocks_maps",
        SKIPPED_WRITERS,
    ) else {
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "WARNING: attach point `uprobe:{prog}:no_such_function` skipped: no function matches `no_such_function` in {prog}\n\
             WARNING: attach point `usdt:{prog}:argwork:no_such_probe` skipped: no USDT probe matches `usdt:{prog}:argwork:no_such_probe` (searched {prog})\n"
        )
    );
    // take() ran 20 times; `@m`, `@s` and `@u` were never written.
    assert_eq!(
        stdout(&out),
        "Attaching 2 probes...\n4639\ns=[] u=0\n@c: 0\n\n\n@c: 0\n\n\n@take: 20\n\n"
    );
}

#[test]
fn ignore_skips_silently() {
    let script = format!("config = {{ missing_probes = ignore }}\n{SKIPPED_WRITERS}");
    let Some((out, _)) = run("ignore_skips_silently", &script) else {
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert_eq!(
        stdout(&out),
        "Attaching 2 probes...\n4639\ns=[] u=0\n@c: 0\n\n\n@c: 0\n\n\n@take: 20\n\n"
    );
}

#[test]
fn error_stops_at_the_first_missing_probe() {
    let script = format!("config = {{ missing_probes = error }}\n{SKIPPED_WRITERS}");
    let Some((out, prog)) = run("error_stops_at_the_first_missing_probe", &script) else {
        return;
    };
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    let line = "uprobe:PROG:no_such_function { @c = count(); @s = str(arg0); @m[func] = count(); }"
        .replace("PROG", &prog);
    let caret = "^".repeat(format!("uprobe:{prog}:no_such_function").len());
    assert_eq!(
        stderr(&out),
        format!(
            "stdin:3:1: error: no function matches `no_such_function` in {prog}\n  |\n3 | {line}\n  | {caret}\n"
        )
    );
}

/// `warn` skips a missing library too (unset stops there, as bpftrace
/// 0.17 does), and a block sharing a map with a firing one types it.
#[test]
fn warn_skips_a_missing_library() {
    let script = r#"config = { missing_probes = warn }
uprobe:libno_such_lib_here:f { @calls[1] = count(); @last = arg0; }
uprobe:PROG:take { @calls[2] = count(); }
end { printf("last=%d\n", @last); }"#;
    let Some((out, _)) = run("warn_skips_a_missing_library", script) else {
        return;
    };
    assert!(out.status.success(), "{}", stderr(&out));
    // The command's pid (the library is searched in what it maps too).
    let err = stderr(&out);
    let pid: String = err
        .split("process ")
        .nth(1)
        .unwrap_or_default()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(
        err,
        format!("WARNING: attach point `uprobe:libno_such_lib_here:f` skipped: library `libno_such_lib_here` not found (searched the objects mapped by process {pid}, /etc/ld.so.cache and the system library directories)\n")
    );
    assert_eq!(
        stdout(&out),
        "Attaching 2 probes...\n4639\nlast=0\n\n\n@calls[2]: 20\n\n"
    );
}

/// What cannot be known about a skipped probe is an error saying so
/// (the warning is not printed: the error names the skipped probe): its
/// typed arguments (`args`), which need the function's debug information.
#[test]
fn typed_arguments_of_a_skipped_probe_are_refused() {
    let Some((out, prog)) = run(
        "typed_arguments_of_a_skipped_probe_are_refused",
        "uprobe:PROG:take { } uprobe:PROG:no_such_function { @x = args.size; }",
    ) else {
        return;
    };
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    let script =
        format!("uprobe:{prog}:take {{ }} uprobe:{prog}:no_such_function {{ @x = args.size; }}");
    let column = script.find("args.size").unwrap_or_default() + 1;
    assert_eq!(
        stderr(&out),
        format!(
            "stdin:1:{column}: error: cannot read `args.size`: `uprobe:{prog}:no_such_function` was skipped (it matches nothing), so its argument types are unknown\n  |\n1 | {script}\n  | {pad}^^^^^^^^^\n",
            pad = " ".repeat(column - 1)
        )
    );
}
