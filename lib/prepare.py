"""Set-up step run by `make setup`: `python -m lib.prepare [--check-only]`.

1. Refuse an environment holding CUDA packages (the CPU torch pin was bypassed somewhere).
2. Convert the GGUF-packaged models into the float32 cache once (`lib.models.embedded`), and
   check every built or packaged model file against its recorded sha256 (about a second per GiB);
   a corrupted conversion, or one built before sha256s were recorded, is rebuilt.
3. Make what each line of research reads offline (`lib.lines`, `Line.prepare`: WordNet).
4. Print what was built and what was already there, with timings and the cache size.

Idempotent: when everything is built it only checks, in a few seconds. `--check-only` builds
nothing and exits 1 when something is missing or corrupted. `--rebuild NAME` converts one
embedded model again (the repair a CorruptModelError names).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from lib.lines import hook, lines
from lib.models import embedded
from lib.paths import CACHE

# PyPI's torchvision 0.28.0 is CUDA-linked but carries no CUDA runtime (SPEC §5): expected.
_ALLOWED = frozenset({"cuda-pathfinder"})


def cuda_packages(distributions: Iterable[tuple[str, str]]) -> list[str]:
    """'name==version' of each CUDA distribution: nvidia-*, cuda-* or a '+cu' torch build."""
    flagged = []
    for name, version in distributions:
        normal = name.lower().replace("_", "-")
        if normal in _ALLOWED:
            continue
        if normal.startswith(("nvidia-", "cuda-")) or (normal == "torch" and "+cu" in version):
            flagged.append(f"{name}=={version}")
    return sorted(flagged)


def installed_distributions() -> list[tuple[str, str]]:
    """(name, version) of every distribution in the running environment."""
    found = []
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.append((name, dist.version))
    return found


def folder_size(path: Path) -> int:
    """Bytes under a folder (0 when it does not exist)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _build(name: str, why: str) -> None:

    print(f"prepare: converting {name} ({why}; about a minute)", flush=True)
    embedded.build(name, force=True, log=lambda line: print(f"prepare:   {line}", flush=True))


def _models(check_only: bool, rebuild: Iterable[str] = ()) -> list[tuple[str, str, float]]:

    embedded.clear_stale_builds()
    rows = []
    for name, spec in embedded.EMBEDDED.items():
        start = time.perf_counter()
        try:
            if spec.kind != "gguf":
                embedded.verify(name)  # raises when the package is missing or its files changed
                status = "ready (package folder)"
            elif name in rebuild:
                _build(name, "--rebuild")
                status = "rebuilt"
            elif not embedded.is_built(name):
                if check_only:
                    status = "MISSING"
                else:
                    _build(name, "one-off" if not embedded.cache_dir(name).exists()
                           else "its cache has no finished build with recorded sha256s")
                    status = "built"
            else:
                embedded.verify(name)
                status = "already built"
        except embedded.CorruptModelError as error:
            if check_only or spec.kind != "gguf":
                print(f"prepare: {error}", file=sys.stderr, flush=True)
                status = "CORRUPT"
            else:
                print(f"prepare: {error}", flush=True)
                _build(name, "its cache is corrupted")
                status = "rebuilt (was corrupted)"
        rows.append((name, status, time.perf_counter() - start))
    return rows


def _gguf_names() -> list[str]:

    return [name for name, spec in embedded.EMBEDDED.items() if spec.kind == "gguf"]


def main(argv: list[str] | None = None) -> int:
    """Run the set-up; return the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m lib.prepare", description=__doc__)
    parser.add_argument("--check-only", action="store_true", help="build nothing, only report")
    parser.add_argument("--allow-cuda", action="store_true",
                        help="a GPU environment (Colab): CUDA packages are expected")
    parser.add_argument("--rebuild", action="append", default=[], metavar="NAME",
                        choices=_gguf_names(), help="convert this embedded model again")
    args = parser.parse_args(argv)
    if args.check_only and args.rebuild:
        parser.error("--rebuild and --check-only exclude each other")
    start = time.perf_counter()
    flagged = [] if args.allow_cuda else cuda_packages(installed_distributions())
    if flagged:
        print(
            "prepare: CUDA packages are installed in this CPU environment: "
            + ", ".join(flagged)
            + ". Something installed torch without requirements/constraints.txt; recreate the "
            "venv (rm -rf .venv && make setup).",
            file=sys.stderr,
        )
        return 1
    rows = [*_models(args.check_only, args.rebuild),
            *(hook(line.prepare)(args.check_only) for line in lines().values() if line.prepare)]
    print("prepare: summary")
    for name, status, seconds in rows:
        print(f"  {name:34s} {status:30s} {seconds:7.1f} s")
    total = time.perf_counter() - start
    print(f"  cache {CACHE} holds {_human(folder_size(CACHE))}; prepare took {total:.1f} s")
    return 1 if any(status in ("MISSING", "CORRUPT") for _, status, _ in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
