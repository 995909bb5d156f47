"""Results files: deterministic names, provenance, atomic writes, and reading other runs.

One JSON per run at `results/<profile>/<experiment>_<run>.json` and its figures under
`figures/<profile>/`, so embedded and paper results never overwrite each other. Files are
written to a temporary name and renamed, so an interrupted run never leaves half a file.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from lib.paths import FIGURES, RESULTS, ROOT

PACKAGES = (
    "torch", "transformers", "accelerate", "bitsandbytes", "numpy", "scipy", "tokenizers",
    "gguf", "nltk", "open_clip_torch",
)


def results_path(profile: str, name: str, root: Path | None = None) -> Path:
    """`results/<profile>/<name>.json`."""
    return (root or RESULTS) / profile / f"{name}.json"


def figure_path(profile: str, name: str, root: Path | None = None) -> Path:
    """`figures/<profile>/<name>.png`."""
    return (root or FIGURES) / profile / f"{name}.png"


def to_jsonable(obj: Any) -> Any:
    """numpy, tuples, paths and non-finite floats made JSON-safe (inf/nan become strings)."""
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
        return value if math.isfinite(value) else str(value)
    if isinstance(obj, Path):
        return str(obj)
    return obj


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


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Atomically write `payload` as indented, key-sorted JSON."""
    text = json.dumps(to_jsonable(payload), indent=2, sort_keys=True, allow_nan=False)
    return atomic_write_bytes(path, (text + "\n").encode())


def read_json(path: Path) -> dict[str, Any]:
    """Read a results file."""
    return json.loads(Path(path).read_text())


def save_figure(fig: Any, profile: str, name: str, dpi: int = 130) -> Path:
    """Save a matplotlib figure atomically as `figures/<profile>/<name>.png`."""
    import io

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


def provenance(params: dict[str, Any], models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Where a result came from: models and revisions, packages, commit, parameters, device."""
    return {
        "models": models,
        "packages": package_versions(),
        "python": platform.python_version(),
        "git": git_commit(),
        "parameter_file": params["parameter_file"],
        "parameter_sha256": params["parameter_sha256"],
        "device": device_description(),
    }


def find_result(profile: str, name: str) -> dict[str, Any] | None:
    """The results of run `name` in `profile`, or None when that run has not been made."""
    path = results_path(profile, name)
    return read_json(path) if path.is_file() else None
