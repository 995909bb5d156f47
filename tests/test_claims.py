"""The claims registry as data (lib/claims.yaml): valid, round-trips, and the only place the
published numbers are typed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lib import claims
from lib.claims import CLAIMS, CLAIMS_BY_ID, RESOLUTIONS, ClaimsError, load_registry
from lib.params import load_parameters, result_name
from lib.paths import ROOT

TESTS = ROOT / "tests"


def test_registry_round_trips(tmp_path: Path) -> None:
    loaded = load_registry()
    path = tmp_path / "claims.yaml"
    path.write_text(claims.dump_registry(*loaded))
    assert load_registry(path) == loaded
    assert len(loaded[0]) == len(yaml.safe_load(claims.REGISTRY.read_text())["claims"])


def test_claim_ids_are_unique_and_grouped() -> None:
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids)) == len(CLAIMS_BY_ID)
    assert all(re.fullmatch(r"[\w-]+\.[\w.-]+", i) for i in ids)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    text = yaml.safe_load(claims.REGISTRY.read_text())
    text["claims"].append(dict(text["claims"][0]))
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(text))
    with pytest.raises(ClaimsError, match=f"registered twice: {CLAIMS[0].id}$"):
        load_registry(path)


@pytest.mark.parametrize("change, message", [
    ({"valu": 1.0}, r"claims\[0\] \S+: valu: Extra inputs are not permitted"),
    ({"value": "x", "tolerance": 0.1}, r"a string, bool or ordered claim is matched exactly"),
    ({"field": None}, r"result and field go together"),
    ({"seed_output": "printed twice"}, r"seed_output: Input should be 'printed'"),
    ({"band": [0.2, 0.3]}, r"exactly one of value, band, ordered; got \['value', 'band'\]$"),
    ({"value": None, "band": [0.3, 0.2]}, r"band must be \[lo, hi\] with lo <= hi"),
    ({"value": None, "band": [0.2]}, r"claims\[0\] \S+: band.1: Field required$"),
    ({"baseline": {"result": "paper/x", "field": ["a"], "label": "init"}},
     r"claims\[0\] \S+: baseline.kind: Field required$"),
    ({"baseline": {"result": "x", "field": ["a"], "label": "l", "kind": "permutation"}},
     r"baseline.result: String should match pattern"),
    ({"baseline": {"result": "paper/x", "field": [], "label": "l", "kind": "initialization"}},
     r"baseline.field: "),
    ({"baseline": {"result": "paper/x", "field": ["a"], "label": "l", "kind": "chance"}},
     r"baseline.kind: Input should be 'initialization', 'permutation' or 'reference'$"),
])
def test_malformed_claims_name_the_entry_and_key(tmp_path: Path, change: dict,
                                                 message: str) -> None:
    text = yaml.safe_load(claims.REGISTRY.read_text())
    text["claims"][0].update(change)
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(text))
    with pytest.raises(ClaimsError, match=message) as caught:
        load_registry(path)
    assert "\n" not in str(caught.value)  # one line


@pytest.mark.parametrize("change, message", [
    ({"ordered": ["mistral7b.base_si", "nope.x"]}, r"ordered / same_as name unknown claims nope.x"),
    ({"same_as": "nope.y"}, r"ordered / same_as name unknown claims nope.y"),
])
def test_references_to_other_claims_must_exist(tmp_path: Path, change: dict,
                                               message: str) -> None:
    text = yaml.safe_load(claims.REGISTRY.read_text())
    entry = {"id": "x.ordering", "statement": "s", "source": "s", "hardware": "h"}
    text["claims"].append(entry | change if "ordered" in change
                          else entry | {"value": "v"} | change)
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(text))
    with pytest.raises(ClaimsError, match=message):
        load_registry(path)


def test_claim_kinds_and_their_published_values() -> None:
    band = next(c for c in CLAIMS if c.band is not None)
    assert claims.published(band.id) == band.band and band.value is None
    ordered = next(c for c in CLAIMS if c.ordered is not None)
    assert claims.published(ordered.id) == ordered.ordered
    assert all(i in CLAIMS_BY_ID for i in ordered.ordered)
    assert CLAIMS_BY_ID["modulator.phase_boundary"].testable is False
    assert all(c.testable for c in CLAIMS if c.id != "modulator.phase_boundary")
    # every SI claim sits beside its head-permutation null, every volume CV beside a reference
    for c in CLAIMS:
        if c.field and c.field[-1] == "specialization_index" and c.field[0] != "delta" or (
                c.id.endswith(".si")):
            assert c.baseline is not None and c.baseline.kind == "permutation", c.id
        if c.field and c.field[-2:] == ("pentachora", "cv"):
            assert c.baseline is not None and c.baseline.kind == "reference", c.id
    for c in CLAIMS:
        if c.same_as:
            assert CLAIMS_BY_ID[c.same_as].same_as is None, c.id  # one level: the fact itself


@pytest.mark.parametrize("claim", [c for c in CLAIMS if c.result is not None], ids=str)
def test_every_result_names_an_existing_parameter_file(claim: claims.Claim) -> None:
    profile, name = claim.result.split("/", 1)
    assert claim.parameters == f"parameters/{profile}/{name}.yaml"
    params = load_parameters(claim.parameters)
    assert (params["profile"], result_name(params)) == (profile, name)
    assert claim.field


def test_seed_004_claims_say_how_the_seed_produced_them() -> None:
    terrain = [c for c in CLAIMS if c.source.startswith("seed 004")]
    assert len(terrain) >= 27
    for c in terrain:
        assert c.seed_output in claims.SEED_OUTPUTS and c.regenerated_by, c.id
        assert (c.result is None) == (c.field is None), c.id  # a result names its field
        assert c.result is not None or c.ordered, c.id  # every seed-004 claim is checkable
    never = {c.id for c in terrain if c.seed_output == "never computed"}
    assert {"qwen08.digit_corr", "modulator.phase_boundary"} <= never


def test_resolutions_are_complete_and_name_existing_files() -> None:
    assert all({"topic", "values", "taken", "why"} <= set(r) for r in RESOLUTIONS)
    defects = {r.get("defect") for r in RESOLUTIONS}
    assert {"B1", "B5", "B8"} <= defects
    for r in RESOLUTIONS:
        if r.get("effect"):
            profile, name = r["effect"]["result"].split("/", 1)
            assert (ROOT / "parameters" / profile / f"{name}.yaml").is_file(), r["topic"]
    with_effect = {r.get("defect") for r in RESOLUTIONS if r.get("effect")}
    assert {"B3", "B8", "B10", "B11", "B16", "B17"} <= with_effect
    falcon = next(r for r in RESOLUTIONS if r["topic"] == "Falcon-7B precision")
    assert "an inference, not a measurement" in falcon["why"]
    for r in RESOLUTIONS:
        for path in r.get("as_executed", []) + r.get("corrected", []):
            assert (ROOT / path).is_file(), path
    phase = next(r for r in RESOLUTIONS if r.get("defect") == "B2")
    assert float(phase["taken"]) == CLAIMS_BY_ID["modulator.phase_boundary"].value


def test_remote_code_resolution_matches_the_paper_files() -> None:
    remote = next(r for r in RESOLUTIONS if "trust_remote_code" in r["taken"])
    assert len(remote["corrected"]) == 4
    for path in remote["corrected"]:
        assert load_parameters(path)["trust_remote_code"] is False, path


def test_published_reads_the_registry() -> None:
    assert claims.published("mistral7b.verdict") == CLAIMS_BY_ID["mistral7b.verdict"].value
    with pytest.raises(KeyError, match="no claim 'nope' in lib/claims.yaml"):
        claims.published("nope")


def _typed_values() -> dict[str, list[str]]:
    """Each numeric claim's value as written in the registry (and as Python prints it)."""
    root = yaml.compose(claims.REGISTRY.read_text())
    section = next(v for k, v in root.value if k.value == "claims")
    typed: dict[str, list[str]] = {}
    for entry in section.value:
        keys = {k.value: v for k, v in entry.value}
        if "value" in keys and keys["value"].tag.endswith(("float", "int")):
            text = keys["value"].value.lstrip("+-")
            typed[keys["id"].value] = sorted({text, repr(abs(float(text))),
                                              format(abs(float(text)), "g")})
    return typed


