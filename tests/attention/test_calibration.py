"""The seed null, the collapse rules calibrated on null pairs and planted effects, the KV-aware
head-permutation nulls and the multiplicity corrections (lib.attention.seednull, calibration,
nulls, multiplicity), on synthetic entropies and tiny models."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sealed import write_sealed

from lib.attention import calibration, seednull, verdicts
from lib.attention.calibration import calibrate, detected, judge, merge, plant
from lib.attention.multiplicity import adjust_family, benjamini_hochberg, holm
from lib.attention.nulls import (
    ACROSS_GROUPS,
    LAYER,
    WITHIN_GROUPS,
    figure_reasons,
    head_permutation_controls,
    null_reading,
    permutation_null,
    permuted,
)
from lib.attention.specialization import (
    depth_share,
    head_correlations,
    specialization_index,
    within_group_correlation,
)
from lib.attention.stats import resample_weights

PROMPTS, LAYERS, HEADS = 10, 8, 6


def init_seeds(n: int, seed: int = 0) -> np.ndarray:
    """Per-prompt entropies [n, prompts, layers, heads] of n 'init seeds' of one synthetic
    architecture: a shared depth profile, each seed's heads at their own random offsets and
    slopes (so SI varies from seed to seed), a little prompt noise."""
    rng = np.random.default_rng(seed)
    depth = np.linspace(0.3, 0.7, LAYERS)[None, :, None]
    slopes = rng.normal(0, 0.05, (n, 1, HEADS)) * np.linspace(-1, 1, LAYERS)[None, :, None]
    profiles = depth + rng.normal(0, 0.05, (n, 1, HEADS)) + slopes \
        + rng.normal(0, 0.03, (n, LAYERS, HEADS))
    return profiles[:, None] + rng.normal(0, 0.01, (n, PROMPTS, LAYERS, HEADS))


def figures(x: np.ndarray) -> dict:
    return calibration._figures(x, resample_weights(PROMPTS, 200, 0))


# --------------------------------------------------------------------------- the seed null rule


def test_seed_null_p_is_student_t_on_the_seeds_spread() -> None:
    values = [0.0, 1.0, 2.0]  # sd 1, 2 degrees of freedom
    half = stats.t.ppf(0.975, 2) * math.sqrt(2)
    assert verdicts.seed_null_p(half, values) == pytest.approx(0.05)
    assert verdicts.seed_null_interval(values, 0.95) == pytest.approx([-half, half])
    assert verdicts.seed_null_p(0.1, [1.0, 1.0]) is None  # two seeds: no null
    assert verdicts.seed_null_p(float("nan"), values) is None


def test_a_null_pair_reads_not_resolved() -> None:
    x = init_seeds(22)
    reference = {key: np.array([figures(x[k])[key][0] for k in range(2, 22)])
                 for key in seednull.METRICS}
    codes = judge(figures(x[0]), figures(x[1]), reference, 0.95, verdicts.SEED_NULL_ALPHA)
    assert codes["seed_null"] == verdicts.NOT_RESOLVED
    # the seeds' rule has no 'not resolved': the same null pair reads as an effect
    assert codes["as_executed"] != verdicts.NOT_RESOLVED


def test_a_strongly_planted_effect_is_detected_both_ways() -> None:
    x = init_seeds(22)
    reference = {key: np.array([figures(x[k])[key][0] for k in range(1, 22)])
                 for key in seednull.METRICS}
    base = figures(x[0])
    toward = judge(base, figures(plant(x[0], 0.9)), reference, 0.95, verdicts.SEED_NULL_ALPHA)
    away = judge(base, figures(plant(x[0], -2.0)), reference, 0.95, verdicts.SEED_NULL_ALPHA)
    assert detected(toward["seed_null"], 0.9)
    assert away["seed_null"] == "C_REFUTED" and detected(away["seed_null"], -2.0)
    assert not detected("C_REFUTED", 0.9) and not detected("B_PARTIAL", -2.0)


def test_plant_moves_each_head_toward_its_layer_mean() -> None:
    x = init_seeds(1)[0]
    mean = x.mean(axis=-1, keepdims=True)
    assert np.allclose(plant(x, 1.0), np.broadcast_to(mean, x.shape))
    assert np.array_equal(plant(x, 0.0), x)
    assert np.allclose(plant(x, 0.5).var(axis=-1), 0.25 * x.var(axis=-1))
    assert np.allclose(plant(x, -1.0).var(axis=-1), 4 * x.var(axis=-1))
    assert specialization_index(plant(x, 0.5).mean(axis=0)) < specialization_index(
        x.mean(axis=0))


def test_two_signs_are_one_holm_family() -> None:
    base = {"specialization_index": 0.5, "mean_head_correlation": 0.5,
            "mean_head_variance": 0.01}
    instruct = {"specialization_index": 0.3, "mean_head_correlation": 0.7,
                "mean_head_variance": 0.005}
    spread = {"specialization_index": {"values": [0.49, 0.5, 0.51, 0.5], "scale": "identity"},
              "mean_head_variance": {"values": list(np.log([0.01, 0.011, 0.009, 0.0101])),
                                     "scale": "log"}}
    v = verdicts.territorial_collapse(base, instruct, intervals={
        "specialization_index": (-0.3, -0.1), "mean_head_variance": (-0.008, -0.002)},
        seed_null=spread)
    null = v.values["seed_null"]
    assert v.code == "A_CONFIRMED"
    assert null["mean_head_variance"]["delta"] == pytest.approx(math.log(0.5))
    assert holm([null[m]["p"] for m in null]) == [null[m]["p_holm"] for m in null]
    assert sorted(null[m]["level"] for m in null) == pytest.approx(
        [1 - verdicts.SEED_NULL_ALPHA, 1 - verdicts.SEED_NULL_ALPHA / 2])
    # without a seed null no sign is resolved, whatever the bootstrap says
    alone = verdicts.territorial_collapse(base, instruct, intervals={
        "specialization_index": (-0.3, -0.1), "mean_head_variance": (-0.008, -0.002)})
    assert alone.code == verdicts.NOT_RESOLVED and alone.values["bootstrap_only"] == "A_CONFIRMED"


def test_calibration_measures_false_positives_and_power() -> None:
    out = calibrate(init_seeds(12), 200, 0, 0.95, fractions=(-2.0, 0.05, 0.9))
    rules = out["rules"]
    assert out["n_models"] == 12 and rules["seed_null"]["n_null_pairs"] == 66
    assert rules["seed_null"]["false_positive_rate"] <= calibration.MAX_FPR
    assert rules["as_executed"]["false_positive_rate"] == 1.0  # it cannot say 'not resolved'
    assert rules["bootstrap_only"]["false_positive_rate"] > 0.5  # prompts are not checkpoints
    assert rules["seed_null"]["power"]["0.9"] == 1.0 and rules["seed_null"]["power"]["-2"] == 1.0
    assert rules["seed_null"]["power"]["0.05"] < 1.0
    assert out["planted_dsi"]["0.9"] < out["planted_dsi"]["0.05"] < 0 < out["planted_dsi"]["-2"]
    assert sum(rules["seed_null"]["codes"].values()) == 66


def test_merge_reports_each_rule(tmp_path: Path) -> None:
    block = calibrate(init_seeds(6), 100, 0, 0.95, fractions=(0.9,))
    files = []
    for run, slot in (("E11_a", "E11_tiny-mha"), ("E11_b", "E11_tiny-mqa")):
        path = tmp_path / "embedded" / "seed_null" / f"{slot}.json"  # as the workflow writes
        files.append(write_sealed(path, {"run": run, "architecture": f"random/{run}",
                                         "protocol": {"entropy_mode": "masked"}, "n_models": 6,
                                         "reduction": "none", "calibration": block}))
    payload = merge("embedded", files)
    assert set(payload["runs"]) == {"E11_a", "E11_b"}
    for rule in calibration.RULES:
        r = payload["rules"][rule]
        assert r["n_null_pairs"] == 30 and set(r["power"]) == {"0.9"}
        assert r["false_positive_rate"] == pytest.approx(
            block["rules"][rule]["false_positive_rate"])
    assert payload["rules"]["seed_null"]["meets_target"] is False  # 15 < 40 null pairs each
    assert payload["rules"]["as_executed"]["meets_target"] is False


def test_seeds_are_stable_and_never_a_models_own() -> None:
    from lib.models.tiny import seed_for

    seeds = seednull.seeds_for("random/tiny/falcon-mqa", 5)
    assert seeds == seednull.seeds_for("random/tiny/falcon-mqa", 5) and len(set(seeds)) == 5
    assert seed_for("tiny/falcon-mqa") not in seeds
    assert seednull.init_architecture("tiny/falcon-mqa") == "random/tiny/falcon-mqa"
    assert seednull.init_architecture("random/tiiuae/falcon-7b") == "random/tiiuae/falcon-7b"


def test_init_comparison_reads_a_trained_value_against_its_init_seeds() -> None:
    out = seednull.init_comparison(0.7, [0.9, 1.0, 1.1])
    assert (out["low"], out["high"], out["outside"]) == (0.9, 1.1, True)
    assert out["excess"] == pytest.approx(-0.3) and out["excess_sd"] == pytest.approx(-3.0)
    assert out["chance_outside"] == pytest.approx(0.5)
    assert seednull.init_comparison(1.0, [0.9, 1.0, 1.1])["outside"] is False
    assert seednull.init_comparison(1.0, [0.9])["reason"].startswith("1 finite init seeds")


# --------------------------------------------------------------------------- random init


def test_random_init_takes_a_seed_and_keeps_the_vocabulary() -> None:
    from lib.models.random_init import build_random, random_config

    a = build_random("random/tiny/falcon-mqa", seed=1)
    b = build_random("random/tiny/falcon-mqa", seed=1)
    c = build_random("random/tiny/falcon-mqa", seed=2)
    weights = [dict(m.model.named_parameters())["transformer.h.0.mlp.dense_h_to_4h.weight"]
               for m in (a, b, c)]
    assert a.seed == 1 and bool((weights[0] == weights[1]).all())
    assert not bool((weights[0] == weights[2]).all())
    name = "random/embedded/all-minilm-l6-v2"
    kept, reduction, kind = random_config(name, 15_000_000, keep_vocabulary=True)
    cut, _, cut_kind = random_config(name, 15_000_000)
    assert (kept.vocab_size, kind) == (30522, "embedded") and "vocab_size" not in reduction
    assert kept.hidden_size < 384  # the widths shrink instead
    assert (cut.vocab_size, cut_kind) == (260, "bert")


# --------------------------------------------------------------------------- KV-aware nulls


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
    block = head_permutation_controls(init_seeds(1)[0].mean(axis=0), 3, n=100)
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


# --------------------------------------------------------------------------- multiplicity


def test_holm_and_benjamini_hochberg_on_a_known_example() -> None:
    p = [0.01, 0.04, 0.03, 0.005, None]
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02, None])
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02, None])
    tests = {"a": {"p": 0.01}, "b": {"p": 0.06}, "c": {"p": None}}
    family = adjust_family(tests, "three tests")
    assert family["size"] == 2 and family["rejected"] == ["a"]  # 0.02 and 0.06
    assert tests["a"]["p_adjusted"] == pytest.approx(0.02) and tests["c"]["p_adjusted"] is None
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        holm([1.5])
