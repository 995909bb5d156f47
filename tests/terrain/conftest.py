"""A terrain results payload shaped as the notebook writes it, made by the real producers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lib.results import to_jsonable
from lib.terrain import alignment, procrustes, stability, study, wordnet
from lib.terrain.parameters import (
    EmbeddingSection,
    LayersSection,
    ProjectionSection,
    WeightsSection,
)

MODEL = "tiny/t5"  # a T5: every claim path (decoder cross-attention, position bias) exists


def _wordnet_block() -> dict[str, Any]:
    """§2/§3 on 80 real synsets with random static and encoder rows (the block's shape is the
    section's; building a model's encoder adds nothing to it)."""
    wordnet.ensure_wordnet()
    from nltk.corpus import wordnet as wn  # after ensure_wordnet: the corpus offline

    words = ("dog", "cat", "run", "red", "fast", "tree", "house", "walk", "blue", "car", "eat",
             "happy", "animal", "plant", "building")
    synsets = list(dict.fromkeys(s for w in words for s in wn.synsets(w)))[:80]
    matched = [wordnet.MatchedLemma(f"w{i}", s, i, s.definition()) for i, s in
               enumerate(synsets)]
    rng = np.random.default_rng(7)
    static, encoder = rng.normal(size=(80, 12)), rng.normal(size=(80, 12))
    out = alignment.wordnet_alignment(static, encoder, matched, seed=3, n_rel=60, n_pairs=4000,
                                      n_simplices=20, n_scatter=50)
    out.pop("scatter")
    sample = alignment.relational_sample(matched, np.random.default_rng(3), 60, 4000)
    stab = stability.stability(static, encoder, matched, alignment.hypernym_chains(matched),
                               n_seeds=3, n_rel=50, n_pairs=1000, n_simplices=20, n_chains=5,
                               progress=False)
    cosines = {k: alignment.pair_cosines(X[sample.rel], sample.pi, sample.pj)
               for k, X in (("enc", encoder), ("static", static))}
    stab["synset_bootstrap"] = stability.synset_bootstrap(sample.s, cosines, sample.pi,
                                                          sample.pj, len(sample.rel), n_boot=20)
    tfidf = wordnet.tfidf_definitions([m.definition for m in matched])
    return {"matched": len(matched), "template": "{definition}", "pos_mix":
            wordnet.pos_mix(matched), "alignment": out, "stability": stab,
            "baselines": alignment.baseline_alignment(sample, matched, encoder,
                                                      {"tfidf": tfidf}),
            "effects": alignment.defect_effects(encoder, matched, sample, out["pentachora"])}


def _projection_block(cfg: ProjectionSection) -> dict[str, Any]:
    """§13b between two random matrices sharing 300 tokens."""
    rng = np.random.default_rng(5)
    ids = np.arange(300)
    shared = procrustes.SharedTokens([str(i) for i in ids], ids, ids)
    block = procrustes.cross_scale_projection(
        rng.normal(size=(300, 24)), rng.normal(size=(300, 16)), shared, seed=cfg.seed,
        n_pca=cfg.n_pca, n_anchor=cfg.n_anchor, n_test=cfg.n_test, n_rel=50, n_simplices=50,
        n_raw=50)
    return block | {"source": "random/large", "target": "random/small", "shared_tokens": 300}


def run_shaped_payload() -> dict[str, Any]:
    """Every section of a terrain run, as `notebooks/terrain.py` assembles and saves it."""
    # four seeds: leaving one out keeps the three a spread needs (a false-positive trial each)
    embedding = EmbeddingSection(n_cosine=200, n_distances=200, n_simplices=100, init_seeds=4)
    weights = WeightsSection(init_baseline=True, init_seeds=4)
    projection = ProjectionSection(source="tiny/t5", n_pca=200, n_anchor=150, n_test=100)
    loaded = study.load_for_forward(MODEL)
    payload: dict[str, Any] = {
        "experiment": "terrain", "run": "tiny-t5", "profile": "embedded",
        "description": "every section", "model": study.model_record(MODEL),
        "embedding": study.embedding_section(MODEL, embedding),
        "layers": study.layers_section(MODEL, LayersSection(), loaded),
        "wordnet": _wordnet_block(),
        "weights": study.weights_section(MODEL, weights),
        "projection": _projection_block(projection)}
    payload["headline"] = study.headline(payload)
    payload["provenance"] = {"models": {"model": payload["model"]}, "scratch": True}
    return to_jsonable(payload)


@pytest.fixture(scope="session")
def terrain_payload() -> dict[str, Any]:
    """`run_shaped_payload()`, made once per session (copy it before changing it)."""
    return run_shaped_payload()
