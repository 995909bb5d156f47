"""The head-permutation null of SI, dSI and the group metrics, its KV-aware shuffles and what
a typical draw means (lib.attention.nulls), on entropy matrices whose head identity does or does
not persist across layers."""

from __future__ import annotations

import numpy as np
import pytest

from lib.attention.nulls import (
    ACROSS_GROUPS,
    LAYER,
    WITHIN_GROUPS,
    compare,
    figure_reasons,
    head_permutation_controls,
    head_permutation_delta,
    null_reading,
    null_samples,
    permutation_delta,
    permutation_null,
    permuted,
)
from lib.attention.specialization import (
    gqa_group_metrics,
    mean_head_variance,
    specialization_index,
    specialization_metrics,
    within_between_ratio,
    within_group_correlation,
)

N = 400  # permutations: enough for p < 0.01, fast


def persistent(layers: int = 12, heads: int = 8, seed: int = 0) -> np.ndarray:
    """E [layers, heads] where head identity persists: a trend over the layers that every head
    shares, each head at its own offset in every layer (plus a little noise), so head h is the
    same head in every layer. Its profiles correlate strongly: a low SI."""
    rng = np.random.default_rng(seed)
    trend = 0.1 * np.sin(np.linspace(0, 3, layers))[:, None]
    offsets = np.linspace(-0.1, 0.1, heads)[rng.permutation(heads)]
    return 0.5 + trend + offsets + 0.01 * rng.standard_normal((layers, heads))


def shuffled(E: np.ndarray, seed: int = 1) -> np.ndarray:
    """E with the heads of each layer shuffled once: head identity destroyed, values kept."""
    return permuted(E, 1, np.random.default_rng(seed))[0]


def test_permuted_shuffles_each_layer_independently() -> None:
    E = np.arange(5 * 6, dtype=float).reshape(5, 6)
    draws = permuted(E, 50, np.random.default_rng(0))
    assert draws.shape == (50, 5, 6)
    np.testing.assert_array_equal(np.sort(draws, axis=-1), np.broadcast_to(E, draws.shape))
    orders = draws - E[:, :1]  # the permutation applied to each layer
    assert (orders[:, 0] != orders[:, 1]).any(axis=-1).mean() > 0.9  # layers shuffled apart
    assert len({tuple(o) for o in orders[:, 0]}) > 40  # draws differ


def test_persistent_head_identity_gives_a_small_p() -> None:
    E = persistent()
    null = permutation_null(E, n=N, seed=0)
    assert null["point"] == pytest.approx(specialization_index(E))
    assert null["point"] < null["low"]  # heads keep their profile: far below chance
    assert null["p"] == pytest.approx(1 / (N + 1)) and null["reason"] is None
    assert (null["n"], null["n_finite"], null["ci"]) == (N, N, 0.95)


def test_shuffled_heads_give_a_typical_draw() -> None:
    # a shuffled copy is one draw of the null: its p is uniform, large on the whole
    nulls = [permutation_null(shuffled(persistent(), seed), n=200, seed=0) for seed in range(20)]
    p = np.array([null["p"] for null in nulls])
    assert np.median(p) > 0.3 and p.min() > 0.01
    inside = [null["low"] <= null["point"] <= null["high"] for null in nulls]
    assert sum(inside) >= 18
    assert permutation_null(persistent(), n=200, seed=0)["p"] < p.min()


def test_p_value_is_two_sided_with_the_plus_one_correction() -> None:
    samples = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])  # null mean 0
    assert compare(1.5, samples)["p"] == pytest.approx(3 / 6)  # -2 and 2 are as far or farther
    assert compare(-1.0, samples)["p"] == pytest.approx(5 / 6)  # ties count as extreme
    assert compare(3.0, samples)["p"] == pytest.approx(1 / 6)  # never 0
    out = compare(0.0, np.array([np.nan, 1.0, -1.0]))
    assert (out["p"], out["n"], out["n_finite"]) == (1.0, 3, 2)  # NaN draws left out
    assert compare(np.nan, samples)["reason"] == "not finite: the observed value is nan"
    assert compare(0.5, np.full(4, np.nan))["reason"] == "not finite in any permutation"


