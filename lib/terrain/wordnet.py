"""Make `nltk.corpus.wordnet` usable offline (WordNet 3.0).

Also the WordNet side of the terrain study: single-token lemma matching (SPEC-terrain D12), the
part-of-speech mix, pooled encoder representations of definitions (D8), and, re-exported from
`lib.terrain.similarity`, path and Wu-Palmer similarity in bulk (D9).

Order for the corpus: an installed corpus (NLTK's search path or our cache) -> `nltk.download`
when its host answers a quick probe -> a corpus built from Debian's `wordnet-base` and
`wordnet-sense-index` files (from /usr/share/wordnet, else the .debs fetched with
`apt-get download` and unpacked with `dpkg -x`, no root needed) -> a clear error saying what to
install.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from scipy import sparse
from tqdm.auto import tqdm

from lib.paths import CACHE, NLTK_DATA
from lib.terrain.similarity import Hierarchy as Hierarchy  # re-exported contract names
from lib.terrain.similarity import path_distance_matrix as path_distance_matrix
from lib.terrain.similarity import path_similarities as path_similarities
from lib.terrain.similarity import wup_similarities as wup_similarities

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
    import nltk  # optional and slow to import: only the WordNet sections need it

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
    import nltk  # optional and slow to import: only the WordNet sections need it

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


# --- WordNet -> tokenizer matching (SPEC-terrain D12) and pooled definitions (D8) -------------

MIN_DEFINITION_CHARS = 10
ENCODE_BATCH = 4096
TEMPLATES = {
    "t5": "summarize: {definition}",
    "mt5": "summarize: {definition}",
    "umt5": "summarize: {definition}",
    "bert": "{definition}",
    "roberta": "{definition}",
    "xlm-roberta": "{definition}",
    "distilbert": "{definition}",
    "mpnet": "{definition}",
    "electra": "{definition}",
}


class MatchedLemma(NamedTuple):
    """One accepted WordNet lemma: (name, synset, token_id, definition), as the seed stores it."""

    name: str
    synset: Any
    token_id: int
    definition: str


def _token_ids(tokenizer: Any, names: list[str], batch_size: int) -> list[list[int]]:
    out: list[list[int]] = []
    for start in range(0, len(names), batch_size):
        batch = names[start : start + batch_size]
        out.extend(tokenizer(batch, add_special_tokens=False)["input_ids"])
    return out


def match_single_token_lemmas(
    tokenizer: Any,
    synsets: Iterable[Any] | None = None,
    min_definition_chars: int = MIN_DEFINITION_CHARS,
    batch_size: int = ENCODE_BATCH,
) -> list[MatchedLemma]:
    """WordNet lemmas that are one token of `tokenizer`, one per token id (D12).

    Walks `synsets` (default `wn.all_synsets()`, NLTK's order) and each `synset.lemmas()`; the
    name is `lemma.name()` with '_' -> ' ', encoded without special tokens (each distinct name
    once, in batches). Accepted when it encodes to exactly one id not taken yet and the synset's
    definition is longer than `min_definition_chars`; only accepted lemmas take their id.
    """
    if not callable(tokenizer):
        raise ValueError("tokenizer must be a Hugging Face tokenizer (callable on a list of str)")
    if synsets is None:
        ensure_wordnet()
        from nltk.corpus import wordnet as wn  # the corpus loads on first use (seconds)

        synsets = wn.all_synsets()
    entries = [(lemma.name().replace("_", " "), syn) for syn in synsets for lemma in syn.lemmas()]
    names = list(dict.fromkeys(name for name, _ in entries))
    ids = dict(zip(names, _token_ids(tokenizer, names, batch_size), strict=True))
    matched: list[MatchedLemma] = []
    seen: set[int] = set()
    for name, syn in entries:
        token = ids[name]
        if len(token) != 1 or token[0] in seen:
            continue
        definition = syn.definition()
        if len(definition) > min_definition_chars:
            matched.append(MatchedLemma(name, syn, int(token[0]), definition))
            seen.add(token[0])
    return matched


def pos_mix(matched: Sequence[MatchedLemma]) -> dict[str, Any]:
    """Part-of-speech counts and fractions of the matched synsets (defect B10 is read with it).

    `root_pair_fraction` is the chance that a random pair has a non-noun side, i.e. that NLTK's
    path similarity goes through the fake root (adjective/adverb pairs are always 1/3).
    """
    if len(matched) == 0:
        raise ValueError("pos_mix needs at least one matched lemma (got none)")
    counts = {pos: 0 for pos in ("n", "v", "a", "s", "r")}
    for item in matched:
        counts[item.synset.pos()] += 1
    n = len(matched)
    noun = counts["n"] / n
    return {
        "n": n,
        "counts": counts,
        "fractions": {pos: c / n for pos, c in counts.items()},
        "root_pair_fraction": 1.0 - noun * noun,
        "adj_adv_pair_fraction": ((counts["a"] + counts["s"] + counts["r"]) / n) ** 2,
    }


def definition_template(model: Any, template: str | None = None) -> str:
    """The text template for `model` (TEMPLATES by `config.model_type`), or `template` itself."""
    if template is not None:
        if "{definition}" not in template:
            raise ValueError(f"template {template!r} must contain '{{definition}}'")
        return template
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in TEMPLATES:
        raise ValueError(
            f"no definition template for model_type {model_type!r}; pass template= "
            f"(known: {sorted(TEMPLATES)})"
        )
    return TEMPLATES[model_type]


def encode_definitions(
    model: Any,
    tokenizer: Any,
    definitions: Sequence[str],
    template: str | None = None,
    batch_size: int = 64,
    max_length: int = 128,
    progress: bool = True,
) -> np.ndarray:
    """Mean-pooled encoder states of the definitions (D8): float32 [N, d].

    T5-style seq2seq models use `model.get_encoder()`, others (BERT-likes) the model itself.
    Each batch is tokenized with padding to the longest, truncation at `max_length`; the pooled
    vector is `sum(h * mask) / sum(mask)` over `last_hidden_state`. Runs on the model's device.
    """
    if len(definitions) == 0:
        raise ValueError("encode_definitions needs at least one definition (got none)")
    if batch_size < 1 or max_length < 1:
        raise ValueError(f"batch_size and max_length must be >= 1 (got {batch_size}, {max_length})")
    pattern = definition_template(model, template)
    config = getattr(model, "config", None)
    encoder = model.get_encoder() if getattr(config, "is_encoder_decoder", False) else model
    device = next(model.parameters()).device
    texts = [pattern.format(definition=d) for d in definitions]
    # batches of similar length pad less; the pooled vector of a text does not depend on its
    # batch-mates (padding is masked), so the order is restored afterwards
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)[
        "input_ids"]]
    order = np.argsort(lengths, kind="stable")
    out = np.empty((len(texts), encoder.config.hidden_size if hasattr(encoder.config, "hidden_size")
                    else encoder.config.d_model), dtype=np.float32)
    for start in tqdm(range(0, len(texts), batch_size), desc="encode definitions",
                      disable=not progress):
        rows = order[start : start + batch_size]
        batch = tokenizer([texts[i] for i in rows], return_tensors="pt", padding=True,
                          truncation=True, max_length=max_length).to(device)
        with torch.inference_mode():
            hidden = encoder(input_ids=batch["input_ids"],
                             attention_mask=batch["attention_mask"]).last_hidden_state.float()
        mask = batch["attention_mask"].unsqueeze(-1).float()
        out[rows] = ((hidden * mask).sum(dim=1) / mask.sum(dim=1)).cpu().numpy()
    return out



TFIDF_TOKEN = r"(?u)\b\w\w+\b"  # words of two or more characters, as scikit-learn's default


def tfidf_definitions(definitions: Sequence[str]) -> Any:
    """TF-IDF vectors of the definitions: scipy CSR [N, V], rows L2-normalized.

    Lower-cased words of >= 2 characters; raw term counts times the smoothed idf
    `ln((1 + N) / (1 + df)) + 1` (scikit-learn's `TfidfVectorizer` defaults); a definition with
    no word is a zero row. The vocabulary is sorted, so the columns do not depend on the order.
    """
    if len(definitions) == 0:
        raise ValueError("tfidf_definitions needs at least one definition (got none)")
    pattern = re.compile(TFIDF_TOKEN)
    docs = [pattern.findall(d.lower()) for d in definitions]
    vocab = {w: k for k, w in enumerate(sorted({w for doc in docs for w in doc}))}
    rows = np.repeat(np.arange(len(docs)), [len(doc) for doc in docs])
    cols = np.fromiter((vocab[w] for doc in docs for w in doc), dtype=np.int64, count=len(rows))
    counts = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)),
                               shape=(len(docs), max(len(vocab), 1)))
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1.0 + len(docs)) / (1.0 + df)) + 1.0
    X = counts @ sparse.diags(idf)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    return sparse.csr_matrix(sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ X)


def prepare(check_only: bool) -> tuple[str, str, float]:
    """`make setup`'s step of this line (`lib.prepare`): WordNet 3.0 offline, from Debian's
    files; (name, status, seconds)."""
    start = time.perf_counter()
    if installed_root() is not None:
        status = "already present"
    elif check_only:
        status = "MISSING"
    else:
        print("prepare: installing WordNet 3.0", flush=True)
        ensure_wordnet()
        status = "built"
    return "wordnet 3.0", status, time.perf_counter() - start
