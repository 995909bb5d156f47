"""lib.stats.correlation: a correlation with a (near-)constant input is undefined, not ~0."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr, spearmanr

from lib.stats.correlation import NEAR_CONSTANT_ULPS, constant_reason, correlation, pearson
from lib.terrain.weights.battery import position_bias_topology

RNG = np.random.default_rng(0)


def test_a_constant_vector_in_floating_point_is_undefined_not_a_tiny_number() -> None:
    c = RNG.normal(size=100)
    s = np.full(100, 1 / 3)  # every pair at path similarity 1/3 (B10's adjective pairs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isfinite(np.corrcoef(s, c)[0, 1])  # the fault: ~1e-17, a number
    r, reason = pearson(s, c, ("the similarities", "the cosines"))
    assert np.isnan(r)
    assert reason.startswith("undefined: no variance in the similarities (std ")
    assert reason.endswith("within 64 rounding units of its largest value: constant)")
    for method in ("pearson", "spearman"):
        value, why = correlation(c, s, ("the cosines", "the similarities"), method)
        assert np.isnan(value) and "no variance in the similarities" in why


def test_rounding_noise_counts_as_constant_relative_to_the_values() -> None:
    base = np.full(50, 0.7, dtype=np.float32)
    noisy = base + np.float32(2) * np.spacing(base) * (RNG.random(50) > 0.5)  # 2 ulps apart
    assert noisy.std() > 0 and constant_reason(noisy) is not None
    bound = NEAR_CONSTANT_ULPS * np.finfo(np.float32).eps * 0.7
    assert f"<= {bound:.3g}" in constant_reason(noisy, "v")
    # float64 values carrying float32 rounding (cosines of parallel float32 rows): constant
    assert constant_reason(1 - RNG.random(45) * 4e-9) is not None
    # float16 values: their own, coarser, rounding
    half = np.full(50, 0.7, dtype=np.float16)
    half_noisy = half + np.spacing(half) * (RNG.random(50) > 0.5)  # 1 float16 ulp apart
    assert half_noisy.std() > 0 and constant_reason(half_noisy) is not None
    # a genuine spread, however small next to a large offset, stays defined
    assert constant_reason(0.7 + RNG.normal(size=50) * 1e-4) is None
    assert constant_reason(1e6 + RNG.normal(size=20) * 1e2) is None


def test_defined_correlations_are_pearson_and_spearman() -> None:
    x, y = RNG.normal(size=30), RNG.normal(size=30)
    assert pearson(x, y) == (pytest.approx(pearsonr(x, y)[0]), None)
    assert correlation(x, y, method="spearman") == (pytest.approx(spearmanr(x, y)[0]), None)
    assert pearson(np.arange(10), 2 * np.arange(10) + 1)[0] == pytest.approx(1.0)


def test_too_few_non_finite_and_zeros_are_undefined_with_a_reason() -> None:
    assert "has 1 value(s)" in pearson([1.0], [2.0], ("a", "b"))[1]
    assert "b has 1 non-finite value(s)" in pearson([1.0, 2.0, 3.0], [1.0, np.nan, 2.0],
                                                    ("a", "b"))[1]
    assert "no variance in a (std 0 <= 0," in pearson(np.zeros(5), np.arange(5), ("a", "b"))[1]
    with pytest.raises(ValueError, match="a and b must be 1-D of equal length"):
        pearson([1.0, 2.0], [1.0, 2.0, 3.0], ("a", "b"))
    with pytest.raises(ValueError, match="method must be"):
        correlation([1.0, 2.0], [1.0, 2.0], method="kendall")


def test_position_bias_head_with_constant_bias_has_no_distance_correlation() -> None:
    b = torch.stack([torch.arange(8.0), torch.full((8,), 0.25)], dim=1)
    out = position_bias_topology(b)
    assert out["dist_corr"][0] == pytest.approx(1.0) and out["dist_corr"][1] is None
    assert out["dist_corr_reason"][0] is None
    assert "no variance in head 1's bias" in out["dist_corr_reason"][1]
