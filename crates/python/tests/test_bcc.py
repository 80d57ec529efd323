"""BCC's shape: the reference program, trace_fields, tables, Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ustrace import BPF, USDT, ProbeError, ScriptError
from conftest import link_fds

PROGRAM = '''
from ustrace import BPF, USDT
import sys

bpf_src = """
trace_udst {
    printf("test_idx=%d tracepoint caught\\\\n", arg0);
}
"""
u = USDT(pid=int(sys.argv[1]))
u.enable_probe(probe="test_idx", fn_name="trace_udst")
b = BPF(text=bpf_src, usdt_contexts=[u])
print("Start USDT tracing", flush=True)
try:
    b.trace_print()
except KeyboardInterrupt:
    links = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink("/proc/self/fd/" + fd) in ("anon_inode:bpf_link", "anon_inode:[perf_event]"):
                links += 1
        except OSError:
            pass
    print("INTERRUPTED links=%d" % links, flush=True)
'''


def test_reference_program_prints_three_consecutive_values(bpf, server, tmp_path):
    path, pid = server
    script = tmp_path / "trace.py"
    # Ctrl-C raises KeyboardInterrupt as at a terminal, whatever this test
    # inherited: Python leaves SIGINT ignored if it started ignored (a
    # runner started as a background job of a non-interactive shell).
    # faulthandler: SIGUSR1 prints every thread's Python stack (the
    # diagnosis if the program outlives its Ctrl-C below).
    script.write_text(
        "import faulthandler, os, signal\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "faulthandler.register(signal.SIGUSR1)\n" + PROGRAM
    )
    proc = subprocess.Popen(
        [sys.executable, str(script), str(pid)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline() == "Start USDT tracing\n"
        lines = [proc.stdout.readline() for _ in range(3)]
        # While tracing the tracer holds its probe links...
        assert link_fds(proc.pid) >= 1
        # ... and Ctrl-C detaches them all before KeyboardInterrupt arrives.
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)
            time.sleep(1)
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"still running 60 s after Ctrl-C:\n{out}\n{err}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    values = []
    for line in lines:
        # "     test-server-27125   [000] ....   931.098200: 0: test_idx=2958 tracepoint caught"
        head, msg = line.rstrip("\n").split(": 0: ")
        task_pid, cpu, flags, ts = head.split()
        task, line_pid = task_pid.rsplit("-", 1)
        assert (task, int(line_pid)) == ("test-server", pid), line
        assert cpu.startswith("[") and cpu.endswith("]") and flags == "...."
        assert float(ts) > 0
        assert msg.startswith("test_idx=") and msg.endswith(" tracepoint caught"), msg
        values.append(int(msg.split()[0].split("=")[1]))
    assert values[0] >= 2958
    assert values == [values[0], values[0] + 1, values[0] + 2], lines
    assert out.strip() == "INTERRUPTED links=0", (out, err)
    assert proc.returncode == 0, err


def test_trace_fields(bpf, server):
    path, pid = server
    u = USDT(path=str(path))
    u.enable_probe(probe="test_grp:test_idx", fn_name="on_idx")
    with BPF(text='on_idx { printf("idx=%d\\n", arg0); }', usdt_contexts=[u]) as b:
        fields = [b.trace_fields() for _ in range(3)]
    values = []
    for task, fpid, cpu, flags, ts, msg in fields:
        assert (task, fpid) == (b"test-server", pid)
        assert isinstance(cpu, int) and cpu >= 0
        assert flags == b"...."
        assert isinstance(ts, float) and ts > 0
        values.append(int(msg.split(b"=")[1]))
    assert values == [values[0], values[0] + 1, values[0] + 2]
    assert fields[0][4] < fields[1][4] < fields[2][4]


def test_tables_read_while_tracing_and_cleared(bpf, server):
    path, pid = server
    u = USDT(pid=pid)
    u.enable_probe(probe="test_idx", fn_name="count_it")
    text = """
