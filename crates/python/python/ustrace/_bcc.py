"""BCC's shape: ``USDT``, ``BPF``, ``trace_print``, ``trace_fields`` and
map tables, with bpftrace's language in place of C.

A block of the program text may be labelled with a bare name
(``trace_udst { ... }``); ``USDT.enable_probe(probe=..., fn_name=NAME)``
binds that block to the probe, the way BCC binds a C function.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from . import _native
from ._tracer import Event, Tracer, _event

Fields = Tuple[bytes, int, int, bytes, float, bytes]


class USDT:
    """The USDT probes of one process (``pid=``) or one file (``path=``,
    every process running it).

    ``probe`` in :meth:`enable_probe` is ``"name"`` or ``"provider:name"``.
    """

    def __init__(self, pid: Optional[int] = None, path: Optional[str] = None) -> None:
        if (pid is None) == (path is None):
            raise ValueError("USDT needs exactly one of pid= or path=")
        if pid is not None and (not isinstance(pid, int) or pid <= 0):
            raise ValueError(f"USDT: pid must be a positive integer, not {pid!r}")
        self.pid = pid
        self.path = path
        #: (label, [(path, provider, name), ...]) in the order enabled.
        self._enabled: List[Tuple[str, List[Tuple[str, str, str]]]] = []

    def enable_probe(self, probe: str, fn_name: str) -> None:
        """Binds the block labelled ``fn_name`` to ``probe``. Raises
        :class:`ProbeError` when no such probe exists."""
        if not fn_name or not fn_name.replace("_", "a").isalnum() or fn_name[0].isdigit():
            raise ValueError(f"fn_name must be an identifier, not {fn_name!r}")
        found = _native.find_usdt(probe, pid=self.pid, path=self.path)
        for label, probes in self._enabled:
            if set(probes) & set(found):
                raise _native.ProbeError(
                    f"probe {probe!r} is already enabled (bound to block `{label}`)"
                )
        self._enabled.append((fn_name, found))

    def enumerate_probes(self) -> List[str]:
        """Every probe of the process or file, as ``usdt:PATH:PROVIDER:NAME``."""
        return _native.list_probes(self.pid if self.pid is not None else self.path)

    def __repr__(self) -> str:
        target = f"pid={self.pid}" if self.pid is not None else f"path={self.path!r}"
        return f"USDT({target})"


class Table:
    """A dict-like view of one map, read from the kernel at each access.

    Keys are ints, strs, or tuples for several key fields; values are ints,
    strs, ``(count, average, total)`` for stats, and for hist/lhist lists
    of ``(low, high, count)`` buckets. A scalar map (``@x = 1``) has the
    single key ``None``."""

    def __init__(self, tracer: Tracer, name: str, key_fields: int) -> None:
        self._tracer = tracer
        self.name = name
        self._key_fields = key_fields

    def _read(self) -> Dict[Any, Any]:
        value = self._tracer._live().read_map(self.name)
        if self._key_fields == 0:
            return {} if value is None else {None: value}
        return value

    def __getitem__(self, key: Any) -> Any:
        return self._read()[key]

    def get(self, key: Any, default: Any = None) -> Any:
        """The value of ``key``, or ``default``."""
        return self._read().get(key, default)

    def __contains__(self, key: Any) -> bool:
        return key in self._read()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())

    def keys(self) -> List[Any]:
        """The keys present now."""
        return list(self._read().keys())

    def values(self) -> List[Any]:
        """The values now."""
        return list(self._read().values())

    def items(self) -> List[Tuple[Any, Any]]:
        """``(key, value)`` pairs now."""
        return list(self._read().items())

    def clear(self) -> None:
        """Deletes every entry, as ``clear(@name)`` does."""
        self._tracer._live().clear_map(self.name)

    def text(self) -> str:
        """The map as bpftrace prints it (histograms with bars)."""
        return self._tracer._live().map_text(self.name)

    def __repr__(self) -> str:
        return f"Table({self.name!r}, {self._read()!r})"


class BPF:
    """Compiles and attaches ``text`` (bpftrace's language) at once, as BCC
    does. ``usdt_contexts`` bind labelled blocks to USDT probes; ``text``
    may also hold ordinary attach points (``usdt:/path:prov:name { }``).

    All USDT contexts with a pid must name the same process. Use as a
    context manager, or call :meth:`cleanup` to detach.
    """

    def __init__(self, text: str, usdt_contexts: Sequence[USDT] = (), *, debug: int = 0) -> None:
        pids = {u.pid for u in usdt_contexts if u.pid is not None}
        if len(pids) > 1:
            raise ValueError(
                "usdt_contexts name different processes "
                f"({', '.join(map(str, sorted(pids)))}); use one BPF per process"
            )
        bindings: Dict[str, List[Tuple[str, str, str]]] = {}
        owner: Dict[str, USDT] = {}
        for u in usdt_contexts:
            for label, probes in u._enabled:
                if label in owner and owner[label] is not u:
                    raise _native.ProbeError(
                        f"block `{label}` is bound by two USDT contexts ({owner[label]!r} and {u!r})"
                    )
                owner[label] = u
                bindings.setdefault(label, []).extend(probes)
        self._tracer = Tracer(
            text,
            pid=next(iter(pids)) if pids else None,
            _bindings=[(label, probes) for label, probes in bindings.items()],
        )
        self._tracer.start()

    # -- output -------------------------------------------------------------

    def trace_fields(self, nonblocking: bool = False) -> Fields:
        """The next printf as BCC's ``(task, pid, cpu, flags, ts, msg)``:
        task, flags and msg are bytes, ts is seconds (float). With
        ``nonblocking``, a tuple of ``None`` when nothing is waiting."""
        for r in self._tracer._records(0.0 if nonblocking else None):
            if r[0] == "printf":
                return _fields(_event(r))
            if r[0] == "map":
                sys.stdout.write(r[2])
        if nonblocking:
            return (None,) * 6  # type: ignore[return-value]
        raise EOFError("the traced process has ended")

    def trace_print(self, fmt: Optional[str] = None) -> None:
        """Prints each printf as a trace_pipe line
        (``task-pid [cpu] .... ts: 0: msg``), or ``fmt.format(task, pid,
        cpu, flags, ts, msg)`` with ``fmt``. Runs until Ctrl-C (which
        detaches the probes and raises KeyboardInterrupt), ``exit()``, or
        the end of the traced process."""
        try:
            for r in self._tracer._records(None):
                if r[0] == "map":
                    sys.stdout.write(r[2])
                    sys.stdout.flush()
                    continue
                ev = _event(r)
                if fmt is None:
                    line = trace_line(ev)
                else:
                    task, pid, cpu, flags, ts, msg = _fields(ev)
                    line = fmt.format(task.decode(), pid, cpu, flags.decode(), ts, msg.decode())
                print(line, flush=True)
        except KeyboardInterrupt:
            self.cleanup()
            raise

    # -- maps ---------------------------------------------------------------

    def __getitem__(self, name: str) -> Table:
        return self.get_table(name)

    def get_table(self, name: str) -> Table:
        """The map ``name`` (with or without ``@``) as a :class:`Table`.
        KeyError for a map the program does not have."""
        full = name if name.startswith("@") else "@" + name
        for map_name, key_fields in self._tracer._live().map_names():
            if map_name == full:
                return Table(self._tracer, full, key_fields)
        raise KeyError(name)

    def maps(self) -> Dict[str, Any]:
        """Every map, read now (see :meth:`Tracer.maps`)."""
        return self._tracer.maps()

    # -- life cycle ---------------------------------------------------------

    def cleanup(self) -> None:
        """Detaches every probe and frees the programs and maps."""
        self._tracer.__exit__(None, None, None)

    def __enter__(self) -> "BPF":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()


def _fields(ev: Event) -> Fields:
    msg = ev.text[:-1] if ev.text.endswith("\n") else ev.text
    return (
        ev.comm.encode(),
        ev.pid,
        ev.cpu,
        b"....",
        ev.timestamp / 1e9,
        msg.encode(),
    )


def trace_line(ev: Event) -> str:
    """An event in trace_pipe's layout:
    ``<comm>-<pid> [<cpu>] .... <seconds>.<micros>: 0: <text>``."""
    msg = ev.text[:-1] if ev.text.endswith("\n") else ev.text
    secs, nanos = divmod(ev.timestamp, 1_000_000_000)
    return f"{ev.comm:>16}-{ev.pid:<7} [{ev.cpu:03}] .... {secs:5}.{nanos // 1000:06}: 0: {msg}"
