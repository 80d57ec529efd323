#!/usr/bin/env bash
# Builds the `ustrace` Python package into a fresh virtualenv with one
# `pip install crates/python` and runs its pytest tests (they load BPF:
# run as root; with CI=true a test that cannot load BPF fails).
# Uses Debian's python3 (its python3.11 carries the USDT probes the tests trace).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-/usr/bin/python3}"
venv="$(mktemp -d)/venv"
trap 'rm -rf "$(dirname "$venv")"' EXIT
"$python" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check pytest
"$venv/bin/pip" install -q --disable-pip-version-check ./crates/python
# Run from outside the source tree so the installed package is imported.
cd crates/python/tests
"$venv/bin/python" -m pytest -q -p no:cacheprovider .
