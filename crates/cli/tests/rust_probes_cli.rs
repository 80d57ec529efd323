//! Rust programs with `ustrace-usdt` probes, seen through the `ustrace`
//! command: the examples of `crates/usdt` are built with cargo, listed with
//! `-l` (which must agree with `readelf -n`), and traced with `-c`, which
//! must print the exact argument values, strings included, and raise the
//! semaphore of a guarded probe in a program it starts itself.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;

/// The examples' directory, after building `probe_values` and `probe_demo`
/// once per test binary, with a target directory of our own: the outer
/// `cargo test` holds the lock of the workspace's target directory.
fn examples() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust-probes-target");
        let out = Command::new(env!("CARGO"))
            .current_dir(repo())
            .env("CARGO_TARGET_DIR", &target)
            .args([
                "build",
                "--quiet",
                "-p",
                "ustrace-usdt",
                "--example",
                "probe_values",
                "--example",
                "probe_demo",
            ])
            .output()
            .expect("running cargo");
        assert!(
            out.status.success(),
            "cargo build of the examples failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("debug/examples")
    })
}

fn example(name: &str) -> PathBuf {
    let path = examples().join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// `usdt:PATH:PROVIDER:NAME` for every note `readelf -n` shows in `path`.
fn readelf_probes(path: &Path) -> BTreeSet<String> {
    let out = Command::new("readelf")
        .arg("-n")
        .arg(path)
        .output()
        .expect("running readelf (binutils)");
    assert!(out.status.success(), "readelf -n failed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut probes = BTreeSet::new();
    let mut provider = None;
    for line in text.lines().map(str::trim) {
        if let Some(p) = line.strip_prefix("Provider:") {
            provider = Some(p.trim().to_string());
        } else if let Some(n) = line.strip_prefix("Name:") {
            let p = provider.take().expect("Name: without Provider:");
            probes.insert(format!("usdt:{}:{p}:{}", path.display(), n.trim()));
        }
    }
    probes
}

#[test]
fn listing_matches_readelf() {
    for (name, count) in [("probe_values", 3), ("probe_demo", 3)] {
        let path = example(name);
        let out = ustrace()
            .args(["-l", &format!("usdt:{}:*", path.display())])
            .output()
            .expect("running ustrace -l");
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let listed: BTreeSet<String> = stdout(&out)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let notes = readelf_probes(&path);
        assert_eq!(listed, notes, "{name}: ustrace -l vs readelf -n");
        assert_eq!(notes.len(), count, "{name}: {notes:?}");
    }
}

#[test]
fn untraced_guarded_arguments_are_not_evaluated() {
    let out = Command::new(example("probe_values"))
        .arg("3")
        .output()
        .expect("running probe_values");
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "probe_values: 3 rounds, guarded arguments evaluated 0 times\n"
    );
}

#[test]
fn traced_command_prints_exact_argument_values() {
    if !bpf_available("traced_command_prints_exact_argument_values") {
        return;
    }
    let path = example("probe_values");
    let p = path.display();
    let script = format!(
        r#"usdt:{p}:values:widths {{ printf("widths %d %u %d %u %d %u %ld %lu %ld %lu %u %u\n", arg0, arg1, arg2, arg3, arg4, arg5, arg6, arg7, arg8, arg9, arg10, arg11); }}
usdt:{p}:values:text {{ printf("text %s %u %u\n", str(arg0), arg1, arg2); }}
usdt:{p}:values:guarded {{ printf("guarded %u %u\n", arg0, arg1); }}"#
    );
    let mut cmd = ustrace();
    cmd.args(["-e", &script, "-c", &format!("{p} 2")]);
    let out = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.status.success(), "ustrace failed: {}", stderr(&out));
    let text = stdout(&out);
    // The program's own line shares the output; it may come at any point.
    let (program, traced): (Vec<&str>, Vec<&str>) = text
        .lines()
        .filter(|l| !l.is_empty())
        .partition(|l| l.starts_with("probe_values:"));
    let widths = "widths -1 255 -300 65535 -70000 4000000000 \
                  -9223372036854775808 18446744073709551615 -5 5 1 122";
    assert_eq!(
        traced,
        [
            "Attaching 3 probes...",
            widths,
            "text hello from rust 15 0",
            "guarded 0 1",
            widths,
            "text hello from rust 15 1",
            "guarded 1 1",
        ],
        "full output:\n{text}"
    );
    // The semaphore was raised before the program read it: ustrace started
    // the program, so the kernel raised it when the program was mapped.
    assert_eq!(
        program,
        ["probe_values: 2 rounds, guarded arguments evaluated 2 times"],
        "full output:\n{text}"
    );
}
