"""Run a notebook on a parameter file with papermill: the unit of batch regeneration.

    python -m lib.runner notebooks/E11.py parameters/embedded/E11_tiny-mqa.yaml \
        --output results/embedded/executed/E11_tiny-mqa.ipynb

The jupytext `.py` is the source: it is converted in memory (papermill cannot read it), the
parameter file is injected as `PARAMETERS`, and the executed notebook is written atomically.
A failing cell is reported with its number, its first line and the parameter file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from lib.params import load_parameters
from lib.paths import ROOT


class NotebookFailed(RuntimeError):
    """A notebook cell raised while running a parameter file."""


def run_notebook(notebook: str | Path, parameters: str | Path, output: str | Path,
                 progress: bool = False) -> Path:
    """Execute `notebook` with `parameters` injected; write the executed notebook to `output`."""
    import jupytext
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook, output = Path(notebook), Path(output)
    experiment = notebook.stem
    params = load_parameters(parameters, experiment)  # fail early on a bad parameter file
    nb = jupytext.read(notebook)
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                          "language": "python"})
    output.parent.mkdir(parents=True, exist_ok=True)
    # executed into a hidden file beside the output, then renamed: a killed run leaves at most
    # this one partial file, which the next run overwrites
    partial = output.with_name(f".{output.stem}.partial{output.suffix}")
    with tempfile.TemporaryDirectory(prefix="bsd-run-") as tmp:
        source = Path(tmp) / f"{experiment}.ipynb"
        nbformat.write(nb, source)
        env_before = os.environ.get("TQDM_MININTERVAL")
        os.environ["TQDM_MININTERVAL"] = "5"  # progress bars stay readable in logs
        try:
            papermill.execute_notebook(
                str(source), str(partial), parameters={"PARAMETERS": params["parameter_file"]},
                kernel_name="python3", language="python", progress_bar=progress,
                log_output=True, cwd=str(ROOT),
            )
        except PapermillExecutionError as exc:
            failed = output.with_name(output.name + ".failed")
            if partial.exists():
                os.replace(partial, failed)
            first_line = (exc.source or "").strip().splitlines()
            raise NotebookFailed(
                f"{notebook} failed on {params['parameter_file']} in cell {exc.cell_index} "
                f"(execution {exc.exec_count}: {first_line[0] if first_line else ''!r}): "
                f"{exc.ename}: {exc.evalue}. The partial notebook is kept at {failed}"
            ) from None
        finally:
            if env_before is None:
                os.environ.pop("TQDM_MININTERVAL", None)
            else:
                os.environ["TQDM_MININTERVAL"] = env_before
    os.replace(partial, output)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", help="notebooks/<experiment>.py")
    parser.add_argument("parameters", help="parameters/<profile>/<experiment>_<run>.yaml")
    parser.add_argument("--output", required=True, help="where the executed notebook goes")
    parser.add_argument("--progress", action="store_true", help="show papermill's cell bar")
    args = parser.parse_args(argv)
    try:
        run_notebook(args.notebook, args.parameters, args.output, args.progress)
    except NotebookFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
