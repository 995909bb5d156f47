"""The collapse rules calibrated on null pairs and planted effects, and each pair run's seed null
(lib.attention.calibration), on synthetic entropies and a tiny pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sealed import write_sealed

from lib.attention import calibration, seednull, study, verdicts
from lib.attention.calibration import calibrate, detected, judge, merge, plant
from lib.attention.parameters import SeedNull
from lib.attention.prompts import load_prompts
from lib.attention.specialization import specialization_index
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


# --------------------------------------------------------------------------- the collapse rules


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


# --------------------------------------------------------------------------- a run's seed null


def test_the_verdict_reads_the_seed_null_in_every_entropy_mode(pair) -> None:
    params, base, instruct = pair
    params = params.model_copy(update={"seed_null": SeedNull(n=6, alpha=0.01)})
    seed_null = calibration.measure_seed_null(params, load_prompts())
    assert seed_null["architecture"] == "random/tiny/falcon-mqa" and seed_null["n_models"] == 6
    assert set(seed_null["modes"]) == {"masked", "padded"}  # one padded pass gives both
    assert seed_null["calibration"]["rules"]["seed_null"]["n_null_pairs"] == 15
    delta = study.compare_pair(params, base, instruct, seed_null)
    assert delta["seed_null"]["n_models"] == 6 and delta["seed_null"]["alpha"] == 0.01
    verdict = study.collapse_verdict(base, instruct, delta)
    si = verdict.values["seed_null"]["specialization_index"]
    assert si["n"] == 6 and si["p"] is not None
    assert si["delta"] == pytest.approx(delta["specialization_index"])
    modes = delta["entropy_modes"]
    assert list(modes) == ["masked", "padded"] and modes["masked"]["protocol"]
    assert modes["masked"]["verdict"] == verdict.code
    padded = instruct.other_modes["padded"].mean(0)
    assert modes["padded"]["specialization_index"] == pytest.approx(
        study.specialization_metrics(padded)["specialization_index"]
        - study.specialization_metrics(base.other_modes["padded"].mean(0))[
            "specialization_index"])
    # a run reads the seed null its own job made, and measures it the same way without one
    path = calibration.seed_null_path("embedded", "E11_tiny-mqa")
    write_sealed(path, {**seed_null, "protocol": calibration.protocol(params)})
    read = calibration.seed_null_for_run(params, load_prompts())
    assert read["source"] == "results/embedded/seed_null/E11_tiny-mqa.json"
    other = calibration.seed_null_for_run(params.model_copy(update={"max_length": 64}),
                                          load_prompts())
    assert other["source"].startswith("measured in this run (results/embedded/seed_null/"
                                      "E11_tiny-mqa.json was made with another protocol)")
    path.unlink()
    again = calibration.seed_null_for_run(params, load_prompts())
    assert again["modes"] == read["modes"] and "has not been made" in again["source"]

