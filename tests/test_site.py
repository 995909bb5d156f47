"""lib.site: the static site, built from a small fixture, incremental, and opened in a real
headless Chromium (pages, figures and links load; nothing is fetched from another host)."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
import zlib
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest
from browser import HANG_S, headless_chromium
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from lib.site import SiteError, build, external_references

PARAMS = "experiment: E11\nrun: tiny\nseeds: [42, 43]\nmodel: {base: tiny/a, instruct: tiny/b}\n"


def _png(width: int = 5, height: int = 3) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    rows = b"".join(b"\x00" + bytes([200, 30, 30]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def _notebook(title: str, extra: list | None = None) -> str:
    import pandas as pd
    from IPython.core.formatters import DisplayFormatter

    from lib.show import Table

    image = new_output("display_data", data={"image/png": base64.b64encode(_png()).decode(),
                                             "text/plain": "<Figure>"})
    stream = new_output("stream", name="stdout", text="SI base 0.41, instruct 0.37\n")
    table = new_output("display_data", data=DisplayFormatter().format(
        Table(pd.DataFrame({"SI": [0.41, 0.37]}, index=["base", "instruct"])))[0])
    cell = new_code_cell("print('SI')", execution_count=1,
                         outputs=[stream, table, image, *(extra or [])])
    return nbformat.writes(new_notebook(cells=[new_markdown_cell(f"# {title}"), cell]))


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, Path]:
    results, figures, notebooks = tmp_path / "results", tmp_path / "figures", tmp_path / "nb"
    for folder in (results / "embedded" / "executed", figures / "embedded", notebooks,
                   tmp_path / "parameters" / "embedded"):
        folder.mkdir(parents=True)
    (tmp_path / "parameters" / "embedded" / "E11_tiny.yaml").write_text(PARAMS)
    provenance = {"parameter_file": "parameters/embedded/E11_tiny.yaml",
                  "parameter_sha256": hashlib.sha256(PARAMS.encode()).hexdigest(),
                  "models": {"base": {"name": "tiny/a", "revision": None}},
                  "packages": {"numpy": "2.4.6"}, "git": "0123abc", "scratch": False}
    (results / "embedded" / "E11_tiny.json").write_text(
        json.dumps({"provenance": provenance, "verdict": "C_REFUTED"}))
    (results / "embedded" / "summary.json").write_text(json.dumps({"pairs": []}))
    (results / "embedded" / "executed" / "E11_tiny.ipynb").write_text(_notebook("E11 tiny"))
    (notebooks / "E11.ipynb").write_text(_notebook("E11"))
    (results / "REPORT.md").write_text("# Report\n\n| claim | value |\n|---|---|\n| SI | 0.41 |\n")
    (results / "embedded" / "summary.md").write_text("# Summary\n\none pair\n")
    (figures / "embedded" / "E11_tiny.png").write_bytes(_png())
    return {"results": results, "figures": figures, "notebooks": notebooks, "root": tmp_path}


def _files(site: Path) -> dict[str, int]:
    return {str(p.relative_to(site)): p.stat().st_mtime_ns for p in site.rglob("*") if p.is_file()}


def test_site_links_every_source_with_its_provenance(sources: dict, tmp_path: Path) -> None:
    site = tmp_path / "site"
    report = build("embedded", site, **sources)
    index = (site / "index.html").read_text()
    for page in ("report.html", "md/summary.html", "notebooks/E11_tiny.html", "twins/E11.html",
                 "provenance/E11_tiny.html", "figures/index.html", "data/summary.json"):
        assert f'href="{page}"' in index and (site / page).is_file(), page
    assert (site / "figures" / "E11_tiny.png").read_bytes() == _png()
    assert "<table>" in (site / "report.html").read_text()
    provenance = (site / "provenance" / "E11_tiny.html").read_text()
    assert "sha256 matches" in provenance and "model.instruct" in provenance
    assert "0123abc" in provenance and 'href="../notebooks/E11_tiny.html"' in provenance
    notebook = (site / "notebooks" / "E11_tiny.html").read_text()
    assert "SI base 0.41" in notebook and "data:image/png;base64," in notebook
    assert 'href="../provenance/E11_tiny.html"' in notebook
    for page in site.rglob("*.html"):
        assert external_references(page.read_text()) == [], page
    assert sorted(report.written) == sorted(_files(site).keys() - {".manifest.json"})


def test_second_build_rewrites_nothing_and_changes_rebuild_only_their_pages(
        sources: dict, tmp_path: Path) -> None:
    site = tmp_path / "site"
    build("embedded", site, **sources)
    before = _files(site)
    again = build("embedded", site, **sources)
    assert (again.written, again.removed) == ([], [])
    assert _files(site) == before

    (sources["root"] / "parameters" / "embedded" / "E11_tiny.yaml").write_text(PARAMS + "x: 1\n")
    (sources["results"] / "REPORT.md").write_text("# Report\n\nchanged\n")
    changed = build("embedded", site, **sources)
    assert sorted(changed.written) == ["provenance/E11_tiny.html", "report.html"]
    assert "sha256 differs" in (site / "provenance" / "E11_tiny.html").read_text()

    (sources["figures"] / "embedded" / "E11_tiny.png").unlink()
    gone = build("embedded", site, **sources)
    assert gone.removed == ["figures/E11_tiny.png", "figures/index.html"]
    assert not (site / "figures" / "E11_tiny.png").exists()
    assert "index.html" in gone.written and "figures/index.html" not in (
        site / "index.html").read_text()


def test_each_result_shows_its_check_and_a_refused_one_says_why(sources: dict,
                                                               tmp_path: Path) -> None:
    """The provenance page says whether lib.integrity accepts the result: this one was written
    by hand, without the content hash the workflow writes."""
    site = tmp_path / "site"
    build("embedded", site, **sources)
    page = (site / "provenance" / "E11_tiny.html").read_text()
    assert "refused: has no content_sha256 (written by other code, or by hand); rerun it" in page
    assert "E11_tiny (refused: has no content_sha256" in (site / "index.html").read_text()


@pytest.mark.parametrize("which", ["twin", "executed"])
def test_a_truncated_notebook_is_refused_in_one_line(sources: dict, tmp_path: Path,
                                                     which: str) -> None:
    path = (sources["notebooks"] / "E11.ipynb" if which == "twin"
            else sources["results"] / "embedded" / "executed" / "E11_tiny.ipynb")
    path.write_text(path.read_text()[:200])
    with pytest.raises(SiteError) as raised:
        build("embedded", tmp_path / "site", **sources)
    remake = "make notebooks" if which == "twin" else "make reproduce"
    assert str(raised.value) == f"{path.name} is not a readable notebook (NotJSONError): " \
                                f"remake it with {remake}"


def test_a_page_that_loads_from_another_host_is_refused(sources: dict, tmp_path: Path) -> None:
    assert external_references(
        '<script src="https://cdn.example/r.js"></script><img src="a.png">'
        '<link rel="stylesheet" href="//cdn.example/a.css"><a href="https://ok.example">x</a>'
    ) == ["//cdn.example/a.css", "https://cdn.example/r.js"]
    remote = new_output("display_data", data={
        "text/html": '<script src="https://cdn.example/widget.js"></script>'})
    (sources["notebooks"] / "E11.ipynb").write_text(_notebook("E11", [remote]))
    with pytest.raises(SiteError, match="twins/E11.html would load https://cdn.example"):
        build("embedded", tmp_path / "site", **sources)
    with pytest.raises(SiteError, match="no parameters/embeded/"):
        build("embeded", tmp_path / "site", **sources)


# --- the real browser -------------------------------------------------------------------------

class _Handler(SimpleHTTPRequestHandler):
    """Serves the site and records (path, status) of every request."""

    def log_request(self, code: object = "-", size: object = "-") -> None:
        self.server.seen.append((self.path, int(code)))  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass




def crawl(driver, base: str, seen: list[tuple[str, int]]) -> list[str]:  # type: ignore[no-untyped-def]
    """Open the index and every page reachable from it; what did not load, and any request
    that left the local server."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    problems: list[str] = []
    queue, visited = [base + "index.html"], set()
    while queue:
        url = queue.pop(0)
        if url in visited:
            continue
        visited.add(url)
        driver.get(url)
        try:  # a busy machine may still be laying out a long notebook page: wait for the event
            WebDriverWait(driver, HANG_S).until(
                lambda d: d.execute_script("return document.readyState") == "complete")
        except TimeoutException:
            problems.append(f"{url}: did not finish loading")
        images = driver.execute_script(
            "return [...document.images].map(i => [i.src, i.complete ? i.naturalWidth : 0])")
        problems += [f"{url}: image {src} did not load" for src, width in images if not width]
        if url.endswith(".html"):
            if not driver.execute_script("return document.body.innerText.trim().length"):
                problems.append(f"{url}: empty page")
            links = driver.execute_script(
                "return [...document.querySelectorAll('a[href]')].map(a => a.href)")
            for link in links:
                link = link.split("#")[0]
                if not link.startswith(base):
                    problems.append(f"{url}: link leaves the site: {link}")
                elif link not in visited:
                    queue.append(link)
    problems += [f"{path}: HTTP {code}" for path, code in seen if code >= 400]
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            request = message["params"]["request"]["url"]
            if not request.startswith((base, "data:", "about:")):
                problems.append(f"request to another host: {request}")
    if len(visited) < 8:
        problems.append(f"only {len(visited)} pages reached from the index")
    return problems


