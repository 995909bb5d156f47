"""The executed twins: no frozen progress bars, no machine-dependent paths; how paths print."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from lib import paths
from lib.nbcompare import WIDGET_VIEW
from lib.paths import ROOT, shown
from lib.workflow import clean_twin, ordered_notebooks

TWINS = [p.with_suffix(".ipynb") for p in ordered_notebooks()]


@pytest.mark.parametrize("twin", TWINS, ids=lambda p: p.name)
def test_twin_stores_no_progress_widget_and_no_output_folder(twin: Path) -> None:
    text = twin.read_text()
    assert WIDGET_VIEW not in text, f"{twin.name}: run `make notebooks` (it drops the widgets)"
    assert "0%|" not in text
    assert ".cache/" not in text and "test-outputs" not in text


def test_clean_twin_drops_only_widgets(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("run()")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "x"},
                                                     "text/plain": "bar:   0%|  | 0/1"}),
        nbformat.v4.new_output("stream", name="stdout", text="SI 0.47\n"),
    ]
    notebook.cells.append(cell)
    notebook.metadata["widgets"] = {"state": {}}
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    assert clean_twin(path) == 1
    stored = json.loads(path.read_text())
    assert [o["output_type"] for o in stored["cells"][0]["outputs"]] == ["stream"]
    assert "widgets" not in stored["metadata"]
    before = path.stat().st_mtime_ns
    assert clean_twin(path) == 0 and path.stat().st_mtime_ns == before  # nothing to rewrite


def test_outputs_print_without_the_folder_they_were_redirected_to() -> None:
    # conftest.py points BSD_RESULTS_DIR / BSD_FIGURES_DIR at a private folder
    result, figure = paths.RESULTS / "embedded" / "E_x.json", paths.FIGURES / "embedded" / "E_x.png"
    assert shown(result) == "$BSD_RESULTS_DIR/embedded/E_x.json"
    assert shown(figure) == "$BSD_FIGURES_DIR/embedded/E_x.png"
    assert shown(ROOT / "parameters" / "embedded") == "parameters/embedded"
