"""A static, offline site of one profile's outputs: `python -m lib.site build [--profile P]`.

Pages: the executed notebooks (`results/<profile>/executed/*.ipynb`) and the notebook twins
(`notebooks/*.ipynb`) through nbconvert's `lab` template with images embedded and every CDN
script (require.js, MathJax, mermaid, widgets) left out; `results/REPORT.md` and the profile's
Markdown summaries; the figures (copied) and a gallery; one provenance page per results file
(its `provenance` block and its parameter file as tables, the file's hash checked); an index
linking everything. A built page is refused if it still loads anything from another host.

Incremental: `.manifest.json` records a fingerprint of each page's sources (content hashes and
this builder's version); a page is rendered again only when its fingerprint changed, a file is
written only when its bytes changed, and pages whose source is gone are removed. Output goes to
`.cache/site/<profile>/` (git-ignored) unless `--output` says otherwise.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from lib import yamlfile
from lib.integrity import RERUN, check_result
from lib.paths import CACHE, FIGURES, NOTEBOOKS, RESULTS, ROOT
from lib.results import atomic_write_bytes

MANIFEST = ".manifest.json"
STYLE = """body{font-family:system-ui,sans-serif;max-width:72rem;margin:1.5rem auto;
padding:0 1rem;line-height:1.45;color:#222}table{border-collapse:collapse;margin:.5rem 0}
td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}code,td{font-family:ui-monospace,monospace;font-size:.9em}
nav{margin-bottom:1rem}img{max-width:100%}figure{display:inline-block;margin:.5rem;
max-width:32rem}figcaption{font-size:.9em}"""
FAVICON = '<link rel="icon" href="data:,">'  # an HTML page asks for no favicon.ico
# what a browser asks for when it shows a figure or a JSON file: a 1x1 PNG (no 404)
FAVICON_ICO = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
                               "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
# nbconvert's lab template without the scripts it loads from a CDN (the pages are static).
_OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}FAVICON{%- endblock html_head_css -%}
{%- block body_header -%}{{ super() }}{{ resources.site_nav }}{%- endblock body_header -%}
""".replace("FAVICON", FAVICON)
# what a browser fetches by itself: script/img/iframe/source src, link href, CSS url()/@import
_LOADED = re.compile(
    r"""<(?:script|img|iframe|source|embed|video|audio)\b[^>]*?\bsrc\s*=\s*["']?([^"'\s>]+)"""
    r"""|<link\b[^>]*?\bhref\s*=\s*["']?([^"'\s>]+)"""
    r"""|url\(\s*["']?([^"')\s]+)|@import\s+["']([^"']+)""",
    re.IGNORECASE)


class SiteError(RuntimeError):
    """A page that cannot be built as a static offline page."""


@dataclass(frozen=True)
class Page:
    """One output file: where it goes, what it is made from, and how to make it."""

    path: str
    fingerprint: str
    render: Callable[[], bytes]


@dataclass
class BuildReport:
    """What a build did: paths written, removed, and how many were already up to date."""

    out: Path
    written: list[str]
    removed: list[str]
    unchanged: int


def sha256(data: bytes) -> str:
    """Hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


@cache
def _builder_version() -> str:

    return sha256(Path(__file__).read_bytes() + version("nbconvert").encode())[:16]


def fingerprint(*parts: bytes | str) -> str:
    """One hash over this builder's version and `parts` (source contents or names)."""
    digest = hashlib.sha256(_builder_version().encode())
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(sha256(data).encode())
    return digest.hexdigest()


def external_references(page: str) -> list[str]:
    """What `page` would load from another host (http(s):// or //host) when opened."""
    found = (next(g for g in match.groups() if g) for match in _LOADED.finditer(page))
    return sorted({url for url in found if re.match(r"(?i)(https?:)?//", url)})


def _document(title: str, body: str, up: str = "") -> bytes:
    nav = f'<nav><a href="{up}index.html">index</a></nav>' if title != "index" else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title>{FAVICON}<style>{STYLE}</style></head>\n"
            f"<body>{nav}\n{body}\n</body></html>\n").encode()


def _table(rows: list[tuple[str, Any]], head: tuple[str, str] = ("key", "value")) -> str:
    cells = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(_shown(v))}</td></tr>" for k, v in rows)
    return f"<table><tr><th>{head[0]}</th><th>{head[1]}</th></tr>{cells}</table>"


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def flatten(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, leaf value) pairs of nested mappings; lists and scalars are leaves."""
    if isinstance(tree, dict) and tree:
        return [row for key in sorted(tree, key=str)
                for row in flatten(tree[key], f"{prefix}.{key}" if prefix else str(key))]
    return [(prefix or "(value)", tree)]


def _markdown(text: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(text)


class _Notebooks:
    """nbconvert's HTML exporter with the offline template, made once per build."""

    def __init__(self) -> None:
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter

        self.exporter = HTMLExporter(
            template_name="lab", template_file="site.html.j2", embed_images=True,
            exclude_anchor_links=False,
            extra_loaders=[DictLoader({"site.html.j2": _OFFLINE_TEMPLATE})])

    def render(self, source: Path, nav: str, remake: str) -> bytes:
        import nbformat

        try:
            notebook = nbformat.reads(source.read_text(encoding="utf-8"), as_version=4)
        except (ValueError, UnicodeDecodeError) as exc:  # truncated or not a notebook
            raise SiteError(f"{source.name} is not a readable notebook "
                            f"({type(exc).__name__}): remake it with {remake}") from None
        body, _ = self.exporter.from_notebook_node(
            notebook, resources={"metadata": {"name": source.stem}, "site_nav": nav})
        return body.encode()


