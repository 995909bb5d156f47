"""Specialization, the GQA group metrics and the depth share (lib.attention.specialization) on
hand-made E."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

from lib.attention.specialization import (
    depth_share,
    gqa_group_metrics,
    group_si,
    head_correlations,
    specialization_index,
    specialization_metrics,
    within_group_correlation,
)


def seed_metrics(E):
    """Seed 000's compute_specialization_metrics, as a reference."""
    num_layers, num_heads = E.shape
    layer_variances = np.var(E, axis=1)
    corr = np.corrcoef(E.T)
    mean_corr = float(np.nanmean(corr[np.triu_indices(num_heads, k=1)]))
    c = E.mean(axis=0)
    c = c / c.sum()
    h = scipy_entropy(c, base=2)
    eff = 2**h if h > 0 else 1.0
    third = num_layers // 3
    return {
        "specialization_index": 1 - mean_corr,
        "mean_head_correlation": mean_corr,
        "mean_head_variance": float(layer_variances.mean()),
        "effective_heads": eff,
        "effective_ratio": eff / num_heads,
        "early_variance": float(layer_variances[:third].mean()),
        "middle_variance": float(layer_variances[third : 2 * third].mean()),
        "late_variance": float(layer_variances[2 * third :].mean()),
        "layer_variances": layer_variances,
        "head_correlation_matrix": corr,
    }


def test_matches_seed_on_random_matrices():
    rng = np.random.default_rng(0)
    for layers, heads in [(30, 9), (7, 4), (60, 128)]:
        E = rng.uniform(0.2, 0.9, size=(layers, heads))
        got, ref = specialization_metrics(E), seed_metrics(E)
        for key, value in ref.items():
            np.testing.assert_allclose(np.asarray(got[key]), value, rtol=1e-12, atol=1e-12)
        assert got["num_layers"] == layers and got["num_heads"] == heads


def test_types_are_json_friendly():
    m = specialization_metrics(np.random.default_rng(1).uniform(size=(6, 3)))
    assert isinstance(m["layer_variances"], list) and isinstance(m["head_correlation_matrix"], list)
    assert all(isinstance(m[k], float) for k in ("specialization_index", "effective_heads"))
    assert isinstance(m["num_layers"], int)


def test_perfectly_correlated_heads_have_si_zero():
    profile = np.linspace(0.1, 0.9, 12)
    E = np.stack([profile, 2 * profile + 0.01, 0.5 * profile + 0.3], axis=1)
    m = specialization_metrics(E)
    assert m["mean_head_correlation"] == pytest.approx(1.0)
    assert m["specialization_index"] == pytest.approx(0.0, abs=1e-12)


def test_anticorrelated_pair_has_si_two():
    profile = np.linspace(0.1, 0.9, 5)
    E = np.stack([profile, 1 - profile], axis=1)
    assert specialization_metrics(E)["specialization_index"] == pytest.approx(2.0)


