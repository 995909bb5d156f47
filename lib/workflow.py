"""What the Snakefile needs to know about the code and this folder.

`lib_dependencies(path)` lists the `lib` files a notebook (or a module) runs: the modules it
imports, found with `ast`, transitively, with every package `__init__.py` on the way and the data
files those modules name (e.g. `claims.yaml`). A notebook job depends on exactly these, so a
comment in a module no notebook imports re-plans nothing.

`snakemake_pids(folder)` finds the Snakemake processes working in one folder, so `make
reproduce` releases a stale lock only when no Snakemake works here (not machine-wide):

    python -m lib.workflow idle      # exit 0 when no Snakemake works in this repository
    python -m lib.workflow inputs notebooks/E11.py
    python -m lib.workflow exec jupyter lab    # a command, with lib.env's locations set
    python -m lib.workflow clean-twin notebooks/E11.ipynb   # drop frozen progress widgets
"""

from __future__ import annotations

import argparse
import ast
import os
from functools import cache
from pathlib import Path

from lib.paths import ROOT

PACKAGE = "lib"
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


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """`lib.a.b` -> `lib/a/b.py` or `lib/a/b/__init__.py`; None when no such file exists."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path, root: Path = ROOT) -> str | None:
    """The dotted name of a file under `root/lib`, None for a file outside it (a notebook)."""
    try:
        parts = path.resolve().relative_to(root.resolve()).with_suffix("").parts
    except ValueError:
        return None
    if not parts or parts[0] != PACKAGE:
        return None
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(source: str, name: str | None = None, is_package: bool = False) -> set[str]:
    """Absolute names an import in `source` may load (`from a import b` gives `a` and `a.b`).

    `name` is the module's own dotted name, to resolve relative imports.
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                if name is None:
                    raise ValueError(f"relative import 'from {'.' * node.level}{base}' outside "
                                     f"the {PACKAGE} package")
                parent = name.split(".")
                parent = parent if is_package else parent[:-1]
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _with_packages(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@cache
def _direct(path: Path, root: Path) -> frozenset[Path]:
    source = path.read_text()
    name = module_name(path, root)
    try:
        names = imported_names(source, name, path.name == "__init__.py")
    except SyntaxError as exc:
        raise ValueError(f"{path}: cannot parse ({exc.msg}, line {exc.lineno})") from None
    files = {
        file for imported in names if imported.split(".")[0] == PACKAGE
        for prefix in _with_packages(imported) if (file := module_file(prefix, root))
    }
    if name is not None:
        files |= _named_files(path, source)
    return frozenset(files)


def _named_files(path: Path, source: str) -> set[Path]:
    """Files beside a module that its string literals name: data files (`with_name("x.yaml")`)
    and modules it discovers by a glob ending in `.py` (`glob("*/parameters.py")`)."""
    folder = path.parent
    strings = {n.value for n in ast.walk(ast.parse(source))
               if isinstance(n, ast.Constant) and isinstance(n.value, str)
               and 0 < len(n.value) < 200 and "\n" not in n.value and not n.value.startswith("/")}
    files: set[Path] = set()
    for s in strings:
        if any(c in s for c in "*?[") and s.endswith(".py"):
            files.update(p for p in folder.glob(s) if p.is_file())
        elif not s.endswith(".py") and (folder / s).is_file():
            files.add(folder / s)
    return files


def lib_dependencies(path: str | Path, root: Path = ROOT) -> list[Path]:
    """Every `lib` file that running `path` can load, transitively, relative to `root`, sorted.

    A module under `lib/` counts itself. Imports inside functions count too (they may run).
    """
    root = root.resolve()
    start = (root / path).resolve()
    seen: set[Path] = set()
    todo = [start]
    while todo:
        file = todo.pop()
        for dep in _direct(file, root):
            if dep not in seen:
                seen.add(dep)
                if dep.suffix == ".py":
                    todo.append(dep)
    if module_name(start, root) is not None:
        seen.add(start)
    return sorted(p.relative_to(root) for p in seen)


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

    from lib.nbcompare import without_widgets

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
        from lib.results import atomic_write_bytes

        atomic_write_bytes(path, (nbformat.writes(notebook) + "\n").encode())
    return dropped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("idle", help="exit 0 when no Snakemake process works in this repository")
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
