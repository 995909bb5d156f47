"""Architecture controls: KV-group-aware specialization and its bootstrap (lib.attention.stats,
lib.attention.specialization) on entropy matrices of known group structure."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lib import results
from lib.attention.specialization import (
    group_si,
    specialization_index,
    specialization_metrics,
    within_group_correlation,
)
from lib.attention.stats import (
    bootstrap_si,
    group_specialization,
    group_specialization_delta,
    resample_weights,
    sink_share_delta,
    sink_share_summary,
)

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


def test_within_group_correlation_pools_the_pairs_of_every_group() -> None:
    rng = np.random.default_rng(1)
    E = rng.uniform(size=(7, 8))  # 2 groups of 4 heads
    corr = np.corrcoef(E.T)
    pairs = [corr[i, j] for g in range(2) for i in range(4 * g, 4 * g + 4)
             for j in range(i + 1, 4 * g + 4)]
    assert within_group_correlation(E, 2) == pytest.approx(np.mean(pairs), abs=1e-12)
    means = E.reshape(7, 2, 4).mean(axis=2)
    assert group_si(E, 2) == pytest.approx(1 - np.corrcoef(means.T)[0, 1], abs=1e-12)
    # batched: a stack gives each matrix's value
    stack = np.stack([E, E[::-1], E * 2])
    np.testing.assert_allclose(within_group_correlation(stack, 2),
                               [within_group_correlation(m, 2) for m in stack], atol=1e-12)
    np.testing.assert_allclose(group_si(stack, 4), [group_si(m, 4) for m in stack], atol=1e-12)


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
