"""lib.terrain.wordnet: WordNet 3.0 usable offline through NLTK."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


def test_the_parameter_caps_are_wordnet_3s_own_counts() -> None:
    """`n_rel` and `n_chains` are capped at what WordNet 3.0 holds: counted here, not trusted,
    in the data files nltk reads (one synset a line; its words, less the adjective markers
    `(a)`, `(p)`, `(ip)` that nltk strips too)."""
    import re

    from lib.params import WORDNET_LEMMAS
    from lib.terrain.parameters import WORDNET_SYNSETS

    synsets, names = 0, set()
    for pos in ("noun", "verb", "adj", "adv"):
        data = wordnet.ensure_wordnet() / "corpora" / "wordnet" / f"data.{pos}"
        for line in data.read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):  # the licence header
                continue
            fields = line.split(" ")
            synsets += 1
            names.update(re.sub(r"\((a|p|ip)\)$", "", fields[4 + 2 * k])
                         for k in range(int(fields[3], 16)))
    assert synsets == WORDNET_SYNSETS
    assert len(names) == WORDNET_LEMMAS


def test_lexnames_file_has_45_numbered_lines() -> None:
    lines = wordnet.lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3"
    assert lines[3] == "03\tnoun.Tops\t1"
    assert lines[29] == "29\tverb.body\t2"
    assert lines[44] == "44\tadj.ppl\t3"


@pytest.mark.integration  # without /usr/share/wordnet: `apt-get download` and `dpkg -x` run
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


# --- lemma matching (D12), POS mix, pooled definitions (D8) ------------------------------------


@pytest.fixture(scope="module")
def toy_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "dog": 1, "domestic": 2, "cat": 3, "no": 4, "true": 5}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


@pytest.mark.parametrize("batch_size", [4096, 2])
def test_match_single_token_lemmas_toy(wn, toy_tokenizer, batch_size) -> None:
    short = wn.synset("no.n.01")
    assert len(short.definition()) == 10  # 'a negative': not > 10
    long_no = next(s for s in wn.synsets("no") if len(s.definition()) > 10
                   and s.lemma_names() == ["no"])
    order = [short, wn.synset("dog.n.03"), wn.synset("dog.n.01"), wn.synset("cat.n.01"), long_no]
    matched = wordnet.match_single_token_lemmas(toy_tokenizer, order, batch_size=batch_size)
    # 'no' rejected by the short definition (its id stays free), 'dog' goes to the first synset,
    # 'domestic dog', 'Canis familiaris' (two [UNK]) and 'true cat' are multi-token
    assert [(m.name, m.synset, m.token_id) for m in matched] == [
        ("dog", wn.synset("dog.n.03"), 1),
        ("cat", wn.synset("cat.n.01"), 3),
        ("no", long_no, 4),
    ]
    assert matched[1].definition == wn.synset("cat.n.01").definition()
    mix = wordnet.pos_mix(matched)
    assert long_no.pos() == "a" and mix["counts"]["n"] == 2 and mix["counts"]["a"] == 1
    assert mix["root_pair_fraction"] == pytest.approx(1 - (2 / 3) ** 2)


def test_match_rejects_bad_tokenizer_and_pos_mix_empty(wn) -> None:
    with pytest.raises(ValueError, match="tokenizer"):
        wordnet.match_single_token_lemmas(object(), [wn.synset("dog.n.01")])
    with pytest.raises(ValueError, match="at least one"):
        wordnet.pos_mix([])


def test_pos_mix_counts(wn) -> None:
    items = [wordnet.MatchedLemma("x", wn.synset(n), 0, "d") for n in
             ("dog.n.01", "run.v.01", "good.a.01", "fast.r.01")]
    mix = wordnet.pos_mix(items)
    assert mix["counts"] == {"n": 1, "v": 1, "a": 1, "s": 0, "r": 1}
    assert mix["root_pair_fraction"] == pytest.approx(1 - 0.25**2)
    assert mix["adj_adv_pair_fraction"] == pytest.approx(0.25)


@pytest.mark.parametrize("name", ["tiny/t5", "tiny/bert"])
def test_encode_definitions_equals_unpadded_mean(name) -> None:
    import torch

    from lib.models import load_model

    loaded = load_model(name, dtype="float32")
    model, tok = loaded.model, loaded.tokenizer
    defs = ["a domesticated carnivorous mammal", "feline", "an act of running quickly home"]
    reps = wordnet.encode_definitions(model, tok, defs, batch_size=2, progress=False)
    assert reps.dtype == np.float32 and reps.shape == (3, model.config.d_model
                                                         if name == "tiny/t5"
                                                         else model.config.hidden_size)
    prefix = "summarize: " if name == "tiny/t5" else ""
    encoder = model.get_encoder() if name == "tiny/t5" else model
    for k, text in enumerate(defs):
        ids = tok(prefix + text, return_tensors="pt", truncation=True, max_length=128)
        with torch.no_grad():
            h = encoder(input_ids=ids["input_ids"],
                        attention_mask=ids["attention_mask"]).last_hidden_state[0]
        np.testing.assert_allclose(reps[k], h.mean(0).numpy(), rtol=1e-4, atol=1e-5)


def test_definition_template() -> None:
    class Config:
        model_type = "t5"

    class Model:
        config = Config()

    assert wordnet.definition_template(Model()) == "summarize: {definition}"
    assert wordnet.definition_template(Model(), "{definition}!") == "{definition}!"
    Config.model_type = "gpt2"
    with pytest.raises(ValueError, match="pass template="):
        wordnet.definition_template(Model())
    with pytest.raises(ValueError, match="must contain"):
        wordnet.definition_template(Model(), "no slot")
    with pytest.raises(ValueError, match="at least one definition"):
        wordnet.encode_definitions(Model(), None, [])
