"""The shape of `lib`: no import cycle, and a shared layer that names no line of research."""

from __future__ import annotations

import ast
import re

from lib.dependencies import imported_names, module_file, module_name
from lib.lines import lines
from lib.paths import ROOT

LIB = ROOT / "lib"


def import_graph() -> dict[str, set[str]]:
    """lib module -> the lib modules it imports, at module level or inside a function."""
    graph: dict[str, set[str]] = {}
    for path in sorted(LIB.rglob("*.py")):
        name = module_name(path, ROOT)
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            source = ast.unparse(ast.Module(body=[node], type_ignores=[]))
            for imported in imported_names(source, name, path.name == "__init__.py"):
                parts = imported.split(".")
                for k in range(len(parts), 0, -1):  # the module an imported name lives in
                    found = module_file(".".join(parts[:k]), ROOT)
                    if found:
                        target = module_name(found, ROOT)
                        if target not in (name, "lib"):
                            deps.add(target)
                        break
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_lib_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "lib.report" in graph and graph["lib.report"]  # the graph was read
    assert cycles(graph) == []


def test_the_shared_layer_names_no_line_of_research() -> None:
    """lib/*.py and lib/models/ import, and mention, no `lib.<line>`: each line plugs in through
    lib.lines from its own folder."""
    names = sorted(lines())
    assert {"attention", "terrain", "modulator"} <= set(names)
    pattern = re.compile(r"lib[./](" + "|".join(names) + r")\b")
    shared = [*LIB.glob("*.py"), *(LIB / "models").rglob("*")]
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in shared if p.is_file()
            for i, text in enumerate(p.read_text(errors="replace").splitlines(), 1)
            if pattern.search(text)]
    assert hits == []


def test_each_line_plugs_in_from_its_own_folder() -> None:
    for name, line in lines().items():
        assert (LIB / name / "line.py").is_file()
        for experiment in line.experiments:
            assert (ROOT / "notebooks" / f"{experiment}.py").is_file(), experiment
        hooks = [getattr(line, f) for f in ("preflight", "findings", "details", "overview")]
        for ref in [*hooks, *line.bench.values()]:
            if isinstance(ref, str):
                assert ref.startswith(f"lib.{name}."), ref