def _notebook_nav(stem: str, provenance: bool) -> str:
    links = ['<a href="../index.html">index</a>']
    if provenance:
        links.append(f'<a href="../provenance/{stem}.html">provenance</a>')
    return f'<nav style="padding:.5rem 1rem">{" · ".join(links)}</nav>'


def _provenance_page(stem: str, result: bytes, root: Path, links: list[str],
                     problem: str | None) -> bytes:
    data = json.loads(result)
    prov = data.get("provenance") or {}
    name = prov.get("parameter_file")
    verdict = ("checked: made by the workflow's parameter file as it is and today's code"
               if problem is None else f"refused: {problem}; {RERUN}")
    body = [f"<h1>{html.escape(stem)}: provenance</h1>", f"<p>{' · '.join(links)}</p>",
            f"<p><strong>{html.escape(verdict)}</strong> (<code>lib.integrity</code>)</p>",
            f"<p>results file sha256 <code>{sha256(result)}</code></p>",
            "<h2>provenance</h2>", _table(flatten(prov))]
    if name:
        path = Path(name) if Path(name).is_absolute() else root / name
        body.append(f"<h2>parameter file <code>{html.escape(name)}</code></h2>")
        if path.is_file():
            raw = path.read_bytes()
            same = sha256(raw) == prov.get("parameter_sha256")
            body.append(f"<p>sha256 {'matches' if same else 'differs from'} the one recorded "
                        f"by the run{'' if same else ': the file changed since'}.</p>")
            try:
                body.append(_table(flatten(yamlfile.parse(raw.decode("utf-8"), name) or {})))
            except (yamlfile.YamlError, UnicodeDecodeError) as exc:
                body.append(f"<p>not readable: {html.escape(str(exc))}</p>")
        else:
            body.append("<p>not in this checkout.</p>")
    return _document(f"{stem} provenance", "\n".join(body), up="../")


