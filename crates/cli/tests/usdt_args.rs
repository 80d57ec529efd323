//! USDT arguments of every form the x86-64 notes use, semaphores, and
//! strings, read from real processes started with `-c`.

mod common;
mod live;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use live::Live;

#[test]
fn every_argument_form_reads_the_right_value() {
    if !bpf_available("every_argument_form_reads_the_right_value") {
        return;
    }
    let a = argspecs();
    let a = a.display();
    let script = format!(
        r#"usdt:{a}:specs:rax_widths {{ printf("rax %d %u %d %u %d %u %d %lu %u %d\n", arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8, arg9); }}
usdt:{a}:specs:regs {{ printf("regs %u %u %u %d %d %u %u %u %d\n", arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8); }}
usdt:{a}:specs:memory {{ printf("mem %d %d %d %d %d %d %u\n", arg0, arg1, arg2, arg3, arg4, arg5, arg6); }}
usdt:{a}:specs:immediates {{ printf("imm %d %u %d %u\n", arg0, arg1, arg2, arg3); }}
usdt:{a}:specs:twelve {{ printf("twelve %d %d %d %d %d %d %d %d %d %d %d %d\n", arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8, arg9, arg10, arg11); }}"#
    );
    let out = trace_command(&script, &format!("{a} 1"));
    let expected = [
        "Attaching 5 probes...",
        "rax -5 251 -5 65531 -5 4294967291 -5 18446744073709551611 255 -1",
        "regs 4660 52 4660 -2 -2 300 44 127 -9",
        "mem -8 7 9 -8 -123456789 -20 4294967256",
        "imm -7 42 16 255",
        "twelve 1 2 3 4 5 6 7 8 9 10 11 12",
    ];
    let got: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(got, expected, "full output:\n{out}");
}

fn probes_many() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let lib = build_c(
            "libprobes.so",
            "tests/c/libprobes.c",
            &["-O2", "-g", "-shared", "-fPIC"],
        );
        let dir = lib.parent().expect("build dir").display().to_string();
        let main = repo().join("tests/c/probes_many.c").display().to_string();
        // The sources must precede -lprobes for the linker.
        build_c(
            "probes_many",
            "tests/c/probes_sem.c",
            &[
                "-O2",
                "-g",
                &main,
                &format!("-L{dir}"),
                &format!("-Wl,-rpath,{dir}"),
                "-lprobes",
            ],
        )
    })
    .clone()
}

#[test]
fn semaphore_is_raised_while_attached() {
    if !bpf_available("semaphore_is_raised_while_attached") {
        return;
    }
    let p = probes_many();
    let script = format!(
        r#"usdt:{}:sem:guarded {{ printf("g %d %d\n", arg0, arg1); }}"#,
        p.display()
    );
    let out = trace_command(&script, &format!("{} 4 50", p.display()));
    // The child's own line ("guarded: N" = how often it saw the semaphore
    // raised) may land anywhere among ustrace's lines.
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("g ")).collect();
    assert_eq!(
        lines,
        ["g 0 0", "g 1 2", "g 2 4", "g 3 6"],
        "full output:\n{out}"
    );
    assert!(
        out.lines().any(|l| l == "guarded: 4"),
        "full output:\n{out}"
    );
}

#[test]
fn pointers_and_inlined_sites() {
    if !bpf_available("pointers_and_inlined_sites") {
        return;
    }
    let p = probes_many();
    let script = format!(
        r#"usdt:{p}:many:loop {{ printf("loop %d %d\n", arg0, arg1 == 0 ? 0 : 1); }}
usdt:{p}:many:inlined {{ @sites[arg0] = count(); }}"#,
        p = p.display()
    );
    let out = trace_command(&script, &format!("{} 3 20", p.display()));
    let loops: Vec<&str> = out.lines().filter(|l| l.starts_with("loop")).collect();
    assert_eq!(
        loops,
        ["loop 0 1", "loop 1 1", "loop 2 1"],
        "full output:\n{out}"
    );
    for site in 1..=3 {
        assert!(
            out.contains(&format!("@sites[{site}]: 3\n")),
            "site {site} missing in:\n{out}"
        );
    }
}

#[test]
fn python_import_probes() {
    if !bpf_available("python_import_probes") {
        return;
    }
    let python = std::path::Path::new("/usr/bin/python3.11");
    if !python.exists() {
        unavailable("python_import_probes", "/usr/bin/python3.11 is missing");
        return;
    }
    // Python guards its probes with semaphores: nothing fires unless
    // ustrace raises them. (function__entry only fires for calls made from
    // C in 3.11, so the import probes are the reliable ones.)
    let script = r#"usdt:/usr/bin/python3.11:python:import__find__load__start { printf("import %s\n", str(arg0)); }"#;
    let out = trace_command(script, &format!("{} -c 'import json'", python.display()));
    for module in ["json", "json.decoder", "json.encoder"] {
        assert!(
            out.lines().any(|l| l == format!("import {module}")),
            "no import of {module} in:\n{out}"
        );
    }
}

