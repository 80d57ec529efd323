//! `ustack` walked with unwind tables (.eh_frame) in BPF: code built
//! without frame pointers, checked against gdb's `bt`; stacks named after
//! the process exits; Debian's python3.11 under `profile`.

mod common;
mod live;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;

fn deep() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        build_c(
            "unwind_deep",
            "tests/c/unwind_deep.c",
            &["-O2", "-g", "-fomit-frame-pointer"],
        )
    })
    .clone()
}

/// Function names of gdb's `bt` at probe deep:here (innermost first).
fn gdb_backtrace(bin: &Path) -> Vec<String> {
    let out = Command::new("gdb")
        .args([
            "-batch",
            "-nx",
            "-ex",
            "break -probe-stap deep:here",
            "-ex",
            "run",
            "-ex",
            "bt",
            "--args",
        ])
        .arg(bin)
        .args(["0", "0"])
        .output()
        .expect("running gdb (Debian package gdb)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let names: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| {
            // "#0  level5 (x=2) at f.c:6" or "#1  0x... in level4 (x=3) at ..."
            let rest = l.split_once("  ")?.1;
            let rest = rest.split_once(" in ").map_or(rest, |(_, r)| r);
            Some(rest.split(' ').next()?.to_string())
        })
        .collect();
    assert!(!names.is_empty(), "no backtrace from gdb:\n{text}");
    names
}

/// The frames of the first `stack:...|` block of `out`, as names.
fn first_stack(out: &str) -> Vec<String> {
    out.split("stack:")
        .nth(1)
        .and_then(|s| s.split('|').next())
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('+').next().unwrap_or_default().to_string())
        .collect()
}

