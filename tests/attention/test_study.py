"""The protocol steps the notebooks call, on tiny models (seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lib import results
from lib.attention import study
from lib.attention.prompts import load_prompts
from lib.claims import CLAIMS_BY_ID
from lib.params import load_parameters


@pytest.fixture(scope="module")
def pair():
    params = load_parameters("parameters/embedded/E11_tiny-mqa.yaml", "E11",
                             {"bootstrap": {"n": 200, "seed": 0, "ci": 0.95}})
    prompts = load_prompts()
    base = study.measure_model(params, params["base"], prompts)
    instruct = study.measure_model(params, params["instruct"], prompts)
    return params, base, instruct


def test_measure_model_runs_two_seeds_and_reports_invariance(pair) -> None:
    _, base, _ = pair
    assert base.per_prompt.shape == (10, 6, 8)
    assert base.seed_invariance["invariant"] and base.seed_invariance["passes"] == 2
    lo, hi = base.si_ci
    assert lo <= base.metrics["specialization_index"] <= hi
    assert base.record["architecture"]["attention_kind"] == "MQA"
    assert base.record["quantization"] == "none" and base.record["revision"]


def test_compare_pair_is_instruct_minus_base_with_paired_interval(pair) -> None:
    params, base, instruct = pair
    delta = study.compare_pair(params, base, instruct)
    d = instruct.metrics["specialization_index"] - base.metrics["specialization_index"]
    assert delta["specialization_index"] == pytest.approx(d)
    lo, hi = delta["si_ci"]
    assert lo <= d <= hi
    assert delta["si_ci_excludes_zero"] == (lo > 0 or hi < 0)
    table = study.pair_table(base, instruct, delta)
    assert table.loc["Specialization index", "delta"] == f"{d:+.4f}"


def test_instruct_gets_the_quantization_the_base_got(pair) -> None:
    params, base, _ = pair
    assert study.matching_quantization({**params, "quantization": "8bit-fallback-4bit"},
                                       base)["quantization"] == "none"
    fake = study.ModelRun("m", {"quantization": "4-bit NF4"}, np.zeros((1, 1, 1)), {}, {},
                          (0.0, 0.0))
    assert study.matching_quantization(params, fake)["quantization"] == "4bit"


def test_reference_pair_falls_back_to_published_claims(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    ref = study.reference_pair("paper", {"run": "E11_mistral-7b", "claim": "mistral7b"})
    assert ref["published"] and ref["base_si"] == CLAIMS_BY_ID["mistral7b.base_si"].value
    assert ref["delta_corr"] == CLAIMS_BY_ID["mistral7b.delta_corr"].value
    with pytest.raises(FileNotFoundError, match="E11_tiny-mha.yaml"):
        study.reference_pair("embedded", {"run": "E11_tiny-mha"})


def test_ladder_references_from_run_or_published(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    spec = {"run": "E08_x", "published": [
        {"claim": "phi3mini.si", "display": "Phi-3-mini", "size_b": 3.8, "kind": "MHA"}]}
    rows = study.ladder_references("paper", spec)
    assert rows[0]["si"] == CLAIMS_BY_ID["phi3mini.si"].value and "published" in rows[0]["source"]
    results.write_json(tmp_path / "paper" / "E08_x.json", {"models": {"m": {
        "display": "M", "size_b": 1.0, "specialization_index": 0.4, "si_ci": [0.3, 0.5],
        "model": {"architecture": {"attention_kind": "GQA"}, "rho_head": 1.0, "rho_kv": 0.1},
        "sanity": {"label": "raw+bf16"}}}})
    rows = study.ladder_references("paper", spec)
    assert [(r["display"], r["si"], r["source"]) for r in rows] == [
        ("M", 0.4, "results/paper/E08_x.json")]


def test_max_memory_leaves_headroom_on_the_gpu(monkeypatch) -> None:
    assert study.max_memory({"gpu_headroom_gib": 2, "cpu": "50GiB"}) is None  # no GPU here

    class Props:
        total_memory = 80 * 2**30

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda _i: Props())
    assert study.max_memory({"gpu_headroom_gib": 2, "cpu": "50GiB"}) == {0: "78GiB",
                                                                        "cpu": "50GiB"}
    assert study.max_memory(None) is None


def test_sanity_variants_pick_the_first_passing_dtype() -> None:
    params = load_parameters("parameters/embedded/E08_tiny-phi-references.yaml", "E08",
                             {"bootstrap": {"n": 50, "seed": 0, "ci": 0.95}})
    run = study.measure_with_sanity_variants(params, "tiny/phi", load_prompts())
    assert run.sanity["label"] == "raw+bf16" and run.sanity["attempts"][0]["ok"]
    assert run.record["dtype"] == "bfloat16"