#[test]
fn python_line_probe_reports_line_numbers() {
    if !bpf_available("python_line_probe_reports_line_numbers") {
        return;
    }
    let python = std::path::Path::new("/usr/bin/python3.11");
    if !python.exists() {
        unavailable(
            "python_line_probe_reports_line_numbers",
            "/usr/bin/python3.11 is missing",
        );
        return;
    }
    // str(arg0) holds max_strlen (64) bytes: a short path, wherever the
    // repository is checked out.
    let prog = short_tmp_path("ustrace_lines.py");
    std::fs::write(&prog, "x = 1\ny = 2\nfor i in range(2):\n    z = i\n")
        .expect("writing the python program");
    // python:line (file, function, line) is semaphore-guarded.
    let script = format!(
        r#"usdt:/usr/bin/python3.11:python:line /str(arg0) == "{}"/ {{ printf("%s %d\n", str(arg1), arg2); }}"#,
        prog.display()
    );
    let out = trace_command(&script, &format!("{} {}", python.display(), prog.display()));
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("<module>")).collect();
    assert_eq!(
        lines,
        [
            "<module> 1",
            "<module> 2",
            "<module> 3",
            "<module> 4",
            "<module> 3",
            "<module> 4",
            "<module> 3"
        ],
        "full output:\n{out}"
    );
}

#[test]
fn probe_in_a_shared_library_by_path_and_by_name_with_pid() {
    if !bpf_available("probe_in_a_shared_library_by_path_and_by_name_with_pid") {
        return;
    }
    let p = probes_many();
    let lib = p.with_file_name("libprobes.so");
    // By the library's path, with -c.
    let script = format!(
        r#"usdt:{}:lib:hello {{ printf("hello %d\n", arg0); }}"#,
        lib.display()
    );
    let out = trace_command(&script, &format!("{} 3 20", p.display()));
    let hellos: Vec<&str> = out.lines().filter(|l| l.starts_with("hello")).collect();
    assert_eq!(
        hellos,
        ["hello 0", "hello 1", "hello 2"],
        "full output:\n{out}"
    );

    // By bare library name, found among the objects process PID maps.
    let mut target_cmd = std::process::Command::new(&p);
    target_cmd.args(["-1", "100"]);
    let target = spawn(target_cmd);
    // The name is looked up among the objects the process maps: attach once
    // the dynamic linker has mapped the library.
    wait_for_mapping(target.0.id(), &lib, Duration::from_secs(60));
    let mut cmd = ustrace();
    cmd.args([
        "-e",
        r#"usdt:libprobes.so:lib:hello { printf("hello %d\n", arg0 >= 0); }"#,
        "-p",
        &target.0.id().to_string(),
    ]);
    // 10 hits a second: wait for five, however slowly a loaded machine
    // attaches.
    let mut live = Live::start(cmd);
    live.wait_for(|l| l == "hello 1", 5);
    let out = live.stop_output();
    drop(target);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .all(|l| l == "hello 1" || l.is_empty() || l == "Attaching 1 probe..."),
        "{text}"
    );
}

#[test]
fn libstdcxx_throw_probe_counts_exceptions_exactly() {
    if !bpf_available("libstdcxx_throw_probe_counts_exceptions_exactly") {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cxx");
    std::fs::create_dir_all(&dir).expect("build dir");
    let bin = dir.join("throws");
    let status = std::process::Command::new("g++")
        .args(["-O1", "-g"])
        .arg(repo().join("tests/c/throws.cpp"))
        .arg("-o")
        .arg(&bin)
        .status()
        .expect("running g++ (Debian package g++)");
    assert!(status.success(), "g++ failed");
    // By library name, resolved through ld.so.cache like the dynamic linker.
    let out = trace_command(
        "usdt:libstdc++:libstdcxx:throw { @throws = count(); }",
        &format!("{} 7", bin.display()),
    );
    assert!(out.ends_with("@throws: 7\n"), "output:\n{out}");
}

#[test]
fn forked_children_fire_too_in_all_process_mode() {
    if !bpf_available("forked_children_fire_too_in_all_process_mode") {
        return;
    }
    let bin = build_c("forks", "tests/c/forks.c", &["-O1", "-g"]);
    // BEGIN runs once the probe is attached: the program starts after it.
    let script = format!(
        r#"BEGIN {{ printf("ready\n"); }} usdt:{}:fork_test:hit {{ printf("hit %d %d\n", arg0, pid); }}"#,
        bin.display()
    );
    let mut cmd = ustrace();
    cmd.args(["-e", &script]);
    let mut tracer = Live::start(cmd);
    tracer.wait_for(|l| l == "ready", 1);
    let status = std::process::Command::new(&bin)
        .status()
        .expect("running forks");
    assert!(status.success());
    // Both hits were written before the program exited; the interrupted
    // tracer reads all that is left before it ends.
    let out = tracer.stop_output();
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let hits: Vec<(i64, i64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("hit "))
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(a, p)| Some((a.parse().ok()?, p.parse().ok()?)))
        .collect();
    assert_eq!(
        hits.iter().map(|h| h.0).collect::<Vec<_>>(),
        [1, 2],
        "{text}"
    );
    assert_ne!(
        hits[0].1, hits[1].1,
        "parent and child have different pids: {text}"
    );
}

#[test]
fn library_loaded_later_with_dlopen_is_traced() {
    if !bpf_available("library_loaded_later_with_dlopen_is_traced") {
        return;
    }
    // uprobes live on the file (inode), so a library named by path is traced
    // in whatever process maps it, also after the trace started.
    let lib = probes_many().with_file_name("libprobes.so");
    let opener = build_c("dlopener", "tests/c/dlopener.c", &["-O1", "-g", "-ldl"]);
    let script = format!(
        r#"usdt:{}:lib:hello {{ printf("hello %d\n", arg0); }}"#,
        lib.display()
    );
    let out = trace_command(&script, &format!("{} {}", opener.display(), lib.display()));
    let hellos: Vec<&str> = out.lines().filter(|l| l.starts_with("hello")).collect();
    assert_eq!(hellos, ["hello 0", "hello 1", "hello 2"], "output:\n{out}");
}
