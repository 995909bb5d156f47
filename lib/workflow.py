"""What the Snakefile needs to know about this folder (the code it runs: `lib.dependencies`).

`snakemake_pids(folder)` finds the Snakemake processes working in one folder, so `make
reproduce` releases a stale lock only when no Snakemake works here (not machine-wide):

    python -m lib.workflow idle      # exit 0 when no Snakemake works in this repository
    python -m lib.workflow clean-tmp # remove the temporary folders of a killed Snakemake
    python -m lib.workflow inputs notebooks/E11.py
    python -m lib.workflow exec jupyter lab    # a command, with lib.env's locations set
    python -m lib.workflow clean-twin notebooks/E11.ipynb   # drop frozen progress widgets
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from lib.dependencies import lib_dependencies
from lib.nbcompare import without_widgets
from lib.paths import CACHE, ROOT
from lib.results import atomic_write_bytes

# The order nbval and `make notebooks` run the notebooks on their defaults, against one empty
# results folder: a notebook whose default reads another run's results comes after the notebook
# whose default makes them (E11's default E11_tiny-mha is E11-T's MHA reference).
NOTEBOOK_ORDER = ("E08", "E11", "E11-T", "terrain", "modulator")


def notebook_rank(path: str | Path) -> int:
    """Position of a notebook (file stem) in NOTEBOOK_ORDER; unknown notebooks go last."""
    stem = Path(path).stem
    return NOTEBOOK_ORDER.index(stem) if stem in NOTEBOOK_ORDER else len(NOTEBOOK_ORDER)


def ordered_notebooks(root: Path = ROOT) -> list[Path]:
    """The notebooks' `.py` sources in NOTEBOOK_ORDER."""
    return sorted((root / "notebooks").glob("*.py"), key=lambda p: (notebook_rank(p), p.name))


def snakemake_pids(folder: str | Path = ROOT) -> list[int] | None:
    """Processes running Snakemake with `folder` as working directory; None without /proc."""
    proc = Path("/proc")
    if not (proc / "self" / "cwd").exists():
        return None
    folder = Path(folder).resolve()
    pids = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")[:3]
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        runs_snakemake = any(Path(a.decode(errors="replace")).name == "snakemake" for a in args)
        if runs_snakemake and cwd == folder:
            pids.append(int(entry.name))
    return sorted(pids)


def clean_twin(path: str | Path) -> int:
    """Drop the progress-bar widgets from an executed twin; returns how many outputs went.

    A widget's stored fallback text is its first frame (`0%|`), not what the run showed; the
    widget state is not kept either. The notebook is rewritten only when something changed.
    """
    import nbformat


    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    dropped = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = without_widgets(cell.outputs)
        dropped += len(cell.outputs) - len(kept)
        cell.outputs = kept
    if notebook.metadata.pop("widgets", None) is not None or dropped:

        atomic_write_bytes(path, (nbformat.writes(notebook) + "\n").encode())
    return dropped


SNAKEMAKE_TMP = CACHE / "tmp"  # TMPDIR of `make reproduce`'s Snakemake: its own temporary folders


def clean_snakemake_tmp(folder: Path = SNAKEMAKE_TMP) -> list[Path]:
    """Remove the temporary folders a killed Snakemake left in `folder` (`snakemake*`); only
    when no Snakemake works in this repository. Returns what was removed."""

    if snakemake_pids(ROOT) != [] or not folder.is_dir():
        return []
    removed = sorted(p for p in folder.glob("snakemake*") if p.is_dir())
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("idle", help="exit 0 when no Snakemake process works in this repository")
    sub.add_parser("clean-tmp", help="remove what a killed Snakemake left in .cache/tmp/")
    inputs = sub.add_parser("inputs", help="the lib files a notebook or module depends on")
    inputs.add_argument("path")
    sub.add_parser("notebooks", help="the notebooks' .py sources in the order nbval runs them")
    twin = sub.add_parser("clean-twin", help="drop progress-bar widgets from executed twins")
    twin.add_argument("paths", nargs="+")
    run = sub.add_parser("exec", help="run a command with lib.env's locations (make lab)")
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "idle":
        return 0 if snakemake_pids(ROOT) == [] else 1
    if args.command == "clean-tmp":
        for path in clean_snakemake_tmp():
            print(f"removed {path.relative_to(ROOT)} (left by a killed Snakemake)")
        return 0
    if args.command == "notebooks":
        print("\n".join(str(p.relative_to(ROOT)) for p in ordered_notebooks()))
        return 0
    if args.command == "clean-twin":
        for path in args.paths:
            print(f"{path}: {clean_twin(path)} progress-bar outputs dropped")
        return 0
    if args.command == "exec":
        if not args.cmd:
            parser.error("exec needs a command")
        os.execvp(args.cmd[0], args.cmd)  # `import lib` has set the locations (lib.env)
    for file in lib_dependencies(args.path):
        print(file)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
