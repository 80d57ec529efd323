//! Building the test programs (C, C++, Rust) once per test binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `compiler` on `src` (relative to the repository) with `flags`,
/// writing `name` in the test's temporary directory.
pub fn build(compiler: &str, name: &str, src: &str, flags: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dwarf-programs");
    std::fs::create_dir_all(&dir).expect("creating the build directory");
    let out = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let status = Command::new(compiler)
        .arg(repo().join(src))
        .args(flags)
        .arg("-o")
        .arg(&tmp)
        .status()
        .unwrap_or_else(|e| panic!("running {compiler}: {e}"));
    assert!(status.success(), "{compiler} failed on {src}");
    std::fs::rename(&tmp, &out).expect("moving the built program in place");
    out
}
