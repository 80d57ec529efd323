#!/usr/bin/env bash
# Installs the Debian 12 packages ustrace needs to build and test.
# Idempotent; safe to run again.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
    echo "install-deps.sh: run as root (sudo), it uses apt-get" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq \
    gcc g++ make pkg-config binutils mount util-linux \
    libelf-dev zlib1g-dev systemtap-sdt-dev libc6-dbg dwz \
    bpftrace openssl python3.11 python3-venv openjdk-17-jdk-headless postgresql-15 gdb \
    ruby ruby3.1 php8.2-cli \
    prometheus golang-go \
    >/dev/null
if ! command -v cargo >/dev/null; then
    echo "install-deps.sh: cargo (Rust >= 1.95) is required and was not found" >&2
    exit 1
fi
