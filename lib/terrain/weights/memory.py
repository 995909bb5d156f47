"""Peak resident memory of this process over a block of work (Linux `/proc`, else getrusage)."""

from __future__ import annotations

import gc
import re
import resource
from pathlib import Path


def status_kib(field: str) -> int:
    """A `/proc/self/status` field in KiB (0 where there is no /proc)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


def release_freed_memory() -> None:
    """Hand freed heap memory back to the OS (glibc `malloc_trim`), so that freed tensors of a
    streamed pass do not pile up as fragmented heap (a no-op elsewhere)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakRSS:
    """`with PeakRSS() as peak: ...` then `peak.mb`: RSS high-water mark above the start.

    The kernel's peak counter is reset at the start (`/proc/self/clear_refs` = 5), so the result
    is exact for this block; where that is not possible (`exact` False) it falls back to
    `ru_maxrss`, which can only over-state nothing but may under-state a smaller later peak.
    """

    def __enter__(self) -> PeakRSS:
        gc.collect()
        release_freed_memory()
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.exact = status_kib("VmHWM") <= status_kib("VmRSS") + 1024
        except OSError:
            self.exact = False
        self.start_kib = status_kib("VmRSS") if self.exact else \
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.mb = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        end = status_kib("VmHWM") if self.exact else \
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.mb = max(0.0, (end - self.start_kib) / 1024)
