"""lib.attention.findings: what the attention runs show, from synthetic results payloads."""

from __future__ import annotations

from payloads import ladder_payload, model_block

from lib import findings
from lib.attention import findings as attention_findings


def test_each_si_against_its_null_and_its_own_initialization() -> None:
    """Every model's SI against its head-permutation null, in words; each real model against
    its own architecture's init seeds, model by model; stand-ins only against their null."""
    si = _si({"embedded/E08_x": ladder_payload()})
    against_null = si["against_null"]
    assert len(against_null) == 3 and "tiny Phi (random-init stand-in)" in against_null[2]
    assert against_null[0].startswith("- MiniLM: SI 0.470, null mean 0.450 (excess +0.020")
    assert "a typical draw of its null" in against_null[0] and "not by which head" in \
        against_null[0]
    assert "outside its null" in against_null[1]  # SmolLM2, p = 0.001
    assert [line.split(":")[0] for line in si["against_init"]] == ["- MiniLM", "- SmolLM2"]
    assert "vs 5 init seeds of its own architecture (random/MiniLM" in si["against_init"][0]
    lines = findings.findings_for(ladder_payload(), "E08")
    assert lines == [*si["beyond_null"], *against_null, *si["against_init"]]


def test_a_model_measured_in_two_runs_is_counted_once() -> None:
    pair = {"experiment": "E11", "run": "tiny-mha",
            "base": model_block("tiny base", "tiny", 0.9),
            "instruct": model_block("tiny inst", "tiny", 0.8),
            "null_model": None}
    again = {**pair, "run": "tiny-mha-again"}
    si = _si({"embedded/E11_a": pair, "embedded/E11_b": again})
    assert len(si["against_null"]) == 2 and si["against_init"] == []  # stand-ins: no init line


def _si(results: dict) -> dict:
    lines = attention_findings.findings(results)
    return {"beyond_null": [x for x in lines if "Holm" in x],
            "against_null": [x for x in lines if "null mean" in x],
            "against_init": [x for x in lines if "init seeds of its own architecture" in x]}
