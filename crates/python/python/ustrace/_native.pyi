"""Type stubs of the native module ustrace._native (see the Rust crate)."""

from typing import Any, List, Optional, Tuple, Union

class UstraceError(Exception):
    """Base class of every ustrace error."""

class ScriptError(UstraceError):
    """An error at a place in the script."""

    line: Optional[int]
    column: Optional[int]
    summary: str
    rendered: str

class ProbeError(UstraceError):
    """A probe, file, pid or binding that cannot be found or used."""

class KernelError(UstraceError):
    """The kernel refused something (privileges, the verifier, an attach)."""

Binding = Tuple[str, List[Tuple[str, Optional[str], str]]]
Record = Tuple[Any, ...]

class NativeTracer:
    """A compiled, attached script."""

    def __init__(
        self,
        script: str,
        source_name: str = "<script>",
        pid: Optional[int] = None,
        child_pid: Optional[int] = None,
        bindings: Optional[List[Binding]] = None,
    ) -> None: ...
    @property
    def open(self) -> bool: ...
    def poll(self, timeout: float) -> List[Record]: ...
    def stop(self) -> List[Record]: ...
    def close(self) -> None: ...
    def map_names(self) -> List[Tuple[str, int]]: ...
    def read_map(self, name: str) -> Any: ...
    def map_text(self, name: str) -> str: ...
    def clear_map(self, name: str) -> None: ...
    def lost_events(self) -> int: ...

def list_probes(target: Union[str, int]) -> List[str]: ...
def find_usdt(
    probe: str, pid: Optional[int] = None, path: Optional[str] = None
) -> List[Tuple[str, str, str]]: ...