def test_the_null_is_seeded() -> None:
    E = persistent()
    a, b = (null_samples(E, specialization_index, 300, 7) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, null_samples(E, specialization_index, 300, 8))
    # chunked (CHUNK = 256) and unchunked draws agree on their common prefix
    np.testing.assert_array_equal(null_samples(E, specialization_index, 100, 7), a[:100])


def test_delta_null_shuffles_base_and_instruct_independently() -> None:
    E = persistent()
    same = permutation_delta(E, E, n=N, seed=0)
    assert same["point"] == 0.0 and same["p"] > 0.5  # no change: a typical draw
    # base keeps head identity (SI far below its null), instruct is a shuffled copy
    lost = permutation_delta(E, shuffled(E), n=N, seed=0)
    assert lost["point"] > 0 and lost["p"] == pytest.approx(1 / (N + 1))
    with pytest.raises(ValueError, match=r"^base \(12, 8\) and instruct \(12, 4\) differ in "
                                         r"shape: the delta's null needs one architecture$"):
        permutation_delta(E, E[:, :4])


def test_bad_input_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match=r"^the head-permutation null needs n >= 1 "
                                         r"permutations, got 0$"):
        permutation_null(persistent(), n=0)
    with pytest.raises(ValueError, match=r"^E must be a non-empty \[layers, heads\] entropy "
                                         r"matrix, got shape \(3,\)$"):
        permutation_null(np.ones(3))
    with pytest.raises(ValueError, match=r"^ci must be in \(0, 1\), got 1.0$"):
        compare(0.0, np.zeros(3), ci=1.0)


def grouped_persistent(groups: int, size: int, layers: int = 12, seed: int = 0) -> np.ndarray:
    """E [layers, groups * size]: the heads of a group share the group's offset (`persistent`
    per group), so groups keep their identity across layers and heads within a group move
    together."""
    rng = np.random.default_rng(seed)
    group = np.repeat(persistent(layers, groups, seed), size, axis=1)
    return group + 0.002 * rng.standard_normal(group.shape)


def test_group_figures_against_the_null_where_the_architecture_defines_them() -> None:
    gqa = head_permutation_controls(grouped_persistent(3, 4), 3, n=N, seed=0)
    assert (gqa["n_permutations"], gqa["seed"], gqa["ci"]) == (N, 0, 0.95)
    # group identity persists across layers: whole groups shuffled, the group SI is extreme
    assert gqa["group_si"]["reason"] is None and gqa["group_si"]["p"] == pytest.approx(1 / (N + 1))
    assert gqa["group_si"]["shuffle"] == "across_groups"
    # the heads of a group are alike: shuffling them within their group changes nothing
    within = gqa["within_group_correlation"]
    assert within["shuffle"] == "within_groups" and within["p"] > 0.05
    # the ratio compares heads within a layer: no shuffle that keeps KV sharing moves it
    assert gqa["within_between_ratio"]["p"] is None
    assert "leaves it unchanged" in gqa["within_between_ratio"]["reason"]
    mha = head_permutation_controls(persistent(), 8, n=50)
    assert mha["group_si"]["reason"].startswith("one query head per KV group (MHA)")
    assert mha["within_group_correlation"]["reason"].startswith("one query head per KV group")
    assert mha["within_between_ratio"]["p"] is None
    mqa = head_permutation_controls(persistent(), 1, n=50)
    assert mqa["group_si"]["reason"].startswith("one KV group (MQA)")
    assert mqa["within_between_ratio"]["reason"].startswith("one KV group (MQA)")
    assert mqa["within_group_correlation"]["reason"].endswith("1 - SI (SI row)")
    delta = head_permutation_delta(grouped_persistent(3, 4), grouped_persistent(3, 4, seed=5),
                                   3, n=50)
    assert delta["si"]["reason"] is None and delta["group_si"]["p"] is not None
    assert delta["within_between_ratio"]["p"] is None


