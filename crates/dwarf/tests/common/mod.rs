//! Building the test programs (C, C++, Rust) once per test binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `compiler` on `src` (relative to the repository) with `flags`,
/// writing `name` in the test's temporary directory.
pub fn build(compiler: &str, name: &str, src: &str, flags: &[&str]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dwarf-programs");
    ustrace_testkit::build_program(compiler, &repo().join(src), &dir, name, flags)
}
