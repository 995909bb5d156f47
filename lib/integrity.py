"""Whether a results file is what the workflow's parameter file and today's code make: checked,
not just recorded.

A run records in its `provenance` the parameter file and its sha256, and `code`: the notebook
and every `lib` file it runs (`lib.dependencies.lib_dependencies`) with their sha256; `write_json`
adds `content_sha256`, the sha256 of everything else in the file. `check_result` accepts a
results file only when

- its content hash matches (no hand edit),
- it is not a scratch run and its parameter file is the workflow's file for its name
  (`parameters/<profile>/<name>.yaml`, no overrides),
- that file still has the recorded sha256 (not edited since, e.g. while the job ran),
- the notebook and its `lib` files are still the recorded ones.

Otherwise it says why in one line. The Snakefile reruns such a result (`make reproduce`); the
summaries, the report and the site leave it out and list it. The git commit is recorded for
information only: a commit that changes none of these files changes no result.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.dependencies import lib_dependencies
from lib.paths import NOTEBOOKS, PARAMETERS, ROOT

CONTENT_KEY = "content_sha256"
RERUN = "rerun it with make reproduce"


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def canonical_sha256(payload: Mapping[str, Any]) -> str:
    """The sha256 of `payload` (JSON-safe) as canonical JSON, without its `content_sha256`."""
    body = {k: v for k, v in payload.items() if k != CONTENT_KEY}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def code_identity(experiment: str, entry: str | None = None) -> dict[str, Any]:
    """What made a result: the notebook of `experiment` (or the module `entry`: a line's module
    that makes a derived file) and every `lib` file it runs, each with its sha256."""
    start = Path(entry) if entry else (NOTEBOOKS / f"{experiment}.py").relative_to(ROOT)
    files = [start, *lib_dependencies(start)]
    return {"entry": str(start),
            "files": {str(f): file_sha256(ROOT / f) for f in sorted(set(files))}}


def workflow_file(profile: str, name: str) -> str:
    """The parameter file that makes `results/<profile>/<name>.json`, relative to the root."""
    return str((PARAMETERS / profile / f"{name}.yaml").relative_to(ROOT))


@dataclass(frozen=True)
class Check:
    """A results file's check: `problem` is None when it is accepted, else one line why."""

    path: str
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _changed(recorded: Mapping[str, str]) -> list[str]:
    changed = []
    for name, sha in recorded.items():
        path = ROOT / name
        if not path.is_file():
            changed.append(f"{name} (gone)")
        elif file_sha256(path) != sha:
            changed.append(name)
    return changed


def problem_of(payload: Any, profile: str, name: str) -> str | None:
    """Why `payload` (read from `results/<profile>/<name>.json`) is not the workflow's result
    today, in words; None when it is."""
    if not isinstance(payload, dict):
        return "not a results file (not a JSON object)"
    recorded = payload.get(CONTENT_KEY)
    if not isinstance(recorded, str):
        return f"has no {CONTENT_KEY} (written by other code, or by hand)"
    if canonical_sha256(payload) != recorded:
        return "edited after it was written (its content does not match its content_sha256)"
    prov = payload.get("provenance")
    if not isinstance(prov, dict):
        return "has no provenance"
    expected = workflow_file(profile, name)
    if prov.get("scratch") is not False or prov.get("overrides"):
        return "a scratch run (overrides, or not run by the workflow) in the workflow's folder"
    if prov.get("parameter_file") != expected:
        return f"made from {prov.get('parameter_file')}, not {expected}"
    if not (ROOT / expected).is_file():
        return f"{expected} no longer exists"
    if file_sha256(ROOT / expected) != prov.get("parameter_sha256"):
        return f"made from an earlier version of {expected} (edited since)"
    code = prov.get("code")
    files = code.get("files") if isinstance(code, dict) else None
    if not isinstance(files, dict) or not files:
        return "records no code (made by an older version of this repository)"
    changed = _changed(files)
    if changed:
        more = f" and {len(changed) - 2} more" if len(changed) > 2 else ""
        return f"made by other code ({', '.join(changed[:2])}{more} changed since)"
    entry = code.get("entry")
    if isinstance(entry, str) and (ROOT / entry).is_file() and set(files) != set(
            code_identity("", entry)["files"]):
        return f"made by other code ({entry} runs another set of lib files today)"
    return None


def where(path: Path) -> tuple[str, str]:
    """(profile, name) of a results file: `results/<profile>/<name>.json`, or a run's seed null
    `results/<profile>/seed_null/<name>.json` (made from the same parameter file)."""
    folder = path.parent.parent if path.parent.name == "seed_null" else path.parent
    return folder.name, path.stem


def check_result(path: str | Path) -> Check:
    """Check `results/<profile>/<name>.json` (see the module docstring)."""
    path = Path(path)
    shown = str(path.relative_to(path.parents[2 if path.parent.name == "seed_null" else 1]))
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        return Check(shown, "missing")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Check(shown, f"unreadable ({type(exc).__name__}: {exc})")
    return Check(shown, problem_of(payload, *where(path)))


def refusal_line(check: Check) -> str:
    """One line for a refused results file, saying how to make it again."""
    return f"{check.path}: {check.problem}; {RERUN}"


def split_checked(paths: Iterable[str | Path]) -> tuple[list[Path], list[Check]]:
    """The accepted paths, and the checks of the refused ones."""
    accepted, refused = [], []
    for path in paths:
        check = check_result(path)
        (accepted.append(Path(path)) if check.ok else refused.append(check))
    return accepted, refused
