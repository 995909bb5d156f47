"""lib.findings: what the embedded runs show, computed from synthetic results payloads."""

from __future__ import annotations

from payloads import ladder_payload, modulator_payload

from lib import findings
from lib.models.embedded import EMBEDDED


def test_findings_of_all_embedded_results() -> None:
    """Every line's own lines (lib.lines), then what the claims read off the runs."""
    tiny = modulator_payload([0.1, 0.2]) | {"model": {"name": "tiny/t5"}}
    results = {"embedded/E08_x": ladder_payload(),
               "embedded/modulator_minilm": modulator_payload([-0.1, 0.2]),
               "embedded/modulator_tiny-t5": tiny, "paper/E08_y": ladder_payload()}
    f = findings.findings(results)
    modulator = f["lines"]["modulator"]  # the tiny model's run claims nothing
    assert modulator and all(x.startswith("- embedded/modulator_minilm: ") for x in modulator)
    assert any("gains nothing" in x for x in modulator)
    init = [x for x in f["lines"]["attention"] if "init seeds of its own architecture" in x]
    assert len(init) == 2  # MiniLM and SmolLM2; the paper result is not an embedded run
    assert f["bands"] == [] and f["indistinguishable"] == []
    lines = findings.findings_lines(results)
    assert any("gains nothing" in x for x in lines)
    assert findings.findings_lines({}) == ["- No embedded run has been made yet "
                                           "(`make reproduce`)."]


def test_band_checks_and_indistinguishable_claims_of_a_terrain_result() -> None:
    from lib.claims import CLAIMS

    band = next(c for c in CLAIMS if c.band is not None and c.result.startswith("embedded/"))
    assert band.baseline is not None and band.baseline.kind == "reference"
    lo, hi = band.band
    payload: dict = {"profile": "embedded", "run": band.result.split("_", 1)[1]}
    node = payload
    for key in band.field[:-1]:
        node = node.setdefault(key, {})
    node[band.field[-1]] = (lo + hi) / 2
    base = payload
    for key in band.baseline.field[:-1]:
        base = base.setdefault(key, {})
    base[band.baseline.field[-1]] = {"reference_cv": (lo + hi) / 2, "distinguishable": False,
                                     "difference_ci": [-0.01, 0.01], "n_boot": 100,
                                     "level": 0.95}
    f = findings.findings({band.result: payload})
    hit = next(b for b in f["bands"] if b["id"] == band.id)
    assert hit["status"] == "in band"
    assert band.id in [x["id"] for x in f["indistinguishable"]]
    lines = findings.findings_for(payload, "terrain")
    assert any(x.startswith(f"- {band.statement}: ") and "(in band" in x for x in lines)
    assert any("indistinguishable from its reference" in x for x in lines)
    node[band.field[-1]] = hi + 1.0
    f = findings.findings({band.result: payload})
    assert next(b for b in f["bands"] if b["id"] == band.id)["status"] == "outside band"


def test_what_the_embedded_runs_cannot_show() -> None:
    lines = findings.cannot_show_lines()
    gguf = [n.split("/", 1)[1] for n, s in EMBEDDED.items() if s.kind == "gguf"]
    assert gguf and all(name in lines[1] for name in gguf)
    assert "dequantized 4-bit GGUF" in lines[1] and "quantization grid" in lines[1]
    assert "test the machinery only" in lines[0] and "GPU runs" in lines[2]