@pytest.mark.integration
def test_site_loads_in_headless_chromium(sources: dict, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    build("embedded", site, **sources)
    with headless_chromium(monkeypatch) as browser:
        _check_in_browser(browser, site)


def _check_in_browser(browser, site: Path) -> None:  # type: ignore[no-untyped-def]
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(site)))
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        assert crawl(browser, base, server.seen) == []  # type: ignore[attr-defined]
        assert ("/provenance/E11_tiny.html", 200) in server.seen  # type: ignore[attr-defined]
        browser.get(base + "notebooks/E11_tiny.html")  # a table output renders as a table
        cells = browser.execute_script("return [...document.querySelectorAll("
                                       "'.jp-OutputArea-output table td')].map(c => c.innerText)")
        assert cells == ["0.41", "0.37"], cells
        # the check can fail: a figure missing from the site is reported, as image and as 404,
        # and so is a page that fetches from another host
        (site / "figures" / "E11_tiny.png").unlink()
        summary = site / "md" / "summary.html"
        summary.write_text(summary.read_text().replace(
            "</body>", '<img src="http://cdn.example/x.png"></body>'))
        server.seen.clear()  # type: ignore[attr-defined]
        problems = crawl(browser, base, server.seen)  # type: ignore[attr-defined]
        assert any("image" in p and "E11_tiny.png" in p for p in problems), problems
        assert "/figures/E11_tiny.png: HTTP 404" in problems, problems
        assert "request to another host: http://cdn.example/x.png" in problems, problems
    finally:
        server.shutdown()
        server.server_close()
