"""Minimal results payloads the tests of several modules share."""

from __future__ import annotations

import math


def pair_payload(run: str, si: float | None, dsi: float | None, **extra) -> dict:
    """A minimal E11 results payload (what the notebook saves), NaN allowed."""
    def side(value: float | None) -> dict:
        ci = None if value is None else [value - 0.01, value + 0.01]
        return {"specialization_index": value, "si_ci": ci,
                "model": {"name": f"tiny/{run}", "architecture": {"attention_kind": "GQA"}}}

    instruct = None if si is None or dsi is None else si + dsi
    return {"experiment": "E11", "run": run, "methodology": {"entropy_mode": "padded"},
            "base": side(si), "instruct": side(instruct),
            "delta": {"specialization_index": dsi, "si_ci": [math.nan, math.inf],
                      "si_ci_excludes_zero": False},
            "verdict": {"code": "UNDEFINED", "reason": "not finite: specialization_index of "
                        "base tiny/x is nan"}, **extra}


def model_block(name: str, source: str, si: float, low: float = 0.4, high: float = 0.5,
           init: float | None = None, p: float = 0.4) -> dict:
    test = {"point": si, "null_mean": (low + high) / 2, "excess": si - (low + high) / 2,
            "null_std": (high - low) / 4, "low": low, "high": high, "p": p}
    return {"display": name, "specialization_index": si, "si_ci": [si - 0.02, si + 0.02],
            "model": {"name": name, "source": source,
                      "architecture": {"attention_kind": "MHA"}},
            "controls": {"head_permutation": {"si": test, "depth_share": 0.6}},
            "null_model": ({"init_seeds": {
                "architecture": f"random/{name}", "reduction": "none",
                "si_against_init": {"point": si, "n": 5, "init_mean": init, "init_sd": 0.02,
                                    "low": init - 0.03, "high": init + 0.03,
                                    "outside": True, "excess_sd": (si - init) / 0.02,
                                    "reason": None}}} if init is not None else None)}


def ladder_payload() -> dict:
    return {"experiment": "E08", "models": {
        "a": model_block("MiniLM", "embedded", 0.47, init=0.91),
        "b": model_block("SmolLM2", "embedded", 0.30, low=0.6, high=0.7, init=0.95, p=0.001),
        "c": model_block("tiny Phi", "tiny", 0.88)}}


def modulator_payload(ci: list[float] | None, verdict: str = "not testable") -> dict:
    trained = {"relative_lift_pearson": 0.05, "n_boot": 1000, "level": 0.95}
    if ci is not None:
        trained["relative_lift_pearson_ci"] = ci
    return {"experiment": "modulator", "run": "minilm",
            "model": {"name": "embedded/all-minilm-l6-v2"},
            "section9": {"evaluation": {"relational": {
                "sets": {"Trained": trained}, "pairs": {"eval_disjoint_from_anchors": True}}},
                "train": {"alpha_test": {"verdict": verdict, "steps": 40,
                                         "reason": "alphas moved less than their noise"}}}}
