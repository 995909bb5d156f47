"""Run a notebook on a parameter file with papermill: the unit of batch regeneration.

    python -m lib.runner notebooks/E11.py parameters/embedded/E11_tiny-mqa.yaml \
        --output results/embedded/executed/E11_tiny-mqa.ipynb

The jupytext `.py` is the source: it is converted in memory (papermill cannot read it), the
parameter file is injected as `PARAMETERS` (and the overrides as `OVERRIDES`), and the executed
notebook is written atomically. The run is a workflow run (`BSD_WORKFLOW_RUN=1` in the kernel:
results go to `results/<profile>/`) when it runs the workflow's own file for its name,
`parameters/<profile>/<experiment>_<run>.yaml`, without overrides; a file from elsewhere, or
overrides given with `--overrides` or left in the notebook's parameters cell, make a scratch run
(`results/scratch/<profile>/`).
The workflow's jobs pass `--workflow`: the parameter file alone decides, an `OVERRIDES` left in the
parameters cell (e.g. by JupyterLab's autosave into the tracked `.py`) is ignored with a note, and
`--overrides` is refused.
A bad parameter file and a failing cell are reported in one line, without a traceback.

Nothing goes to /tmp: the converted notebook and the kernel's connection file live in a run folder
`.cache/tmp/bsd-run-<host>-<pid>-<random>/`, removed when the run ends. One left by a killed runner
(SIGKILL) is removed by the next run on the same host once its process is gone.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lib import yamlfile
from lib.integrity import workflow_file
from lib.params import ParameterError, load_parameters, result_name
from lib.paths import CACHE, ROOT, shown
from lib.results import WORKFLOW_RUN

RUN_FOLDERS = CACHE / "tmp"  # one folder per running notebook: never /tmp
RUN_PREFIX = "bsd-run-"


class NotebookFailed(RuntimeError):
    """A notebook cell raised while running a parameter file."""


# what a workflow job runs in place of the parameters cell (papermill injects the values after
# it); the fixed placeholders name the injected parameters, so papermill does not warn "Passed
# unknown parameter"
WORKFLOW_PARAMETERS_CELL = ("# A workflow job (lib.runner --workflow) runs none of the notebook's "
                            "parameters cell:\n# PARAMETERS and OVERRIDES are injected below from "
                            "the parameter file\n# (these placeholders only name them).\n"
                            "PARAMETERS = None\nOVERRIDES: dict = {}")


def _parameters_cell(nb: Any) -> Any | None:
    """A notebook's cell tagged `parameters`, if it has one."""
    return next((cell for cell in nb.cells if cell.cell_type == "code"
                 and "parameters" in cell.metadata.get("tags", [])), None)


def _overrides_source(nb: Any) -> tuple[str, ast.expr] | None:
    """The source and value of the `OVERRIDES = ...` of a notebook's `parameters` cell."""
    cell = _parameters_cell(nb)
    if cell is not None:
        for node in ast.walk(ast.parse(cell.source)):
            target = (node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1
                      else node.target if isinstance(node, ast.AnnAssign) else None)
            if isinstance(target, ast.Name) and target.id == "OVERRIDES" and node.value:
                return ast.get_source_segment(cell.source, node.value) or "", node.value
    return None


def _unparsable(exc: SyntaxError) -> str:
    return f"does not parse ({exc.msg}, line {exc.lineno})"


def default_overrides(nb: Any) -> dict[str, Any]:
    """The `OVERRIDES` literal of a notebook's `parameters` cell (`{}` when it has none)."""
    try:
        found = _overrides_source(nb)
    except SyntaxError as exc:
        raise ValueError(f"the parameters cell {_unparsable(exc)}: fix it, or leave it as the "
                         "notebook has it") from None
    if found is None:
        return {}
    text, node = found
    try:
        value = ast.literal_eval(node)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ValueError(f"OVERRIDES in the parameters cell must be a literal dict such as "
                         f'{{"seeds": [42]}}, got {text}')
    return value


@contextlib.contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """Set (or, for None, remove) environment variables for the duration of the block."""
    before = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def clean_stale_run_folders(root: Path = RUN_FOLDERS) -> list[Path]:
    """Remove the run folders of this host's runners that are gone (killed); return them.

    Only `bsd-run-<this host>-<pid>-<random>` folders whose pid no longer runs: a live run, or
    one on another machine sharing the folder, is never touched.
    """
    pattern = re.compile(rf"{re.escape(RUN_PREFIX + socket.gethostname())}-(\d+)-[^-]+")
    removed = []
    for folder in sorted(root.glob(f"{RUN_PREFIX}*")) if root.is_dir() else []:
        match = pattern.fullmatch(folder.name)
        if match and folder.is_dir() and not _alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@contextlib.contextmanager
def run_folder(root: Path = RUN_FOLDERS) -> Iterator[Path]:
    """A private folder for one run under `.cache/tmp/` (stale ones of this host cleaned first),
    removed at the end; named with the host and this process's id for `clean_stale_run_folders`."""
    clean_stale_run_folders(root)
    root.mkdir(parents=True, exist_ok=True)
    prefix = f"{RUN_PREFIX}{socket.gethostname()}-{os.getpid()}-"
    with tempfile.TemporaryDirectory(prefix=prefix, dir=root) as folder:
        yield Path(folder)


