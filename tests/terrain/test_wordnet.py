"""lib.terrain.wordnet: WordNet 3.0 usable offline through NLTK."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.paths import CACHE
from lib.terrain import wordnet


@pytest.fixture(scope="module")
def wn():
    wordnet.ensure_wordnet()
    from nltk.corpus import wordnet as corpus

    return corpus


def test_ensure_wordnet_returns_data_dir_and_is_idempotent() -> None:
    root = wordnet.ensure_wordnet()
    assert (root / "corpora").is_dir()
    assert wordnet.ensure_wordnet() == root


def test_synsets_lexnames_and_similarity(wn) -> None:
    dog = wn.synset("dog.n.01")
    assert dog in wn.synsets("dog")
    assert dog.lexname() == "noun.animal"
    assert wn.synset("run.v.01").lexname() == "verb.motion"
    assert dog.path_similarity(wn.synset("cat.n.01")) == pytest.approx(0.2)
    assert wn.get_version() == "3.0"


def test_lemma_count_matches_wordnet_3(wn) -> None:
    lemmas = set(wn.all_lemma_names())
    assert 140_000 < len(lemmas) < 155_000  # WordNet 3.0 has 147,306
    single_words = [lemma for lemma in lemmas if lemma.isalpha()]
    assert 70_000 < len(single_words) < len(lemmas)


def test_lexnames_file_has_45_numbered_lines() -> None:
    lines = wordnet.lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3"
    assert lines[3] == "03\tnoun.Tops\t1"
    assert lines[29] == "29\tverb.body\t2"
    assert lines[44] == "44\tadj.ppl\t3"


def test_build_from_debian_copies_files(monkeypatch, tmp_path: Path) -> None:
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    monkeypatch.setattr(nltk.data, "path", [*nltk.data.path, str(tmp_path)])  # NLTK's path guard

    root = wordnet.build_from_debian(tmp_path)
    folder = root / "corpora" / "wordnet"
    names = {p.name for p in folder.iterdir()}
    assert {"data.noun", "index.noun", "noun.exc", "index.sense", "lexnames"} <= names
    assert not any(p.is_symlink() for p in folder.iterdir())
    assert not list((root / "corpora").glob(".wordnet-*"))  # no staging left behind
    assert not list(CACHE.glob("wordnet-*"))
    reader = WordNetCorpusReader(str(folder), None)
    assert reader.synset("dog.n.01").lexname() == "noun.animal"
