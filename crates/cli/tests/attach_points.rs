//! Today's bpftrace attach points, for real: lowercase `begin`/`end`, USDT
//! probes of any provider (`usdt:PATH::NAME`, `usdt:::NAME`), wildcards in
//! the file part, `*` with -p (every object the process maps), and -p with
//! a program that lives only inside its own mount namespace or chroot.
//! The programs are tests/c/attach_app.c and its library attach_lib.c.

mod common;
mod live;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use live::Live;

/// The build directory: `libattach.so`, `attach_app` (finds the library
/// next to itself), `bin/app1` and `bin/app2` (copies for file globs).
fn build() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("attach-points");
        std::fs::create_dir_all(dir.join("bin")).expect("creating the build directory");
        let src = |f: &str| repo().join("tests/c").join(f);
        let gcc = |args: &[&std::ffi::OsStr]| {
            let status = Command::new("gcc")
                .args(args)
                .status()
                .expect("running gcc");
            assert!(status.success(), "gcc {args:?}");
        };
        let lib = dir.join("libattach.so");
        gcc(&[
            "-O1".as_ref(),
            "-g".as_ref(),
            "-shared".as_ref(),
            "-fPIC".as_ref(),
            src("attach_lib.c").as_os_str(),
            "-o".as_ref(),
            lib.as_os_str(),
        ]);
        let link = format!("-L{}", dir.display());
        for out in [
            dir.join("attach_app"),
            dir.join("bin/app1"),
            dir.join("bin/app2"),
        ] {
            gcc(&[
                "-O1".as_ref(),
                "-g".as_ref(),
                src("attach_app.c").as_os_str(),
                link.as_ref(),
                "-lattach".as_ref(),
                // $ORIGIN for attach_app (copied whole into namespaces),
                // the build directory for bin/.
                format!("-Wl,-rpath,$ORIGIN:{}", dir.display()).as_ref(),
                "-o".as_ref(),
                out.as_os_str(),
            ]);
        }
        dir
    })
}

fn d() -> String {
    build().display().to_string()
}

/// Runs ustrace in the build directory to completion (a -c run).
fn run_in_build(args: &[&str]) -> std::process::Output {
    let mut cmd = ustrace();
    cmd.current_dir(build()).args(args);
    run_with_timeout(cmd, Duration::from_secs(30))
}

/// Lines of `text` that start with `prefix`.
fn lines_with<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

