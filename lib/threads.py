"""The CPU thread count of a run, fixed so the same parameter file gives the same numbers.

torch and the BLAS libraries split a reduction over their threads, so 1 and 2 threads round
differently in the last digits (a Snakemake job runs with OMP_NUM_THREADS=1, a kernel started by
hand with every core). Every notebook fixes the count from its parameter file (`threads`, default
1) right after loading it, and `lib.results.provenance` records what was in force.
"""

from __future__ import annotations

import os
from typing import Any

from threadpoolctl import threadpool_info, threadpool_limits

# read by a BLAS or OpenMP library when it loads: one loaded later (scipy's own OpenBLAS, on its
# first use) starts with the run's count too
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def fix_threads(threads: int) -> int:
    """Run torch and every BLAS/OpenMP pool, loaded or loaded later, on `threads` CPU threads.

    (The compiled numba kernels here are serial: they take no thread count.)
    """
    import torch

    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)
    return torch.get_num_threads()


def threads_in_force() -> dict[str, Any]:
    """torch's thread count and each BLAS/OpenMP pool's (for the provenance)."""
    import torch

    pools: dict[str, int] = {}
    for pool in threadpool_info():
        pools[pool["internal_api"]] = max(pools.get(pool["internal_api"], 0),
                                          pool["num_threads"])
    return {"torch": torch.get_num_threads(), "pools": dict(sorted(pools.items()))}
