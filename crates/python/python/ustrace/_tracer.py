"""ustrace's own Python shape: ``Tracer`` runs a bpftrace-language script
and yields its printf events; ``list_probes`` lists USDT probes."""

from __future__ import annotations

import collections
import os
import shlex
import shutil
import subprocess
import sys
import time
from typing import Any, Deque, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from . import _native

#: How long one native wait lasts at most: Ctrl-C is seen within this time.
_POLL_SLICE = 0.1


class Event:
    """One ``printf`` of the script: who printed it, where, when, and what.

    Attributes:
        pid: process id of the thread that hit the probe.
        tid: thread id.
        comm: task name of that thread (``comm``).
        cpu: the CPU the probe ran on.
        timestamp: nanoseconds of CLOCK_MONOTONIC (bpftrace's ``nsecs``).
        probe: the probe that fired, e.g. ``usdt:/path:provider:name``.
        text: the formatted text, as bpftrace prints it.
        args: the printf arguments: ``int``, ``str``, or ``bytes`` for
            data that is not UTF-8.
    """

    __slots__ = ("pid", "tid", "comm", "cpu", "timestamp", "probe", "text", "args")

    def __init__(
        self,
        pid: int,
        tid: int,
        comm: str,
        cpu: int,
        timestamp: int,
        probe: str,
        text: str,
        args: Tuple[Union[int, str, bytes], ...],
    ) -> None:
        self.pid = pid
        self.tid = tid
        self.comm = comm
        self.cpu = cpu
        self.timestamp = timestamp
        self.probe = probe
        self.text = text
        self.args = args

    def __repr__(self) -> str:
        return (
            f"Event(pid={self.pid}, tid={self.tid}, comm={self.comm!r}, cpu={self.cpu}, "
            f"timestamp={self.timestamp}, probe={self.probe!r}, text={self.text!r}, args={self.args!r})"
        )


def _event(record: tuple) -> Event:
    _, text, args, ctx = record
    comm, pid, tid, cpu, nsecs, probe = ctx if ctx is not None else ("", 0, 0, 0, 0, "")
    return Event(pid, tid, comm, cpu, nsecs, probe, text, args)


