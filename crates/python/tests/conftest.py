"""Shared fixtures: BPF availability (in CI a test that cannot load BPF
fails, elsewhere it is skipped with the reason) and the C test-server of
the reference example."""

import os
import subprocess
import time
from pathlib import Path

import pytest

import ustrace

REPO = Path(__file__).resolve().parents[3]
IN_CI = os.environ.get("CI") in ("true", "1")

_bpf_reason = []


def _why_no_bpf():
    if not _bpf_reason:
        reason = None
        if os.geteuid() != 0:
            reason = "not running as root"
        else:
            try:
                with ustrace.Tracer("BEGIN { exit(); }") as t:
                    list(t.events(timeout=1))
            except ustrace.UstraceError as e:
                reason = f"ustrace cannot load BPF: {e}"
        _bpf_reason.append(reason)
    return _bpf_reason[0]


@pytest.fixture
def bpf():
    """Requires BPF: fails in CI, skips elsewhere, when it cannot load."""
    reason = _why_no_bpf()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"BPF is required in CI but unavailable: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def server_binary(tmp_path_factory):
    """examples/c/test-server.c built as the reference example says."""
    out = tmp_path_factory.mktemp("server") / "test-server"
    subprocess.run(
        ["gcc", "-g", "-fno-omit-frame-pointer", "-O0",
         str(REPO / "examples/c/test-server.c"), "-o", str(out)],
        check=True,
    )
    return out


def wait_mapped(pid, name, timeout=5.0):
    """Waits until process `pid` has `name` mapped (exec has happened)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if name in Path(f"/proc/{pid}/maps").read_text():
                return
        except OSError:
            pass
        time.sleep(0.01)
    raise AssertionError(f"{name} never mapped in pid {pid}")


@pytest.fixture
def server(server_binary):
    """A running test-server counting from 2957: `(path, pid)`."""
    proc = subprocess.Popen([str(server_binary), "2957"])
    try:
        wait_mapped(proc.pid, "test-server")
        yield server_binary, proc.pid
    finally:
        proc.kill()
        proc.wait()


def link_fds(pid):
    """BPF links and perf events (uprobe attachments) held by process `pid`."""
    n = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target in ("anon_inode:bpf_link", "anon_inode:[perf_event]"):
            n += 1
    return n
