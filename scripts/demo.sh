#!/usr/bin/env bash
# The reference demo: builds ustrace and the C test-server, starts the
# server, and traces its test_grp:test_idx probe for a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release -q -p ustrace-cli
mkdir -p target/demo
gcc -g -fno-omit-frame-pointer -O0 examples/c/test-server.c -o target/demo/test-server
# Counting from 1363, it fires 1364 at once (before ustrace attaches), then
# 1365, 1366, ... once a second: the seed example's output.
./target/demo/test-server 1363 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 0.2
echo "+ ustrace -e 'usdt:$PWD/target/demo/test-server:test_grp:test_idx { printf(\"%d\\n\", arg0); }' -p $server"
timeout -s INT "${DEMO_SECONDS:-5}" ./target/release/ustrace \
    -e "usdt:$PWD/target/demo/test-server:test_grp:test_idx { printf(\"%d\\n\", arg0); }" -p "$server" || true
