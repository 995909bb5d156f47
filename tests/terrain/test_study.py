"""lib.terrain.study: the same inputs give the same results, byte for byte (no wall times, no
peak memory in a block); the measurements go to a separate dict for the notebook to print."""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch

from lib.params import load_parameters
from lib.results import MEASUREMENT_KEYS, pop_measurements, to_jsonable
from lib.terrain import study
from lib.terrain.parameters import TerrainParameters

TINY = "parameters/embedded/terrain_tiny-t5.yaml"


@pytest.fixture(scope="module")
def one_thread():
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def _tiny() -> TerrainParameters:
    params = load_parameters(TINY, "terrain")
    assert isinstance(params, TerrainParameters)
    return params


def _keys(block: Any) -> set[str]:
    if isinstance(block, dict):
        return set(block) | {k for v in block.values() for k in _keys(v)}
    if isinstance(block, list):
        return {k for v in block for k in _keys(v)}
    return set()


def _run(params: TerrainParameters, measured: dict[str, Any]) -> str:
    """The tiny T5 run's sections and headline, as write_json would write them."""
    assert params.embedding and params.layers and params.weights
    model = params.model
    payload: dict[str, Any] = {"embedding": study.embedding_section(model, params.embedding,
                                                                    measured)}
    loaded = study.load_for_forward(model)
    payload["layers"] = study.layers_section(model, params.layers, loaded, measured)
    payload["weights"] = study.weights_section(model, params.weights, measured)
    payload["headline"] = study.headline(payload)
    return json.dumps(to_jsonable(payload), indent=2, sort_keys=True, allow_nan=False)


def test_two_runs_write_byte_identical_results(one_thread) -> None:
    params = _tiny()
    first_measured: dict[str, Any] = {}
    first = _run(params, first_measured)
    second = _run(params, {})
    assert first == second
    assert not _keys(json.loads(first)) & set(MEASUREMENT_KEYS)
    # the measurements are kept beside the results: every section's wall time, the battery's
    # timings and peak memory
    assert set(first_measured) == {"embedding", "layers", "weights"}
    assert all(m["seconds"] > 0 for m in first_measured.values())
    weights = first_measured["weights"]
    assert {"trained/timings_s", "trained/memory/peak_rss_mb", "trained/sv/seconds"} <= set(weights)
    assert weights["trained/timings_s"]["total"] > 0


def test_pop_measurements_finds_them_at_any_depth() -> None:
    block = {"a": {"seconds": 1.0, "memory": {"peak_rss_mb": 3.0, "n_reads": 4}},
             "rows": [{"timings_s": {"total": 2.0}, "x": 1}], "keep": 5}
    found = pop_measurements(block)
    assert found == {"a/seconds": 1.0, "a/memory/peak_rss_mb": 3.0,
                     "rows/0/timings_s": {"total": 2.0}}
    assert block == {"a": {"memory": {"n_reads": 4}}, "rows": [{"x": 1}], "keep": 5}


def test_the_init_spreads_are_the_same_twice_and_beside_the_analytic_null(one_thread) -> None:
    params = _tiny()
    assert params.weights and params.embedding
    params = params.model_copy(update={
        "weights": params.weights.model_copy(update={"init_baseline": True, "init_seeds": 4}),
        "embedding": params.embedding.model_copy(update={
            "init_seeds": 3, "init_quantities": ["spectrum/pr_over_dim"]})})
    first, second = _run(params, {}), _run(params, {})
    assert first == second
    payload = json.loads(first)
    w, e = payload["weights"], payload["embedding"]
    assert w["init_spread"]["seeds"] == [0, 1, 2, 3]
    assert w["init_spread"]["false_positive"]["trials"] > 0
    assert list(e["init_spread"]["quantities"]) == ["spectrum/pr_over_dim"]
    assert e["init_spread"]["quantities"]["spectrum/pr_over_dim"]["k"] == 3
    assert set(w["analytic_null"]) == {
        "cross_layer_summary/max_abs_mean",
        "position_bias/decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight/mixed"}
    # one seed, no spread; the analytic null needs no initialization
    assert params.weights
    alone = study.weights_section(params.model, params.weights.model_copy(
        update={"init_baseline": False, "init_seeds": 1}))
    assert alone["init_spread"] is None and alone["init"] is None
    assert "cross_layer_summary/max_abs_mean" in alone["analytic_null"]
