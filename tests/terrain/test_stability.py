"""lib.terrain.stability: the §3 protocol against a plain NLTK loop, and its statistics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from lib.terrain import stability as st
from lib.terrain import wordnet
from lib.terrain.alignment import hypernym_chains
from lib.terrain.simplex import cayley_menger_volumes
from lib.terrain.wordnet import MatchedLemma


def test_summarize_known_values() -> None:
    out = st.summarize([1.0, 2.0, 3.0, 4.0, float("nan")])
    assert out["n"] == 4 and out["mean"] == 2.5 and out["min"] == 1.0 and out["max"] == 4.0
    assert out["std"] == pytest.approx(np.sqrt(1.25))  # ddof 0, as the seed
    half = 3.182446305284263 * np.std([1, 2, 3, 4], ddof=1) / 2  # t(0.975, 3)
    assert out["ci"] == pytest.approx([2.5 - half, 2.5 + half])
    lo, hi = sps.t.interval(0.95, 3, loc=2.5, scale=sps.sem([1, 2, 3, 4]))
    assert out["ci"] == pytest.approx([lo, hi])
    with pytest.raises(ValueError, match="at least one finite"):
        st.summarize([float("nan")])


@pytest.fixture(scope="module")
def small():
    wordnet.ensure_wordnet()
    from nltk.corpus import wordnet as wn

    words = ("dog", "canine", "carnivore", "mammal", "animal", "organism", "cat", "feline",
             "bird", "vertebrate", "run", "red", "good", "tree", "woody_plant", "plant", "house",
             "building", "structure", "fast", "blue", "walk")
    synsets = list(dict.fromkeys(s for w in words for s in wn.synsets(w)))[:120]
    matched = [MatchedLemma(f"w{i}", s, i, "definition") for i, s in enumerate(synsets)]
    rng = np.random.default_rng(5)
    return matched, rng.normal(size=(120, 16)), rng.normal(size=(120, 16))


def test_stability_equals_plain_nltk_loop(small) -> None:
    matched, static, encoder = small
    chains = hypernym_chains(matched)
    assert len(chains) > 3
    out = st.stability(static, encoder, matched, chains, n_seeds=3, n_rel=60, n_pairs=2000,
                       n_simplices=30, n_chains=5, progress=False)
    syn = [m.synset for m in matched]
    unit = lambda X: X / (np.linalg.norm(X, axis=1, keepdims=True) + 1e-8)  # noqa: E731
    for seed in range(3):  # the seed's steps 1-7 with NLTK, one pair at a time
        rng = np.random.default_rng(seed)
        rel = rng.choice(120, 60, replace=False)
        pi, pj = rng.choice(60, 2000), rng.choice(60, 2000)
        keep = pi != pj
        pi, pj = pi[keep], pj[keep]
        gi, gj = rel[pi], rel[pj]
        s = np.array([syn[i].path_similarity(syn[j]) for i, j in zip(gi, gj, strict=True)],
                     dtype=np.float32)
        ce = np.array([unit(encoder)[i] @ unit(encoder)[j] for i, j in zip(gi, gj, strict=True)])
        per = {k: v[seed] for k, v in out["per_seed"].items()}
        assert per["enc_pearson"] == pytest.approx(np.corrcoef(s, ce)[0, 1], rel=1e-5)
        assert per["band_low_enc"] == pytest.approx(ce[s < 0.1].mean(), rel=1e-5)
        simplices = np.stack([rng.choice(120, 5, replace=False) for _ in range(30)])
        v = cayley_menger_volumes(static[simplices])
        v = v[np.isfinite(v)]
        assert per["static_cv"] == pytest.approx(v.std() / v.mean())
        pick = rng.choice(len(chains), 5, replace=False)
        d1 = [unit(static)[chains[k][0]] @ unit(static)[chains[k][1]] for k in pick]
        assert per["hyp_depth1_static"] == pytest.approx(np.mean(d1), rel=1e-5)
    summary = out["summary"]["enc_pearson"]
    assert summary["mean"] == pytest.approx(np.mean(out["per_seed"]["enc_pearson"]))
    assert set(out["invariant_pct"]) == {"enc_cv", "static_cv", "enc_pearson"}
    grad = np.subtract(out["per_seed"]["band_high_enc"], out["per_seed"]["band_low_enc"])
    assert np.allclose(out["per_seed"]["gradient_enc"], grad, equal_nan=True)


def test_stability_bad_inputs(small) -> None:
    matched, static, encoder = small
    with pytest.raises(ValueError, match="n_seeds"):
        st.stability(static, encoder, matched, [], n_seeds=0)
    with pytest.raises(ValueError, match="one row per matched"):
        st.stability(static[:50], encoder, matched, [])
    with pytest.raises(ValueError, match="distances must be"):
        st.stability(static, encoder, matched, [], distances=np.zeros((3, 3), np.uint8))
