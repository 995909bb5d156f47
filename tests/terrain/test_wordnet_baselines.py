"""Issue 16 on the WordNet alignment: baselines on the same pairs, the synset bootstrap, the
defects' effects, their tables, headline keys and parameters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import spearmanr

from lib.params import ParameterError, load_parameters
from lib.results import to_jsonable
from lib.stats import pairs as rs_
from lib.stats.resampling import multiplicities
from lib.terrain import alignment as al
from lib.terrain import stability as st
from lib.terrain import study, tables, wordnet
from lib.terrain.wordnet import MatchedLemma


@pytest.fixture(scope="module")
def small():
    wordnet.ensure_wordnet()
    from nltk.corpus import wordnet as wn

    words = ("dog", "cat", "run", "red", "fast", "tree", "house", "walk", "blue", "car", "eat",
             "happy", "animal", "plant", "building")
    synsets = list(dict.fromkeys(s for w in words for s in wn.synsets(w)))[:80]
    matched = [MatchedLemma(f"w{i}", s, i, s.definition()) for i, s in enumerate(synsets)]
    rng = np.random.default_rng(7)
    return matched, rng.normal(size=(80, 12)), rng.normal(size=(80, 12))


def test_tfidf_orders_definitions_by_shared_rare_words() -> None:
    defs = ["a domestic dog that barks at night", "a domestic dog that howls at night",
            "a domestic cat that sleeps all day", "a chemical element with atomic number six",
            "!!"]
    X = wordnet.tfidf_definitions(defs)
    assert X.shape[0] == 5
    cos = (X @ X.T).toarray()
    np.testing.assert_allclose(np.diag(cos)[:4], 1.0)
    assert cos[4, 4] == 0  # no word: a zero row, no NaN
    assert cos[0, 1] > cos[0, 2] > cos[0, 3] == 0
    # idf: "domestic" (3 of 5 documents) weighs less than "barks" (1 of 5)
    one = wordnet.tfidf_definitions(["domestic barks", "domestic", "domestic", "x y z", "a b"])
    row = one[0].toarray().ravel()
    assert row.max() > row[row > 0].min()
    with pytest.raises(ValueError, match="at least one definition"):
        wordnet.tfidf_definitions([])


def test_sparse_pair_cosines_equal_dense() -> None:
    X = wordnet.tfidf_definitions(["red apple pie", "green apple", "pie crust", "red car"])
    pi, pj = np.array([0, 0, 1, 2]), np.array([1, 2, 3, 3])
    np.testing.assert_allclose(al.pair_cosines(X, pi, pj),
                               al.pair_cosines(X.toarray(), pi, pj), atol=1e-6)


def test_baselines_use_the_alignment_pairs_and_noun_only_keeps_nouns(small) -> None:
    matched, static, encoder = small
    out = al.wordnet_alignment(static, encoder, matched, seed=3, n_rel=60, n_pairs=4000,
                               n_simplices=20, n_scatter=50)
    sample = al.relational_sample(matched, np.random.default_rng(3), 60, 4000)
    assert len(sample.s) == out["n_pairs"]
    base = al.baseline_alignment(sample, matched, encoder,
                                 {"random_encoder": static,
                                  "tfidf": wordnet.tfidf_definitions([m.definition
                                                                      for m in matched])})
    # the same statistic on the same pairs: the static rows as a "baseline" give static's value
    assert base["random_encoder"]["pearson"] == pytest.approx(out["static"]["pearson"], rel=1e-6)
    assert base["random_encoder"]["n_pairs"] == out["n_pairs"]
    assert set(base) == {"random_encoder", "tfidf", "noun_only"}
    assert np.isfinite(base["tfidf"]["pearson"]) and base["tfidf"]["what"]
    pos = np.array([matched[i].synset.pos() for i in sample.rel])
    nouns = (pos[sample.pi] == "n") & (pos[sample.pj] == "n")
    assert 0 < nouns.sum() < len(nouns)  # the set mixes nouns with verbs and adjectives
    noun = base["noun_only"]
    assert noun["n_pairs"] == int(nouns.sum())
    cos = al.pair_cosines(encoder[sample.rel], sample.pi[nouns], sample.pj[nouns])
    assert noun["pearson"] == pytest.approx(np.corrcoef(sample.s[nouns], cos)[0, 1], rel=1e-6)
    assert noun["pearson"] != pytest.approx(out["encoder"]["pearson"])
    assert "noun_only" not in al.baseline_alignment(sample, matched, encoder, {},
                                                    noun_only=False)
    with pytest.raises(ValueError, match="unknown baseline representation 'glove'"):
        al.baseline_alignment(sample, matched, encoder, {"glove": static})
    with pytest.raises(ValueError, match="one row per matched lemma"):
        al.baseline_alignment(sample, matched, encoder, {"tfidf": static[:10]})


def test_weighted_statistics_equal_the_expanded_multiset() -> None:
    rng = np.random.default_rng(0)
    s = rng.choice([0.1, 0.2, 0.25, 0.5], size=60)
    c = np.round(s + rng.normal(scale=0.2, size=60), 2)  # ties in both
    w = rng.integers(0, 4, size=60).astype(float)
    expand = np.repeat(np.arange(60), w.astype(int))
    w = w[None, :]  # one resample
    rs, rc = rs_.weighted_ranks(s, w), rs_.weighted_ranks(c, w)
    assert rs_.weighted_pearson(s, c, w)[0] == pytest.approx(
        np.corrcoef(s[expand], c[expand])[0, 1])
    assert rs_.weighted_pearson(rs, rc, w)[0] == pytest.approx(spearmanr(s[expand],
                                                                        c[expand])[0])
    assert np.isnan(rs_.weighted_pearson(np.ones(60), c, w)[0])  # no variance: undefined


def test_the_compiled_resamples_equal_the_numpy_statistics() -> None:
    """`resampled_correlations` (one compiled pass per resample) against `weighted_pearson` of
    `weighted_ranks` on the expanded pair weights, with ties and an undefined side."""
    s, cosines, pi, pj, n_items = _toy_pairs()
    cosines = {**{k: np.round(v, 1) for k, v in cosines.items()}, "flat": np.full(len(s), 0.5)}
    weights = multiplicities(n_items, 7, seed=3)
    got = rs_.resampled_correlations(s, cosines, pi, pj, weights)
    w = weights[:, pi] * weights[:, pj]
    for name, v in cosines.items():
        np.testing.assert_allclose(got[name]["pearson"], rs_.weighted_pearson(s, v, w),
                                   rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(
            got[name]["spearman"],
            rs_.weighted_pearson(rs_.weighted_ranks(s, w), rs_.weighted_ranks(v, w), w),
            rtol=1e-12, atol=1e-14)
    assert np.isnan(got["flat"]["pearson"]).all() and np.isfinite(got["enc"]["pearson"]).all()


def _toy_pairs(n_items: int = 150, n_pairs: int = 6000, seed: int = 1):
    rng = np.random.default_rng(seed)
    pi, pj = rng.integers(0, n_items, n_pairs), rng.integers(0, n_items, n_pairs)
    keep = pi != pj
    pi, pj = pi[keep], pj[keep]
    latent = rng.normal(size=n_items)
    s = 1.0 / (1.0 + np.round(np.abs(latent[pi] - latent[pj]) * 4))  # path-like, tied values
    enc = s + rng.normal(scale=0.3, size=len(s))
    static = s + rng.normal(scale=1.0, size=len(s))
    return s, {"enc": enc, "static": static}, pi, pj, n_items


def test_synset_bootstrap_is_seeded_and_covers_the_estimate() -> None:
    s, cos, pi, pj, n = _toy_pairs()
    a = st.synset_bootstrap(s, cos, pi, pj, n, n_boot=60, seed=4)
    b = st.synset_bootstrap(s, cos, pi, pj, n, n_boot=60, seed=4)
    c = st.synset_bootstrap(s, cos, pi, pj, n, n_boot=60, seed=5)
    assert json.dumps(to_jsonable(a)) == json.dumps(to_jsonable(b))
    assert a["enc_pearson"]["ci"] != c["enc_pearson"]["ci"]
    assert (a["n_boot"], a["level"], a["what"]) == (60, 0.95,
                                                    "uncertainty of the correlation over synsets")
    assert set(a) >= {"enc_pearson", "enc_spearman", "static_pearson", "static_spearman",
                      "lift_pearson", "lift_spearman"}
    for key in ("enc_pearson", "enc_spearman", "static_pearson", "lift_pearson"):
        lo, hi = a[key]["ci"]
        assert lo < a[key]["estimate"] < hi and a[key]["n_defined"] == 60
    assert a["enc_pearson"]["estimate"] == pytest.approx(np.corrcoef(s, cos["enc"])[0, 1])
    assert a["enc_spearman"]["estimate"] == pytest.approx(spearmanr(s, cos["enc"])[0])
    lo, hi = a["lift_pearson"]["ci"]
    assert lo > 0  # the encoder is the better aligned by construction
    with pytest.raises(ValueError, match="n_boot"):
        st.synset_bootstrap(s, cos, pi, pj, n, n_boot=1)
    with pytest.raises(ValueError, match="one entry per pair"):
        st.synset_bootstrap(s[:10], cos, pi, pj, n)


def test_synset_bootstrap_of_a_constant_similarity_is_undefined() -> None:
    s, cos, pi, pj, n = _toy_pairs()
    out = st.synset_bootstrap(np.full(len(s), 1 / 3), cos, pi, pj, n, n_boot=10, seed=0)
    assert out["enc_pearson"]["ci"] is None and out["enc_pearson"]["mean"] is None
    assert out["enc_pearson"]["n_defined"] == 0


def test_effect_difference_is_as_executed_minus_taken() -> None:
    e = al.effect("r", 0.30, 0.25, "why", n=3)
    assert e["difference"] == pytest.approx(0.05) and e["n"] == 3
    assert al.effect("r", float("nan"), 0.25, "why")["difference"] is None
    assert al.effect("r", None, 0.25, "why")["as_executed"] is None


def test_defect_effects_on_real_synsets(small) -> None:
    matched, static, encoder = small
    out = al.wordnet_alignment(static, encoder, matched, seed=3, n_rel=60, n_pairs=4000,
                               n_simplices=20, n_scatter=50)
    sample = al.relational_sample(matched, np.random.default_rng(3), 60, 4000)
    eff = al.defect_effects(encoder, matched, sample, out["pentachora"])
    assert set(eff) == set(al.EFFECT_DEFECTS) == {"hypernym_walk", "fake_root", "volume_pairing",
                                                  "band_edges", "hypernym_order"}
    for e in eff.values():
        assert {"number", "as_executed", "taken", "difference", "what"} <= set(e)
        if e["difference"] is not None:
            assert e["difference"] == pytest.approx(e["as_executed"] - e["taken"])
    assert eff["fake_root"]["as_executed"] == pytest.approx(out["encoder"]["pearson"], rel=1e-6)
    # verbs/adjectives meet only at the fake root
    assert 0 < eff["fake_root"]["fake_root_share"] < 1
    assert eff["fake_root"]["n_pairs"]["taken"] < eff["fake_root"]["n_pairs"]["as_executed"]
    assert eff["volume_pairing"]["taken"] == out["pentachora"]["paired_corr"]
    edges = eff["band_edges"]
    assert edges["taken"] == len(sample.s)  # exact edges: every pair once
    assert edges["as_executed"] == len(sample.s) - edges["n_s_one"] + edges["n_s_005"]
    walk = eff["hypernym_walk"]["n_chains"]
    assert walk["as_executed"] <= walk["taken"]
    json.dumps(to_jsonable(eff), allow_nan=False)


def test_stalled_and_reordered_walks(small) -> None:
    matched, _, _ = small
    taken = al.hypernym_chains(matched)
    stalled = al.hypernym_chains(matched, stall=True)
    # a stalled chain only ever adds consecutive matched parents: a prefix of some taken chain
    assert all(any(t[:len(c)] == c for t in taken) for c in stalled)
    other = al.hypernym_chains(matched, first=al.last_hypernym)
    assert {c[0] for c in other} <= {c[0] for c in al.hypernym_chains(matched, min_len=1)}


def test_tables_and_headline_show_baselines_effects_and_both_intervals(small) -> None:
    matched, static, encoder = small
    out = al.wordnet_alignment(static, encoder, matched, seed=3, n_rel=60, n_pairs=4000,
                               n_simplices=20, n_scatter=50)
    out.pop("scatter")
    sample = al.relational_sample(matched, np.random.default_rng(3), 60, 4000)
    chains = al.hypernym_chains(matched)
    stab = st.stability(static, encoder, matched, chains, n_seeds=3, n_rel=50, n_pairs=1000,
                        n_simplices=20, n_chains=5, progress=False)
    assert stab["what"].startswith("precision of the mean over resamples")
    cos = {k: al.pair_cosines(X[sample.rel], sample.pi, sample.pj)
           for k, X in (("enc", encoder), ("static", static))}
    stab["synset_bootstrap"] = st.synset_bootstrap(sample.s, cos, sample.pi, sample.pj,
                                                   len(sample.rel), n_boot=20)
    block = {"matched": len(matched), "alignment": out, "stability": stab,
             "baselines": al.baseline_alignment(sample, matched, encoder,
                                                {"tfidf": wordnet.tfidf_definitions(
                                                    [m.definition for m in matched])}),
             "effects": al.defect_effects(encoder, matched, sample, out["pentachora"])}
    bt = tables.baselines_table(block)
    assert list(bt.index) == ["encoder", "static embedding", "TF-IDF of the definitions",
                              "encoder, noun pairs only"]
    assert bt.loc["encoder", "Pearson"] == f"{out['encoder']['pearson']:.4f}"
    # the part-of-speech confound beside each row: the share its pairs route through the fake root
    share = block["effects"]["fake_root"]["fake_root_share"]
    assert 0 < share < 1 and bt.loc["encoder", "through the fake root"] == f"{share:.1%}"
    assert bt.loc["encoder, noun pairs only", "through the fake root"] == "0.0%"
    et = tables.effects_table(block)
    assert list(et.index) == ["B3", "B10", "B11", "B16", "B17"]
    assert et.loc["B16", "taken"] == f"{len(sample.s):.4f}"
    it = tables.intervals_table(stab)
    assert "precision of the mean" in it.columns[0]
    assert "uncertainty of the correlation (20 resamples, 95%)" in it.columns[1]
    lo, hi = stab["synset_bootstrap"]["enc_pearson"]["ci"]
    assert it.loc["enc_pearson"].iloc[1] == f"[{lo:.4f}, {hi:.4f}]"
    h = study.headline({"wordnet": block})
    assert h["stability_bootstrap_ci"] == [lo, hi]
    assert h["baseline_tfidf_pearson"] == block["baselines"]["tfidf"]["pearson"]
    assert "baseline_random_pearson" not in h  # not run: absent, never a stand-in


def test_parameters_default_and_refuse_bad_baselines(tmp_path: Path) -> None:
    def write(wordnet_block: dict) -> Path:
        path = tmp_path / "parameters" / "embedded" / "terrain_x.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"experiment": "terrain", "run": "x",
                                        "profile": "embedded",
                                        "model": "embedded/all-minilm-l6-v2",
                                        "wordnet": wordnet_block}))
        return path

    wn = load_parameters(write({}), "terrain").wordnet
    assert wn.baselines == ["tfidf", "random_encoder", "noun_only"]
    assert (wn.n_boot, wn.boot_seed) == (200, 0)
    assert load_parameters(write({"baselines": []}), "terrain").wordnet.baselines == []
    for bad, says in (([" tfidf", "glove"], "' tfidf', 'glove'"),
                      (["tfidf", "tfidf"], "a repeated entry")):
        with pytest.raises(ParameterError) as err:
            load_parameters(write({"baselines": bad}), "terrain")
        message = str(err.value)
        assert "\n" not in message and "wordnet.baselines" in message and says in message
        assert "tfidf, random_encoder, noun_only" in message
    with pytest.raises(ParameterError, match="wordnet.n_boot"):
        load_parameters(write({"n_boot": 1}), "terrain")