class Tracer:
    """Runs a bpftrace-language script: ``with Tracer(script, pid=...) as t``.

    Args:
        script: the program text (bpftrace's language).
        pid: trace only this process; probes named without a path are
            looked up among its mapped files.
        cmd: a command line to start for the trace (like ``ustrace -c``);
            it is held before ``exec`` until the probes are attached.
            Mutually exclusive with ``pid``.
        source_name: the name used for the script in error messages.

    Entering the context compiles, attaches and runs BEGIN; leaving it
    detaches (also on Ctrl-C). Errors raise :class:`ScriptError` (with
    ``line`` and ``column``), :class:`ProbeError` or :class:`KernelError`.
    """

    def __init__(
        self,
        script: str,
        pid: Optional[int] = None,
        cmd: Optional[Union[str, Sequence[str]]] = None,
        *,
        source_name: str = "<script>",
        _bindings: Optional[List[tuple]] = None,
    ) -> None:
        if pid is not None and cmd is not None:
            raise ValueError("give pid or cmd, not both")
        self.script = script
        self.pid = pid
        self.cmd = cmd
        self.source_name = source_name
        self._bindings = _bindings
        self._native: Optional[_native.NativeTracer] = None
        self._child: Optional[subprocess.Popen] = None
        self._exited = False
        self._pending: Deque[tuple] = collections.deque()

    # -- life cycle -------------------------------------------------------

    def start(self) -> "Tracer":
        """Compiles and attaches the script and runs BEGIN (``__enter__``
        does this). Starts ``cmd`` once the probes are attached."""
        if self._native is not None:
            return self
        release = None
        child_pid = None
        if self.cmd is not None:
            self._child, release = _spawn_held(self.cmd)
            child_pid = self._child.pid
        try:
            self._native = _native.NativeTracer(
                self.script,
                source_name=self.source_name,
                pid=self.pid,
                child_pid=child_pid,
                bindings=self._bindings,
            )
        except BaseException:
            if self._child is not None:
                os.close(release)
                self._child.kill()
                self._child.wait()
            raise
        if release is not None:
            os.write(release, b"go\n")
            os.close(release)
        return self

    def stop(self) -> List[Event]:
        """Detaches the probes and runs END; returns the events still
        buffered. Maps stay readable until :meth:`close`."""
        if self._native is None or not self._native.open:
            return []
        records = list(self._pending) + self._native.stop()
        self._pending.clear()
        return [_event(r) for r in records if r[0] == "printf"]

    def close(self) -> None:
        """Detaches and frees everything; ends a child started by ``cmd``."""
        if self._native is not None:
            self._native.close()
        if self._child is not None and self._child.poll() is None:
            self._child.terminate()
            try:
                self._child.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._child.kill()
                self._child.wait()

    def __enter__(self) -> "Tracer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._native is not None and self._native.open:
                self._native.stop()
        finally:
            self.close()

    # -- events -----------------------------------------------------------

    def _records(self, timeout: Optional[float]) -> Iterator[tuple]:
        """Raw records until ``timeout`` seconds pass, ``exit()`` is
        called, or the traced process ends. Records not yet handed out stay
        queued on the tracer, so a caller may stop iterating at any point
        (``trace_fields``) without losing the rest of a batch."""
        native = self._live()
        deadline = None if timeout is None else time.monotonic() + timeout
        gone = False
        while True:
            while self._pending:
                r = self._pending.popleft()
                if r[0] == "exit":
                    self._exited = True
                    self._pending.clear()
                    return
                yield r
            if self._exited or gone:
                return
            left = _POLL_SLICE if deadline is None else min(_POLL_SLICE, deadline - time.monotonic())
            if left < 0:
                return
            # Checked before polling, so the records of its last moments
            # are still read.
            gone = self._target_gone()
            self._pending.extend(native.poll(max(left, 0.0)))

    def _target_gone(self) -> bool:
        if self._child is not None:
            return self._child.poll() is not None
        if self.pid is not None:
            return not os.path.exists(f"/proc/{self.pid}")
        return False

    def events(self, timeout: Optional[float] = None) -> Iterator[Event]:
        """Yields each printf as an :class:`Event`, waiting with the GIL
        released. Ends after ``timeout`` seconds (None: no limit), when the
        script calls ``exit()``, or when the traced process ends. Ctrl-C
        raises KeyboardInterrupt; leaving the ``with`` block detaches."""
        for r in self._records(timeout):
            if r[0] == "printf":
                yield _event(r)
            elif r[0] == "message":
                # errorf()/warnf()/assert(): standard error, as bpftrace.
                sys.stderr.write(r[2])

    # -- maps ---------------------------------------------------------------

    def maps(self) -> Dict[str, Any]:
        """Every map of the script, read now: ``{"@name": value}``. A keyed
        map is a dict (tuple keys for several key fields); a scalar map is
        its value (None when unset). Values: int, str, ``(count, average,
        total)`` for stats, ``[(low, high, count), ...]`` for hist/lhist,
        ``[(start, value), ...]`` for tseries (``start`` in Unix
        nanoseconds, one pair per interval holding data, oldest first)."""
        native = self._live()
        return {name: native.read_map(name) for name, _ in native.map_names()}

    def lost_events(self) -> int:
        """Events dropped because the ring buffer was full."""
        return self._live().lost_events()

    def _live(self) -> "_native.NativeTracer":
        if self._native is None:
            raise ValueError("the tracer is not started: use `with Tracer(...)` or start()")
        if not self._native.open:
            raise ValueError("the tracer is closed")
        return self._native


def _spawn_held(cmd: Union[str, Sequence[str]]) -> Tuple[subprocess.Popen, int]:
    """Starts ``cmd`` held before exec until a line is written to the
    returned fd (closing it unwritten makes the child exit). A small shell
    waits on the pipe and then execs the command, keeping its pid."""
    argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
    if not argv:
        raise ValueError("cmd is empty")
    if shutil.which(argv[0]) is None:
        raise _native.ProbeError(f"cannot start {argv[0]!r}: no such executable")
    read_end, write_end = os.pipe()
    hold = 'read -r _ <&3 || exit 127; exec 3<&-; exec "$@"'
    try:
        # Our own descriptors are not inheritable (PEP 446), the kernel's
        # BPF ones are close-on-exec: only fd 3, the pipe, reaches the shell.
        child = subprocess.Popen(
            ["/bin/sh", "-c", hold, "ustrace-hold", *argv],
            preexec_fn=lambda: os.dup2(read_end, 3),
            close_fds=False,
        )
    finally:
        os.close(read_end)
    return child, write_end


def list_probes(target: Union[str, int]) -> List[str]:
    """The USDT probes of a file (path or library name) or of a running
    process (pid), one ``usdt:PATH:PROVIDER:NAME`` line each (BCC's
    ``tplist``)."""
    return _native.list_probes(target)