def kernel_config(folder: Path) -> Any:
    """The traitlets config that puts the kernel's connection file in `folder` (jupyter_client
    otherwise writes it with `tempfile.mkstemp`, i.e. to /tmp, where a killed run leaves it) and
    gives the kernel CurveZMQ keys (ipykernel otherwise warns in every log that it talks over
    unencrypted TCP) where pyzmq supports them; `jupyter/jupyter_server_config.py` does the same
    for the Lab's kernels."""
    import zmq
    from traitlets.config import Config

    manager: dict[str, Any] = {"connection_file": str(folder / "kernel.json")}
    if zmq.has("curve"):
        manager["transport_encryption"] = "auto"
    return Config({"KernelManager": manager})


def run_notebook(notebook: str | Path, parameters: str | Path, output: str | Path,
                 progress: bool = False, overrides: Mapping[str, Any] | None = None,
                 workflow: bool = False) -> Path:
    """Execute `notebook` with `parameters` (and `overrides`) injected; write it to `output`.

    The workflow's own file (`parameters/<profile>/<name>.yaml`) without overrides (here or in
    the notebook's parameters cell) runs with `BSD_WORKFLOW_RUN=1` and writes the workflow's
    results; overrides or any other file make a scratch run (`results/scratch/<profile>/`).
    `workflow=True` (the Snakefile's jobs) runs none of the parameters cell's own code and injects
    empty overrides, so an edited cell never changes what `make reproduce` produces.
    """
    import jupytext
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook, output = Path(notebook), Path(output)
    experiment = notebook.stem
    nb = jupytext.read(notebook)
    if workflow:
        if overrides:
            raise ValueError("a workflow run takes no --overrides: leave out --workflow for a "
                             "scratch run")
        try:
            left = _overrides_source(nb)
            edit = f"sets OVERRIDES = {left[0]}" if left and left[0].strip() != "{}" else ""
        except SyntaxError as exc:
            edit = f"has a parameters cell that {_unparsable(exc)}"
        if edit:
            print(f"note: {shown(notebook)} {edit}; a workflow run ignores it (set it back to "
                  "OVERRIDES: dict = {} to silence this)", file=sys.stderr)
        cell = _parameters_cell(nb)
        if cell is not None:  # an edited cell never runs in a workflow job
            cell.source = WORKFLOW_PARAMETERS_CELL
        overrides = {}
    overrides = dict(default_overrides(nb) if overrides is None else overrides)
    params = load_parameters(parameters, experiment, overrides)  # fail before any kernel starts
    # only the workflow's own file, as it is, makes the workflow's result; anything else is a
    # scratch run (results/scratch/<profile>/), and a workflow job refuses it
    own = workflow_file(params.profile, result_name(params))
    scratch = bool(overrides) or params.parameter_file != own
    if scratch and workflow:
        raise ValueError(f"{params.parameter_file} is not {own}: a workflow job runs the "
                         "repository's parameter file for its result")
    if scratch and not overrides:
        print(f"note: {params.parameter_file} is not {own}: a scratch run, written under "
              f"results/scratch/{params.profile}/", file=sys.stderr)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                          "language": "python"})
    output.parent.mkdir(parents=True, exist_ok=True)
    # executed into a hidden file beside the output, then renamed: a killed run leaves at most
    # this one partial file, which the next run overwrites
    partial = output.with_name(f".{output.stem}.partial{output.suffix}")
    with run_folder() as tmp:
        source = tmp / f"{experiment}.ipynb"
        nbformat.write(nb, source)
        # progress bars stay readable in logs; the kernel inherits lib.env's locations
        with environment(TQDM_MININTERVAL="5", **{WORKFLOW_RUN: None if scratch else "1"}):
            try:
                papermill.execute_notebook(
                    str(source), str(partial),
                    parameters={"PARAMETERS": params.parameter_file, "OVERRIDES": overrides},
                    kernel_name="python3", language="python", progress_bar=progress,
                    log_output=True, cwd=str(ROOT), config=kernel_config(tmp),
                )
            except PapermillExecutionError as exc:
                failed = output.with_name(output.name + ".failed")
                if partial.exists():
                    os.replace(partial, failed)
                first_line = (exc.source or "").strip().splitlines()
                raise NotebookFailed(
                    f"{shown(notebook)} failed on {params.parameter_file} in cell "
                    f"{exc.cell_index} (execution {exc.exec_count}: "
                    f"{first_line[0] if first_line else ''!r}): {exc.ename}: {exc.evalue}. "
                    f"The partial notebook is kept at {shown(failed)}"
                ) from None
    os.replace(partial, output)
    return output


def _overrides(text: str) -> dict[str, Any]:
    try:
        value = yamlfile.parse(text, "--overrides")
    except yamlfile.YamlError as exc:  # argparse shows an ArgumentTypeError's message only
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--overrides: ")) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a YAML mapping such as '{{seeds: [42]}}', "
                                         f"got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", help="notebooks/<experiment>.py")
    parser.add_argument("parameters", help="parameters/<profile>/<experiment>_<run>.yaml")
    parser.add_argument("--output", required=True, help="where the executed notebook goes")
    parser.add_argument("--overrides", type=_overrides, default=None,
                        help="keys to change, as YAML, e.g. '{seeds: [42]}': a scratch run")
    parser.add_argument("--progress", action="store_true", help="show papermill's cell bar")
    parser.add_argument("--workflow", action="store_true",
                        help="a workflow job: the parameter file alone decides (OVERRIDES left in "
                             "the parameters cell are ignored)")
    args = parser.parse_args(argv)
    try:
        run_notebook(args.notebook, args.parameters, args.output, args.progress, args.overrides,
                     workflow=args.workflow)
    except (NotebookFailed, ParameterError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
