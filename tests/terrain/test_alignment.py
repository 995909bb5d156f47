"""lib.terrain.alignment: the §2 measurements on constructed inputs and real synsets."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from lib.results import to_jsonable
from lib.terrain import alignment as al
from lib.terrain import tables, wordnet
from lib.terrain.wordnet import MatchedLemma


@pytest.fixture(scope="module")
def wn():
    wordnet.ensure_wordnet()
    from nltk.corpus import wordnet as corpus

    return corpus


def test_sample_pairs_is_the_seed_protocol() -> None:
    rel, pi, pj = al.sample_pairs(100, 30, 1000, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    rel2 = rng.choice(100, 30, replace=False)
    a, b = rng.choice(30, 1000), rng.choice(30, 1000)
    assert np.array_equal(rel, rel2)
    assert np.array_equal(pi, a[a != b]) and np.array_equal(pj, b[a != b])
    assert 0 < 1000 - len(pi) < 100  # about 1/30 self pairs dropped
    again = al.sample_pairs(100, 30, 1000, np.random.default_rng(3))
    assert all(np.array_equal(x, y) for x, y in zip((rel, pi, pj), again, strict=True))
    with pytest.raises(ValueError, match="n_rel"):
        al.sample_pairs(10, 11, 5, np.random.default_rng(0))


def test_bands_reproduce_the_seeds_edges_and_exact_edges() -> None:
    s = np.array([1.0] * 12 + [0.05] * 12 + [0.5] * 12 + [0.2] * 5)
    cs = np.arange(len(s), dtype=float)
    ce = 2 * cs
    rows = al.distance_bands(s, cs, ce)
    by = {(r["lo"], r["hi"]): r for r in rows}
    # 1.0 is in no band; 0.05 counts in [0.05,0.1) and (0,0.05]; 0.2 (5 pairs) skipped
    assert set(by) == {(0.5, 0.9), (0.05, 0.1), (0.0, 0.05)}
    assert by[(0.05, 0.1)]["n"] == by[(0.0, 0.05)]["n"] == 12
    assert by[(0.05, 0.1)]["static"] == pytest.approx(cs[12:24].mean())
    assert by[(0.5, 0.9)]["gap"] == pytest.approx(cs[24:36].mean())
    exact = al.distance_bands(s, cs, ce, exact_edges=True, min_pairs=1)
    assert sum(r["n"] for r in exact) == len(s)  # every value exactly once
    assert {(r["lo"], r["n"]) for r in exact} == {(0.9, 12), (0.5, 12), (0.1, 5), (0.05, 12)}
    with pytest.raises(ValueError, match="equal lengths"):
        al.distance_bands(s, cs[:3], ce)


def test_band_gradient_and_correlation() -> None:
    s = np.array([0.5, 0.25, 0.1, 0.05, 0.0999])
    c = np.array([0.9, 0.7, 0.4, 0.2, 0.1])
    assert al.band_gradient(s, c) == pytest.approx(0.8 - 0.15)  # 0.1 is in neither side
    assert np.isnan(al.band_gradient(s[:2], c[:2]))
    corr = al.relational_correlation(s, c)
    assert corr["pearson"] == pytest.approx(pearsonr(s, c)[0])
    assert corr["spearman"] == pytest.approx(spearmanr(s, c)[0])
    assert corr["reason"] is None


def test_a_constant_similarity_vector_has_no_correlation() -> None:
    """np.corrcoef gives ~1e-17 for a constant float vector; the alignment records undefined."""
    s = np.full(40, 1 / 3)
    c = np.random.default_rng(0).normal(size=40)
    corr = al.relational_correlation(s, c)
    assert np.isnan(corr["pearson"]) and np.isnan(corr["spearman"])
    assert corr["reason"].startswith("undefined: no variance in the pair similarities (std ")
    defined = al.relational_correlation(np.linspace(0.1, 1, 40), c)
    lift = al.correlation_lift(defined, corr)
    assert np.isnan(lift["pearson"]) and lift["reason"] == corr["reason"]
    assert al.correlation_lift(defined, defined) == {"pearson": 0.0, "spearman": 0.0,
                                                     "reason": None}


def test_pair_cosines_equal_plain_loop() -> None:
    X = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    pi, pj = np.array([0, 3, 19]), np.array([1, 3, 2])
    ref = [X[i] @ X[j] / ((np.linalg.norm(X[i]) + 1e-8) * (np.linalg.norm(X[j]) + 1e-8))
           for i, j in zip(pi, pj, strict=True)]
    np.testing.assert_allclose(al.pair_cosines(X, pi, pj), ref, rtol=1e-5)


def test_pentachora_paired_by_index_and_truncated() -> None:
    rng = np.random.default_rng(0)
    static, encoder = rng.normal(size=(12, 6)), rng.normal(size=(12, 6))
    static[1] = static[0]  # simplices containing rows 0 and 1 are degenerate in static
    simplices = np.array([[0, 1, 2, 3, 4], [2, 3, 4, 5, 6], [5, 6, 7, 8, 9], [3, 7, 8, 9, 10],
                          [4, 6, 8, 10, 11]])
    out = al.pentachoron_comparison(static, encoder, simplices)
    vs, ve = out["volumes_static"], out["volumes_encoder"]
    assert np.isnan(vs[0]) and np.isfinite(vs[1:]).all() and np.isfinite(ve).all()
    assert out["n_both_valid"] == 4 and out["pairing_broken"]
    assert out["paired_corr"] == pytest.approx(np.corrcoef(vs[1:], ve[1:])[0, 1])
    assert out["truncated_corr"] == pytest.approx(np.corrcoef(vs[1:], ve[:4])[0, 1])
    assert out["paired_corr_reason"] is None and out["truncated_corr_reason"] is None
    # the same simplex five times over: constant volumes, no correlation (not ~0)
    same = al.pentachoron_comparison(static, encoder, np.array([[2, 3, 4, 5, 6]] * 5))
    assert same["paired_corr"] is None and same["truncated_corr"] is None
    assert "no variance in the static volumes" in same["paired_corr_reason"]


def test_hypernym_chains_continue_through_unmatched(wn) -> None:
    s = wn.synset
    names = ["dog.n.01", "carnivore.n.01", "mammal.n.01", "animal.n.01", "dog.n.01",
             "cat.n.01", "entity.n.01", "feline.n.01"]
    matched = [MatchedLemma(f"w{i}", s(n), i, "definition") for i, n in enumerate(names)]
    chains = al.hypernym_chains(matched)
    # dog's first hypernym is domestic_animal (unmatched) -> animal -> organism -> ... -> entity
    # (8 steps); cat -> feline -> carnivore -> placental (unmatched) -> mammal -> ... -> animal,
    # then 3 more unmatched steps: entity is 11 steps up, past the 10-step limit
    parents = wn.synset("dog.n.01").hypernyms()  # nltk's order follows PYTHONHASHSEED (a set)
    assert al.first_hypernym(parents) == al.first_hypernym(parents[::-1])
    assert al.first_hypernym(parents) == wn.synset("domestic_animal.n.01")
    assert [0, 3, 6] in chains
    assert [5, 7, 1, 2, 3] in chains
    assert all(c[0] != 4 for c in chains)  # the duplicate synset keeps its first index
    assert all(len(c) >= 3 for c in chains)
    assert not any(c[0] == 6 for c in chains)  # entity has no hypernym
    static = np.random.default_rng(1).normal(size=(8, 5))
    rows = al.depth_decay(static, 2 * static, chains)
    unit = static / (np.linalg.norm(static, axis=1, keepdims=True) + 1e-8)
    d1 = np.mean([unit[c[0]] @ unit[c[1]] for c in chains])
    assert rows[0]["depth"] == 1 and rows[0]["static"] == pytest.approx(d1)
    assert rows[0]["encoder"] == pytest.approx(d1, abs=1e-6)
    # the spread over chains the figure's interval of the mean reads (ddof 1)
    sd1 = np.std([unit[c[0]] @ unit[c[1]] for c in chains], ddof=1)
    assert rows[0]["static_sd"] == pytest.approx(sd1) and rows[0]["n"] == len(chains)
    assert all(r["static_sd"] is None for r in rows if r["n"] == 1)
    assert [r["depth"] for r in rows] == list(range(1, max(len(c) for c in chains)))


def test_lexname_groups_cap_and_intra() -> None:
    class Toy:
        def __init__(self, lex):
            self.lex = lex

        def lexname(self):
            return self.lex

    matched = [("w", Toy("noun.a"), 0, "d")] * 250 + [("w", Toy("noun.b"), 0, "d")] * 9
    groups = al.lexname_groups(matched)
    assert list(groups) == ["noun.a"] and len(groups["noun.a"]) == 250
    X = np.zeros((259, 2))
    X[:200, 0] = 1.0
    X[200:, 1] = 1.0  # beyond the cap: orthogonal
    rows = al.lexname_intra(X, X, groups)
    assert rows[0]["n"] == 250 and rows[0]["static"] == pytest.approx(1.0)
    assert rows[0]["lift"] == pytest.approx(0.0)


def test_wordnet_alignment_small_real_set(wn) -> None:
    names = [n for w in ("dog", "cat", "run", "red", "fast", "tree", "house", "walk", "blue",
                         "car", "eat", "happy")
             for n in wn.synsets(w)][:60]
    matched = [MatchedLemma(f"w{i}", n, i, "definition") for i, n in enumerate(names)]
    rng = np.random.default_rng(0)
    static, encoder = rng.normal(size=(60, 8)), rng.normal(size=(60, 8))
    out = al.wordnet_alignment(static, encoder, matched, n_rel=40, n_pairs=3000, n_simplices=20,
                               n_scatter=100)
    rng = np.random.default_rng(42)
    rel, pi, pj = al.sample_pairs(60, 40, 3000, rng)
    assert out["n_pairs"] == len(pi) and len(out["scatter"]["s"]) == 100
    ref = [names[rel[i]].path_similarity(names[rel[j]]) for i, j in zip(pi, pj, strict=True)]
    assert out["static"]["pearson"] == pytest.approx(
        np.corrcoef(ref, al.pair_cosines(static[rel], pi, pj))[0, 1], rel=1e-6)
    assert sum(out["similarity_values"].values()) == len(pi)
    json.dumps(out)
    with pytest.raises(ValueError, match="one row per matched"):
        al.wordnet_alignment(static[:10], encoder, matched)
    with pytest.raises(ValueError, match="matched has"):
        al.wordnet_alignment(static, encoder, matched[:5])


def test_adjectives_alone_give_undefined_correlations_and_tables_say_so(wn) -> None:
    """Every adjective pair has path similarity 1/3 (B10): Pearson, Spearman, the lift and the
    gradient are undefined, recorded with the reason, and the table prints "undefined"."""
    names = [n for w in ("red", "fast", "happy", "blue", "big", "small", "quick", "slow")
             for n in wn.synsets(w, pos="a")][:30]
    matched = [MatchedLemma(f"w{i}", n, i, "definition") for i, n in enumerate(names)]
    rng = np.random.default_rng(0)
    static, encoder = rng.normal(size=(30, 8)), rng.normal(size=(30, 8))
    out = al.wordnet_alignment(static, encoder, matched, n_rel=20, n_pairs=500, n_simplices=10,
                               n_scatter=50)
    assert list(out["similarity_values"]) == [str(1 / 3)]
    for key in ("static", "encoder", "lift"):
        assert np.isnan(out[key]["pearson"]) and np.isnan(out[key]["spearman"])
        assert "no variance in the pair similarities" in out[key]["reason"]
    written = json.loads(json.dumps(to_jsonable(out), allow_nan=False))
    assert written["static"]["pearson"] is None and written["lift"]["spearman"] is None
    table = tables.alignment_table(out)
    assert (table.loc[["Pearson r", "Spearman rho"]] == "undefined").all().all()
    assert table.loc["gradient (s>=0.25 minus s<0.10)", "encoder"] == "undefined"
    assert table.loc["pentachoron volume CV", "static"] != "undefined"
