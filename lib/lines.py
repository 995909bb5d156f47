"""The lines of research, each plugged into the shared machinery by its own `lib/<line>/line.py`.

The shared layer (parameter files, preflight, report, findings, workflow) names no line: it asks
this registry. A line is a package `lib/<line>/` whose `line.py` calls `register(Line(...))`
with what it contributes:

- `experiments`: the notebooks it owns (`notebooks/<experiment>.py`) and their parameter models
  (`lib/<line>/parameters.py`, registered with `lib.params.register`);
- `preflight`: the rows of `make preflight` for one of its parameter files;
- `findings` / `run_findings` / `cannot_show`: what its embedded results show (the report's
  opening, each notebook's closing lines) and what they cannot;
- `overview` / `details`: its sections of REPORT.md, before and after the claims table;
  `claims_notes`: its sentences above that table; `report_json`: its keys of report.json;
- `prepare`: what `make setup` makes for it (WordNet); `bench`: its areas of `make bench`;
- `derived`: the files its own Snakemake rules (`lib/<line>/rules.smk`) make from the runs'
  results (`results/<profile>/<name>.json`), which the report reads beside them;
- `layouts`: the typed layout of each experiment's results file (`lib/<line>/layout.py`);
  `renames`: its results keys renamed from seed section numbers and defect codes
  (`lib/<line>/renames.py`, read by `python -m lib.renames`).

A hook is a callable or, to keep `line.py` light (the report need not import torch), the name of
one, `"lib.<line>.<module>:<function>"`, imported when first asked for (`hook`).

Adding a line is one folder (with `line.py`), its notebooks, its parameter files and its claims.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Results = Mapping[str, dict[str, Any]]  # {"<profile>/<name>": results payload}
Derived = Mapping[str, dict[str, Any]]  # {"<name>": payload} of the lines' derived files
Hook = Callable[..., Any] | str  # a callable, or "module:function" imported on first use
RUN_TIME_HOOKS = ("layouts", "run_findings")
"""The hooks a notebook run asks for (its results layout, loaded with the claims, and its
closing findings): their modules are what a result depends on (`lib.dependencies`); the other
hooks serve the tools (preflight, report, bench, set-up) and never run in a notebook."""


def _none(*_args: Any) -> list[str]:
    return []


def _no_keys(*_args: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Line:
    """What one line of research contributes (see the module docstring)."""

    name: str
    experiments: tuple[str, ...]
    findings: Hook = _none  # (results) -> lines: what its embedded runs show
    run_findings: Hook = _none  # (payload) -> lines: what one run shows (its notebook)
    cannot_show: Hook = _none  # () -> lines
    overview: Hook = _none  # (results, derived) -> REPORT.md lines before the claims
    details: Hook = _none  # (results, derived) -> REPORT.md lines after the claims
    claims_notes: Hook = _none  # (results) -> lines above the claims table
    report_json: Hook = _no_keys  # (results, derived) -> its keys of report.json
    preflight: Hook | None = None  # (params, folder) -> preflight rows of one parameter file
    bench: Mapping[str, Hook] = field(default_factory=dict)  # area -> (quick) -> rows
    prepare: Hook | None = None  # (check_only) -> (name, status, seconds): `make setup`
    derived: tuple[str, ...] = ()
    layouts: Mapping[str, Hook] = field(default_factory=dict)  # experiment -> layout model
    renames: Hook | None = None  # {experiment: [(old dotted path, new key)]}: lib.renames


LINES: dict[str, Line] = {}
_discovered: list[bool] = []


def register(line: Line) -> Line:
    """Add `line` (once; an experiment belongs to one line)."""
    if LINES.get(line.name, line) is not line:
        raise TypeError(f"line {line.name!r} is registered twice")
    taken = {e: other.name for other in LINES.values() if other is not line
             for e in other.experiments}
    clash = sorted(e for e in line.experiments if e in taken)
    if clash:
        raise TypeError(f"experiment(s) {clash} of line {line.name!r} belong to "
                        f"{taken[clash[0]]!r}")
    LINES[line.name] = line
    return line


def lines() -> dict[str, Line]:
    """Every line, in name order: imports each `lib/<line>/line.py` once."""
    if not _discovered:
        for module in sorted(Path(__file__).parent.glob("*/line.py")):
            importlib.import_module(f"lib.{module.parent.name}.line")
        _discovered.append(True)
    return dict(sorted(LINES.items()))


def line_of(experiment: str) -> Line:
    """The line that owns `experiment`; KeyError naming the known ones."""
    for line in lines().values():
        if experiment in line.experiments:
            return line
    known = sorted(e for line in lines().values() for e in line.experiments)
    raise KeyError(f"no line of research owns experiment {experiment!r} (known: "
                   f"{', '.join(known)})")


def derived_names() -> tuple[str, ...]:
    """The stems of every line's derived files (`summary`, `calibration`, ...)."""
    return tuple(name for line in lines().values() for name in line.derived)


def hook(ref: Hook) -> Callable[..., Any]:
    """The callable a hook names (`"module:function"`), or the hook itself."""
    if callable(ref):
        return ref
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def gather(name: str, *args: Any) -> list[str]:
    """Every line's `name(*args)` lines, line by line in name order."""
    out: list[str] = []
    for line in lines().values():
        out += hook(getattr(line, name))(*args)
    return out


def for_experiments(experiments: Sequence[str]) -> list[Line]:
    """The lines owning any of `experiments`, each once."""
    return [line for line in lines().values() if set(line.experiments) & set(experiments)]
