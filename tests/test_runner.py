"""Runs outside the workflow never touch its files; the runner leaves the home directory alone.

Only `lib.runner` (and the Snakefile's jobs) write `results/<profile>/`; JupyterLab, papermill
or a run with overrides write `results/scratch/<profile>/` and record the overrides.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from sealed import write_sealed

from lib import env, paths, results
from lib.params import ParameterError, load_parameters
from lib.runner import WORKFLOW_PARAMETERS_CELL, default_overrides, main, run_notebook

TINY = "parameters/embedded/E11_tiny-mqa.yaml"  # tiny embedded parameter file (E11)

# A notebook that does what the real ones do with files: parameters, matplotlib, a progress bar,
# a figure, a results file with provenance. Named E11.py: the runner takes the experiment from it.
NOTEBOOK = """\
# %% tags=["parameters"]
PARAMETERS = "x"
OVERRIDES: dict = {overrides}

# %%
import matplotlib.pyplot as plt
from tqdm.auto import tqdm

from lib.params import load_parameters, result_name
from lib.results import provenance, results_path, save_figure, write_json

params = load_parameters(PARAMETERS, "E11", OVERRIDES)
NAME, PROFILE = result_name(params), params.profile
for _ in tqdm(range(3)):
    pass
fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0])
save_figure(fig, PROFILE, NAME)
write_json(results_path(PROFILE, NAME),
           {{"max_length": params.max_length, "provenance": provenance(params, {{}})}})
