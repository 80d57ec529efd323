"""ustrace's own shape: Tracer, events, maps, errors, list_probes."""

import subprocess
import sys
import time

import pytest

import ustrace
from conftest import wait_mapped


def test_events_carry_context_and_typed_args(bpf, server):
    path, pid = server
    script = f'usdt:{path}:test_grp:test_idx {{ printf("%d %s %d\\n", arg0, comm, -5); }}'
    with ustrace.Tracer(script, pid=pid) as t:
        events = []
        for ev in t.events(timeout=5):
            events.append(ev)
            if len(events) == 2:
                break
    assert len(events) == 2
    for ev in events:
        assert (ev.pid, ev.tid, ev.comm) == (pid, pid, "test-server")
        assert ev.probe == f"usdt:{path}:test_grp:test_idx"
        assert ev.cpu >= 0 and ev.timestamp > 0
        value, comm, neg = ev.args
        assert isinstance(value, int) and comm == "test-server" and neg == -5
        assert ev.text == f"{value} test-server -5\n"
    assert events[1].args[0] == events[0].args[0] + 1
    assert events[1].timestamp - events[0].timestamp > 500_000_000


def test_maps_as_dicts_while_tracing_and_after(bpf, server):
    path, pid = server
    script = f"""
usdt:{path}:test_grp:test_idx {{ @n = count(); @v[arg0] = arg0 * 2; @name[pid] = comm; printf("x\\n"); }}
"""
    t = ustrace.Tracer(script, pid=pid)
    with t:
        next(t.events(timeout=5))
        live = t.maps()
        assert live["@n"] >= 1
        assert all(v == 2 * k for k, v in live["@v"].items())
        assert live["@name"] == {pid: "test-server"}
        t.stop()
        after = t.maps()
        assert after["@n"] >= live["@n"]
        assert set(live["@v"]) <= set(after["@v"])
    with pytest.raises(ValueError):
        t.maps()


def test_tseries_maps_are_lists_of_interval_starts_and_values(bpf):
    script = (
        'BEGIN { @t = tseries(-7, 1s, 5, "sum"); @t = tseries(3, 1s, 5, "sum");'
        " @k[1] = tseries(5, 1s, 3); exit(); }"
    )
    with ustrace.Tracer(script) as t:
        list(t.events(timeout=5))
        maps = t.maps()
    # The two stores may fall in two intervals (a second boundary between
    # them): their sum is -4 either way.
    points = maps["@t"]
    assert 1 <= len(points) <= 2 and sum(v for _, v in points) == -4
    starts = [s for s, _ in points]
    assert starts == sorted(starts)
    assert all(s % 1_000_000_000 == 0 for s in starts)
    assert all(abs(s - time.time_ns()) < 3600 * 10**9 for s in starts)
    ((start, value),) = maps["@k"][1]
    assert value == 5 and start % 1_000_000_000 == 0


def test_script_error_has_line_and_column():
    with pytest.raises(ustrace.ScriptError) as e:
        ustrace.Tracer('BEGIN {\n  printf("%d\\n", nope);\n}').start()
    err = e.value
    assert (err.line, err.column) == (2, 18)
    assert str(err).splitlines()[0] == err.summary
    assert err.summary.startswith("<script>:2:18: error:")
    assert "^" in str(err)


def test_exit_ends_events(bpf):
    with ustrace.Tracer('BEGIN { printf("a\\n"); exit(); printf("b\\n"); }') as t:
        assert [e.text for e in t.events(timeout=5)] == ["a\n"]


def test_python_line_probe_in_another_python(bpf):
    code = (
        "import time\n"
        "def traced_function():\n"
        "    return 1\n"
        "while True:\n"
        "    traced_function()\n"
        "    time.sleep(0.05)\n"
    )
    proc = subprocess.Popen(["/usr/bin/python3.11", "-c", code])
    try:
        wait_mapped(proc.pid, "python3.11")
        script = 'usdt:/usr/bin/python3.11:python:line /str(arg1) == "traced_function"/ { printf("%s %d\\n", str(arg1), arg2); }'
        with ustrace.Tracer(script, pid=proc.pid) as t:
            got = []
            for ev in t.events(timeout=10):
                got.append(ev)
                if len(got) == 3:
                    break
    finally:
        proc.kill()
        proc.wait()
    assert len(got) == 3
    for ev in got:
        assert ev.pid == proc.pid
        assert ev.args == ("traced_function", 3)


def test_cmd_starts_the_program_after_attaching(bpf, server_binary):
    script = f'usdt:{server_binary}:test_grp:test_idx {{ printf("%d\\n", arg0); }}'
    with ustrace.Tracer(script, cmd=[str(server_binary), "41"]) as t:
        first = next(t.events(timeout=5))
    # Held until attach: the first hit (42) is seen.
    assert first.args == (42,)
    assert first.comm == "test-server"


def test_nonexistent_pid():
    with pytest.raises(ustrace.ProbeError) as e:
        ustrace.Tracer("BEGIN { }", pid=2**22 + 4321).start()
    assert str(e.value) == f"no process with pid {2**22 + 4321}"


def test_list_probes(server):
    path, pid = server
    assert f"usdt:{path}:test_grp:test_idx" in ustrace.list_probes(str(path))
    assert any(l.endswith(":test_grp:test_idx") for l in ustrace.list_probes(pid))
    with pytest.raises(ustrace.ProbeError):
        ustrace.list_probes("/nonexistent/file")


def test_gil_is_released_while_waiting(bpf):
    import os
    import threading

    done = []

    def work():
        # Needs the GIL throughout: runs only if the wait below released it.
        total = 0
        for i in range(3_000_000):
            total += i
        done.append(time.monotonic())
        os.getppid()  # the probe: ends the wait below

    # The native wait ends with the worker's probe; had it kept the GIL,
    # the worker could not finish and the wait would last its 60 s with
    # nothing (however slowly a loaded machine runs the worker).
    script = 'uprobe:libc:getppid { printf("worker done\\n"); }'
    with ustrace.Tracer(script, pid=os.getpid()) as t:
        th = threading.Thread(target=work)
        th.start()
        records = t._native.poll(60.0)
        returned = time.monotonic()
        th.join()
    assert records and records[0][0] == "printf", records
    assert done and done[0] < returned, (done, returned)


def test_events_end_when_the_traced_process_exits(bpf, server_binary):
    proc = subprocess.Popen([str(server_binary), "0"])
    try:
        wait_mapped(proc.pid, "test-server")
        script = f'usdt:{server_binary}:test_grp:test_idx {{ printf("%d\\n", arg0); }}'
        with ustrace.Tracer(script, pid=proc.pid) as t:
            events = t.events(timeout=20)
            next(events)
            proc.kill()
            proc.wait()
            started = time.monotonic()
            rest = list(events)
            assert time.monotonic() - started < 2
            assert len(rest) <= 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