count_it {
    @hits = count();
    @parity[arg0 % 2] = count();
    @who[comm, pid] = arg0;
    @h = hist(arg0);
    @l = lhist(arg0 % 10, 0, 10, 5);
    @s = stats(arg0);
    printf("%d\\n", arg0);
}
"""
    b = BPF(text=text, usdt_contexts=[u])
    try:
        last = int(b.trace_fields()[5])
        last = int(b.trace_fields()[5])
        assert b["hits"][None] >= 2
        assert b["@hits"].get(None) >= 2
        parity = dict(b["parity"].items())
        assert set(parity) <= {0, 1} and sum(parity.values()) == b["hits"][None]
        assert b["who"][("test-server", pid)] >= last
        hist = b["h"][None]
        assert all(lo <= last + 1 and (hi is None or hi >= 0) and n > 0 for lo, hi, n in hist)
        assert sum(n for _, _, n in hist) == b["hits"][None]
        # 2958.. has a log2 bucket [2048, 4095].
        assert hist[-1][:2] == (2048, 4095)
        for lo, hi, n in b["l"][None]:
            assert (lo, hi) in ((0, 4), (5, 9)) and n >= 1
        count, avg, total = b["s"][None]
        assert count == b["hits"][None] and total >= 2958 * count and avg == total // count
        assert "@h:" in b["h"].text()
        b["parity"].clear()
        assert len(b["parity"]) == 0
        with pytest.raises(KeyError):
            b["nope"]
    finally:
        b.cleanup()


def test_unknown_probe_is_one_clear_line(server):
    _, pid = server
    u = USDT(pid=pid)
    with pytest.raises(ProbeError) as e:
        u.enable_probe(probe="no_such_probe", fn_name="f")
    msg = str(e.value)
    assert "no_such_probe" in msg and "\n" not in msg


def test_pid_that_does_not_exist():
    u = USDT(pid=2**22 + 12345)
    with pytest.raises(ProbeError) as e:
        u.enable_probe(probe="test_idx", fn_name="f")
    assert str(e.value) == f"no process with pid {2**22 + 12345}"


def test_fn_name_without_block(bpf, server):
    _, pid = server
    u = USDT(pid=pid)
    u.enable_probe(probe="test_idx", fn_name="missing")
    with pytest.raises(ProbeError) as e:
        BPF(text="other { exit(); }", usdt_contexts=[u])
    assert str(e.value) == "fn_name `missing`: the script has no block labelled `missing`"


def test_unbound_block_names_its_label(server):
    _, pid = server
    u = USDT(pid=pid)
    u.enable_probe(probe="test_idx", fn_name="a")
    with pytest.raises(ScriptError) as e:
        BPF(text="a { }\nlonely { exit(); }", usdt_contexts=[u])
    assert (e.value.line, e.value.column) == (2, 1)
    assert "`lonely` is bound to no probe" in e.value.summary


def test_block_bound_twice(server):
    path, pid = server
    u1 = USDT(pid=pid)
    u1.enable_probe(probe="test_idx", fn_name="h")
    u2 = USDT(pid=pid)
    u2.enable_probe(probe="test_grp:test_idx", fn_name="h")
    with pytest.raises(ProbeError) as e:
        BPF(text="h { }", usdt_contexts=[u1, u2])
    assert "block `h` is bound by two USDT contexts" in str(e.value)
    assert "\n" not in str(e.value)
    # The same probe enabled twice in one context.
    with pytest.raises(ProbeError) as e:
        u1.enable_probe(probe="test_grp:test_idx", fn_name="g")
    assert "already enabled" in str(e.value)
    # Two blocks with one label.
    with pytest.raises(ScriptError) as e:
        BPF(text="h { }\nh { }", usdt_contexts=[USDT(pid=pid)])
    assert e.value.summary.endswith("block label `h` is used by two blocks")


def test_bpf_runs_a_whole_script(bpf, server):
    path, pid = server
    text = f'BEGIN {{ printf("hello\\n"); }} usdt:{path}:test_grp:test_idx {{ @n = count(); printf("%d\\n", arg0); exit(); }}'
    with BPF(text=text) as b:
        task, fpid, _, _, _, msg = b.trace_fields()
        assert msg == b"hello" and fpid == os.getpid()
        task, fpid, _, _, _, msg = b.trace_fields()
        assert (task, fpid) == (b"test-server", pid) and int(msg) >= 2958
        assert b["n"][None] >= 1
        with pytest.raises(EOFError):
            b.trace_fields()
