"""Bootstrap over prompts, the seed-invariance check and the architecture controls with their
bootstrap (KV-group-aware specialization, attention-sink share) (lib.attention.stats), on entropy
matrices of known structure."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lib import results
from lib.attention.specialization import (
    group_si,
    specialization_index,
    specialization_metrics,
    within_group_correlation,
)
from lib.attention.stats import (
    bootstrap_delta_si,
    bootstrap_si,
    group_specialization,
    group_specialization_delta,
    resample_weights,
    seed_invariance,
    sink_share_delta,
    sink_share_summary,
)
from lib.stats.resampling import multiplicities


def per_prompt(seed: int, prompts: int = 10, layers: int = 12, heads: int = 6, noise=0.05):
    rng = np.random.default_rng(seed)
    structure = rng.uniform(0.3, 0.9, size=(layers, heads))
    return np.clip(structure + noise * rng.standard_normal((prompts, layers, heads)), 0, 1)


def test_bootstrap_is_deterministic_and_brackets_the_point():
    x = per_prompt(0)
    a = bootstrap_si(x, n_boot=300, seed=7, return_samples=True)
    b = bootstrap_si(x, n_boot=300, seed=7, return_samples=True)
    c = bootstrap_si(x, n_boot=300, seed=8, return_samples=True)
    np.testing.assert_array_equal(a["samples"], b["samples"])
    assert not np.array_equal(a["samples"], c["samples"])
    assert a["low"] < a["point"] < a["high"]
    assert a["point"] == pytest.approx(specialization_metrics(x.mean(0))["specialization_index"])
    assert a["n_boot"] == 300 and a["n_prompts"] == 10 and a["std"] > 0


def test_samples_equal_a_plain_loop():
    x = per_prompt(1, prompts=6)
    got = bootstrap_si(x, n_boot=25, seed=3, return_samples=True)["samples"]
    counts = multiplicities(6, 25, seed=3)  # the one draw (lib.stats.resampling)
    idx = [np.repeat(np.arange(6), row.astype(int)) for row in counts]
    loop = [specialization_metrics(x[i].mean(0))["specialization_index"] for i in idx]
    np.testing.assert_allclose(got, loop, atol=1e-12)


def test_weights_are_counts_over_n():
    w = resample_weights(4, 50, seed=0)
    assert w.shape == (50, 4)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    np.testing.assert_allclose(w * 4, np.round(w * 4))


def test_interval_shrinks_with_identical_prompts():
    x = per_prompt(2)
    same = np.repeat(x[:1], 10, axis=0)
    wide = bootstrap_si(x, n_boot=200)
    flat = bootstrap_si(same, n_boot=200)
    assert flat["low"] == pytest.approx(flat["point"]) == pytest.approx(flat["high"])
    assert flat["std"] == pytest.approx(0, abs=1e-12)
    assert wide["high"] - wide["low"] > 1e-3
    noisier = bootstrap_si(per_prompt(2, noise=0.2), n_boot=200)
    assert noisier["high"] - noisier["low"] > wide["high"] - wide["low"]


def test_paired_delta():
    base = per_prompt(3)
    same = bootstrap_delta_si(base, base, n_boot=200, return_samples=True)
    assert same["point"] == 0 and not same["excludes_zero"]
    np.testing.assert_array_equal(same["samples"], 0)
    # instruct: every head gets the same layer profile added -> heads correlate more, SI drops
    profile = np.linspace(-0.3, 0.3, base.shape[1])[None, :, None]
    instruct = base + profile
    d = bootstrap_delta_si(base, instruct, n_boot=200)
    assert d["point"] < 0 and d["excludes_zero"] and d["low"] <= d["point"] <= d["high"]
    assert d["point"] == pytest.approx(d["instruct_point"] - d["base_point"])
    # pairing: a shared per-prompt shift cancels, unpaired resampling would not see that
    assert d["high"] - d["low"] < 0.5


def test_bootstrap_bad_input():
    with pytest.raises(ValueError, match=r"\[prompts, layers, heads\]"):
        bootstrap_si(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="same prompts"):
        bootstrap_delta_si(per_prompt(0, prompts=5), per_prompt(0, prompts=6))
    with pytest.raises(ValueError, match="ci"):
        bootstrap_si(per_prompt(0), ci=95)


def test_seed_invariance_skips_third_run_when_deterministic():
    calls = []

    def run(seed):
        calls.append(seed)
        return np.ones((2, 3, 4))

    mean, outcome = seed_invariance(run)
    assert calls == [42, 123] and outcome["passes"] == 2
    assert outcome["invariant"] and outcome["seeds_skipped"] == [456]
    assert outcome["outcome"] == "invariant: identical across seeds 42 and 123; seed 456 skipped"
    np.testing.assert_array_equal(mean, np.ones((2, 3, 4)))


def test_seed_invariance_runs_third_when_seeds_matter():
    calls = []

    def run(seed):  # depends on the global RNGs that seed_invariance sets
        calls.append(seed)
        return np.random.rand(2, 3) + torch.rand(2, 3).numpy()

    mean, outcome = seed_invariance(run)
    assert calls == [42, 123, 456] and outcome["passes"] == 3 and not outcome["invariant"]
    expected = []
    for seed in (42, 123, 456):
        np.random.seed(seed)
        torch.manual_seed(seed)
        expected.append(np.random.rand(2, 3) + torch.rand(2, 3).numpy())
    np.testing.assert_allclose(mean, np.mean(expected, axis=0))
    diff = (np.max(expected, 0) - np.min(expected, 0)).max()
    assert outcome["max_abs_difference"] == pytest.approx(diff)
    assert "all 3 averaged" in outcome["outcome"] and f"{diff:.3g}" in outcome["outcome"]
    calls.clear()
    single, outcome = seed_invariance(run, seeds=(42,))
    assert calls == [42] and outcome["passes"] == 1 and outcome["invariant"] is None
    np.testing.assert_allclose(single, expected[0])
    assert "not tested" in outcome["outcome"]
    with pytest.raises(ValueError, match="at least one seed"):
        seed_invariance(run, seeds=())


# ----------------------------------------------- the architecture controls (KV groups, sink share)

BOOT = {"n_boot": 300, "seed": 5, "ci": 0.9}


# three group profiles over 4 layers: a, b orthogonal (corr 0) and -a (corr -1 with a)
A = np.array([1.0, -1.0, 1.0, -1.0])


B = np.array([1.0, 1.0, -1.0, -1.0])


GROUP_PROFILES = np.stack([A, B, -A], axis=1) * 0.1 + 0.5  # [layers, groups]


def grouped(profiles: np.ndarray, size: int) -> np.ndarray:
    """E [layers, groups * size]: every head identical to its group's profile."""
    return np.repeat(profiles, size, axis=1)


