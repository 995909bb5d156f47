"""JupyterLab as a user meets it, in a real headless Chromium on `make lab`: it opens at
`notebooks/` with the repository as its root, and a double-click on a `.py` notebook opens it as
a notebook (not as text)."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import headless_chromium, running_lab

WAIT_S = 90  # the Lab's first load in a headless browser on a busy 2-core machine


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
        wait = WebDriverWait(browser, WAIT_S, ignored_exceptions=(StaleElementReferenceException,))
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
