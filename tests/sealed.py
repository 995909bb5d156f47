"""Results files as the workflow writes them, for tests that make their own: the provenance of
the workflow's parameter file and today's code, and the content hash (`lib.integrity`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lib.integrity import code_identity, file_sha256, where, workflow_file
from lib.paths import ROOT
from lib.results import write_json


def sealed(payload: dict[str, Any], path: Path) -> dict[str, Any]:
    """`payload` with the provenance `results/<profile>/<name>.json` (`path`) gets from the
    workflow: its parameter file as it is now, no overrides, the code of today."""
    profile, name = where(Path(path))
    experiment = payload.get("experiment") or name.split("_", 1)[0]
    file = ROOT / workflow_file(profile, name)
    provenance = dict(payload.get("provenance") or {})
    provenance.update(parameter_file=workflow_file(profile, name), overrides={}, scratch=False,
                      parameter_sha256=file_sha256(file) if file.is_file() else "0" * 64,
                      code=code_identity(experiment))
    return {**payload, "experiment": experiment, "provenance": provenance}


def write_sealed(path: Path, payload: dict[str, Any]) -> Path:
    """Write `payload` at `path` as the workflow would have (`sealed`)."""
    return write_json(path, sealed(payload, path))
