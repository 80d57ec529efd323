#!/usr/bin/env bash
# Installs what the tests need and runs every test: formatting, lints, unit
# tests, and the runtime tests that load BPF into the kernel (run as root;
# with CI=true a test that cannot load BPF fails instead of skipping).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets -q -- -D warnings
cargo build --workspace --release -q
cargo test --workspace -q 2>&1

# The Python package: `pip install` of crates/python into a fresh virtualenv
# (maturin comes from PyPI as the build backend; one release build of the
# extension, sharing target/ with the build above), then its pytest tests.
bash scripts/test-python.sh
