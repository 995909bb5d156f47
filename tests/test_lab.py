"""JupyterLab as a user meets it, in a real headless Chromium on `make lab`: it opens at
`notebooks/` with the repository as its root, a double-click on a `.py` notebook opens it as a
notebook (not as text), tables render as HTML, kernels start without warnings, and a parameters
cell edited and saved there changes no workflow result."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from browser import HANG_S, headless_chromium, repository_copy, running_lab

from lib.params import load_parameters


@pytest.mark.integration
@pytest.mark.slow
def test_the_lab_opens_a_py_notebook_as_a_notebook_on_double_click(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    home = tmp_path / "home"
    home.mkdir()
    with running_lab(home) as lab, headless_chromium(monkeypatch) as browser:
        # the listing re-renders while the Lab loads: read it in one script, retry stale clicks
        wait = WebDriverWait(browser, HANG_S, ignored_exceptions=(StaleElementReferenceException,))
        browser.get(lab.printed_url())  # what a user opens

        def names() -> set[str]:
            return set(browser.execute_script(
                "return [...document.querySelectorAll('.jp-DirListing-item "
                ".jp-DirListing-itemText')].map(e => e.textContent.trim())"))

        def open_by_double_click(name: str) -> bool:
            item = next(e for e in browser.find_elements(By.CSS_SELECTOR, ".jp-DirListing-item")
                        if e.find_element(By.CSS_SELECTOR, ".jp-DirListing-itemText").text
                        .strip() == name)
            ActionChains(browser).double_click(item).perform()
            return True

        # the address the Lab prints opens the file browser at notebooks/
        wait.until(lambda _: "E11.py" in names())
        assert {"E11.py", "E11.ipynb", "terrain.py"} <= names(), names()
        wait.until(lambda _: open_by_double_click("E11.py"))
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".jp-NotebookPanel")))
        wait.until(lambda _: browser.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Cell"))

        def tabs() -> list[str]:
            return browser.execute_script(
                "return [...document.querySelectorAll('.lm-DockPanel-tabBar .lm-TabBar-tab')]"
                ".map(t => t.title || t.textContent)")

        wait.until(lambda _: any("E11.py" in t for t in tabs()))
        assert not browser.find_elements(By.CSS_SELECTOR, ".jp-FileEditor")  # not as text
        # the repository is the root: its top level lists notebooks/, parameters/, lib/
        wait.until(lambda _: browser.find_element(By.CSS_SELECTOR, ".jp-BreadCrumbs-home")
                   .click() or True)
        wait.until(lambda _: "parameters" in names())
        assert {"notebooks", "parameters", "lib"} <= names(), names()


@pytest.mark.integration
@pytest.mark.slow
def test_a_parameters_cell_edited_in_the_lab_changes_no_workflow_result(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Edit E11's OVERRIDES in the Lab, run the cell and save (jupytext writes the tracked `.py`
    and `.ipynb`); Snakemake still makes E11's result from its parameter file alone, and
    `git restore notebooks/` (as the README says) leaves the checkout clean."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    repo = repository_copy(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    edited = "OVERRIDES = dict(max_length=64)"
    with running_lab(home, root=repo) as lab, headless_chromium(monkeypatch) as browser:
        # the notebook re-renders its cells while it loads: a cell read then is stale, read again
        wait = WebDriverWait(browser, HANG_S, ignored_exceptions=(StaleElementReferenceException,))
        browser.get(lab.url("/lab/tree/notebooks/E11.py"))

        def cell_with(text: str):  # noqa: ANN202
            return next((c for c in browser.find_elements(By.CSS_SELECTOR, ".jp-CodeCell")
                         if text in c.find_element(By.CSS_SELECTOR, ".cm-content")
                         .get_attribute("textContent")), None)

        wait.until(lambda _: cell_with("OVERRIDES: dict = {}"))
        # the stored outputs of the twin: the pair table renders as an HTML table
        wait.until(lambda _: browser.find_elements(
            By.CSS_SELECTOR, ".jp-OutputArea-output.jp-RenderedHTMLCommon table"))
        table = browser.find_element(By.CSS_SELECTOR, ".jp-RenderedHTMLCommon table")
        assert table.find_elements(By.CSS_SELECTOR, "th") and table.find_elements(By.TAG_NAME, "td")
        # edit the parameters cell as a user types, run it, save
        wait.until(lambda _: browser.find_element(By.CSS_SELECTOR, ".jp-Notebook-ExecutionIndicator"
                                                  "[data-status='idle']"))
        def parameters_cell():  # noqa: ANN202  (the first code cell, whatever it holds)
            return browser.find_elements(By.CSS_SELECTOR, ".jp-CodeCell")[0]

        def typed(_: object) -> bool:
            """Type the edit into the parameters cell until it holds exactly that: keys sent
            while the cell re-renders land nowhere, and are sent again."""
            editor = parameters_cell().find_element(By.CSS_SELECTOR, ".cm-content")
            if editor.get_attribute("textContent") == edited:
                return True
            ActionChains(browser).click(editor).key_down(Keys.CONTROL).send_keys("a") \
                .key_up(Keys.CONTROL).send_keys(edited).perform()
            return False

        def ran(_: object) -> bool:
            """Run the cell (Shift+Enter in its editor) until the kernel has run it; sent again
            only while the prompt shows it never ran (focus lost to a re-render)."""
            cell = parameters_cell()
            prompt = cell.find_element(By.CSS_SELECTOR, ".jp-InputPrompt").text
            if any(c.isdigit() for c in prompt):  # [1]: the kernel ran it
                return True
            if "*" not in prompt:
                ActionChains(browser).click(cell.find_element(By.CSS_SELECTOR, ".cm-content")) \
                    .key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
            return False

        wait.until(typed)
        wait.until(ran)
        ActionChains(browser).key_down(Keys.CONTROL).send_keys("s").key_up(Keys.CONTROL).perform()
        saved = repo / "notebooks" / "E11.py"
        wait.until(lambda _: edited in saved.read_text())  # jupytext wrote the .py
        log = "".join(lab.log)
        assert "Kernel started" in log
        assert "WARNING" not in log and "without encryption" not in log, log[-3000:]

    git = ["git", "status", "--porcelain", "notebooks"]
    assert "notebooks/E11.py" in subprocess.run(git, cwd=repo, capture_output=True, text=True,
                                                check=True).stdout
    # `make reproduce` makes E11's result from its parameter file, not from the edited cell
    environ = {k: v for k, v in os.environ.items()
               if k not in ("BSD_RESULTS_DIR", "BSD_FIGURES_DIR", "BSD_WORKFLOW_RUN")}
    target = "results/embedded/E11_tiny-mha.json"
    made = subprocess.run([".venv/bin/snakemake", "--profile", "profiles/embedded", target],
                          cwd=repo, env=environ, capture_output=True, text=True, timeout=HANG_S)
    assert made.returncode == 0, made.stderr[-3000:]
    result = json.loads((repo / target).read_text())
    given = load_parameters(repo / "parameters/embedded/E11_tiny-mha.yaml", "E11")
    assert result["methodology"]["max_length"] == given.max_length != 64
    assert result["provenance"]["scratch"] is False and result["provenance"]["overrides"] == {}
    assert "ignores it" in (repo / "results/embedded/logs/E11_tiny-mha.log").read_text()
    assert not (repo / "results/scratch").exists()
    subprocess.run(["git", "restore", "notebooks/"], cwd=repo, check=True)
    assert subprocess.run(git, cwd=repo, capture_output=True, text=True,
                          check=True).stdout == ""
