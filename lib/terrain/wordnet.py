"""Make `nltk.corpus.wordnet` usable offline (WordNet 3.0).

Order: an installed corpus (NLTK's search path or our cache) -> `nltk.download` when its host
answers a quick probe -> a corpus built from Debian's `wordnet-base` and `wordnet-sense-index`
files (from /usr/share/wordnet, else the .debs fetched with `apt-get download` and unpacked
with `dpkg -x`, no root needed) -> a clear error saying what to install.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

from lib.paths import CACHE, NLTK_DATA

DEBIAN_DIR = Path("/usr/share/wordnet")
DEBIAN_PACKAGES = ("wordnet-base", "wordnet-sense-index")
NLTK_HOST = ("raw.githubusercontent.com", 443)
PROBE_TIMEOUT_S = 3.0

# lexnames(5WN): lexicographer file number, name, syntactic category (1 n, 2 v, 3 adj, 4 adv).
_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute "
    "noun.body noun.cognition noun.communication noun.event noun.feeling noun.food noun.group "
    "noun.location noun.motive noun.object noun.person noun.phenomenon noun.plant "
    "noun.possession noun.process noun.quantity noun.relation noun.shape noun.state "
    "noun.substance noun.time verb.body verb.change verb.cognition verb.communication "
    "verb.competition verb.consumption verb.contact verb.creation verb.emotion verb.motion "
    "verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


class WordNetUnavailableError(RuntimeError):
    """WordNet could be neither found, downloaded nor built from Debian's files."""


def lexnames_text() -> str:
    """The 45-line `lexnames` file NLTK reads ('00\\tadj.all\\t3' ... '44\\tadj.ppl\\t3')."""
    lines = (
        f"{i:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}" for i, name in enumerate(_LEXNAMES)
    )
    return "\n".join(lines) + "\n"


def installed_root() -> Path | None:
    """The NLTK data folder of an installed WordNet (our cache is searched too), or None."""
    import nltk

    if str(NLTK_DATA) not in nltk.data.path:
        nltk.data.path.append(str(NLTK_DATA))
    try:
        found = nltk.data.find("corpora/wordnet")
    except LookupError:
        return None
    zipped = getattr(found, "zipfile", None)
    path = Path(zipped.filename) if zipped is not None else Path(str(found.path))
    if zipped is None and not (path / "lexnames").exists():
        return None  # a half-built or foreign folder: not usable
    return path.parents[1]


def _reachable(host: tuple[str, int], timeout: float = PROBE_TIMEOUT_S) -> bool:
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(host, timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


def _wanted(name: str) -> bool:
    return (
        name.startswith(("data.", "index."))
        or name.endswith(".exc")
        or name in {"cntlist.rev", "lexnames"}
    )


def _debian_files(workdir: Path) -> Path:
    """A folder with Debian's WordNet files: /usr/share/wordnet, else unpacked .debs."""
    if (DEBIAN_DIR / "data.noun").exists() and (DEBIAN_DIR / "index.sense").exists():
        return DEBIAN_DIR
    if not (shutil.which("apt-get") and shutil.which("dpkg")):
        raise WordNetUnavailableError("no apt-get/dpkg to fetch Debian's wordnet packages")
    fetched = subprocess.run(
        ["apt-get", "download", *DEBIAN_PACKAGES],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    debs = sorted(workdir.glob("*.deb"))
    if fetched.returncode != 0 or len(debs) < len(DEBIAN_PACKAGES):
        raise WordNetUnavailableError(f"apt-get download failed: {fetched.stderr.strip()[-300:]}")
    for deb in debs:
        subprocess.run(["dpkg", "-x", str(deb), str(workdir / "root")], check=True, timeout=300)
    return workdir / "root" / DEBIAN_DIR.relative_to("/")


def build_from_debian(target_root: Path = NLTK_DATA) -> Path:
    """Build `<target_root>/corpora/wordnet/` from Debian's WordNet 3.0 (copies, not links)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    corpora = target_root / "corpora"
    corpora.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wordnet-", dir=CACHE) as tmp:
        source = _debian_files(Path(tmp))
        staging = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=corpora))
        staging.chmod(0o755)
        try:
            for path in source.iterdir():
                if path.is_file() and _wanted(path.name):
                    shutil.copyfile(path, staging / path.name)
            (staging / "lexnames").write_text(lexnames_text())
            licence = source.parent / "doc" / "wordnet-base" / "copyright"
            if licence.exists():
                shutil.copyfile(licence, staging / "LICENSE")
            final = corpora / "wordnet"
            if final.exists():
                shutil.rmtree(final)
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target_root


def ensure_wordnet() -> Path:
    """Make `nltk.corpus.wordnet` work offline; return the NLTK data folder that holds it."""
    import nltk

    root = installed_root()
    if root is not None:
        return root
    errors = []
    if _reachable(NLTK_HOST):
        try:
            if nltk.download("wordnet", download_dir=str(NLTK_DATA), quiet=True):
                root = installed_root()
        except Exception as exc:  # noqa: BLE001 - fall through to the Debian files
            errors.append(f"nltk.download: {exc}")
        if root is not None:
            return root
    else:
        errors.append(f"nltk.download skipped: {NLTK_HOST[0]} is unreachable")
    try:
        return build_from_debian(NLTK_DATA)
    except (WordNetUnavailableError, OSError, subprocess.SubprocessError) as exc:
        errors.append(f"Debian files: {exc}")
    raise WordNetUnavailableError(
        "WordNet 3.0 is not available: "
        + "; ".join(errors)
        + ". Install it with `apt-get install wordnet-base wordnet-sense-index` (or run "
        "`apt-get update` first), or `python -m nltk.downloader -d .cache/nltk_data wordnet` "
        "where the NLTK data host is reachable."
    )
