"""Results files: deterministic names, provenance, atomic writes, and reading other runs.

One JSON per run at `results/<profile>/<experiment>_<run>.json` and its figures under
`figures/<profile>/`, so embedded and paper results never overwrite each other. Files are
written to a temporary name and renamed, so an interrupted run never leaves half a file.

A file that belongs to a results file (a trained modulator) is its *companion*, in a folder named
by the results file's stem. It is written *staged* (`.<name>.partial`) and `write_json` of that
results file renames it into place just before writing the results: an interrupted run leaves at
most a hidden staged file, never a finished-looking one without its results, and the next run
(`clean_companions`) removes it.

Only the workflow writes those folders: `lib.runner` (and the Snakefile's jobs) set
`BSD_WORKFLOW_RUN=1`. A notebook run any other way (JupyterLab, papermill, nbconvert) or with
overrides writes under `results/scratch/<profile>/` and `figures/scratch/<profile>/`, which the
workflow, the summary and the report never read; its provenance says so and records the
overrides with their hash. Other runs' results are always read from the workflow's folder.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import BaseModel

from lib.integrity import (
    CONTENT_KEY,
    canonical_sha256,
    check_result,
    code_identity,
    refusal_line,
)
from lib.paths import FIGURES, PARAMETERS, RESULTS, ROOT
from lib.threads import threads_in_force


class RunIdentity(Protocol):
    """What `provenance` reads of a run's parameters (`lib.params.RunParameters` has it; named
    here structurally, since `lib.params` reads the claims, which read results)."""

    experiment: str
    parameter_file: str
    parameter_sha256: str
    parameter_overrides: dict[str, Any]


PACKAGES = (
    "torch", "transformers", "accelerate", "bitsandbytes", "numpy", "scipy", "tokenizers",
    "gguf", "nltk", "open_clip_torch",
)


WORKFLOW_RUN = "BSD_WORKFLOW_RUN"  # "1" in the kernels lib.runner starts and in workflow jobs
SCRATCH = "scratch"  # results/scratch/<profile>/, figures/scratch/<profile>/


def workflow_run() -> bool:
    """Whether this process writes the workflow's folders (`BSD_WORKFLOW_RUN=1`)."""
    return os.environ.get(WORKFLOW_RUN) == "1"


def output_folder(root: Path, profile: str) -> Path:
    """`<root>/<profile>` in a workflow run, else `<root>/scratch/<profile>`."""
    return root / profile if workflow_run() else root / SCRATCH / profile


def results_path(profile: str, name: str, root: Path | None = None) -> Path:
    """Where this run writes `<name>.json`: `results/<profile>/` or `results/scratch/<profile>/`."""
    return output_folder(root or RESULTS, profile) / f"{name}.json"


def figure_path(profile: str, name: str, root: Path | None = None) -> Path:
    """Where this run writes `<name>.png`: `figures/<profile>/` or `figures/scratch/<profile>/`."""
    return output_folder(root or FIGURES, profile) / f"{name}.png"


def to_jsonable(obj: Any) -> Any:
    """numpy, tuples and paths made JSON-safe; a non-finite float (NaN/Inf) becomes None (JSON
    null: the number is undefined, and readers print it as n/a)."""
    if isinstance(obj, BaseModel):  # a parameter block
        return to_jsonable(obj.model_dump())
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


# what varies from one run of the same inputs to the next: a results file holds none of them
MEASUREMENT_KEYS = ("seconds", "seconds_per_step", "encode_seconds", "timings_s", "peak_rss_mb",
                    "peak_exact", "peak_over_largest")


def pop_measurements(block: Any, keys: Iterable[str] = MEASUREMENT_KEYS,
                     path: str = "") -> dict[str, Any]:
    """Remove every key of `keys` (wall times, peak memory) from a nested block, in place;
    return them keyed by their path ("train/seconds"), to print or log: the same inputs must
    give the same results file, byte for byte."""
    keys = tuple(keys)
    found: dict[str, Any] = {}
    if isinstance(block, dict):
        for key in list(block):
            where = f"{path}/{key}" if path else str(key)
            if key in keys:
                found[where] = block.pop(key)
            else:
                found.update(pop_measurements(block[key], keys, where))
    elif isinstance(block, list):
        for i, item in enumerate(block):
            found.update(pop_measurements(item, keys, f"{path}/{i}" if path else str(i)))
    return found


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would make shared results private
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


STAGED = ".partial"  # suffix of a companion file written before its results file


def companion_path(results_file: Path, name: str) -> Path:
    """Where the companion file `name` of `results_file` goes: `<folder>/<stem>/<name>`."""
    return Path(results_file).with_suffix("") / name


def staged(path: Path) -> Path:
    """The name a companion file is written under until its results file is: `.<name>.partial`."""
    path = Path(path)
    return path.with_name(f".{path.name}{STAGED}")