fn trace_deep(args: &str, env_fp: bool) -> String {
    let bin = deep();
    let mut cmd = ustrace();
    if env_fp {
        cmd.env("USTRACE_STACK_MODE", "fp");
    }
    cmd.args([
        "-e",
        &format!(
            r#"usdt:{b}:deep:here {{ printf("stack:%s|\n", ustack); printf("sym:%s|\n", usym(reg("ip"))); @[ustack(3)] = count(); @p[ustack(perf, 1)] = count(); @s[usym(reg("ip"))] = count(); }}"#,
            b = bin.display()
        ),
        "-c",
        &format!("{} {args}", bin.display()),
    ]);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn stack_without_frame_pointers_equals_gdb_backtrace() {
    if !bpf_available("stack_without_frame_pointers_equals_gdb_backtrace") {
        return;
    }
    let expected = gdb_backtrace(&deep());
    assert_eq!(
        expected,
        ["level5", "level4", "level3", "level2", "level1", "main"],
        "gdb's view of the test program changed"
    );
    // The probe fires 300 ms after exec (tables load within ~50 ms of it)
    // and the process lives on for 500 ms, or exits right after the probe;
    // or the probe fires at once after exec (before the tracer has read
    // the process's maps: the walker finds the files' tables itself) and
    // the process exits right after it (named from the mappings the walk
    // and usym logged).
    for (args, case) in [
        ("300 500", "alive"),
        ("300 0", "exits right after"),
        ("0 0", "at exec, exits right after"),
    ] {
        let out = trace_deep(args, false);
        let got = first_stack(&out);
        let until_main: Vec<String> = got
            .iter()
            .take_while(|n| n.as_str() != "main")
            .chain(std::iter::once(&"main".to_string()))
            .cloned()
            .collect();
        assert_eq!(until_main, expected, "{case}:\n{out}");
        // Below main: libc's start-up code, named too, and nothing else.
        assert!(
            got.iter().all(|n| !n.starts_with("0x")),
            "{case}: raw frames:\n{out}"
        );
        assert_eq!(got.last().map(String::as_str), Some("_start"), "{out}");
        // As map keys (named at exit, maybe after the process is gone),
        // cut to n frames, and in perf form with the file.
        assert!(
            out.contains("@[\n    level5+0\n    level4+") && out.contains("]: 1\n"),
            "{case}: map key:\n{out}"
        );
        assert!(
            out.contains(&format!(" level5+0 ({})\n", deep().display())),
            "{case}: perf form:\n{out}"
        );
        // usym of the probe's address, printed and as a map key.
        assert!(out.contains("sym:level5|\n"), "{case}: usym:\n{out}");
        assert!(out.contains("@s[level5]: 1\n"), "{case}: usym key:\n{out}");
    }
    // The frame-pointer walk stays selectable, and loses the frames.
    let fp = first_stack(&trace_deep("300 0", true));
    assert_ne!(fp, expected, "frame-pointer walk unexpectedly complete");
}

#[test]
fn python_samples_reach_the_interpreter_entry() {
    if !bpf_available("python_samples_reach_the_interpreter_entry") {
        return;
    }
    let python = Path::new("/usr/bin/python3.11");
    if !python.exists() {
        unavailable(
            "python_samples_reach_the_interpreter_entry",
            "/usr/bin/python3.11 is missing",
        );
        return;
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let script = dir.join("unwind_loop.py");
    // main() spins for 2 s of its own CPU time (~398 samples at 199 Hz
    // however loaded the machine is).
    std::fs::write(
        &script,
        "import time\n\
         def work(n):\n    t = 0\n    for i in range(n):\n        t += i * i % 7\n    return t\n\
         def main():\n    end = time.process_time() + 2.0\n    while time.process_time() < end:\n        work(10000)\n\
         time.sleep(0.3)\nmain()\n",
    )
    .expect("writing the Python script");
    let mut cmd = ustrace();
    cmd.args([
        "-f",
        "folded",
        "-e",
        "profile:hz:199 /pid == cpid/ { @[ustack] = count(); }",
        "-c",
        &format!("{} {}", python.display(), script.display()),
    ]);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let text_range = executable_range(python);
    let (mut total, mut complete) = (0u64, 0u64);
    for line in text.lines() {
        let (frames, n) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let n: u64 = n.parse().unwrap_or(0);
        total += n;
        let frames: Vec<&str> = frames.split(';').collect();
        // Debian's python3.11 `main` tail-calls Py_BytesMain (a `jmp`), so
        // no unwinder sees `main` itself: its caller and callee stand in.
        if !frames.starts_with(&[
            "_start",
            "__libc_start_main_impl",
            "__libc_start_call_main",
            "Py_BytesMain",
        ]) {
            // Taken before the tables loaded (frame-pointer walk).
            continue;
        }
        complete += n;
        // Unnamed frames are real code of python3.11 (static functions of
        // a binary without symbols), never garbage.
        for f in frames.iter().filter(|f| f.starts_with("0x")) {
            let addr = u64::from_str_radix(&f[2..], 16).unwrap_or(0);
            assert!(
                text_range.contains(&addr),
                "frame {f} outside python3.11's code:\n{text}"
            );
        }
    }
    assert!(total >= 20, "only {total} samples:\n{text}");
    assert!(
        complete * 10 >= total * 9,
        "{complete} of {total} samples reach the entry:\n{text}"
    );
}

/// The link-time addresses of the executable segment of a non-PIE binary.
fn executable_range(path: &Path) -> std::ops::Range<u64> {
    use object::read::elf::{FileHeader, ProgramHeader};
    let data = std::fs::read(path).expect("reading the binary");
    let header = object::elf::FileHeader64::<object::Endianness>::parse(&*data).expect("ELF");
    let endian = header.endian().expect("ELF endianness");
    let phdrs = header
        .program_headers(endian, &*data)
        .expect("program headers");
    phdrs
        .iter()
        .find(|p| {
            p.p_type(endian) == object::elf::PT_LOAD && p.p_flags(endian) & object::elf::PF_X != 0
        })
        .map(|p| p.p_vaddr(endian)..p.p_vaddr(endian) + p.p_memsz(endian))
        .expect("an executable segment")
}

#[test]
fn cxx_throw_stack_reaches_the_thrower_and_main() {
    if !bpf_available("cxx_throw_stack_reaches_the_thrower_and_main") {
        return;
    }
    let Some(libstdcxx) = ["/usr/lib/x86_64-linux-gnu/libstdc++.so.6"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
    else {
        unavailable(
            "cxx_throw_stack_reaches_the_thrower_and_main",
            "libstdc++.so.6 is missing",
        );
        return;
    };
    let bin = build_c(
        "unwind_throw",
        "tests/c/unwind_throw.cpp",
        &["-O2", "-g", "-fomit-frame-pointer", "-lstdc++"],
    );
    let mut cmd = ustrace();
    cmd.args([
        "-e",
        &format!(
            r#"usdt:{}:libstdcxx:throw {{ printf("stack:%s|\n", ustack); }}"#,
            libstdcxx.display()
        ),
        "-c",
        &format!("{} 300", bin.display()),
    ]);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let names = first_stack(&text);
    let pos = |name: &str| names.iter().position(|n| n == name);
    let (Some(throw), Some(thrower), Some(middle), Some(main)) = (
        pos("__cxa_throw"),
        pos("thrower(int)"),
        pos("middle(int)"),
        pos("main"),
    ) else {
        panic!("frames missing:\n{text}");
    };
    assert!(
        throw < thrower && thrower < middle && middle < main,
        "{text}"
    );
}

#[test]
fn stack_deeper_than_the_limit_stops_at_127_frames() {
    if !bpf_available("stack_deeper_than_the_limit_stops_at_127_frames") {
        return;
    }
    let bin = deep();
    let mut cmd = ustrace();
    cmd.args([
        "-e",
        &format!(
            r#"usdt:{}:deep:bottom {{ printf("stack:%s|\n", ustack); exit(); }}"#,
            bin.display()
        ),
        "-c",
        &format!("{} 300 200 200", bin.display()),
    ]);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let names = first_stack(&text);
    assert_eq!(names.len(), 127, "{text}");
    assert!(names.iter().all(|n| n == "recurse"), "{text}");
}

#[test]
fn file_without_unwind_information_falls_back_to_frame_pointers() {
    if !bpf_available("file_without_unwind_information_falls_back_to_frame_pointers") {
        return;
    }
    let built = build_c(
        "unwind_deep_fp",
        "tests/c/unwind_deep.c",
        &["-O2", "-g", "-fno-omit-frame-pointer"],
    );
    let bin = built.with_file_name("unwind_deep_no_eh_frame");
    let status = Command::new("objcopy")
        .args([
            "--remove-section",
            ".eh_frame",
            "--remove-section",
            ".eh_frame_hdr",
            "--remove-section",
            ".debug_frame",
        ])
        .arg(&built)
        .arg(&bin)
        .status()
        .expect("running objcopy (Debian package binutils)");
    assert!(status.success());
    let mut cmd = ustrace();
    cmd.args([
        "-e",
        &format!(
            r#"usdt:{}:deep:here {{ printf("stack:%s|\n", ustack); }}"#,
            bin.display()
        ),
        "-c",
        &format!("{} 300 0", bin.display()),
    ]);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let names = first_stack(&text);
    // The probe sits before level5 pushes rbp, so the frame-pointer step
    // from level5 lands in level3 (the kernel's walk does the same); the
    // rest of the chain and libc's frames (which have tables) follow.
    assert_eq!(names.first().map(String::as_str), Some("level5"), "{text}");
    let pos = |name: &str| names.iter().position(|n| n == name);
    assert!(
        pos("level1") < pos("main") && pos("level1").is_some(),
        "{text}"
    );
    assert_eq!(names.last().map(String::as_str), Some("_start"), "{text}");
    assert!(names.iter().all(|n| !n.starts_with("0x")), "{text}");
}

#[test]
fn postgres_query_stack_reaches_postgres_main() {
    if !bpf_available("postgres_query_stack_reaches_postgres_main") {
        return;
    }
    let bin = Path::new("/usr/lib/postgresql/15/bin");
    if !bin.join("postgres").exists() {
        unavailable(
            "postgres_query_stack_reaches_postgres_main",
            "postgresql-15 is not installed",
        );
        return;
    }
    // A fresh cluster, owned by the postgres user (postgres refuses root),
    // queried through a single-user backend: one process, no server.
    let data =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pgdata-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).expect("creating the data directory");
    let as_postgres = ["--reuid=postgres", "--regid=postgres", "--init-groups"];
    let chown = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(&data)
        .status()
        .expect("running chown");
    assert!(chown.success());
    let initdb = Command::new("setpriv")
        .args(as_postgres)
        .arg(bin.join("initdb"))
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
        .arg(&data)
        .output()
        .expect("running initdb");
    assert!(initdb.status.success(), "initdb: {}", stderr(&initdb));
    // The backend prints its banner once it runs its main loop (exec done,
    // libraries mapped); ustrace -p then loads its tables before it
    // attaches, and BEGIN says it is attached: only then the query.
    let mut backend = Command::new("setpriv");
    backend
        .args(as_postgres)
        .arg(bin.join("postgres"))
        .args(["--single", "-D"])
        .arg(&data)
        .arg("postgres")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut backend = Guard(backend.spawn().expect("starting postgres"));
    let mut banner = std::io::BufReader::new(backend.0.stdout.take().expect("piped stdout"));
    let mut seen = String::new();
    while !seen.contains("PostgreSQL stand-alone backend") {
        use std::io::BufRead;
        let before = seen.len();
        let _ = banner.read_line(&mut seen);
        assert!(seen.len() > before, "the backend ended: {seen:?}");
    }
    let mut cmd = ustrace();
    cmd.args([
        "-p",
        &backend.0.id().to_string(),
        "-e",
        &format!(
            r#"usdt:{}:postgresql:query__start {{ printf("stack:%s|\n", ustack); }} BEGIN {{ printf("ready\n"); }}"#,
            bin.join("postgres").display()
        ),
    ]);
    let mut live = live::Live::start(cmd);
    live.wait_for(|l| l == "ready", 1);
    if let Some(mut input) = backend.0.stdin.take() {
        use std::io::Write;
        let _ = input.write_all(b"select 1;\n");
    }
    live.wait_for(|l| l == "|", 1);
    let (text, err) = live.stop();
    drop(backend);
    let _ = std::fs::remove_dir_all(&data);
    let names = first_stack(&text);
    let pos = |name: &str| names.iter().position(|n| n == name);
    assert!(
        pos("PostgresMain").is_some() && pos("PostgresMain") < pos("main"),
        "stderr: {err}\n{text}"
    );
}

/// JIT code (an anonymous executable mapping) is stepped through with its
/// frame pointer and named from the process's perf map (/tmp/perf-PID.map),
/// between frames unwound with tables in code built without frame
/// pointers. The program deletes its perf map and exits right after its
/// probe: the name comes from the snapshot the tracer took when the
/// process's executable mappings changed (`-d` says `perf map: pid N: 1
/// symbols`); the program probes only after that line (its stdin closes).
#[test]
fn jit_frames_are_named_from_the_perf_map() {
    if !bpf_available("jit_frames_are_named_from_the_perf_map") {
        return;
    }
    let bin = build_c(
        "jit_perfmap",
        "tests/c/jit_perfmap.c",
        &["-O2", "-g", "-fomit-frame-pointer"],
    );
    let mut cmd = ustrace();
    cmd.stdin(std::process::Stdio::piped()).args([
        "-d",
        "-e",
        &format!(
            r#"usdt:{b}:jit:here {{ printf("stack:%s|\n", ustack); }}"#,
            b = bin.display()
        ),
        "-c",
        &bin.display().to_string(),
    ]);
    let mut live = live::Live::start(cmd);
    live.wait_for_stderr(
        |l| l.starts_with("perf map: pid ") && l.contains(": 1 symbols, "),
        1,
    );
    live.close_stdin();
    let out = live.output();
    assert!(out.status.success(), "{}", stderr(&out));
    // -d also prints the program (with the format): the stack comes last.
    let text = stdout(&out);
    let last = text.rsplit_once("stack:").map_or("", |(_, s)| s);
    let got = first_stack(&format!("stack:{last}"));
    assert_eq!(
        got.iter().take(3).map(String::as_str).collect::<Vec<_>>(),
        ["probe_here", "jitted_trampoline", "main"],
        "{text}"
    );
    assert_eq!(got.last().map(String::as_str), Some("_start"), "{text}");
}

/// The tables of the files a `-c` program maps at start (itself, ld.so,
/// libc) are built before it is released: once it has exec'd, loading its
/// tables builds nothing, only writes its mappings (~0.3 ms instead of
/// ~15 ms here, ~80 ms for python3.11), so its early stacks are walked by
/// tables sooner.
#[test]
fn start_up_files_of_a_command_are_built_before_it_runs() {
    if !bpf_available("start_up_files_of_a_command_are_built_before_it_runs") {
        return;
    }
    let bin = deep();
    let out = trace_command_with(
        &["-d"],
        &format!(
            r#"usdt:{b}:deep:here {{ printf("stack:%s|\n", ustack); }}"#,
            b = bin.display()
        ),
        &format!("{} 300 0", bin.display()),
    );
    let err = stderr(&out);
    let loads: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("unwind tables: pid "))
        .collect();
    assert!(
        loads
            .first()
            .is_some_and(|l| l.starts_with("unwind tables: pid 0: 0 mappings, 3 files built, ")),
        "{loads:#?}"
    );
    assert!(loads.len() >= 2, "{loads:#?}");
    assert!(
        loads[1..]
            .iter()
            .all(|l| l.contains(" 0 files built, 0 rows")),
        "{loads:#?}"
    );
    // -d also prints the program (with the format): the stack comes last.
    let text = stdout(&out);
    let last = text.rsplit_once("stack:").map_or("", |(_, s)| s);
    let got = first_stack(&format!("stack:{last}"));
    assert_eq!(got.first().map(String::as_str), Some("level5"), "{got:?}");
    assert_eq!(got.last().map(String::as_str), Some("_start"), "{got:?}");
}

#[test]
fn addresses_of_a_program_a_shell_started_are_named_after_it_exits() {
    if !bpf_available("addresses_of_a_program_a_shell_started_are_named_after_it_exits") {
        return;
    }
    // The tracer knows the shell's files, not the program's; the program
    // probes at once after exec and exits right after: usym and the frame
    // are named from the mapping the BPF side logged, whose path comes
    // from the file's dentries (its name parts) and the mount table.
    let bin = deep();
    let out = trace_command(
        &format!(
            r#"usdt:{b}:deep:here {{ printf("sym:%s|\n", usym(reg("ip"))); printf("stack:%s|\n", ustack(1)); }}"#,
            b = bin.display()
        ),
        &format!("sh -c 'exec {} 0 0'", bin.display()),
    );
    assert_eq!(
        out,
        "Attaching 1 probe...\nsym:level5|\nstack:\n        level5+0\n|\n\n\n"
    );
}