/// The app running forever, one iteration every `ms`, waited for until it
/// has mapped its library.
fn running_app(mut cmd: Command) -> Guard {
    cmd.stdin(std::process::Stdio::null());
    let g = spawn(cmd);
    let pid = g.0.id();
    // 60 s at most: a backstop for a loaded machine, not a schedule.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
        if maps.contains("libattach.so") {
            return g;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the traced program never mapped libattach.so");
}

#[test]
fn begin_and_end_lowercase() {
    if !bpf_available("begin_and_end_lowercase") {
        return;
    }
    let out = run_in_build(&[
        "-e",
        r#"begin { printf("start\n"); exit(); } end { printf("end\n"); }"#,
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    // bpftrace 0.17's text for the same script in uppercase.
    assert_eq!(stdout(&out), "Attaching 2 probes...\nstart\nend\n\n\n");
}

#[test]
fn usdt_any_provider_by_relative_path() {
    if !bpf_available("usdt_any_provider_by_relative_path") {
        return;
    }
    let out = run_in_build(&[
        "-e",
        r#"usdt:./attach_app::probe2 { printf("%s %d\n", probe, arg0); }"#,
        "-c",
        "./attach_app 2",
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("Attaching 2 probes...\n"), "{text}");
    assert_eq!(
        lines_with(&text, "usdt:"),
        [
            "usdt:./attach_app:appone:probe2 0",
            "usdt:./attach_app:apptwo:probe2 100",
            "usdt:./attach_app:appone:probe2 1",
            "usdt:./attach_app:apptwo:probe2 101",
        ],
        "{text}"
    );
}

#[test]
fn usdt_any_file_any_provider_with_pid() {
    if !bpf_available("usdt_any_file_any_provider_with_pid") {
        return;
    }
    let mut app = Command::new(build().join("attach_app"));
    app.args(["0", "30"]);
    let app = running_app(app);
    let pid = app.0.id().to_string();
    let mut cmd = ustrace();
    cmd.args([
        "-e",
        r#"usdt:::probe2, usdt:*:*:lib_probe { printf("%s %d\n", probe, arg0); }"#,
        "-p",
        &pid,
    ]);
    let mut live = Live::start(cmd);
    live.wait_for(|l| l.starts_with("usdt:") && l.contains(":lib_probe "), 4);
    let (text, err) = live.stop();
    let dir = d();
    for name in [
        format!("usdt:{dir}/attach_app:appone:probe2 "),
        format!("usdt:{dir}/attach_app:apptwo:probe2 "),
        format!("usdt:{dir}/libattach.so:libattach:lib_probe "),
    ] {
        assert!(
            text.lines().filter(|l| l.starts_with(&name)).count() >= 2,
            "{name} twice in:\n{text}\nstderr: {err}"
        );
    }
    assert!(text.starts_with("Attaching 3 probes...\n"), "{text}");
}

#[test]
fn usdt_glob_over_files() {
    if !bpf_available("usdt_glob_over_files") {
        return;
    }
    // No pid: the probes are on the files, and fire in whatever runs them.
    let mut cmd = ustrace();
    cmd.current_dir(build()).args([
        "-e",
        r#"begin { printf("ready\n"); } usdt:./bin/app*::probe1 { printf("%s %d\n", probe, arg0); }"#,
    ]);
    let mut live = Live::start(cmd);
    // BEGIN runs once every probe is attached.
    live.wait_for(|l| l == "ready", 1);
    for (app, n) in [("bin/app1", "1"), ("bin/app2", "2")] {
        let status = Command::new(build().join(app))
            .arg(n)
            .status()
            .expect("running the app");
        assert!(status.success());
    }
    live.wait_for(|l| l.starts_with("usdt:./bin/app2"), 2);
    let (text, _) = live.stop();
    assert!(text.starts_with("Attaching 3 probes...\nready\n"), "{text}");
    assert_eq!(
        lines_with(&text, "usdt:"),
        [
            "usdt:./bin/app1:appone:probe1 0",
            "usdt:./bin/app2:appone:probe1 0",
            "usdt:./bin/app2:appone:probe1 1",
        ],
        "{text}"
    );
}

#[test]
fn uprobe_glob_over_library_files() {
    if !bpf_available("uprobe_glob_over_library_files") {
        return;
    }
    let dir = d();
    let out = run_in_build(&[
        "-e",
        &format!(r#"uprobe:{dir}/libatt*.so*:hand* {{ printf("%s %d\n", probe, arg0); }}"#),
        "-c",
        "./attach_app 2",
    ]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        lines_with(&text, "uprobe:"),
        [
            format!("uprobe:{dir}/libattach.so:handler 0"),
            format!("uprobe:{dir}/libattach.so:handler 1"),
        ],
        "{text}"
    );
    // The manual's own example lists libssl's functions once per file
    // (libssl.so is a symlink to libssl.so.3).
    let ssl = Path::new("/usr/lib/x86_64-linux-gnu/libssl.so.3");
    if ssl.exists() {
        let out = run_in_build(&[
            "-l",
            "uprobe:/usr/lib/x86_64-linux-gnu/libssl*.so*:SSL_write",
        ]);
        assert!(out.status.success(), "stderr: {}", stderr(&out));
        assert_eq!(
            stdout(&out),
            "uprobe:/usr/lib/x86_64-linux-gnu/libssl.so.3:SSL_write\n"
        );
    }
}

#[test]
fn uprobe_star_with_pid_searches_every_mapped_object() {
    if !bpf_available("uprobe_star_with_pid_searches_every_mapped_object") {
        return;
    }
    let mut app = Command::new(build().join("attach_app"));
    app.args(["0", "30"]);
    let app = running_app(app);
    let mut cmd = ustrace();
    cmd.args([
        "-e",
        r#"uprobe:*:handler { printf("%s %d\n", probe, arg0); }"#,
        "-p",
        &app.0.id().to_string(),
    ]);
    let mut live = Live::start(cmd);
    live.wait_for(|l| l.starts_with("uprobe:"), 3);
    let (text, _) = live.stop();
    let name = format!("uprobe:{}/libattach.so:handler ", d());
    let values: Vec<i64> = lines_with(&text, "uprobe:")
        .iter()
        .map(|l| {
            l.strip_prefix(&name)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("unexpected line {l:?} in\n{text}"))
        })
        .collect();
    assert!(values.len() >= 3, "{text}");
    for w in values.windows(2) {
        assert_eq!(w[1], w[0] + 1, "{text}");
    }
    assert!(text.starts_with("Attaching 1 probe...\n"), "{text}");
}

#[test]
fn star_without_pid_is_a_clear_error() {
    let out = run_in_build(&["-e", "uprobe:*:handler { }"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("stdin:1:1: error: `*` as the file means every object a process maps: give the process with -p PID"),
        "{err}"
    );
    assert!(err.contains("^^^^^^^^^^^^^^^^"), "{err}");
    // -c holds the command before exec: its objects are not known yet.
    let out = run_in_build(&["-e", "usdt:::probe2 { }", "-c", "./attach_app 1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("stdin:1:1: error: `*` as the file needs a running process: with -c the command has not started"),
        "{err}"
    );
}

/// The probes a program that exists only inside its own mount namespace
/// (or chroot) is traced with, and the names they must print.
fn assert_traced_inside(pid: u32, seen_as: &str) {
    let script = format!(
        r#"usdt:{seen_as}/attach_app:appone:probe1, uprobe:{seen_as}/libattach.so:handler, uprobe:*:handler {{ printf("%s %d\n", probe, arg0); }}"#
    );
    let mut cmd = ustrace();
    cmd.args(["-e", &script, "-p", &pid.to_string()]);
    let mut live = Live::start(cmd);
    live.wait_for(|l| l.starts_with("uprobe:"), 4);
    let (text, err) = live.stop();
    assert!(
        text.starts_with("Attaching 3 probes...\n"),
        "{text}\nstderr: {err}"
    );
    assert!(!err.contains("WARNING"), "{err}");
    let usdt = format!("usdt:{seen_as}/attach_app:appone:probe1 ");
    let uprobe = format!("uprobe:{seen_as}/libattach.so:handler ");
    assert!(lines_with(&text, &usdt).len() >= 2, "{usdt} in\n{text}");
    // Two attach points on one function: each hit prints twice.
    assert!(lines_with(&text, &uprobe).len() >= 4, "{uprobe} in\n{text}");
}

#[test]
fn pid_in_a_private_mount_namespace() {
    if !bpf_available("pid_in_a_private_mount_namespace") {
        return;
    }
    // A tmpfs mounted only inside the program's mount namespace: the files
    // exist under that path for it, and nowhere on the host.
    let inside = build().join("ns-only");
    std::fs::create_dir_all(&inside).expect("mount point");
    let shell = format!(
        "mount -t tmpfs none {m} && cp {d}/attach_app {d}/libattach.so {m}/ && exec {m}/attach_app 0 30",
        m = inside.display(),
        d = d()
    );
    let mut app = Command::new("unshare");
    app.args(["-m", "--propagation", "private", "sh", "-c", &shell]);
    let app = running_app(app);
    assert!(
        !inside.join("attach_app").exists(),
        "the program must not be visible from the host"
    );
    assert_traced_inside(app.0.id(), &inside.display().to_string());
}

#[test]
fn pid_in_a_chroot() {
    if !bpf_available("pid_in_a_chroot") {
        return;
    }
    // A chroot with the program and its library at its root: inside, they
    // are /attach_app and /libattach.so; /proc/PID/maps shows host paths.
    let root = build().join("chroot");
    std::fs::create_dir_all(&root).expect("chroot directory");
    let src = |f: &str| repo().join("tests/c").join(f);
    let lib = root.join("libattach.so");
    let status = Command::new("gcc")
        .args(["-O1", "-g", "-shared", "-fPIC", "-nostdlib"])
        .arg(src("attach_lib.c"))
        .arg("-o")
        .arg(&lib)
        .status()
        .expect("gcc");
    assert!(status.success());
    // libattach.so is found at / through the rpath.
    let status = Command::new("gcc")
        .args(["-O1", "-g"])
        .arg(src("attach_app.c"))
        .arg(format!("-L{}", root.display()))
        .args(["-lattach", "-Wl,-rpath,/"])
        .arg("-o")
        .arg(root.join("attach_app"))
        .status()
        .expect("gcc");
    assert!(status.success());
    // The dynamic linker and libc must exist inside the chroot too.
    for f in [
        "/lib64/ld-linux-x86-64.so.2",
        "/lib/x86_64-linux-gnu/libc.so.6",
    ] {
        let to = root.join(f.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().expect("parent")).expect("dir");
        let real = std::fs::canonicalize(f).expect("system library");
        std::fs::copy(real, &to).expect("copying a system library");
    }
    let mut app = Command::new("chroot");
    app.arg(&root).args(["/attach_app", "0", "30"]);
    let app = running_app(app);
    assert_traced_inside(app.0.id(), "");
    // A host path the chrooted process cannot see: a warning (the probe
    // would fire only in other processes), unless --no-warnings.
    let outside = format!("uprobe:{}/attach_app:main {{ }}", d());
    let pid = app.0.id().to_string();
    let out = run_in_build(&["--dry-run", "-e", &outside, "-p", &pid]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(
        stderr(&out),
        format!("WARNING: {}/attach_app is neither mapped by process {pid} nor in its mount namespace: its probes fire only in processes that map it\n", d())
    );
    let out = run_in_build(&["--dry-run", "--no-warnings", "-e", &outside, "-p", &pid]);
    assert!(out.status.success());
    assert_eq!(stderr(&out), "");
}

#[test]
fn listing_every_kind_of_a_file_and_of_a_process() {
    let out = run_in_build(&["-l", "*:./attach_app:*"]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "uprobe:./attach_app:main",
        "usdt:./attach_app:appone:probe1",
        "usdt:./attach_app:appone:probe2",
        "usdt:./attach_app:apptwo:probe2",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    let out = run_in_build(&["-l", "usdt:./bin/app*::probe1"]);
    assert_eq!(
        stdout(&out),
        "usdt:./bin/app1:appone:probe1\nusdt:./bin/app2:appone:probe1\n"
    );

    // The probes a script attaches to (bpftrace's `-l -e` and `-l FILE`).
    let script = "begin { } usdt:./attach_app::probe2, u:./libattach.so:hand* { } interval:s:1 { }";
    let listed = "begin\nusdt:./attach_app:appone:probe2\nusdt:./attach_app:apptwo:probe2\nuprobe:./libattach.so:handler\ninterval:s:1\n";
    let out = run_in_build(&["-l", "-e", script]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), listed);
    let file = build().join("listed.bt");
    std::fs::write(&file, script).expect("writing a script");
    let out = run_in_build(&["-l", "listed.bt"]);
    assert_eq!(stdout(&out), listed, "stderr: {}", stderr(&out));
    let out = run_in_build(&["-l", "-e", "usdt:./attach_app::nope { }"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .starts_with("stdin:1:1: error: no USDT probe matches `usdt:./attach_app:nope`"),
        "{}",
        stderr(&out)
    );

    let mut app = Command::new(build().join("attach_app"));
    app.args(["0", "30"]);
    let app = running_app(app);
    // Thousands of lines (libc's functions): read as they come.
    let out = ustrace()
        .args(["-l", "-p", &app.0.id().to_string()])
        .output()
        .expect("running ustrace -l");
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let dir = d();
    for line in [
        format!("uprobe:{dir}/attach_app:main"),
        format!("uprobe:{dir}/libattach.so:handler"),
        format!("usdt:{dir}/attach_app:apptwo:probe2"),
        format!("usdt:{dir}/libattach.so:libattach:lib_probe"),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("uprobe:") && l.contains("/libc.so.6:malloc")),
        "libc's functions are listed too"
    );
}
