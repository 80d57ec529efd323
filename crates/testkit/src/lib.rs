//! Test helpers shared by ustrace's test crates (a dev-dependency only).
//!
//! One rule decides what a test does when the machine lacks something it
//! needs (BPF, root, a tool such as bpftrace):
//!
//! - with `CI=true` (or `CI=1`) the test **fails**, panicking with the
//!   reason: CI must run every test for real;
//! - otherwise the test is **skipped**: the helper returns `false`, the
//!   test returns early, and the reason is printed.
//!
//! Where the reason goes: `cargo test` captures what a passing test writes
//! through `print!`/`eprint!`, so a skipped test (which passes) would hide
//! it. The reason is therefore written straight to the process's standard
//! error handle, which the test harness does not capture, as one line
//! `SKIPPED <test>: <reason>` that appears in the `cargo test` output next
//! to the test's `ok`.
//!
//! ```no_run
//! #[test]
//! fn traces_something() {
//!     if !ustrace_testkit::bpf_available("traces_something") {
//!         return;
//!     }
//!     // ... load BPF for real ...
//! }
//! ```

#![deny(missing_docs)]

use std::io::Write;
use std::process::Command;

/// True when running in CI (`CI=true` or `CI=1`), where nothing may be
/// skipped.
pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"))
}

/// The one decision for a missing requirement: in CI, panics with
/// `reason`; elsewhere prints `SKIPPED test: reason` where `cargo test`
/// shows it and returns `false` (so `if !...: return`).
pub fn unavailable(test: &str, reason: &str) -> bool {
    if in_ci() {
        panic!("{test}: required in CI but unavailable: {reason}");
    }
    // Not eprintln!: the harness captures it for passing tests. One write,
    // so that parallel tests do not cut the line.
    let line = format!("SKIPPED {test}: {reason}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    false
}

#[cfg(feature = "bpf")]
/// True when this process can load and run BPF programs: it is root and a
/// real `BEGIN { exit(); }` script loads, runs and exits. Checked once per
/// test binary. Otherwise see [`unavailable`].
pub fn bpf_available(test: &str) -> bool {
    static REASON: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let reason = REASON.get_or_init(|| {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Some("not running as root, cannot load BPF".to_string());
        }
        load_a_program().err()
    });
    match reason {
        None => true,
        Some(r) => unavailable(test, r),
    }
}

/// Loads, runs and detaches a program that only calls `exit()`.
#[cfg(feature = "bpf")]
fn load_a_program() -> Result<(), String> {
    let options = ustrace::ScriptOptions::default();
    let script = ustrace::Script::compile("BEGIN { exit(); }", "probe.bt", &options)
        .map_err(|e| format!("cannot compile a BEGIN script: {}", e.render()))?;
    let mut tracer = script
        .start()
        .map_err(|e| format!("cannot load BPF: {}", e.render()))?;
    tracer.begin();
    tracer
        .end()
        .map_err(|e| format!("cannot run BPF: {}", e.render()))?;
    Ok(())
}

/// True when `program` runs with `args` and exits successfully (a tool a
/// test compares against or drives, e.g. `bpftrace --version`). Otherwise
/// see [`unavailable`].
pub fn tool_available(test: &str, program: &str, args: &[&str]) -> bool {
    let ok = Command::new(program)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok || unavailable(test, &format!("{program} is not installed or does not run"))
}

/// True when this process runs as root. Otherwise see [`unavailable`].
pub fn root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    euid == 0 || unavailable(test, "not running as root")
}

/// Compiles `src` with `compiler` (gcc, g++, rustc) and `flags` into
/// `dir/name` and returns that path. The output is written under a name
/// unique to the call and renamed into place, so tests of one binary that
/// build the same program in parallel threads never see half a file.
pub fn build_program(
    compiler: &str,
    src: &std::path::Path,
    dir: &std::path::Path,
    name: &str,
    flags: &[&str],
) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    std::fs::create_dir_all(dir).expect("creating the build directory");
    let out = dir.join(name);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{seq}.tmp", std::process::id()));
    let status = Command::new(compiler)
        .arg(src)
        .args(flags)
        .arg("-o")
        .arg(&tmp)
        .status()
        .unwrap_or_else(|e| panic!("running {compiler} (see scripts/install-deps.sh): {e}"));
    assert!(status.success(), "{compiler} failed on {}", src.display());
    std::fs::rename(&tmp, &out).expect("moving the built program in place");
    out
}
