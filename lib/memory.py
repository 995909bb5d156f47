"""Peak resident memory of this process over a block of work (Linux `/proc`, else getrusage).

`PeakRSS` resets the kernel's high-water mark (VmHWM) at the start of the block, so the peak is
exact for that block (blocks may nest: an inner reset hands the peak so far to the outer ones);
`release_freed_memory` hands freed heap back to the OS (glibc).
"""

from __future__ import annotations

import ctypes
import gc
import re
import resource
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def status_kib(field: str) -> int:
    """A `/proc/self/status` field (e.g. VmRSS, VmHWM) in KiB; 0 where there is no /proc."""
    try:
        text = _STATUS.read_text()
    except OSError:
        return 0
    match = re.search(rf"^{re.escape(field)}:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


def release_freed_memory() -> None:
    """Hand freed heap memory back to the OS (glibc `malloc_trim`), so that a later peak is not
    hidden by reuse of fragmented heap; a no-op without glibc."""
    try:

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reset_peak() -> bool:
    """Reset this process's peak-RSS counter (VmHWM := VmRSS); False where that is not possible."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return status_kib("VmHWM") <= status_kib("VmRSS") + 1024


def max_rss_kib() -> int:
    """`getrusage` peak RSS of this process in KiB (Linux units), never reset."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class PeakRSS:
    """`with PeakRSS() as peak: ...` then `peak.mb`: RSS high-water mark above the start (MiB).

    At the start: `gc.collect`, `release_freed_memory`, `reset_peak`. Where the reset is not
    possible (`exact` False) it falls back to `ru_maxrss`, which may hide a peak below an
    earlier one of the process. Nested blocks are exact too: before an inner block resets the
    counter, the high-water mark so far is carried to every enclosing block.
    """

    _open: list[PeakRSS] = []  # enclosing blocks, outermost first

    exact: bool
    start_kib: int
    mb: float

    def __enter__(self) -> PeakRSS:
        gc.collect()
        release_freed_memory()
        before = status_kib("VmHWM")
        for outer in PeakRSS._open:
            outer._carried_kib = max(outer._carried_kib, before)
        self.exact = reset_peak()
        self.start_kib = status_kib("VmRSS") if self.exact else max_rss_kib()
        self._carried_kib = 0
        self.mb = 0.0
        PeakRSS._open.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        PeakRSS._open.remove(self)
        end = max(status_kib("VmHWM"), self._carried_kib) if self.exact else max_rss_kib()
        self.mb = max(0.0, (end - self.start_kib) / 1024)