def _staged_files(results_file: Path) -> list[Path]:
    folder = Path(results_file).with_suffix("")
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.name.startswith(".") and p.name.endswith(STAGED) and p.is_file())


def clean_companions(results_file: Path) -> list[Path]:
    """Remove what an interrupted run left beside `results_file`: staged files, and, when the
    results file does not exist, the companions (nothing refers to them); return the paths."""
    results_file = Path(results_file)
    removed = _staged_files(results_file)
    folder = results_file.with_suffix("")
    if folder.is_dir() and not results_file.exists():
        removed += sorted(p for p in folder.iterdir() if p.is_file() and p not in removed)
    for p in removed:
        p.unlink(missing_ok=True)
    return removed


def publish_companions(results_file: Path) -> list[Path]:
    """Rename the staged companions of `results_file` into place; return their final paths."""
    published = []
    for path in _staged_files(results_file):
        final = path.with_name(path.name[1:-len(STAGED)])
        os.replace(path, final)
        published.append(final)
    return published


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Atomically write `payload` as indented, key-sorted JSON with its `content_sha256` (the
    hash of everything else, `lib.integrity`), publishing its staged companions
    (`publish_companions`) just before."""
    body = to_jsonable(payload)
    body[CONTENT_KEY] = canonical_sha256(body)
    text = json.dumps(body, indent=2, sort_keys=True, allow_nan=False)
    publish_companions(path)
    return atomic_write_bytes(path, (text + "\n").encode())


def read_json(path: Path) -> dict[str, Any]:
    """Read a results file."""
    return json.loads(Path(path).read_text())


def save_figure(fig: Any, profile: str, name: str, dpi: int = 130) -> Path:
    """Save a matplotlib figure atomically as `figures/<profile>/<name>.png`."""

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return atomic_write_bytes(figure_path(profile, name), buffer.getvalue())


def git_commit() -> dict[str, Any]:
    """The repository's HEAD commit and whether the tree has uncommitted changes."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Installed versions of the packages that shape the numbers."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def device_description() -> str:
    """The accelerator the run used, or the CPU."""
    import torch

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.machine()} ({os.cpu_count()} cores)"


class ScratchRunError(RuntimeError):
    """A run flagged as a workflow run whose parameters were overridden."""


def overrides_sha256(overrides: dict[str, Any]) -> str:
    """The sha256 of `overrides` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(to_jsonable(overrides), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def provenance(params: RunIdentity, models: dict[str, dict[str, Any]],
               entry: str | None = None) -> dict[str, Any]:
    """Where a result came from: models and revisions, packages, commit, the notebook and lib
    files that ran (with their sha256, checked by `lib.integrity`), parameters, device, threads.

    `entry`: the module that made it when not the experiment's notebook (a line's module that
    makes a derived file). Records the overrides applied on top of the parameter file
    (`params.parameter_overrides`, added by `lib.params.load_parameters`), their sha256, and
    whether this is a `scratch` run.
    """
    overrides = dict(params.parameter_overrides)
    if overrides and workflow_run():
        raise ScratchRunError(
            f"{params.parameter_file} was run with overrides {sorted(overrides)} under "
            f"{WORKFLOW_RUN}=1: a workflow result must come from the parameter file alone; "
            "unset the variable (the run then goes to results/scratch/) or drop the overrides")
    return {
        "models": models,
        "packages": package_versions(),
        "python": platform.python_version(),
        "git": git_commit(),
        "code": code_identity(params.experiment, entry),
        "parameter_file": params.parameter_file,
        "parameter_sha256": params.parameter_sha256,
        "overrides": overrides,
        "overrides_sha256": overrides_sha256(overrides),
        "scratch": not workflow_run(),
        "device": device_description(),
        "threads": threads_in_force(),
    }


def run_results(profile: str) -> list[Path]:
    """The workflow's results files of `profile` that a parameter file of it still defines."""
    names = sorted(p.stem for p in (PARAMETERS / profile).glob("*.yaml"))
    return [path for name in names if (path := RESULTS / profile / f"{name}.json").is_file()]


class ResultRefused(ValueError):
    """A results file that is there but is not what the workflow's file and code make."""


def find_result(profile: str, name: str) -> dict[str, Any] | None:
    """The workflow's results of run `name` in `profile`, or None when it has not been made;
    `ResultRefused` (one line) when it fails `lib.integrity.check_result`.

    Always `results/<profile>/`, in scratch runs too: scratch results are never read back.
    """
    path = RESULTS / profile / f"{name}.json"
    if not path.is_file():
        return None
    check = check_result(path)
    if not check.ok:
        raise ResultRefused(refusal_line(check))
    return read_json(path)