"""


def _notebook(folder: Path, overrides: str = "{}") -> Path:
    path = folder / "E11.py"
    path.write_text(NOTEBOOK.format(overrides=overrides))
    return path


@pytest.fixture
def outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private results/figures folders, for this process and the kernels it starts."""
    for key, sub in (("BSD_RESULTS_DIR", "results"), ("BSD_FIGURES_DIR", "figures")):
        monkeypatch.setenv(key, str(tmp_path / sub))
    monkeypatch.setattr(results, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(results, "FIGURES", tmp_path / "figures")
    return tmp_path


@pytest.mark.integration
def test_only_a_workflow_run_writes_the_workflow_folders(outputs: Path, monkeypatch) -> None:
    monkeypatch.delenv(results.WORKFLOW_RUN, raising=False)  # JupyterLab, papermill, nbconvert
    scratch = outputs / "results" / "scratch" / "embedded" / "E11_x.json"
    assert results.results_path("embedded", "E11_x") == scratch
    assert results.figure_path("paper", "E11_x") == outputs / "figures/scratch/paper/E11_x.png"
    monkeypatch.setenv(results.WORKFLOW_RUN, "1")  # set by lib.runner for its kernel
    assert results.results_path("embedded", "E11_x") == outputs / "results/embedded/E11_x.json"
    assert results.figure_path("paper", "E11_x") == outputs / "figures/paper/E11_x.png"


def test_scratch_results_are_never_read_back(outputs: Path, monkeypatch) -> None:
    monkeypatch.delenv(results.WORKFLOW_RUN, raising=False)
    results.write_json(results.results_path("embedded", "E11_tiny-mqa"), {"v": "scratch"})
    assert results.find_result("embedded", "E11_tiny-mqa") is None
    write_sealed(outputs / "results/embedded/E11_tiny-mqa.json", {"v": "workflow"})
    assert results.find_result("embedded", "E11_tiny-mqa")["v"] == "workflow"


def test_provenance_records_overrides_and_their_hash(monkeypatch) -> None:
    monkeypatch.delenv(results.WORKFLOW_RUN, raising=False)
    params = load_parameters(TINY, "E11", {"max_length": 64, "seeds": [42]})
    record = results.provenance(params, {})
    assert record["overrides"] == {"max_length": 64, "seeds": [42]} and record["scratch"]
    canonical = b'{"max_length":64,"seeds":[42]}'  # sorted keys, no spaces
    assert record["overrides_sha256"] == hashlib.sha256(canonical).hexdigest()
    assert record["parameter_file"] == TINY


def test_a_workflow_result_refuses_overrides(monkeypatch) -> None:
    monkeypatch.setenv(results.WORKFLOW_RUN, "1")
    params = load_parameters(TINY, "E11", {"max_length": 64})
    with pytest.raises(results.ScratchRunError, match=r"overrides \['max_length'\]"):
        results.provenance(params, {})
    assert results.provenance(load_parameters(TINY, "E11"), {})["scratch"] is False


def test_default_overrides_are_read_from_the_parameters_cell(tmp_path: Path) -> None:
    assert default_overrides(jupytext.read(_notebook(tmp_path))) == {}
    nb = jupytext.read(_notebook(tmp_path, '{"seeds": [42], "max_length": 64}'))
    assert default_overrides(nb) == {"seeds": [42], "max_length": 64}
    real = jupytext.read(paths.NOTEBOOKS / "E11.py")
    assert default_overrides(real) == {}  # the committed notebooks leave OVERRIDES empty


def test_overrides_that_are_not_a_literal_dict_are_refused_in_one_line(tmp_path: Path) -> None:
    for given in ("dict(max_length=64)", "[42]"):
        nb = jupytext.read(_notebook(tmp_path, given))
        with pytest.raises(ValueError, match=r"must be a literal dict such as \{\"seeds\": \[42\]\}"
                           rf", got {re.escape(given)}$"):
            default_overrides(nb)
    with pytest.raises(ValueError, match=r"^the parameters cell does not parse \("):
        default_overrides(jupytext.read(_notebook(tmp_path, '{"seeds": [4')))


@pytest.mark.integration
@pytest.mark.slow
def test_runner_with_overrides_writes_scratch_and_keeps_the_workflow_result(
        outputs: Path) -> None:
    workflow = outputs / "results/embedded/E11_tiny-mqa.json"
    results.write_json(workflow, {"max_length": 128, "marker": "the workflow's result"})
    run_notebook(_notebook(outputs), TINY, outputs / "out.ipynb", overrides={"max_length": 64})
    scratch = json.loads((outputs / "results/scratch/embedded/E11_tiny-mqa.json").read_text())
    assert scratch["max_length"] == 64
    assert scratch["provenance"]["overrides"] == {"max_length": 64}
    assert scratch["provenance"]["scratch"] is True
    assert scratch["provenance"]["overrides_sha256"] == hashlib.sha256(
        b'{"max_length":64}').hexdigest()
    assert (outputs / "figures/scratch/embedded/E11_tiny-mqa.png").stat().st_size > 1000
    assert json.loads(workflow.read_text())["marker"] == "the workflow's result"
    assert not (outputs / "figures/embedded").exists()
    assert os.environ.get(results.WORKFLOW_RUN) == "1"  # the session's value is restored


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("edited", ['{"max_length": 64}', '{"max_length": 64'],
                         ids=["overrides", "half-typed"])
def test_a_workflow_job_ignores_overrides_left_in_the_parameters_cell(
        outputs: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
        edited: str) -> None:
    """JupyterLab's autosave writes an edited OVERRIDES (or a half-typed cell) into the tracked
    `.py`: the workflow's job (`--workflow`) runs none of that cell and still writes the
    workflow's result from the parameter file alone. Papermill knows the names it injects (no
    "Passed unknown parameter" warning opening every workflow log)."""
    caplog.set_level(logging.INFO, logger="papermill")
    run_notebook(_notebook(outputs, edited), TINY, outputs / "out.ipynb", workflow=True)
    err = capsys.readouterr().err
    assert "ignores it" in err
    assert "Input Notebook" in caplog.text  # papermill's log is captured: the next line can fail
    assert "Passed unknown parameter" not in caplog.text + err
    result = json.loads((outputs / "results/embedded/E11_tiny-mqa.json").read_text())
    assert result["max_length"] == load_parameters(TINY, "E11").max_length != 64
    assert result["provenance"]["scratch"] is False
    assert not (outputs / "results/scratch").exists()
    executed = nbformat.read(outputs / "out.ipynb", as_version=4)
    assert executed.cells[0].source == WORKFLOW_PARAMETERS_CELL


@pytest.mark.integration
def test_a_workflow_job_refuses_explicit_overrides(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a workflow run takes no --overrides"):
        run_notebook(_notebook(tmp_path), TINY, tmp_path / "out.ipynb",
                     overrides={"max_length": 64}, workflow=True)


@pytest.mark.integration
def test_the_snakefile_runs_notebooks_as_workflow_jobs() -> None:
    assert "lib.runner" in (paths.ROOT / "Snakefile").read_text()
    assert "--workflow" in (paths.ROOT / "Snakefile").read_text()


@pytest.mark.slow
def test_runner_prints_a_bad_parameter_file_in_one_line(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "parameters" / "embedded"
    folder.mkdir(parents=True)
    bad = folder / "E11_tiny-mqa.yaml"
    bad.write_text((paths.ROOT / TINY).read_text() + "max_length: 1\n")
    with pytest.raises(ParameterError):
        load_parameters(bad)
    code = main([str(paths.NOTEBOOKS / "E11.py"), str(bad), "--output", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: ") and "max_length" in err and "E11_tiny-mqa.yaml" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.integration
def test_runner_overrides_must_be_a_mapping(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["notebooks/E11.py", TINY, "--output", "x.ipynb", "--overrides", "[42]"])
    assert "expected a YAML mapping" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("{max_length: 64, max_length: 32}",
     "line 1, column 18: key 'max_length' is given twice (first on line 1): keep one"),
    ("{seeds: &s [1], bootstrap: *s}", "line 1, column 9: anchors and aliases are "
     "refused (&s): write the value out in full"),
])
def test_runner_overrides_are_read_by_the_one_yaml_loader(tmp_path: Path, capsys, text: str,
                                                          message: str) -> None:
    with pytest.raises(SystemExit):
        main([str(_notebook(tmp_path)), TINY, "--output", str(tmp_path / "x.ipynb"),
              "--overrides", text])
    err = capsys.readouterr().err
    assert err.splitlines()[-1].endswith(f"argument --overrides: {message}"), err


def test_tests_run_against_an_empty_private_results_folder() -> None:
    """conftest.py: plain pytest never reads or writes the repository's results/."""
    assert paths.RESULTS != paths.ROOT / "results" and paths.FIGURES != paths.ROOT / "figures"
    assert not paths.RESULTS.is_relative_to(paths.ROOT / "results")
    assert not paths.FIGURES.is_relative_to(paths.ROOT / "figures")
    assert os.environ["BSD_RESULTS_DIR"] == str(paths.RESULTS)  # the nbval kernels inherit it


@pytest.mark.integration
def test_run_folders_live_under_the_repository_cache_and_go_away() -> None:
    from jupyter_client.manager import AsyncKernelManager

    from lib.runner import RUN_FOLDERS, kernel_config, run_folder

    assert RUN_FOLDERS == paths.CACHE / "tmp" and RUN_FOLDERS.is_relative_to(paths.CACHE)
    with run_folder() as folder:
        assert folder.is_dir() and folder.parent == RUN_FOLDERS
        assert folder.name.startswith(f"bsd-run-{socket.gethostname()}-{os.getpid()}-")
        manager = AsyncKernelManager(kernel_name="python3", config=kernel_config(folder))
        assert Path(manager.connection_file) == folder / "kernel.json"
    assert not folder.exists()


@pytest.mark.integration
def test_stale_run_folders_of_dead_runs_on_this_host_are_removed(tmp_path: Path) -> None:
    from lib.runner import clean_stale_run_folders

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(done.stdout)  # a process that has exited
    host = socket.gethostname()
    names = {"dead": f"bsd-run-{host}-{dead}-abc123", "live": f"bsd-run-{host}-{os.getpid()}-x1",
             "other host": f"bsd-run-{host}-{dead}-x-{dead}-y2", "not a run": "keep-me"}
    for name in names.values():
        (tmp_path / name).mkdir()
        (tmp_path / name / "kernel.json").write_text("{}")
    assert clean_stale_run_folders(tmp_path) == [tmp_path / names["dead"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        v for k, v in names.items() if k != "dead")
    assert clean_stale_run_folders(tmp_path / "missing") == []


PROBE = """\
# %% tags=["parameters"]
PARAMETERS = "x"
OVERRIDES: dict = {}

# %%
import os, pathlib, time
pathlib.Path(os.environ["PROBE_MARKER"]).write_text(str(os.getpid()))
time.sleep(120)
"""


@pytest.mark.integration
@pytest.mark.slow
def test_a_killed_runner_leaves_nothing_in_tmp_and_the_next_run_cleans_up(tmp_path: Path) -> None:
    """SIGKILL the runner while its kernel runs: /tmp (here a private TMPDIR) holds nothing; the
    run folder with the kernel's connection file is under the cache, and goes at the next run."""
    import signal
    import time

    from lib.runner import clean_stale_run_folders

    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "E11.py").write_text(PROBE)
    tmpdir, cache, marker = tmp_path / "tmpdir", tmp_path / "cache", tmp_path / "kernel.pid"
    tmpdir.mkdir()
    environ = {**os.environ, "TMPDIR": str(tmpdir), "BSD_CACHE_DIR": str(cache),
               "PROBE_MARKER": str(marker), "BSD_RESULTS_DIR": str(tmp_path / "results"),
               "BSD_FIGURES_DIR": str(tmp_path / "figures")}
    for key in env.locations():  # lib.env points them at the private cache
        environ.pop(key, None)
    runner = subprocess.Popen([sys.executable, "-m", "lib.runner", str(tmp_path / "nb/E11.py"),
                               TINY, "--output", str(tmp_path / "out.ipynb")], cwd=paths.ROOT,
                              env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kernel = None
    try:
        for _ in range(600):
            if marker.exists() and marker.read_text():
                kernel = int(marker.read_text())
                break
            assert runner.poll() is None, "the runner ended before its kernel started"
            time.sleep(0.2)
        assert kernel is not None
        runner.kill()
        runner.wait()
    finally:
        if runner.poll() is None:
            runner.kill()
        if kernel is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(kernel, signal.SIGKILL)
    assert list(tmpdir.iterdir()) == []
    left = list((cache / "tmp").iterdir())
    assert len(left) == 1 and left[0].name.startswith(f"bsd-run-{socket.gethostname()}-")
    assert (left[0] / "kernel.json").is_file() and (left[0] / "E11.ipynb").is_file()
    assert clean_stale_run_folders(cache / "tmp") == left and not left[0].exists()