def test_constant_head_is_left_out_of_the_mean():
    profile = np.linspace(0.1, 0.9, 6)
    E = np.stack([profile, profile * 0.5, np.full(6, 0.5)], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from the NaN correlations
        m = specialization_metrics(E)
    corr = np.array(m["head_correlation_matrix"])
    assert np.isnan(corr[0, 2]) and np.isnan(corr[2, 2])
    assert m["mean_head_correlation"] == pytest.approx(1.0)  # only the (0, 1) pair counts


def _with_constant_head(value: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Three correlated heads, and the same with a fourth head of entropy `value` in every layer
    (its mean over 12 layers is off by rounding: its deviations are ~1e-17, not 0)."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=12)
    heads = np.stack([base + 0.05 * rng.normal(size=12) for _ in range(3)], axis=1) + 3
    return heads, np.column_stack([heads, np.full(12, value)])


def test_a_head_constant_up_to_rounding_is_undefined_like_an_exact_one():
    """Its correlations were ~1e-16 (not NaN) and pulled SI from 0.003 to 0.50: now
    lib.stats.correlation's rule makes them undefined, and SI averages the defined pairs."""
    heads, E = _with_constant_head()
    corr = head_correlations(E)
    assert np.isnan(corr[3]).all() and np.isnan(corr[:, 3]).all()
    assert not np.isnan(corr[:3, :3]).any()
    assert specialization_index(E) == pytest.approx(specialization_index(heads), rel=1e-12)
    assert specialization_index(E) < 0.01
    batched = specialization_index(np.stack([E, E[:, ::-1]]))  # the same rule, batched
    np.testing.assert_allclose(batched, specialization_index(heads), rtol=1e-12)
    m = specialization_metrics(E)
    assert m["specialization_index"] == pytest.approx(specialization_index(heads), rel=1e-12)
    assert m["undefined_heads"] == {
        "heads": [3], "pairs": 3, "defined_pairs": 3,
        "reason": "head 3 is constant over layers up to rounding (lib.stats.correlation): its "
                  "correlations are undefined; SI and mean_head_correlation average the 3 "
                  "defined pairs"}


def test_si_is_undefined_when_no_pair_of_heads_is_defined():
    E = np.column_stack([np.full(6, 0.1), np.full(6, 0.3), np.linspace(0.1, 0.9, 6)])
    m = specialization_metrics(E)
    assert math.isnan(m["specialization_index"]) and math.isnan(specialization_index(E))
    assert m["undefined_heads"]["pairs"] == 3 and m["undefined_heads"]["defined_pairs"] == 0
    assert m["undefined_heads"]["reason"].endswith("no pair of heads is defined: SI is undefined")


def test_normal_heads_report_no_undefined_heads():
    heads, _ = _with_constant_head()
    assert "undefined_heads" not in specialization_metrics(heads)  # results stay as they were


def test_effective_heads_by_hand():
    E = np.full((4, 5), 0.5)  # equal contributions -> all 5 heads effective
    assert specialization_metrics(E)["effective_heads"] == pytest.approx(5.0)
    assert specialization_metrics(E)["effective_ratio"] == pytest.approx(1.0)
    E = np.tile([0.5, 0.25, 0.25], (3, 1))  # c = (.5, .25, .25): H2 = 1.5 -> 2^1.5
    assert specialization_metrics(E)["effective_heads"] == pytest.approx(2**1.5)
    E = np.zeros((3, 4))
    E[:, 1] = 0.7  # one head carries everything: H = 0 -> 1.0
    assert specialization_metrics(E)["effective_heads"] == 1.0
    assert specialization_metrics(np.zeros((3, 4)))["effective_heads"] == 1.0  # sum 0


def test_layer_thirds_and_remainder():
    E = np.zeros((7, 2))
    E[:, 1] = np.arange(7)  # layer variance = (l / 2)^2
    lv = (np.arange(7) / 2) ** 2
    m = specialization_metrics(E)
    np.testing.assert_allclose(m["layer_variances"], lv)
    assert m["early_variance"] == pytest.approx(lv[:2].mean())
    assert m["middle_variance"] == pytest.approx(lv[2:4].mean())
    assert m["late_variance"] == pytest.approx(lv[4:].mean())
    short = specialization_metrics(E[:2])  # third = 0: early and middle undefined
    assert math.isnan(short["early_variance"]) and short["late_variance"] == pytest.approx(
        lv[:2].mean()
    )


def test_batched_si_and_correlations_match_numpy():
    rng = np.random.default_rng(2)
    batch = rng.uniform(size=(5, 10, 6))
    got = specialization_index(batch)
    assert got.shape == (5,)
    for b in range(5):
        np.testing.assert_allclose(head_correlations(batch[b]), np.corrcoef(batch[b].T), atol=1e-12)
        assert got[b] == pytest.approx(specialization_metrics(batch[b])["specialization_index"])
    assert isinstance(specialization_index(batch[0]), float)


def test_bad_e_raises():
    with pytest.raises(ValueError, match=r"\[layers, heads\]"):
        specialization_metrics(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        specialization_metrics(np.array([[0.1, np.nan], [0.2, 0.3]]))


def test_gqa_metrics_by_hand():
    E = np.array([[0.1, 0.3, 0.5, 0.9], [0.2, 0.2, 0.4, 0.8]])
    m = gqa_group_metrics(E, num_kv_heads=2)
    # groups {0,1}, {2,3}; within: layer 0 var(.1,.3)=.01, var(.5,.9)=.04; layer 1 0, .04
    assert m["per_group_variances"] == pytest.approx([0.005, 0.04])
    assert m["within_group_variance"] == pytest.approx(0.0225)
    # group means: layer 0 (.2, .7) var .0625; layer 1 (.2, .6) var .04
    assert m["between_group_variance"] == pytest.approx(0.05125)
    assert m["within_between_ratio"] == pytest.approx(0.0225 / 0.05125)
    assert (m["group_size"], m["num_kv_groups"]) == (2, 2)


def test_gqa_ratio_inf_and_errors():
    E = np.array([[0.1, 0.3, 0.3, 0.1], [0.2, 0.4, 0.4, 0.2]])
    assert gqa_group_metrics(E, 2)["within_between_ratio"] == math.inf  # equal group means
    assert gqa_group_metrics(E, 1)["between_group_variance"] == 0.0  # MQA: one group
    with pytest.raises(ValueError, match="cannot be split into 3 KV groups"):
        gqa_group_metrics(E, 3)
    with pytest.raises(ValueError, match="positive divisor"):
        gqa_group_metrics(E, 0)


def test_depth_share_and_the_fast_si() -> None:
    E = np.array([[0.0, 0.0], [1.0, 1.0]])  # all of the variance is between layers
    assert depth_share(E) == pytest.approx(1.0)
    assert depth_share(np.array([[0.0, 1.0], [0.0, 1.0]])) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    stack = rng.random((5, 7, 6))
    stack[1, :, 2] = 0.3  # a constant head: left out of the pairs
    rows, cols = np.triu_indices(6, k=1)
    slow = 1 - np.nanmean(head_correlations(stack)[:, rows, cols], axis=-1)
    assert np.allclose(specialization_index(stack), slow, atol=1e-12)



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

