"""Bootstrap over prompts and the seed-invariance check (lib.attention.stats)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lib.attention.specialization import specialization_metrics
from lib.attention.stats import bootstrap_delta_si, bootstrap_si, resample_weights, seed_invariance
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
