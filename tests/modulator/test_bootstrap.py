"""lib.modulator.bootstrap: lemma-resample intervals of the relational correlations and lifts;
lib.modulator.train.alpha_test: whether a run can test "alpha increases with depth"."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from lib.modulator.bootstrap import (
    AT_THE_EDGE,
    ROUNDING_MARGIN,
    correlation_intervals,
    gain_verdict,
)
from lib.modulator.pipeline import relational_evaluation
from lib.modulator.train import alpha_test, convergence
from lib.stats.pairs import weighted_pearson, weighted_ranks
from lib.stats.resampling import multiplicities


def _pairs(n_lemmas: int, n_pairs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pi, pj = rng.integers(0, n_lemmas, n_pairs), rng.integers(0, n_lemmas, n_pairs)
    keep = pi != pj
    return pi[keep], pj[keep]


def test_weighted_correlations_are_those_of_the_expanded_resample() -> None:
    """A resample's Pearson and Spearman (ties included: s takes 11 values) equal scipy's on the
    pairs repeated w_i·w_j times."""
    rng = np.random.default_rng(1)
    pi, pj = _pairs(40, 600)
    s = np.round(rng.random(len(pi)), 1)
    c = s + rng.normal(size=len(pi))
    w_lemma = multiplicities(40, 4, seed=5)
    assert (w_lemma.sum(axis=1) == 40).all() and (w_lemma == 0).any()  # with replacement
    w = w_lemma[:, pi] * w_lemma[:, pj]
    r = weighted_pearson(s, c, w)
    rho = weighted_pearson(weighted_ranks(s, w), weighted_ranks(c, w), w)
    for b in range(4):
        ss, cc = np.repeat(s, w[b].astype(int)), np.repeat(c, w[b].astype(int))
        assert r[b] == pytest.approx(pearsonr(ss, cc)[0], abs=1e-12)
        assert rho[b] == pytest.approx(spearmanr(ss, cc)[0], abs=1e-12)
    ones = np.ones((1, len(s)))
    assert weighted_pearson(s, c, ones)[0] == pytest.approx(np.corrcoef(s, c)[0, 1])
    assert np.isnan(weighted_pearson(np.full(len(s), 0.5), c, ones)[0])  # undefined, not 0


def _synthetic(n_lemmas: int = 300, n_pairs: int = 20_000, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    pi, pj = _pairs(n_lemmas, n_pairs, seed)
    s = rng.random(len(pi))
    cos = {"Original": s + 2.0 * rng.normal(size=len(s)),
           "Better": s + 1.0 * rng.normal(size=len(s)),
           "Worse": s + 4.0 * rng.normal(size=len(s))}
    return {"s": s, "cos": cos, "pi": pi, "pj": pj, "n": n_lemmas}


def test_intervals_are_seeded_and_contain_the_estimate() -> None:
    d = _synthetic()
    args = (d["s"], d["cos"], d["pi"], d["pj"], d["n"])
    a = correlation_intervals(*args, reference="Original", n_boot=100, seed=3)
    assert a == correlation_intervals(*args, reference="Original", n_boot=100, seed=3)
    other = correlation_intervals(*args, reference="Original", n_boot=100, seed=4)
    assert other["Better"]["pearson_ci"] != a["Better"]["pearson_ci"]
    for name, c in d["cos"].items():
        lo, hi = a[name]["pearson_ci"]
        assert lo < np.corrcoef(d["s"], c)[0, 1] < hi
        lo, hi = a[name]["spearman_ci"]
        assert lo < spearmanr(d["s"], c)[0] < hi
        assert a[name]["n_boot"] == 100 and a[name]["level"] == 0.95
        assert a[name]["ci_over"].startswith("lemmas")
    wider = correlation_intervals(*args, reference="Original", n_boot=100, level=0.99, seed=3)
    assert wider["Better"]["pearson_ci"][0] < a["Better"]["pearson_ci"][0]


def test_the_lift_interval_moves_with_the_modulated_cosines() -> None:
    d = _synthetic()
    out = correlation_intervals(d["s"], d["cos"], d["pi"], d["pj"], d["n"],
                                reference="Original", n_boot=100, seed=0)
    assert out["Original"]["relative_lift_pearson_ci"] == [0.0, 0.0]
    better, worse = out["Better"]["relative_lift_pearson_ci"], out["Worse"][
        "relative_lift_pearson_ci"]
    assert better[0] > 0 > worse[1]  # each excludes 0, on its own side
    assert better[0] > worse[1]


def test_relational_evaluation_stores_intervals_and_none_for_undefined() -> None:
    d = _synthetic(60, 3000)
    rng = np.random.default_rng(2)
    pairs = {"rel": np.arange(d["n"]), "pi": d["pi"], "pj": d["pj"], "s": d["s"],
             "similarity": "path", "n_rel": d["n"], "n_pairs_drawn": 3000,
             "n_pairs": len(d["s"]), "seed": 0, "eval_disjoint_from_anchors": True,
             "leakage_fraction": 0.0}
    reps = {name: rng.normal(size=(d["n"], 8)) for name in ("Static", "Original", "Modulated")}
    out = relational_evaluation(pairs, reps, n_boot=50)
    m = out["sets"]["Modulated"]
    assert len(m["pearson_ci"]) == 2 and m["pearson_ci"][0] <= m["pearson"] <= m["pearson_ci"][1]
    assert m["n_boot"] == 50 and m["ci_seed"] == 0
    pairs["s"] = np.full(len(d["s"]), 0.5)  # every similarity equal: no correlation, no interval
    m = relational_evaluation(pairs, reps, n_boot=50)["sets"]["Modulated"]
    assert m["pearson_ci"] is None and m["relative_lift_pearson_ci"] is None


CONVERGED = [9.2, 8.1, 8.095, 8.094]  # last two epochs: 0.06% and 0.01%


def test_alpha_test_refuses_a_verdict_when_the_alphas_did_not_move() -> None:
    start = np.full(6, 0.01)
    still = alpha_test(start, start, 40, CONVERGED)
    assert still["verdict"] == "not testable" and still["monotonic_increasing"] is None
    assert still["reason"].startswith("not testable: alphas moved 0") and "40 steps" in still[
        "reason"]
    assert alpha_test(start, np.linspace(0.01, 0.03, 6), 0, CONVERGED)["verdict"] == (
        "not testable")
    lockstep = alpha_test(start, np.full(6, 0.02) + np.arange(6) * 1e-6, 100, CONVERGED)
    assert lockstep["verdict"] == "not testable" and "lockstep" in lockstep["reason"]
    shared = alpha_test([0.01], [0.2], 100, CONVERGED)
    assert shared["verdict"] == "not testable" and "one alpha" in shared["reason"]


def test_alpha_test_gives_the_depth_verdict_when_the_alphas_moved() -> None:
    start = np.full(6, 0.01)
    up = alpha_test(start, np.geomspace(0.012, 0.05, 6), 500, CONVERGED)
    assert up["verdict"] == "testable" and up["monotonic_increasing"] is True
    assert up["convergence"]["converged"] is True
    down = alpha_test(start, np.geomspace(0.05, 0.012, 6), 500, CONVERGED)
    assert down["verdict"] == "testable" and down["monotonic_increasing"] is False
    # the field modulator's [layers, experts] alphas: the mean over experts per layer
    field = alpha_test(np.full((6, 3), 0.01), np.geomspace(0.012, 0.05, 6)[:, None].repeat(3, 1),
                       500, CONVERGED)
    assert field["n_layers"] == 6 and field["monotonic_increasing"] is True
    with pytest.raises(ValueError, match="differ"):
        alpha_test(np.full(6, 0.01), np.full(5, 0.02), 5, CONVERGED)


@pytest.mark.parametrize("val_loss, words", [
    ([9.188, 9.142], "2 validation losses, the criterion needs 3"),  # the embedded run's 40 steps
    ([9.2, 8.0, 7.5, 7.4], "the last changes were 6.25%, 1.33%"),
    ([9.2, 8.1, 8.095, 8.0], "the last changes were 0.06%, 1.17%"),
    ([9.2, float("nan"), 8.0], "not finite")])
def test_alpha_is_not_testable_before_training_has_converged(val_loss, words) -> None:
    """Alphas that moved apart in depth order are no finding while the validation loss still
    moves by 0.1% or more per epoch in either of the last two epochs."""
    out = alpha_test(np.full(6, 0.01), np.geomspace(0.012, 0.05, 6), 40, val_loss)
    assert out["verdict"] == "not testable" and out["monotonic_increasing"] is None
    assert out["reason"].startswith("not testable: training has not converged (")
    assert words in out["reason"] and out["convergence"]["converged"] is False
    assert convergence(CONVERGED)["changes"] == pytest.approx([0.1196, 0.000617, 0.000124],
                                                              abs=1e-4)


@pytest.mark.parametrize("ci, verdict", [
    ([0.01, 0.12], "gains"), ([-0.2, -0.01], "loses"), ([-0.02, 0.12], "gains nothing"),
    ([-0.0068, 4e-6], AT_THE_EDGE), ([-3e-6, 0.004], AT_THE_EDGE), ([2e-4, 0.1], "gains"),
    ([-0.0073, -9e-5], AT_THE_EDGE), ([-0.01, -2e-4], "loses"), (None, "undefined"),
    ([float("nan"), 0.1], "undefined")])
def test_a_bound_within_the_processors_rounding_of_zero_is_at_the_edge(ci, verdict) -> None:
    """The B8 lift interval that read "[-0.7%, -0.0%]: loses" on one processor and "gains
    nothing" on another had an upper bound within rounding of 0: neither word is robust."""
    assert gain_verdict(ci) == verdict
    assert ROUNDING_MARGIN == 1e-4
    assert gain_verdict([-0.01, 5e-6], margin=1e-6) == "gains nothing"