def test_batched_group_variances_match_the_seed_metrics() -> None:
    E = grouped_persistent(2, 4) + np.linspace(0, 0.01, 8)
    stack = np.stack([E, E[::-1], E * 2])
    ratios = within_between_ratio(stack, 2)
    assert ratios.shape == (3,)
    assert ratios[0] == pytest.approx(gqa_group_metrics(E, 2)["within_between_ratio"])
    assert within_between_ratio(E, 2) == pytest.approx(ratios[0])
    assert mean_head_variance(E) == pytest.approx(specialization_metrics(E)["mean_head_variance"])
    flat = np.ones((4, 4))  # no variance between groups: inf, as gqa_group_metrics says
    assert within_between_ratio(flat, 2) == np.inf == gqa_group_metrics(flat, 2)[
        "within_between_ratio"]


def test_within_group_shuffle_keeps_each_head_in_its_group() -> None:
    E = np.arange(4 * 12, dtype=float).reshape(4, 12)  # 3 KV groups of 4
    draws = permuted(E, 50, np.random.default_rng(0), WITHIN_GROUPS, 3)
    groups = E.reshape(4, 3, 4)
    moved = draws.reshape(50, 4, 3, 4)
    assert np.array_equal(np.sort(moved, axis=-1), np.broadcast_to(groups, moved.shape))
    assert not np.array_equal(moved, np.broadcast_to(groups, moved.shape))
    across = permuted(E, 50, np.random.default_rng(0), ACROSS_GROUPS, 3).reshape(50, 4, 3, 4)
    # whole groups move, in one piece, and every layer keeps its groups
    assert np.array_equal(np.sort(across[..., 0], axis=-1),
                          np.broadcast_to(groups[..., 0], across[..., 0].shape))
    assert np.array_equal(across - across[..., :1], np.broadcast_to(groups - groups[..., :1],
                                                                    across.shape))
    with pytest.raises(ValueError, match="needs num_kv_heads"):
        permuted(E, 1, np.random.default_rng(0), WITHIN_GROUPS)


def test_kv_sharing_alone_is_a_typical_draw_of_the_kv_aware_null() -> None:
    # heads share their group's level in every layer (KV sharing), but no group keeps its
    # identity across layers: the architecture alone
    rng = np.random.default_rng(3)
    groups, size = 4, 4
    E = np.repeat(rng.normal(0.5, 0.1, (16, groups)), size, axis=1) \
        + rng.normal(0, 0.01, (16, groups * size))
    statistic = lambda x: within_group_correlation(x, groups)  # noqa: E731
    naive = permutation_null(E, statistic, 400, 0, shuffle=LAYER)
    aware = permutation_null(E, statistic, 400, 0, shuffle=ACROSS_GROUPS, num_kv_heads=groups)
    assert naive["p"] < 0.01  # shuffling across the layer breaks KV sharing
    assert aware["p"] > 0.05


def test_kv_aware_tests_where_the_architecture_defines_them() -> None:
    assert all(v is None for k, v in figure_reasons(12, 3).items()
               if k != "within_between_ratio")
    mha, mqa = figure_reasons(8, 8), figure_reasons(8, 1)
    assert mha["si_within_groups"].startswith("one query head per KV group (MHA)")
    assert mqa["within_group_correlation"].endswith("1 - SI (SI row)")
    assert all("KV groups leaves it unchanged" in r["within_between_ratio"]
               for r in (figure_reasons(12, 3), figure_reasons(8, 8), figure_reasons(8, 1))
               if "unchanged" in r["within_between_ratio"])
    E = np.random.default_rng(0).uniform(0.3, 0.7, (8, 6))  # 3 KV groups of 2
    block = head_permutation_controls(E, 3, n=100)
    assert block["within_group_correlation"]["shuffle"] == WITHIN_GROUPS
    assert block["group_si"]["shuffle"] == ACROSS_GROUPS
    si = block["si"]
    assert si["excess"] == pytest.approx(si["point"] - si["null_mean"]) and si["null_std"] > 0
    assert 0 < block["depth_share"] < 1


def test_null_reading_says_what_a_typical_draw_means() -> None:
    typical = {"point": 0.47, "null_mean": 0.45, "null_std": 0.03, "excess": 0.02, "p": 0.6}
    text = null_reading(typical, 0.6)
    assert "a typical draw" in text and "layer means explain 60% of the entropy variance" in text
    assert "not by which head does what" in text and "nothing beyond chance" not in text
    assert "outside its null" in null_reading({**typical, "p": 0.001}, 0.6)
    assert null_reading({"p": None}, 0.6) is None

