"""The protocol steps the notebooks call, on tiny models (seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import norm
from sealed import write_sealed

from lib import results
from lib.attention import study, tables
from lib.attention.parameters import (
    LadderReferences,
    MaxMemory,
    PairReference,
    PublishedModel,
)
from lib.attention.prompts import load_prompts
from lib.claims import CLAIMS_BY_ID
from lib.models import UnknownModelError
from lib.params import load_parameters


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
    table = tables.pair_table(base, instruct, delta)
    assert table.loc["Specialization index", "delta"] == f"{d:+.4f}"


def test_architecture_controls_of_an_mqa_pair(pair, tmp_path) -> None:
    params, base, instruct = pair
    assert base.sink_share.shape == base.per_prompt.shape == (10, 6, 8)
    groups = base.controls["kv_groups"]
    assert (groups["num_kv_heads"], groups["group_size"]) == (1, 8)
    assert groups["group_si"]["point"] is None and "MQA" in groups["group_si"]["reason"]
    within = groups["within_group_correlation"]  # MQA: the whole model's head correlation
    assert within["point"] == pytest.approx(base.metrics["mean_head_correlation"], abs=1e-12)
    assert within["low"] <= within["point"] <= within["high"]
    sink = base.controls["attention_sink"]
    assert sink["mean"]["point"] == pytest.approx(base.sink_share.mean(), abs=1e-12)
    assert sink["mean"]["n_boot"] == 200 and len(sink["per_layer"]) == 6
    delta = study.compare_pair(params, base, instruct)["controls"]
    d_sink = instruct.sink_share.mean() - base.sink_share.mean()
    assert delta["attention_sink"]["mean"]["point"] == pytest.approx(d_sink, abs=1e-12)
    assert delta["kv_groups"]["group_si"]["point"] is None
    table = tables.controls_table({"base": base.controls, "instruct": instruct.controls,
                                   "delta": delta})
    assert table.loc["Group SI (among KV groups)"].tolist() == [
        "n/a", "n/a", "n/a", "one KV group (MQA): no pair of groups to correlate"]
    lo, hi = delta["attention_sink"]["mean"]["low"], delta["attention_sink"]["mean"]["high"]
    assert table.loc["Attention-sink share (first token)", "delta"] == (
        f"{d_sink:+.4f} [{lo:+.4f}, {hi:+.4f}]")
    assert table.loc["Within-group head correlation", "why n/a"] == "-"
    saved = results.write_json(tmp_path / "r.json", base.block())
    assert results.read_json(saved)["controls"]["kv_groups"]["group_si"]["reason"].startswith(
        "one KV group")


def test_null_model_is_the_architecture_at_random_init(pair) -> None:
    params, base, _ = pair
    params = params.model_copy(update={"seed_null": params.seed_null.model_copy(update={"n": 4})})
    null = study.null_model(params, params.base, load_prompts())
    record = null["model"]
    assert record["name"] == "random/tiny/falcon-mqa" and record["source"] == "random"
    assert record["architecture"] == base.record["architecture"] and record["reduction"] == "none"
    assert record["revision"] != base.record["revision"]  # another initialization
    si = null["specialization"]["si"]
    assert si["reason"] is None and si["low"] <= si["point"] <= si["high"]
    assert si["point"] != base.controls["specialization"]["si"]["point"]
    assert null["kv_groups"]["group_si"]["point"] is None  # MQA, as for the trained model
    assert null["attention_sink"]["mean"]["n_boot"] == 200
    assert "random/tiny/falcon-mqa (6 layers, 8 query / 1 kv heads" in tables.describe_null(null)
    table = tables.controls_table({"base": base.controls, "null": null})
    assert table.loc["SI (1 - mean head correlation)", "null"] == tables.estimate(si)
    off = study.null_model(params.model_copy(update={"null_model": False}), params.base, [])
    assert off["model"] is None and off["specialization"]["si"]["reason"] == (
        "null_model: false in the parameter file")
    itself = study.null_model(params, "random/tiny/falcon-mqa", [])
    assert "is itself a random initialization" in itself["specialization"]["si"]["reason"]
    assert tables.describe_null(itself).startswith("none (random/tiny/falcon-mqa is itself")


def test_control_deltas_need_one_architecture(pair) -> None:
    params, base, instruct = pair
    other = study.ModelRun("x", {"architecture": {"num_kv_heads": 2}}, base.per_prompt, {}, {},
                           (0.0, 0.0), sink_share=base.sink_share)
    with pytest.raises(ValueError, match=r"^base tiny/falcon-mqa has 6 layers x 8 heads \(1 kv\), "
                       r"instruct x 6 layers x 8 heads \(2 kv\): the control deltas need one"):
        study.pair_controls(params, base, other, {})


def test_instruct_gets_the_quantization_the_base_got(pair) -> None:
    params, base, _ = pair
    asked = params.model_copy(update={"quantization": "8bit-fallback-4bit"})
    assert study.matching_quantization(asked, base).quantization == "none"
    assert asked.quantization == "8bit-fallback-4bit"  # a copy: the file's parameters stay
    fake = study.ModelRun("m", {"quantization": "4-bit NF4"}, np.zeros((1, 1, 1)), {}, {},
                          (0.0, 0.0))
    assert study.matching_quantization(params, fake).quantization == "4bit"


def test_reference_pair_falls_back_to_published_claims_in_the_paper_profile_only(
        tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    ref = study.reference_pair("paper", PairReference(run="E11_mistral-7b", claim="mistral7b"))
    assert ref["published"] and ref["base_si"] == CLAIMS_BY_ID["mistral7b.base_si"].value
    assert ref["delta_corr"] == CLAIMS_BY_ID["mistral7b.delta_corr"].value
    assert ref["source"].startswith("published (")
    assert ref["entropy_mode"] == "masked"  # the mode of parameters/paper/E11_mistral-7b.yaml
    # the embedded profile never stands in a published number, even with a claim named
    with pytest.raises(study.MissingReferenceError,
                       match=r"^reference run E11_tiny-mha has no results \(results/embedded/"
                             r"E11_tiny-mha\.json\): make it first: python -m lib\.runner "
                             r"notebooks/E11\.py parameters/embedded/E11_tiny-mha\.yaml"):
        study.reference_pair("embedded", PairReference(run="E11_tiny-mha", claim="mistral7b"))


def test_a_missing_reference_is_found_at_load_and_made_in_an_interactive_run(
        tmp_path, monkeypatch) -> None:
    """E11-T and E08 check their reference before measuring: a workflow job stops at once, an
    interactive run makes it with the workflow (the file `make reproduce` writes)."""
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    spec = PairReference(run="E11_tiny-mha", claim="mistral7b")
    monkeypatch.setenv(results.WORKFLOW_RUN, "1")
    with pytest.raises(study.MissingReferenceError, match="E11_tiny-mha has no results"):
        study.ensure_reference("embedded", spec, make=pytest.fail)
    monkeypatch.delenv(results.WORKFLOW_RUN)
    made = []

    def make(command: list[str]) -> None:  # what snakemake would write
        made.append(command)
        write_sealed(tmp_path / "embedded" / "E11_tiny-mha.json", _pair_payload("masked"))

    assert study.ensure_reference("embedded", spec, make=make) == \
        "results/embedded/E11_tiny-mha.json"
    assert made == [study.snakemake_target("embedded", "E11_tiny-mha")]
    assert made[0][-2:] == ["profiles/embedded", "results/embedded/E11_tiny-mha.json"]
    # present now: nothing is made again; the paper profile may stand in published claims
    assert study.ensure_reference("embedded", spec, make=pytest.fail).startswith("results/")
    assert study.ensure_reference("paper", PairReference(run="E11_mistral-7b"),
                                  make=pytest.fail) \
        .startswith("published")
    assert study.ensure_reference("embedded", None) is None
    # a command that writes nothing is still an error, naming the run
    with pytest.raises(study.MissingReferenceError, match="E11_tiny-gqa has no results"):
        study.ensure_reference("embedded", PairReference(run="E11_tiny-gqa"),
                               make=lambda c: None)


def _pair_payload(mode: str, si: float = 0.7, dsi: float = 0.03) -> dict:
    return {"methodology": {"entropy_mode": mode},
            "base": {"specialization_index": si, "mean_head_correlation": 1 - si},
            "instruct": {"specialization_index": si + dsi},
            "delta": {"specialization_index": dsi, "mean_head_correlation": -dsi},
            "verdict": {"code": "NOT_RESOLVED", "as_executed": {"code": "C_REFUTED"}}}


def test_reference_pair_reads_the_run_and_records_a_mode_mismatch(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    write_sealed(tmp_path / "embedded" / "E11_tiny-mha.json", _pair_payload("masked"))
    ref = study.reference_pair("embedded", PairReference(run="E11_tiny-mha", claim="mistral7b"))
    assert (ref["base_si"], ref["delta_si"], ref["delta_corr"], ref["published"]) == (
        0.7, 0.03, -0.03, False)
    assert ref["source"] == "results/embedded/E11_tiny-mha.json"
    # the verdict compared is the seed rule's (as published), the corrected one beside it
    assert (ref["verdict"], ref["verdict_corrected"]) == ("C_REFUTED", "NOT_RESOLVED")
    mismatch = study.mode_mismatch("padded", ref)
    assert mismatch == {"this_run": "padded", "reference": "masked",
                        "reference_run": "E11_tiny-mha"}
    assert study.mode_mismatch("masked", ref) is None
    warning = tables.mode_warning(mismatch)
    assert warning.startswith("WARNING: entropy modes differ: this run padded, reference "
                              "E11_tiny-mha masked")
    assert tables.mode_warning(None) is None


def test_ladder_references_from_run_or_published(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(results, "RESULTS", tmp_path)
    spec = LadderReferences(run="E08_tiny-phi-references", published=[PublishedModel(
        claim="phi3mini.si", display="Phi-3-mini", size_b=3.8, kind="MHA")])
    rows = study.ladder_references("paper", spec)
    assert rows[0]["si"] == CLAIMS_BY_ID["phi3mini.si"].value and "published" in rows[0]["source"]
    assert not rows[0]["stand_in"]
    with pytest.raises(study.MissingReferenceError, match=r"make it first: .*notebooks/E08\.py "
                       r"parameters/embedded/E08_tiny-phi-references\.yaml.*only the paper "
                       r"profile falls back"):
        study.ladder_references("embedded", spec)
    write_sealed(tmp_path / "embedded" / "E08_tiny-phi-references.json", {"models": {"tiny/phi": {
        "display": "tiny Phi", "size_b": 0.001, "specialization_index": 0.9, "si_ci": [0.8, 1.0],
        "model": {"architecture": {"attention_kind": "MHA", "family": "phi"}, "rho_head": 1.0,
                  "rho_kv": 0.5,
                  "source": "tiny"}, "sanity": {"label": "raw+bf16"}}}})
    rows = study.ladder_references("embedded", spec)
    assert [(r["display"], r["si"], r["stand_in"]) for r in rows] == [("tiny Phi", 0.9, True)]


def test_ladder_verdict_and_trend_use_the_real_models_only(ladder, family, row) -> None:
    verdict = study.ladder_verdict(ladder, 0.33, 0.05)
    # three families, one size each: size within one family is not testable
    assert verdict.code == "NOT_TESTABLE"
    assert "size within one family is not testable here" in verdict.values["note"]
    # the seed rule as executed: the stand-ins' 0.95 and 0.99 would be outside the band
    assert verdict.as_executed["code"] == "INCONCLUSIVE" and set(
        verdict.as_executed["criteria"]) == {"MiniLM", "SmolLM2", "Gemma"}
    assert verdict.values["stand_ins_excluded"] == ["tiny Phi", "tiny Phi-3"]
    assert study.ladder_trend(ladder) is None  # no family with three sizes
    trend = study.ladder_trend(family)
    x = np.log10([0.0227, 0.135, 0.268])
    slope, intercept = np.polyfit(x, [0.30, 0.34, 0.32], 1)
    assert trend["slope_per_decade"] == pytest.approx(slope, abs=1e-12)
    assert trend["intercept"] == pytest.approx(intercept, abs=1e-12)
    assert trend["models"] == ["phi 0.0227", "phi 0.135", "phi 0.268"]
    assert trend["family"] == "phi"
    z = norm.ppf(0.975)  # each model's interval read as normal: width 0.02 = 2 z sd
    sd = 0.02 / (2 * z)
    half = z * sd * np.sqrt((((x - x.mean()) / ((x - x.mean()) ** 2).sum()) ** 2).sum())
    assert trend["slope_ci"] == pytest.approx([slope - half, slope + half])
    assert study.ladder_trend(family[:2] + family[3:]) is None  # two sizes: no trend
    assert study.ladder_trend([*family[:2], row("x", 1.0, float("nan"), family="phi")]) is None
    one = study.ladder_verdict(family, 0.33, 0.05)
    assert one.code == "NOT_RESOLVED" and one.values["testable_families"] == ["phi"]
    undefined = study.ladder_verdict([*ladder, row("Phi-2", 2.7, float("inf"))], 0.33, 0.05)
    assert undefined.code == "UNDEFINED" and undefined.reason == "not finite: SI of Phi-2 is inf"


def test_max_memory_leaves_headroom_on_the_gpu(monkeypatch) -> None:
    spec = MaxMemory(gpu_headroom_gib=2, cpu="50GiB")
    assert study.max_memory(spec) is None  # no GPU here

    class Props:
        total_memory = 80 * 2**30

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda _i: Props())
    assert study.max_memory(spec) == {0: "78GiB", "cpu": "50GiB"}
    assert study.max_memory(None) is None


def test_sanity_variants_pick_the_first_passing_dtype() -> None:
    params = load_parameters("parameters/embedded/E08_tiny-phi-references.yaml", "E08",
                             {"bootstrap": {"n": 50, "seed": 0, "ci": 0.95}})
    run = study.measure_with_sanity_variants(params, "tiny/phi", load_prompts())
    assert run.sanity["label"] == "raw+bf16" and run.sanity["attempts"][0]["ok"]
    assert run.record["dtype"] == "bfloat16"


def test_unknown_model_fails_at_once_not_inside_a_sanity_error(monkeypatch) -> None:
    params = load_parameters("parameters/embedded/E08_tiny-phi-references.yaml", "E08")
    tried = []
    real = study.load_model
    monkeypatch.setattr(study, "load_model", lambda name, **kw: tried.append(kw["dtype"])
                        or real(name, **kw))
    with pytest.raises(UnknownModelError, match=r"^unknown model 'tiny/phi-4'; known models"):
        study.measure_with_sanity_variants(params, "tiny/phi-4", load_prompts())
    assert tried == ["bfloat16"]  # one load, not one per dtype variant


def test_compare_pair_gives_the_intervals_the_verdict_counts(pair) -> None:
    params, base, instruct = pair
    delta = study.compare_pair(params, base, instruct)
    assert delta["bootstrap"] == {"n_prompts": 10, "n_boot": 200, "seed": 0, "ci": 0.95}
    lo, hi = delta["si_ci"]
    assert delta["correlation_ci"] == [-hi, -lo]  # one fact: SI = 1 - correlation
    d_var = instruct.metrics["mean_head_variance"] - base.metrics["mean_head_variance"]
    assert delta["mean_head_variance"] == pytest.approx(d_var)
    v_lo, v_hi = delta["variance_ci"]
    assert v_lo <= d_var <= v_hi
    assert delta["variance_ci_excludes_zero"] == (v_lo > 0 or v_hi < 0)
    assert delta["specialization_index_relative"] == pytest.approx(
        delta["specialization_index"] / base.metrics["specialization_index"])
    verdict = study.collapse_verdict(base, instruct, delta)
    assert verdict.values["intervals"] == {"specialization_index": [lo, hi],
                                           "mean_head_variance": [v_lo, v_hi]}
    assert verdict.as_executed["values"]["signs"] == 3 and verdict.values["signs"] == 2
    assert "intervals: percentile 95% bootstrap over the 10 prompts (resampled with " \
           "replacement, 200 resamples, seed 0; paired" in tables.bootstrap_note(delta["bootstrap"])


def test_head_permutation_null_beside_every_si(pair) -> None:
    params, base, instruct = pair
    null = base.controls["head_permutation"]
    assert (null["n_permutations"], null["seed"]) == (1000, 0)  # the parameter file's default
    assert null["si"]["point"] == pytest.approx(base.metrics["specialization_index"])
    assert null["si"]["low"] <= null["si"]["high"] and 0 < null["si"]["p"] <= 1
    assert null["group_si"]["reason"].startswith("one KV group (MQA)")
    assert "head-permutation null [" in tables.describe_run(base)
    delta = study.compare_pair(params, base, instruct)
    d = delta["controls"]["head_permutation"]["si"]
    assert d["point"] == pytest.approx(delta["specialization_index"])
    nothing = study.null_model(params.model_copy(update={"null_model": False}), params.base, [])
    report = tables.pair_controls_report(base, instruct, delta["controls"], nothing,
                                         delta["bootstrap"])
    assert "Against the head-permutation null:" in report
    assert "head-permutation null: each layer shuffled independently (heads shuffled within " \
           "each layer; heads shuffled within their KV group (KV sharing kept); whole KV " \
           "groups shuffled across group slots (group sizes kept)), 1000 permutations (seed " \
           "0; base and instruct shuffled independently" in report
    table = tables.permutation_table({"base": base.controls, "delta": delta["controls"]})
    si = "SI (1 - mean head correlation)"
    assert table.loc[si, "base"] == (
        f"{null['si']['point']:.4f} (null [{null['si']['low']:.4f}, {null['si']['high']:.4f}], "
        f"p {null['si']['p']:.3f}; - null mean {null['si']['excess']:+.4f}, null sd "
        f"{null['si']['null_std']:.4f}; Holm {null['si']['p_adjusted']:.3f})")
    assert table.loc[si, "delta"].startswith(f"{d['point']:+.4f}")
    assert table.loc["Group SI (among KV groups)", "base"] == "n/a"
    family = delta["multiplicity"]
    blocks = (base.controls["head_permutation"], instruct.controls["head_permutation"],
              delta["controls"]["head_permutation"])
    tested = [block[key] for block in blocks for key in block
              if isinstance(block[key], dict) and block[key].get("p") is not None]
    assert family["method"] == "holm" and family["size"] == len(tested) >= 3  # SI x 3, MQA
    assert all(t["p_adjusted"] >= t["p"] for t in tested)


def test_stand_in_pairs_are_not_called_an_alignment_effect(pair) -> None:
    _, base, instruct = pair
    assert study.pair_subject(base, instruct) == "random-init stand-in pair (tests the pipeline)"
    assert tables.pair_heading(base, instruct).startswith(
        "random-init stand-in pair (tests the pipeline): instruct - base")
    real = study.ModelRun("m", {**base.record, "source": "embedded"}, base.per_prompt, {}, {},
                          (0.0, 0.0))
    assert study.pair_subject(real, real) == "territorial collapse"
    assert tables.pair_heading(real, real) == "alignment effect: instruct - base"