def _distinctive(literal: str) -> bool:
    """Two or more significant digits: 0.0, 0.5 and 1.000 are too common to mean a claim."""
    digits = literal.replace(".", "").lstrip("0").rstrip("0")
    return len(digits) >= 2


def test_no_test_types_a_published_number() -> None:
    typed = _typed_values()
    # the scan sees the registry's numbers as typed there
    assert typed["mistral7b.base_si"] == [repr(CLAIMS_BY_ID["mistral7b.base_si"].value)]
    sources = {p: p.read_text() for p in sorted(TESTS.rglob("*.py"))}
    found = []
    for claim_id, literals in typed.items():
        for literal in filter(_distinctive, literals):
            pattern = re.compile(r"(?<![\w.])" + re.escape(literal) + r"(?![\d])")
            for path, text in sources.items():
                for number, line in enumerate(text.splitlines(), 1):
                    if pattern.search(line):
                        found.append(f"{path.relative_to(ROOT)}:{number}: {literal} "
                                     f"({claim_id}; use lib.claims.CLAIMS_BY_ID)")
    assert not found, "\n".join(found)


def test_the_scan_finds_a_typed_number(tmp_path: Path) -> None:
    literal = _typed_values()["falcon7b.base_corr"][0]
    pattern = re.compile(r"(?<![\w.])" + re.escape(literal) + r"(?![\d])")
    assert pattern.search(f"x = f({literal}, 1)") and not pattern.search(f"x = {literal}5")
    assert not _distinctive("0.500") and not _distinctive("1.000")
    assert _distinctive("0.088") and _distinctive("1234.0")