def prompts_of(E: np.ndarray, n: int = 8) -> np.ndarray:
    """Per-prompt matrices that are positive affine maps of E: every resampled mean has the
    correlations of E, so every bootstrap sample equals the point."""
    return np.stack([E * (1 + 0.3 * p) + 0.01 * p for p in range(n)])


def noisy(layers: int = 10, heads: int = 8, prompts: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.3, 0.9, (layers, heads)) + 0.05 * rng.standard_normal(
        (prompts, layers, heads))


def test_identical_heads_within_groups_and_known_group_si() -> None:
    E = grouped(GROUP_PROFILES, 3)  # GQA: 9 heads, 3 kv groups of 3
    # group correlations 0 (a, b), -1 (a, -a), 0 (b, -a): mean -1/3, SI 4/3
    assert group_si(E, 3) == pytest.approx(4 / 3, abs=1e-12)
    assert within_group_correlation(E, 3) == pytest.approx(1.0, abs=1e-12)
    out = group_specialization(prompts_of(E), 3, **BOOT)
    assert (out["num_kv_heads"], out["group_size"]) == (3, 3)
    for key, value in (("group_si", 4 / 3), ("within_group_correlation", 1.0)):
        est = out[key]
        assert est["reason"] is None
        assert est["point"] == pytest.approx(value, abs=1e-12)
        assert est["low"] == pytest.approx(value, abs=1e-9)
        assert est["high"] == pytest.approx(value, abs=1e-9)
        assert (est["n_boot"], est["ci"], est["n_prompts"]) == (300, 0.9, 8)


def test_bootstrap_uses_the_si_resampling() -> None:
    x = noisy()
    out = group_specialization(x, 2, **BOOT)
    weights = resample_weights(x.shape[0], BOOT["n_boot"], BOOT["seed"])
    for key, metric in (("group_si", group_si), ("within_group_correlation",
                                                 within_group_correlation)):
        samples = np.array([metric(np.einsum("p,plh->lh", w, x), 2) for w in weights])
        low, high = np.percentile(samples, [5, 95])
        assert out[key]["low"] == pytest.approx(low, abs=1e-12)
        assert out[key]["high"] == pytest.approx(high, abs=1e-12)
        assert out[key]["point"] == pytest.approx(metric(x.mean(axis=0), 2), abs=1e-12)
        assert out[key]["low"] < out[key]["point"] < out[key]["high"]


def test_mha_has_no_within_group_figure_and_group_si_is_the_si() -> None:
    x = noisy(heads=6)
    out = group_specialization(x, 6, **BOOT)  # MHA: 6 kv heads, one head per group
    assert out["within_group_correlation"] == {
        "point": None, "low": None, "high": None,
        "reason": "one query head per KV group (MHA): no pair of heads shares a group"}
    si = bootstrap_si(x, **BOOT)
    for key in ("point", "low", "high"):
        assert out["group_si"][key] == pytest.approx(si[key], abs=1e-12)


