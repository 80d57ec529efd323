//! Shared by the CLI's end-to-end tests: building the C programs, running
//! `ustrace` (and bpftrace, for comparisons), and deciding whether BPF can
//! run here. In CI (`CI=true`) a test that cannot load BPF fails; elsewhere
//! it is skipped with a printed reason.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The ustrace binary under test.
pub fn ustrace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ustrace"))
}

fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
}

/// True when BPF programs can be loaded here. Outside CI, prints why a test
/// is skipped; in CI, panics instead.
pub fn bpf_available(test: &str) -> bool {
    static REASON: OnceLock<Option<String>> = OnceLock::new();
    let reason = REASON.get_or_init(|| {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Some("not running as root".to_string());
        }
        let out = ustrace().args(["-e", "BEGIN { exit(); }"]).output();
        match out {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(format!(
                "ustrace cannot load BPF: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => Some(format!("cannot run ustrace: {e}")),
        }
    });
    match reason {
        None => true,
        Some(r) if in_ci() => panic!("{test}: BPF is required in CI but unavailable: {r}"),
        Some(r) => {
            eprintln!("skipping {test}: {r}");
            false
        }
    }
}

/// True when bpftrace is installed (needed for side-by-side comparisons; in
/// CI it must be).
pub fn bpftrace_available(test: &str) -> bool {
    let ok = Command::new("bpftrace")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(!in_ci(), "{test}: bpftrace is required in CI");
        eprintln!("skipping {test}: bpftrace is not installed");
    }
    ok
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds `src` (relative to the repository) with gcc and `flags` into the
/// test's temporary directory, once per test binary and name.
pub fn build_c(name: &str, src: &str, flags: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-c");
    std::fs::create_dir_all(&dir).expect("creating the C build directory");
    let out = dir.join(name);
    // Unique per call: tests of one binary run in parallel threads.
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{seq}.tmp", std::process::id()));
    let status = Command::new("gcc")
        .arg(repo().join(src))
        .args(flags)
        .arg("-o")
        .arg(&tmp)
        .status()
        .expect("running gcc (Debian packages gcc and systemtap-sdt-dev are needed)");
    assert!(status.success(), "gcc failed on {src}");
    std::fs::rename(&tmp, &out).expect("moving the built program in place");
    out
}

/// The reference test-server, built exactly as the README says.
pub fn test_server() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        build_c(
            "test-server",
            "examples/c/test-server.c",
            &["-g", "-fno-omit-frame-pointer", "-O0"],
        )
    })
    .clone()
}

/// A private copy of the test-server (for tests that trace every process,
/// which must not see the other tests' servers).
pub fn test_server_copy(name: &str) -> PathBuf {
    build_c(
        name,
        "examples/c/test-server.c",
        &["-g", "-fno-omit-frame-pointer", "-O0"],
    )
}

/// The argument-spec test program (tests/c/argspecs.c).
pub fn argspecs() -> PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| build_c("argspecs", "tests/c/argspecs.c", &["-O2", "-g"]))
        .clone()
}

/// A child process killed when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` with stdout and stderr piped.
pub fn spawn(mut cmd: Command) -> Guard {
    Guard(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning a test process"),
    )
}

/// Sends SIGINT to `child` after `after`, then collects its output (killing
/// it if it has not exited 10 s later).
pub fn interrupt_after(mut g: Guard, after: Duration) -> Output {
    std::thread::sleep(after);
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(g.0.id() as i32, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = g.0.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = g.0.kill();
    let status = g.0.wait().expect("waiting for the traced process");
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let Some(mut o) = g.0.stdout.take() {
        let _ = o.read_to_end(&mut stdout);
    }
    if let Some(mut e) = g.0.stderr.take() {
        let _ = e.read_to_end(&mut stderr);
    }
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Runs a command to completion with a time limit.
pub fn run_with_timeout(cmd: Command, limit: Duration) -> Output {
    let g = spawn(cmd);
    let start = Instant::now();
    let mut g = g;
    loop {
        if let Ok(Some(_)) = g.0.try_wait() {
            break;
        }
        if start.elapsed() > limit {
            panic!("command timed out after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    interrupt_after(g, Duration::ZERO)
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
