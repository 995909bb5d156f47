"""The start of every notebook run: its parameters, where it writes, its CPU threads.

    run = start(PARAMETERS, "E11", OVERRIDES)

loads and validates the parameter file (`lib.params`), decides whether this is a workflow run
or a scratch run, and fixes the CPU thread count (`lib.threads`). A workflow run
(`BSD_WORKFLOW_RUN=1`, set by `lib.runner` and the Snakefile's jobs) writes
`results/<profile>/<name>.json` and so must come from the workflow's own file,
`parameters/<profile>/<name>.yaml`, without overrides: anything else is refused here, before any
model loads. Every other run writes under `results/scratch/<profile>/`. A folder it cannot
write is refused here too, not after the computation. On Colab it first installs what the
embedded parameters need (`lib.colab`; once per runtime).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.integrity import workflow_file
from lib.layout import result_problem
from lib.params import RunParameters, load_parameters, result_name
from lib.paths import shown
from lib.results import (
    WORKFLOW_RUN,
    ScratchRunError,
    figure_path,
    results_path,
    to_jsonable,
    workflow_run,
    write_json,
)
from lib.threads import fix_threads


@dataclass(frozen=True)
class Run:
    """One notebook run: its validated parameters and where its outputs go."""

    params: RunParameters
    name: str
    profile: str
    scratch: bool
    threads: int
    results_file: Path
    figure_file: Path

    def save(self, payload: dict[str, Any]) -> Path:
        """Write `payload` as this run's results file, once it fits its line's results layout
        (`lib.layout`; ValueError naming the key otherwise)."""
        problem = result_problem(to_jsonable(payload), self.params.experiment)
        if problem:
            raise ValueError(f"{self.name}: the results do not fit their layout: {problem}")
        return write_json(self.results_file, payload)


def start(parameters: str | Path, experiment: str,
          overrides: Mapping[str, Any] | None = None) -> Run:
    """Load `parameters` for `experiment` with `overrides`, check it may write where this
    process writes, and run on the file's CPU threads."""
    if "google.colab" in sys.modules:
        from lib import colab  # installs packages: only ever wanted on Colab

        if colab.main() != 0:
            raise RuntimeError("Colab set-up failed (see above): rerun this cell")
    params = load_parameters(parameters, experiment, overrides)
    check_workflow_file(params)
    name, profile = result_name(params), params.profile
    results_file, figure_file = results_path(profile, name), figure_path(profile, name)
    for folder, variable in ((results_file.parent, "BSD_RESULTS_DIR"),
                             (figure_file.parent, "BSD_FIGURES_DIR")):
        writable(folder, variable)
    threads = fix_threads(params.threads)
    return Run(params, name, profile, not workflow_run(), threads, results_file, figure_file)


def check_workflow_file(params: RunParameters) -> None:
    """In a workflow run, refuse (ScratchRunError, one line) anything but the workflow's own
    parameter file for the run's name, as it is."""
    if not workflow_run():
        return
    name, profile = result_name(params), params.profile
    expected = workflow_file(profile, name)
    if params.parameter_overrides or params.parameter_file != expected:
        given = params.parameter_file + (" with overrides" if params.parameter_overrides
                                            else "")
        raise ScratchRunError(
            f"{given}: a workflow run ({WORKFLOW_RUN}=1) writes results/{profile}/{name}.json "
            f"and must run {expected} as it is; unset {WORKFLOW_RUN} for a scratch run")


def writable(folder: Path, variable: str) -> None:
    """Make `folder` if needed; PermissionError (one line) now, not after the computation, if
    this process cannot write there."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionError(f"{shown(folder)} cannot be made ({exc.strerror}): make its parent "
                              f"writable or set {variable} to a folder you can write") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{shown(folder)} is not writable: make it writable or set "
                              f"{variable} to a folder you can write")
