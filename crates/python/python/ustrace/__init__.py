"""ustrace: trace user-space programs with eBPF from Python.

No clang, no kernel headers: scripts in bpftrace's language are compiled
straight to eBPF by ustrace.

Two shapes:

* ustrace's own: ``with Tracer(script, pid=...) as t: for ev in t.events():``
  and ``t.maps()``; ``list_probes(path_or_pid)``.
* BCC's: ``USDT(pid=...)``, ``enable_probe(probe=..., fn_name=...)``,
  ``BPF(text=..., usdt_contexts=[u])``, ``trace_print()``,
  ``trace_fields()``, ``b["map"]``.

Loading BPF needs root (or CAP_BPF and CAP_PERFMON).
"""

from ._native import KernelError, ProbeError, ScriptError, UstraceError
from ._tracer import Event, Tracer, list_probes
from ._bcc import BPF, USDT, Table, trace_line

__all__ = [
    "BPF",
    "USDT",
    "Table",
    "Tracer",
    "Event",
    "list_probes",
    "trace_line",
    "UstraceError",
    "ScriptError",
    "ProbeError",
    "KernelError",
]
