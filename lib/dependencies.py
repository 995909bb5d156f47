"""The `lib` files a notebook (or a module) runs, from its source: what its results depend on.

`lib_dependencies(path)` lists the modules it imports, found with `ast`, transitively, with every
package `__init__.py` on the way, the modules the run-time hooks of a line name
(`layouts=...`, `run_findings="lib.<line>.<module>:f"`, imported on first use:
`lib.lines.RUN_TIME_HOOKS`) and the data files those modules name (e.g. `claims.yaml`). A
notebook job of the Snakefile depends on exactly these, so a comment in a module no notebook
imports re-plans nothing, and a result records their sha256 (`lib.integrity`).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from lib.lines import RUN_TIME_HOOKS
from lib.paths import ROOT

PACKAGE = "lib"


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
    names |= hooked_modules(source)
    files = {
        file for imported in names if imported.split(".")[0] == PACKAGE
        for prefix in _with_packages(imported) if (file := module_file(prefix, root))
    }
    if name is not None:
        files |= _named_files(path, source)
    return frozenset(files)


HOOK = re.compile(rf"^({PACKAGE}(?:\.\w+)+):\w+$")


def hooked_modules(source: str) -> set[str]:
    """Modules named by the hook strings of a line's run-time hooks (`layouts=`, `run_findings=`:
    `lib.lines.RUN_TIME_HOOKS`): a notebook run imports them when it first asks, so they count
    as imports; the tools' hooks (preflight, report, bench) do not."""
    return {match.group(1)
            for call in ast.walk(ast.parse(source)) if isinstance(call, ast.Call)
            for keyword in call.keywords if keyword.arg in RUN_TIME_HOOKS
            for n in ast.walk(keyword.value)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and (match := HOOK.match(n.value))}


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