def plan(profile: str, results: Path = RESULTS, figures: Path = FIGURES,
         notebooks: Path = NOTEBOOKS, root: Path = ROOT) -> list[Page]:
    """Every page of the site of `profile`, each with the fingerprint of what it is made of."""
    if not (root / "parameters" / profile).is_dir():
        known = sorted(p.name for p in (root / "parameters").glob("*") if p.is_dir())
        raise SiteError(f"no parameters/{profile}/: name a profile that exists "
                        f"({', '.join(known)})")
    folder = results / profile
    exporter: list[_Notebooks] = []  # made on first use: an up-to-date build never needs it

    def notebook_page(source: Path, nav: str, remake: str) -> Callable[[], bytes]:
        def render() -> bytes:
            if not exporter:
                exporter.append(_Notebooks())
            return exporter[0].render(source, nav, remake)
        return render

    pages: list[Page] = []
    sections: dict[str, list[str]] = {}

    def add(section: str, path: str, label: str, parts: list[bytes | str],
            render: Callable[[], bytes]) -> None:
        pages.append(Page(path, fingerprint(path, *parts), render))
        if section:
            sections.setdefault(section, []).append(
                f'<li><a href="{html.escape(path)}">{html.escape(label)}</a></li>')

    for source in [results / "REPORT.md", *sorted(folder.glob("*.md"))]:
        if source.is_file():
            text = source.read_text(encoding="utf-8")
            out = "report.html" if source.parent == results else f"md/{source.stem}.html"
            up = "" if out == "report.html" else "../"
            add("Report and summaries", out, str(source.relative_to(results)), [text],
                lambda t=text, s=source.stem, u=up: _document(s, _markdown(t), up=u))

    figure_files = sorted((figures / profile).glob("*.png")) if (figures / profile).is_dir() \
        else []
    results_files = sorted(folder.glob("*.json"))
    for source in results_files:
        raw = source.read_bytes()
        stem = source.stem
        add("", f"data/{stem}.json", "", [raw], lambda r=raw: r)
        executed = folder / "executed" / f"{stem}.ipynb"
        problem = check_result(source).problem
        try:
            has_provenance = "provenance" in json.loads(raw)
        except ValueError:  # truncated or not JSON: listed, nothing more
            sections.setdefault("Results and provenance", []).append(
                f"<li>{html.escape(source.name)} (refused: {html.escape(str(problem))})</li>")
            continue
        links = [f'<a href="../data/{stem}.json">results JSON</a>']
        if executed.is_file():
            links.append(f'<a href="../notebooks/{stem}.html">executed notebook</a>')
        links += [f'<a href="../figures/{p.name}">{html.escape(p.name)}</a>'
                  for p in figure_files if p.stem == stem or p.stem.startswith(f"{stem}_")]
        if has_provenance:
            prov = json.loads(raw)["provenance"]
            param = prov.get("parameter_file") or ""
            param_path = Path(param) if Path(param).is_absolute() else root / param
            param_bytes = param_path.read_bytes() if param and param_path.is_file() else b""
            label = stem if problem is None else f"{stem} (refused: {problem})"
            add("Results and provenance", f"provenance/{stem}.html", label,
                [raw, param, param_bytes, str(problem), *links],
                lambda s=stem, r=raw, ln=links, p=problem: _provenance_page(s, r, root, ln, p))
        else:
            sections.setdefault("Results and provenance", []).append(
                f'<li><a href="data/{stem}.json">{html.escape(source.name)}</a> '
                "(no provenance block)</li>")

    stems = {p.stem for p in results_files}
    for source in sorted((folder / "executed").glob("*.ipynb")):
        nav = _notebook_nav(source.stem, source.stem in stems)
        add("Executed notebooks", f"notebooks/{source.stem}.html", source.stem,
            [source.read_bytes(), nav], notebook_page(source, nav, "make reproduce"))
    for source in sorted(notebooks.glob("*.ipynb")):
        nav = _notebook_nav(source.stem, False)
        add("Notebook twins (executed on their default parameters)",
            f"twins/{source.stem}.html", source.name, [source.read_bytes(), nav],
            notebook_page(source, nav, "make notebooks"))

    gallery = []
    for source in figure_files:
        raw = source.read_bytes()
        add("", f"figures/{source.name}", "", [raw], lambda r=raw: r)
        name = html.escape(source.name)
        gallery.append(f'<figure><a href="{name}"><img src="{name}" alt="{name}"></a>'
                       f"<figcaption>{name}</figcaption></figure>")
    if gallery:
        body = f"<h1>figures: {html.escape(profile)}</h1>\n" + "\n".join(gallery)
        add("Figures", "figures/index.html", f"all figures ({len(gallery)})", [body],
            lambda b=body: _document("figures", b, up="../"))

    listing = [f"<h1>{html.escape(profile)} results</h1>"]
    for section, items in sections.items():
        listing.append(f"<h2>{html.escape(section)}</h2><ul>{''.join(items)}</ul>")
    if not results_files:
        listing.append(f"<p>No results in results/{html.escape(profile)}/ yet: the workflow "
                       "(<code>make reproduce</code> for embedded) makes them.</p>")
    index = "\n".join(listing)
    pages.append(Page("favicon.ico", fingerprint(FAVICON_ICO), lambda: FAVICON_ICO))
    pages.append(Page("index.html", fingerprint(index), lambda: _document("index", index)))
    return pages


def build(profile: str = "embedded", out: Path | None = None, **folders: Path) -> BuildReport:
    """Build (or bring up to date) the site of `profile` in `out`; see the module docstring.

    `folders` overrides where the sources are read (`results`, `figures`, `notebooks`, `root`).
    Raises `SiteError` when a page would load anything from another host.
    """
    out = Path(out or CACHE / "site" / profile)
    manifest_path = out / MANIFEST
    try:
        old = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    except json.JSONDecodeError:
        old = {}  # a damaged manifest: everything is checked again
    pages = plan(profile, **folders)
    written: list[str] = []
    unchanged = 0
    new: dict[str, str] = {}
    for page in pages:
        target = out / page.path
        if old.get(page.path) == page.fingerprint and target.is_file():
            unchanged += 1
        else:
            data = page.render()
            if page.path.endswith(".html"):
                if remote := external_references(data.decode()):
                    raise SiteError(f"{page.path} would load {remote[0]} from another host: "
                                    "a site page must render offline; drop or vendor it")
            if not target.is_file() or target.read_bytes() != data:
                atomic_write_bytes(target, data)
                written.append(page.path)
            else:
                unchanged += 1
        new[page.path] = page.fingerprint
    removed = sorted(set(old) - set(new))
    for path in removed:
        (out / path).unlink(missing_ok=True)
    manifest = (json.dumps(new, indent=1, sort_keys=True) + "\n").encode()
    if not manifest_path.is_file() or manifest_path.read_bytes() != manifest:
        atomic_write_bytes(manifest_path, manifest)
    return BuildReport(out, written, removed, unchanged)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.site", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--profile", default="embedded")
    parser.add_argument("--output", type=Path, help="default: .cache/site/<profile>/")
    args = parser.parse_args(argv)
    try:
        report = build(args.profile, args.output)
    except SiteError as exc:
        print(f"lib.site: {exc}", file=sys.stderr)
        return 1
    print(f"site: {len(report.written)} written, {report.unchanged} unchanged, "
          f"{len(report.removed)} removed -> {report.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
