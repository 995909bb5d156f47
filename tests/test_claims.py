"""The claims registry as data (lib/claims.yaml): valid, round-trips, and the only place the
published numbers are typed."""

from __future__ import annotations

import copy
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
    text["claims"].append(copy.deepcopy(text["claims"][0]))  # shared objects dump as aliases
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(text))
    with pytest.raises(ClaimsError, match=f"registered twice: {CLAIMS[0].id}$"):
        load_registry(path)


@pytest.mark.parametrize("text, message", [
    ("defaults: &d {hardware: h}\nclaims: []\nresolutions: []\n",
     r"^claims\.yaml: line 1, column 11: anchors and aliases are refused \(&d\)"),
    ("claims: []\nresolutions: []\nclaims: []\n",
     r"^claims\.yaml: line 3, column 1: key 'claims' is given twice \(first on line 1\)"),
])
def test_anchors_and_repeated_keys_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text(text)
    with pytest.raises(ClaimsError, match=message):
        load_registry(path)


def test_a_hardware_name_stands_for_its_description(tmp_path: Path) -> None:
    """Hardware shared by many claims is written once, under `hardware` (no YAML anchors)."""
    entry = {"id": "x.y", "statement": "s", "source": "s", "value": "v"}
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({
        "defaults": {"hardware": "gpu"}, "hardware": {"gpu": "a GPU machine", "cpu": "a laptop"},
        "claims": [entry, entry | {"id": "x.z", "hardware": "cpu"},
                   entry | {"id": "x.w", "hardware": "an abacus"}],
        "resolutions": []}))
    found = {c.id: c.hardware for c in load_registry(path)[0]}
    assert found == {"x.y": "a GPU machine", "x.z": "a laptop", "x.w": "an abacus"}
    assert CLAIMS_BY_ID["t5small.sparsity_k"].hardware.startswith("machine with the Hugging Face")


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
    # issue 24: no baseline is judged within a tolerance, its own or the claim's
    ({"baseline": {"result": "paper/x", "field": ["a"], "label": "l", "kind": "initialization",
                   "tolerance": 0.01}}, r"baseline.tolerance: Extra inputs are not permitted"),
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
    assert (params.profile, result_name(params)) == (profile, name)
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
        assert load_parameters(path).trust_remote_code is False, path


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


def test_initialization_baselines_are_distributions_beside_every_claim_that_has_one() -> None:
    """Issue 24: an initialization baseline is a spread over seeds or an analytic interval,
    never one value; the claims the issue lists carry one; a stand-in says why it is valid."""
    for c in CLAIMS:
        b = c.baseline
        if b is None or b.kind != "initialization":
            continue
        assert "init_spread" in b.field or "analytic_null" in b.field, c.id
        if "init_spread" in b.field:
            assert b.field[b.field.index("init_spread") + 1] == "quantities", c.id
        if b.result != c.result:  # the same architecture elsewhere, or a stand-in with its why
            assert "published config at real size" in b.label or "standing in for" in b.label \
                or "analytic" in b.label, c.id
    wanted = ["t5xxl.sparsity_q", "t5xxl.sparsity_q_cross", "t5base.sparsity_k",
              "t5base.sparsity_v", "cross_layer.clipvitb16", "cross_layer.clipvitbigg",
              "cross_layer.t5v11xxl", "position_bias.mixed_heads", "bands.pr_dim_t5small",
              "bands.pr_dim_qwen3508b", "bands.pr_dim_minilm", "bands.pr_dim_smollm2",
              "bands.pr_dim_gemma3", "t5xxl.cross_qk_min", "t5xxl.cross_qk_max",
              *(c.id for c in CLAIMS if c.id.startswith("qwen08.") and c.id not in (
                  "qwen08.vocab", "qwen08.volume_cv"))]
    for cid in wanted:
        b = CLAIMS_BY_ID[cid].baseline
        assert b is not None and b.kind == "initialization", cid
    # XXL's stand-ins: T5-small's spread, with the reason in the label
    for cid in ("t5xxl.sparsity_q", "t5xxl.cross_qk_min"):
        b = CLAIMS_BY_ID[cid].baseline
        assert b.result == "embedded/terrain_init-t5-small" and "T5-v1.1-XXL" in b.label
