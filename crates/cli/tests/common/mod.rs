//! Shared by the CLI's end-to-end tests: building the C programs, running
//! `ustrace` (and bpftrace, for comparisons). Whether BPF can run here is
//! decided by `ustrace_testkit` (in CI a test that cannot load BPF fails;
//! elsewhere it is skipped with a printed reason).
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

// Not every test binary uses every helper.
#[allow(unused_imports)]
pub use ustrace_testkit::{bpf_available, in_ci, root, tool_available, unavailable};

/// True when bpftrace is installed (needed for side-by-side comparisons; in
/// CI it must be).
pub fn bpftrace_available(test: &str) -> bool {
    tool_available(test, "bpftrace", &["--version"])
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds `src` (relative to the repository) with gcc and `flags` into the
/// test's temporary directory, once per test binary and name.
pub fn build_c(name: &str, src: &str, flags: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-c");
    ustrace_testkit::build_program("gcc", &repo().join(src), &dir, name, flags)
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

/// Runs `ustrace EXTRA... -e SCRIPT -c COMMAND` to completion (30 s at
/// most) and returns its output; the test fails with ustrace's stderr if
/// it did not exit successfully.
pub fn trace_command_with(extra: &[&str], script: &str, command: &str) -> Output {
    let mut cmd = ustrace();
    cmd.args(extra).args(["-e", script, "-c", command]);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    assert!(
        out.status.success(),
        "ustrace -e {script:?} -c {command:?} failed: {}",
        stderr(&out)
    );
    out
}

/// [`trace_command_with`] without extra flags, returning stdout as text:
/// the usual "trace a program started with -c, collect what it printed".
pub fn trace_command(script: &str, command: &str) -> String {
    stdout(&trace_command_with(&[], script, command))
}

/// Waits until `path` exists: a test program's readiness signal (panics
/// after `limit`, naming the file).
pub fn wait_for_file(path: &Path, limit: Duration) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < limit,
            "{} did not appear within {limit:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until process `pid` runs `program` (its exec done, so its
/// libraries are mapped): attaching to it by pid before that would see the
/// forking parent. Panics after `limit`.
pub fn wait_for_exec(pid: u32, program: &Path, limit: Duration) {
    let start = Instant::now();
    let want = std::fs::canonicalize(program).expect("the program's path");
    while std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .as_deref()
        != Some(want.as_path())
    {
        assert!(
            start.elapsed() < limit,
            "process {pid} did not run {} within {limit:?}",
            program.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The CPU time (user + system) process `pid` has used so far, read from
/// /proc/PID/stat while the caller keeps the process alive (its child,
/// not yet reaped). A test's budget for a busy process: samples at N Hz
/// follow its CPU time, not the wall clock of a loaded machine.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/stat: {e}"));
    // Fields after the command (which may hold spaces): state is the
    // first, utime and stime the 12th and 13th.
    let after = &stat[stat.rfind(')').expect("(comm) in stat") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// Waits until process `pid` has used `budget` more CPU time than `from`
/// (120 s of wall time at most, a backstop); returns its CPU time then.
pub fn burn_cpu(pid: u32, from: Duration, budget: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let now = cpu_time(pid);
        if now >= from + budget {
            return now;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "process {pid} used only {:?} of CPU in 120 s",
            now - from
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until process `pid` maps `file` (the dynamic linker has loaded
/// it): a library looked up by name among the process's objects. Panics
/// after `limit`.
pub fn wait_for_mapping(pid: u32, file: &Path, limit: Duration) {
    let start = Instant::now();
    let want = std::fs::canonicalize(file).expect("the file's path");
    let want = want.to_string_lossy();
    while !std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.ends_with(want.as_ref()))
    {
        assert!(
            start.elapsed() < limit,
            "process {pid} did not map {} within {limit:?}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True when /usr/bin/python3.11 (the CPython the Python tools' tests
/// trace) runs. Otherwise see [`unavailable`].
pub fn python_available(test: &str) -> bool {
    tool_available(test, "/usr/bin/python3.11", &["--version"])
}

/// A copy of the repository file `relative` at a short path
/// (`/tmp/ustrace-PID/NAME`), made once per test binary. Probe string
/// arguments are read up to `max_strlen` bytes (64, as bpftrace), so a
/// test whose expected output names a program's file runs that program
/// from here: the result must not depend on where the repository is
/// checked out.
pub fn short_path_copy(relative: &str) -> PathBuf {
    static COPIED: std::sync::Mutex<std::collections::BTreeMap<String, PathBuf>> =
        std::sync::Mutex::new(std::collections::BTreeMap::new());
    let mut copied = COPIED.lock().unwrap_or_else(|e| e.into_inner());
    copied
        .entry(relative.to_string())
        .or_insert_with(|| {
            let src = repo().join(relative);
            let name = src.file_name().expect("a file name");
            let dst = short_tmp_path(&name.to_string_lossy());
            std::fs::copy(&src, &dst).expect("copying the test program");
            dst
        })
        .clone()
}

/// `/tmp/ustrace-PID/NAME` (the directory made): where a test writes a
/// program whose path a probe reads as a string (see [`short_path_copy`]).
pub fn short_tmp_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(format!("/tmp/ustrace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("creating the short test directory");
    let path = dir.join(name);
    assert!(
        path.as_os_str().len() < 60,
        "{} is not short",
        path.display()
    );
    path
}

/// [`build_c`] once per test binary and program `name`: later calls get
/// the first build's path. A rebuild renames a new file over the path, and
/// a test attached to the old one would see nothing.
pub fn build_c_once(name: &str, src: &str, flags: &[&str]) -> PathBuf {
    static BUILT: std::sync::Mutex<std::collections::BTreeMap<String, PathBuf>> =
        std::sync::Mutex::new(std::collections::BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    built
        .entry(name.to_string())
        .or_insert_with(|| build_c(name, src, flags))
        .clone()
}

/// ustrace's stdout for `-e script` (with `args` after it), asserting that
/// it succeeded; None when BPF cannot be loaded outside CI.
pub fn run_script(test: &str, script: &str, args: &[&str]) -> Option<String> {
    run_script_with_stderr(test, script, args).map(|(out, _)| out)
}

/// [`run_script`]'s stdout and stderr (warnings).
pub fn run_script_with_stderr(test: &str, script: &str, args: &[&str]) -> Option<(String, String)> {
    if !bpf_available(test) {
        return None;
    }
    let mut cmd = ustrace();
    cmd.args(["-e", script]).args(args);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "ustrace failed on {script}: {}",
        stderr(&out)
    );
    Some((stdout(&out), stderr(&out)))
}
