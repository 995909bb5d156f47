"""Minimal results payloads the tests of several modules share."""

from __future__ import annotations

import copy
import math
import types
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from lib.claims import CLAIMS
from lib.layout import layout_of


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
            "trained": {"evaluation": {"relational": {
                "sets": {"Trained": trained}, "pairs": {"eval_disjoint_from_anchors": True}}},
                "train": {"alpha_test": {"verdict": verdict, "steps": 40,
                                         "reason": "alphas moved less than their noise"}}}}


def skeleton(model: type[BaseModel]) -> dict[str, Any]:
    """The smallest payload `model` (a results layout) accepts: each required key at its type's
    plainest value (null where allowed, else 0, "", False, [] or {}), nested blocks filled in
    the same way; optional keys left out."""
    return {name: _plainest(field.annotation) for name, field in model.model_fields.items()
            if field.is_required()}


def _plainest(annotation: Any) -> Any:
    kinds = _alternatives(annotation)
    if type(None) in kinds:
        return None
    kind = kinds[0]
    origin = get_origin(kind)
    if origin is Literal:
        return get_args(kind)[0]
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return skeleton(kind)
    plain = {float: 0.0, int: 0, str: "", bool: False, list: [], dict: {}, tuple: []}
    return plain.get(origin or kind, None)


def _alternatives(annotation: Any) -> list[Any]:
    if get_origin(annotation) in (Union, types.UnionType):
        return [t for arg in get_args(annotation) for t in _alternatives(arg)]
    return [annotation]


def fitted(payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` filled out to fit its experiment's results layout: `skeleton`'s keys where
    `payload` leaves them out, at any depth (its own values kept)."""
    model = layout_of(payload["experiment"])
    assert model is not None, f"{payload['experiment']} has no results layout"
    return _merged(skeleton(model), payload)


def _merged(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: _merged(base.get(k), v) for k, v in over.items()}}
    return over


def layout_payload(experiment: str, values: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    """A payload that fits `experiment`'s results layout (`fitted`), with each of `values`
    (key path -> value) set."""
    payload: dict[str, Any] = {"experiment": experiment}
    for path, value in values.items():
        node = payload
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return fitted(payload)


def claims_payload(result: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """A payload that fits the layout of the results file `result` (`paper/E11_falcon-7b`),
    holding the published value of every claim on it, or `values[claim id]` where given."""
    values = values or {}
    return layout_payload(result.split("/")[-1].split("_", 1)[0], {
        c.field: values.get(c.id, c.value) for c in CLAIMS if c.result == result})


def fitted_block(model: type[BaseModel], block: dict[str, Any]) -> dict[str, Any]:
    """`block` filled out to fit the layout block `model` (`skeleton`'s keys where it leaves
    them out, its own values kept): for the entries of a `dict[str, X]` key, which `fitted`
    leaves as they are."""
    return _merged(skeleton(model), block)


MISSING = object()
"""`changed`'s value for a key to delete."""


def changed(payload: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of `payload` with the key at `path` set to `value` (deleted: `MISSING`)."""
    out = copy.deepcopy(payload)
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is MISSING:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out