def test_mqa_has_no_group_si_and_within_is_the_mean_head_correlation() -> None:
    x = noisy(heads=5)
    out = group_specialization(x, 1, **BOOT)
    assert out["group_si"]["point"] is None and out["group_si"]["reason"] == (
        "one KV group (MQA): no pair of groups to correlate")
    within = out["within_group_correlation"]
    mean_corr = specialization_metrics(x.mean(axis=0))["mean_head_correlation"]
    assert within["point"] == pytest.approx(mean_corr, abs=1e-12)
    si = bootstrap_si(x, **BOOT)  # correlation = 1 - SI, sample by sample
    assert within["low"] == pytest.approx(1 - si["high"], abs=1e-12)
    assert within["high"] == pytest.approx(1 - si["low"], abs=1e-12)


def test_undefined_figures_are_stored_as_null_with_their_reason(tmp_path) -> None:
    x = noisy(heads=4)
    x[:, :, 0] = 0.5  # head 0 constant over layers in every prompt
    x[:, :, 1] = 0.7  # and head 1: their group (heads 0, 1) has no correlation
    out = group_specialization(x, 2, **BOOT)
    assert out["within_group_correlation"]["reason"] is None  # group 1's pair still counts
    x[:, :, 2:] = 0.4
    out = group_specialization(x, 2, **BOOT)
    assert out["within_group_correlation"]["point"] is None
    assert out["within_group_correlation"]["reason"].startswith(
        "not finite: within group correlation is nan")
    assert out["group_si"]["point"] is None and out["group_si"]["reason"].startswith(
        "not finite: group si is nan")
    path = results.write_json(tmp_path / "c.json", {"kv_groups": out})
    stored = json.loads(path.read_text())["kv_groups"]
    assert stored["group_si"]["point"] is None and "NaN" not in path.read_text()


def test_paired_deltas() -> None:
    x, y = noisy(seed=0), noisy(seed=1)
    same = group_specialization_delta(x, x, 2, **BOOT)
    for key in ("group_si", "within_group_correlation"):
        assert (same[key]["point"], same[key]["low"], same[key]["high"]) == (0.0, 0.0, 0.0)
        assert not same[key]["excludes_zero"]
    delta = group_specialization_delta(x, y, 2, **BOOT)["group_si"]
    assert delta["point"] == pytest.approx(group_si(y.mean(0), 2) - group_si(x.mean(0), 2))
    assert delta["low"] <= delta["point"] <= delta["high"]
    mqa = group_specialization_delta(x, y, 1, **BOOT)
    assert mqa["group_si"]["point"] is None and "MQA" in mqa["group_si"]["reason"]
    assert mqa["within_group_correlation"]["point"] == pytest.approx(
        specialization_index(x.mean(0)) - specialization_index(y.mean(0)), abs=1e-12)


def test_sink_share_summary_and_delta() -> None:
    rng = np.random.default_rng(2)
    share = rng.uniform(0.0, 1.0, (6, 3, 4))  # [prompts, layers, heads]
    out = sink_share_summary(share, **BOOT)
    assert out["mean"]["point"] == pytest.approx(share.mean(), abs=1e-12)
    assert out["mean"]["low"] < share.mean() < out["mean"]["high"]
    np.testing.assert_allclose(out["per_layer"], share.mean(axis=(0, 2)), atol=1e-12)
    # the mean over resampled prompts, with the SI's resampling
    weights = resample_weights(6, BOOT["n_boot"], BOOT["seed"])
    low, high = np.percentile(weights @ share.mean(axis=(1, 2)), [5, 95])
    assert (out["mean"]["low"], out["mean"]["high"]) == pytest.approx((low, high), abs=1e-12)
    shifted = share + 0.1  # every prompt 0.1 higher: the paired interval is exactly +0.1
    delta = sink_share_delta(share, shifted, **BOOT)
    assert delta["mean"]["point"] == pytest.approx(0.1, abs=1e-12)
    assert delta["mean"]["low"] == pytest.approx(0.1, abs=1e-12)
    assert delta["mean"]["high"] == pytest.approx(0.1, abs=1e-12)
    assert delta["mean"]["excludes_zero"]
    np.testing.assert_allclose(delta["per_layer"], [0.1] * 3, atol=1e-12)


def test_bad_group_counts_raise() -> None:
    with pytest.raises(ValueError, match="cannot be split into 4 KV groups"):
        group_specialization(noisy(heads=6), 4)
    with pytest.raises(ValueError, match=r"\[prompts, layers, heads\]"):
        group_specialization(np.zeros((3, 4)), 1)

