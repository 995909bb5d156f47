"""The attention-specialization protocol (E11-v3) as steps a notebook calls in order.

Load a model from the registry, measure its per-prompt head entropies and attention-sink shares
in one pass (seed-invariance checked), reduce them to specialization metrics and architecture
controls with bootstrap intervals, free the model; read the reference runs a comparison needs.
Steps return data; `lib.attention.tables` presents it and the notebooks print.

A reference run that has not been made is made first by the workflow when the notebook runs
interactively (`ensure_reference`, at load), and is an error in a workflow job (Snakemake orders
it first); only the paper profile (`PUBLISHED_FALLBACK_PROFILE`) falls back to the published
claims, labelled "published". A comparison across entropy modes is recorded as `mode_mismatch`.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lib.attention.entropy import measure_attention
from lib.attention.nulls import head_permutation_controls, head_permutation_delta, undefined_null
from lib.attention.prompts import prompt_md5
from lib.attention.sanity import first_passing_variant, sanity_check
from lib.attention.specialization import mean_head_variance, specialization_metrics
from lib.attention.stats import (
    bootstrap_delta,
    bootstrap_delta_si,
    bootstrap_si,
    defined,
    group_specialization,
    group_specialization_delta,
    seed_invariance,
    sink_share_delta,
    sink_share_summary,
    undefined_estimate,
)
from lib.attention.verdicts import Verdict, heritage, is_finite, territorial_collapse
from lib.claims import CLAIMS_BY_ID, reference
from lib.models import LoadedModel, free_model, load_model
from lib.models.base import check_quantization
from lib.models.random_init import PREFIX as RANDOM_PREFIX
from lib.paths import ROOT
from lib.results import find_result, workflow_run

PUBLISHED_FALLBACK_PROFILE = "paper"  # the one profile that may stand in published claims
STAND_IN_SOURCES = ("tiny", "random")  # LoadedModel.source of random-initialized models
STAND_IN_PAIR = "random-init stand-in pair (tests the pipeline)"
TREND_MIN_MODELS = 3  # E08's size trend needs three real models (seed 003)


class MissingReferenceError(FileNotFoundError):
    """A comparison names a reference run whose results do not exist (and may not fall back)."""


@dataclass
class ModelRun:
    """One model measured under one parameter set."""

    name: str
    record: dict[str, Any]  # provenance: source, revision, dtype, quantization, architecture
    per_prompt: np.ndarray  # [prompts, layers, heads] normalized entropies
    metrics: dict[str, Any]
    seed_invariance: dict[str, Any]
    si_ci: tuple[float, float]
    sanity: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds; printed, not saved
    sink_share: np.ndarray | None = None  # [prompts, layers, heads] weight on the first token
    # the architecture controls, one block each (`model_controls`); 4(a)'s "null_model" joins them
    controls: dict[str, Any] = field(default_factory=dict)

    @property
    def profile(self) -> np.ndarray:
        """E[layers, heads]: the mean over prompts."""
        return self.per_prompt.mean(axis=0)

    def block(self) -> dict[str, Any]:
        """The results-file block of this model."""
        return {**self.metrics, "si_ci": list(self.si_ci), "entropies": self.profile,
                "model": self.record, "seed_invariance": self.seed_invariance,
                "sanity": self.sanity, "controls": self.controls}


def model_record(loaded: LoadedModel) -> dict[str, Any]:
    """What a result must say about the model it measured."""
    info = loaded.info
    return {
        "name": loaded.name, "source": loaded.source, "revision": loaded.revision,
        "dtype": loaded.dtype, "quantization": loaded.quantization, "device": loaded.device,
        "architecture": info.as_dict(),
        "parameters": int(sum(p.numel() for p in loaded.model.parameters())),
        "rho_head": info.num_heads / math.sqrt(info.hidden_size),
        "rho_kv": info.num_kv_heads / info.num_layers,
        "reduction": loaded.reduction,  # random/ models: what was reduced to fit (else None)
    }


def format_prompts(tokenizer: Any, prompts: Sequence[str], use_chat_template: bool) -> list[str]:
    """The prompts as the model sees them: raw, or wrapped in the tokenizer's chat template."""
    if not use_chat_template:
        return list(prompts)
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError("use_chat_template is true but the tokenizer has no chat template")
    return [tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                          add_generation_prompt=True) for p in prompts]


def max_memory(spec: dict[str, Any] | None) -> dict[Any, str] | None:
    """accelerate's max_memory from a parameter file's {gpu_headroom_gib, cpu} (seed 002:
    GPU total minus 2 GiB, 50 GiB of CPU offload). None without a GPU or without a spec."""
    import torch

    if not spec or not torch.cuda.is_available():
        return None
    total_gib = torch.cuda.get_device_properties(0).total_memory / 2**30
    return {0: f"{int(total_gib - spec.get('gpu_headroom_gib', 2))}GiB",
            "cpu": str(spec.get("cpu", "50GiB"))}


def _load(params: dict[str, Any], name: str, dtype: str | None = None) -> LoadedModel:
    return load_model(name, dtype=dtype or params["dtype"], quantization=params["quantization"],
                      trust_remote_code=params["trust_remote_code"],
                      max_memory=max_memory(params["max_memory"]),
                      max_parameters=params["random_max_parameters"])


def _bootstrap_args(params: dict[str, Any]) -> dict[str, Any]:
    boot = params["bootstrap"]
    return {"n_boot": boot["n"], "seed": boot["seed"], "ci": boot["ci"]}


def bootstrap_settings(params: dict[str, Any], n_prompts: int) -> dict[str, Any]:
    """How the intervals are made: {n_prompts, n_boot, seed, ci} (percentile, over prompts)."""
    boot = params["bootstrap"]
    return {"n_prompts": int(n_prompts), "n_boot": boot["n"], "seed": boot["seed"],
            "ci": boot["ci"]}


def _null_args(params: dict[str, Any]) -> dict[str, Any]:
    return dict(params["permutation_null"])  # n, seed, ci


def is_stand_in(record: dict[str, Any] | None) -> bool:
    """True for a random-initialized model (`tiny/...`, `random/...`): it tests the pipeline."""
    return bool(record) and record.get("source") in STAND_IN_SOURCES


def pair_subject(base: ModelRun, instruct: ModelRun, what: str = "territorial collapse") -> str:
    """What a pair's figures and tables are about: `what` for real models, `STAND_IN_PAIR` when
    either model is a random initialization (its instruct - base difference is no alignment
    effect)."""
    return STAND_IN_PAIR if is_stand_in(base.record) or is_stand_in(instruct.record) else what


def model_controls(params: dict[str, Any], per_prompt: np.ndarray, sink_share: np.ndarray,
                   num_kv_heads: int, si: dict[str, Any]) -> dict[str, Any]:
    """The architecture controls of one model: `specialization` (the SI with its bootstrap `si`,
    beside which the null model's is read), `kv_groups` (group SI, within-group correlation),
    `attention_sink` (mean share on the first token, per layer), with the parameter file's
    bootstrap over prompts, and `head_permutation` (SI and group figures of the mean entropies
    against heads shuffled within each layer, `lib.attention.nulls`)."""
    boot = _bootstrap_args(params)
    return {"specialization": {"si": defined(si, "SI")},
            "kv_groups": group_specialization(per_prompt, num_kv_heads, **boot),
            "attention_sink": sink_share_summary(sink_share, **boot),
            "head_permutation": head_permutation_controls(per_prompt.mean(axis=0), num_kv_heads,
                                                          **_null_args(params))}


def measure_loaded(params: dict[str, Any], loaded: LoadedModel, prompts: Sequence[str],
                   ) -> ModelRun:
    """Measure an already loaded model: seed-invariance checked entropies and sink shares (one
    pass per seed), metrics, CI, architecture controls."""
    texts = format_prompts(loaded.tokenizer, prompts, params["use_chat_template"])
    sanity = sanity_check(loaded.model, loaded.tokenizer) if params.get("sanity_check") else None
    if sanity is not None and not sanity["ok"]:
        raise RuntimeError(f"sanity check failed for {loaded.name}: {sanity}")

    def measure(_seed: int) -> np.ndarray:  # [2, prompts, layers, heads]: both seed-checked
        m = measure_attention(loaded.model, loaded.tokenizer, texts, mode=params["entropy_mode"],
                              max_length=params["max_length"])
        return np.stack([m.entropies, m.sink_share])

    start = time.perf_counter()
    (per_prompt, sink), outcome = seed_invariance(measure, seeds=params["seeds"])
    measured = time.perf_counter() - start
    si = bootstrap_si(per_prompt, **_bootstrap_args(params))
    record = model_record(loaded)
    return ModelRun(loaded.name, record, per_prompt,
                    specialization_metrics(per_prompt.mean(axis=0)), outcome,
                    (si["low"], si["high"]), sanity, {"measure_s": measured}, sink,
                    model_controls(params, per_prompt, sink,
                                   record["architecture"]["num_kv_heads"], si))


def measure_model(params: dict[str, Any], name: str, prompts: Sequence[str]) -> ModelRun:
    """Load `name` as the parameters say, measure it, and free it (and its hub cache if asked)."""
    start = time.perf_counter()
    loaded = _load(params, name)
    load_s = time.perf_counter() - start
    try:
        run = measure_loaded(params, loaded, prompts)
    finally:
        free_model(loaded, delete_hub_cache=params["free_hub_cache"])
    run.timings["load_s"] = load_s
    return run


def measure_with_sanity_variants(params: dict[str, Any], name: str, prompts: Sequence[str],
                                 ) -> ModelRun:
    """E08: try the dtype variants in order until one passes, then measure with it."""
    loaded_by_dtype: dict[str, LoadedModel] = {}

    def load(dtype: str) -> tuple[Any, Any]:
        for other in [d for d in loaded_by_dtype if d != dtype]:
            free_model(loaded_by_dtype.pop(other))
        loaded_by_dtype[dtype] = _load(params, name, dtype)
        return loaded_by_dtype[dtype].model, loaded_by_dtype[dtype].tokenizer

    start = time.perf_counter()
    outcome = first_passing_variant(load, prompts[0], max_length=params["max_length"],
                                    threshold=params["sanity_threshold"],
                                    variants=params["sanity_variants"])
    loaded = loaded_by_dtype[outcome["dtype"]]
    load_s = time.perf_counter() - start
    try:
        run = measure_loaded(params, loaded, prompts)
    finally:
        for item in loaded_by_dtype.values():
            free_model(item, delete_hub_cache=params["free_hub_cache"])
    run.sanity = outcome
    run.timings["load_s"] = load_s
    return run


def null_model(params: dict[str, Any], name: str, prompts: Sequence[str]) -> dict[str, Any]:
    """The null model of `name`: its architecture at random initialization (`random/<name>`,
    `lib.models.random_init`: real layers and heads, widths reduced only as far as the file's
    `random_max_parameters` requires, saying so),
    measured by the same protocol on the first seed, unquantized. Returns its controls
    (`specialization`, `kv_groups`, `attention_sink`) and `model` (the record, `reduction`
    included); every figure undefined, with the reason, when the file turns it off
    (`null_model: false`) or `name` is itself a random initialization.
    """
    reason = None
    if not params["null_model"]:
        reason = "null_model: false in the parameter file"
    elif name.startswith(RANDOM_PREFIX):
        reason = f"{name} is itself a random initialization: its own SI is the null"
    if reason:
        nothing = undefined_estimate(reason)
        return {"model": None, "specialization": {"si": nothing},
                "kv_groups": {"group_si": nothing, "within_group_correlation": nothing},
                "attention_sink": {"mean": nothing},
                "head_permutation": {"si": undefined_null(reason)}}
    null_params = {**params, "seeds": params["seeds"][:1], "quantization": "none",
                   "free_hub_cache": False, "sanity_check": False}
    run = measure_model(null_params, RANDOM_PREFIX + name, prompts)
    return {"model": run.record, **run.controls}


def pair_controls(params: dict[str, Any], base: ModelRun, instruct: ModelRun,
                  dsi: dict[str, Any]) -> dict[str, Any]:
    """Instruct - base of each architecture control, with the paired bootstrap over prompts;
    `dsi` is the pair's `bootstrap_delta_si` (computed once, by `compare_pair`)."""
    def shape(run: ModelRun) -> str:
        layers, heads = run.per_prompt.shape[1:]
        return f"{layers} layers x {heads} heads ({run.record['architecture']['num_kv_heads']} kv)"

    kv = base.record["architecture"]["num_kv_heads"]
    if shape(base) != shape(instruct):
        raise ValueError(f"base {base.name} has {shape(base)}, instruct {instruct.name} "
                         f"{shape(instruct)}: the control deltas need one architecture")
    if base.sink_share is None or instruct.sink_share is None:
        raise ValueError("a run without sink shares: measure both models with measure_loaded")
    boot = _bootstrap_args(params)
    return {"specialization": {"si": defined(dsi, "dSI")},
            "kv_groups": group_specialization_delta(base.per_prompt, instruct.per_prompt, kv,
                                                    **boot),
            "attention_sink": sink_share_delta(base.sink_share, instruct.sink_share, **boot),
            "head_permutation": head_permutation_delta(base.profile, instruct.profile, kv,
                                                       **_null_args(params))}


def compare_pair(params: dict[str, Any], base: ModelRun, instruct: ModelRun) -> dict[str, Any]:
    """Deltas (instruct - base) of the specialization metrics and of the architecture controls
    (`controls`), with paired bootstrap intervals over prompts of dSI (`si_ci`; the correlation's
    is its mirror, `correlation_ci`: SI = 1 - correlation) and of the mean head variance
    (`variance_ci`); `specialization_index_relative` is dSI / base SI (seed 001's "+4.2%");
    `bootstrap` says how the intervals were made."""
    keys = ("specialization_index", "mean_head_correlation", "mean_head_variance",
            "effective_ratio", "early_variance", "middle_variance", "late_variance")
    boot = _bootstrap_args(params)
    dsi = bootstrap_delta_si(base.per_prompt, instruct.per_prompt, **boot)
    dvar = bootstrap_delta(base.per_prompt, instruct.per_prompt, mean_head_variance, **boot)
    delta = {k: instruct.metrics[k] - base.metrics[k] for k in keys}
    base_si = base.metrics["specialization_index"]
    delta["specialization_index_relative"] = (
        delta["specialization_index"] / base_si if is_finite(base_si) and base_si else None)
    delta["si_ci"] = [dsi["low"], dsi["high"]]
    delta["si_ci_excludes_zero"] = bool(dsi["excludes_zero"])
    delta["correlation_ci"] = [-dsi["high"], -dsi["low"]]
    delta["variance_ci"] = [dvar["low"], dvar["high"]]
    delta["variance_ci_excludes_zero"] = bool(dvar["excludes_zero"])
    delta["bootstrap"] = bootstrap_settings(params, dsi["n_prompts"])
    delta["controls"] = pair_controls(params, base, instruct, dsi)
    return delta


def collapse_verdict(base: ModelRun, instruct: ModelRun, delta: dict[str, Any]) -> Verdict:
    """The territorial-collapse verdict of a pair: corrected (two independent signs, each
    counted only when its bootstrap interval excludes 0) with the seed rule as executed beside
    it (`lib.attention.verdicts.territorial_collapse`)."""
    return territorial_collapse(
        base.metrics, instruct.metrics, (f"base {base.name}", f"instruct {instruct.name}"),
        intervals={"specialization_index": delta["si_ci"],
                   "mean_head_variance": delta["variance_ci"]})


def methodology(params: dict[str, Any], prompts: Sequence[str], runs: Sequence[ModelRun],
                ) -> dict[str, Any]:
    """The seeds' E11-v3 methodology block, as this run actually applied it."""
    return {
        "standard": "E11-v3", "prompt_set": params["prompt_set"], "num_prompts": len(prompts),
        "prompt_md5": prompt_md5(prompts), "prompt_md5_verified": True,
        "max_length": params["max_length"], "dtype": params["dtype"],
        "entropy_mode": params["entropy_mode"],
        "attention_masked": params["entropy_mode"] == "masked",
        "use_chat_template": params["use_chat_template"], "seeds": params["seeds"],
        "quantization_requested": params["quantization"],
        "quantization_used": {r.name: r.record["quantization"] for r in runs},
        "seed_invariance": {r.name: r.seed_invariance["outcome"] for r in runs},
        "bootstrap": params["bootstrap"],
    }


def _missing_reference(profile: str, run: str, allowed: bool) -> MissingReferenceError:
    notebook = f"notebooks/{run.split('_', 1)[0]}.py"
    fallback = "" if allowed else (
        f"; only the {PUBLISHED_FALLBACK_PROFILE} profile falls back to published numbers")
    return MissingReferenceError(
        f"reference run {run} has no results (results/{profile}/{run}.json): make it "
        f"first: python -m lib.runner {notebook} parameters/{profile}/{run}.yaml --output "
        f"<executed.ipynb> (make reproduce runs it before this one){fallback}"
    )


def snakemake_target(profile: str, run: str) -> list[str]:
    """The command that makes reference run `run` with the workflow (its own references first)."""
    return [sys.executable, "-m", "snakemake", "--profile", f"profiles/{profile}",
            f"results/{profile}/{run}.json"]


def ensure_reference(profile: str, spec: dict[str, Any] | None,
                     make: Callable[[list[str]], Any] | None = None) -> str | None:
    """Check at load that reference run `spec['run']` can be read; return where it comes from.

    Its results file, else (paper profile) the published claims. Missing elsewhere: a workflow
    job raises MissingReferenceError at once (Snakemake makes references first); an interactive
    run makes it with the workflow (`snakemake results/<profile>/<run>.json`, the same file
    `make reproduce` writes) before measuring anything. `make` runs that command (tests pass one).
    """
    if not spec:
        return None
    run = spec["run"]
    path = f"results/{profile}/{run}.json"
    if find_result(profile, run) is not None:
        return path
    if profile == PUBLISHED_FALLBACK_PROFILE:
        return "published claims (the run has not been made)"
    if workflow_run():
        raise _missing_reference(profile, run, allowed=False)
    command = snakemake_target(profile, run)
    print(f"reference run {run} has no results: making it with the workflow "
          f"({' '.join(command[2:])}), a few minutes", flush=True)
    (make or (lambda cmd: subprocess.run(cmd, cwd=ROOT, check=True)))(command)
    if find_result(profile, run) is None:
        raise _missing_reference(profile, run, allowed=False)
    return path


def reference_mode(profile: str, run: str, payload: dict[str, Any] | None) -> str | None:
    """The entropy mode of reference run `run`: its results file's, else its parameter file's
    (the mode the published numbers were computed in); None where neither says."""
    if payload is not None:
        return (payload.get("methodology") or {}).get("entropy_mode")
    from lib.params import load_parameters

    try:
        params = load_parameters(f"parameters/{profile}/{run}.yaml")
    except ValueError:  # no such file (the loader's ParameterError)
        return None
    return params["entropy_mode"] if isinstance(params, dict) else params.entropy_mode


def mode_mismatch(this_mode: str, reference: dict[str, Any]) -> dict[str, str] | None:
    """{this_run, reference, reference_run} when a comparison mixes entropy modes, else None."""
    other = reference.get("entropy_mode")
    if other is None or other == this_mode:
        return None
    return {"this_run": this_mode, "reference": other, "reference_run": reference["run"]}


def reference_pair(profile: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Base/instruct SI and correlation of another pair run (`spec`: {run, claim}), with its
    entropy mode and source.

    A run without results raises MissingReferenceError naming the run to make, except in the
    paper profile, where the published claims `<claim>.<field>` stand in (`published: True`).
    """
    fields = {
        "base_si": ("base", "specialization_index"),
        "instruct_si": ("instruct", "specialization_index"),
        "delta_si": ("delta", "specialization_index"),
        "base_corr": ("base", "mean_head_correlation"),
        "delta_corr": ("delta", "mean_head_correlation"),
        "verdict": ("verdict", "as_executed", "code"),  # the seed's rule, as published
        "verdict_corrected": ("verdict", "code"),
    }
    run = spec["run"]
    payload = find_result(profile, run)
    fallback = profile == PUBLISHED_FALLBACK_PROFILE
    if payload is None and not fallback:
        raise _missing_reference(profile, run, allowed=False)
    prefix = spec.get("claim")
    out: dict[str, Any] = {"run": run, "entropy_mode": reference_mode(profile, run, payload)}
    for key, path in fields.items():
        claim = f"{prefix}.{key}" if prefix and f"{prefix}.{key}" in CLAIMS_BY_ID else None
        try:
            ref = reference(profile, run, path, claim)
        except FileNotFoundError:
            out[key] = None  # neither the run nor a published number gives this field
            continue
        out[key] = ref.value
        out["source"] = ref.source
        out["published"] = ref.published
    if "source" not in out:
        raise _missing_reference(profile, run, allowed=True)
    return out


def matching_quantization(params: dict[str, Any], base: ModelRun) -> dict[str, Any]:
    """Parameters for the instruct model: the quantization the base model actually got."""
    used = check_quantization(base.record["quantization"])  # "8-bit" -> "8bit", ...
    return {**params, "quantization": used}


def ladder_row(entry: dict[str, Any], run: ModelRun) -> dict[str, Any]:
    """A model of the E08 ladder: its label, size, SI with interval, and descriptors.

    `stand_in` marks a random-initialized model (`tiny/...`, `random/...`): drawn apart, left out
    of the trend and the verdict.
    """
    a = run.record["architecture"]
    return {
        "display": entry.get("display", run.name), "name": run.name,
        "size_b": entry.get("size_b", run.record["parameters"] / 1e9),
        "si": run.metrics["specialization_index"], "si_ci": list(run.si_ci),
        "kind": a["attention_kind"], "rho_head": run.record["rho_head"],
        "rho_kv": run.record["rho_kv"], "sanity": run.sanity["label"] if run.sanity else None,
        "reference": False, "source": "this run", "stand_in": is_stand_in(run.record),
        "si_null": (run.controls.get("head_permutation") or {}).get("si"),
    }


def ladder_references(profile: str, spec: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Reference rows for E08: the reference run's models; in the paper profile, while that run
    has not been made, its published fallback (labelled); elsewhere MissingReferenceError."""
    if not spec:
        return []
    run_name = spec["run"]
    payload = find_result(profile, run_name)
    if payload is not None:
        return [{
            "display": m["display"], "name": name, "size_b": m["size_b"],
            "si": m["specialization_index"], "si_ci": m["si_ci"],
            "kind": m["model"]["architecture"]["attention_kind"],
            "rho_head": m["model"]["rho_head"], "rho_kv": m["model"]["rho_kv"],
            "sanity": (m.get("sanity") or {}).get("label"), "reference": True,
            "source": f"results/{profile}/{run_name}.json", "stand_in": is_stand_in(m["model"]),
            "si_null": ((m.get("controls") or {}).get("head_permutation") or {}).get("si"),
        } for name, m in payload["models"].items()]
    published = spec.get("published")
    if profile != PUBLISHED_FALLBACK_PROFILE or not published:
        raise _missing_reference(profile, run_name, profile == PUBLISHED_FALLBACK_PROFILE)
    rows = []
    for entry in published:
        claim = CLAIMS_BY_ID[entry["claim"]]
        rows.append({
            "display": entry["display"], "name": claim.id, "size_b": entry["size_b"],
            "si": claim.value, "si_ci": None, "kind": entry["kind"], "rho_head": None,
            "rho_kv": None, "sanity": None, "reference": True,
            "source": f"published ({claim.source}); results/{profile}/{run_name}.json not made",
            "stand_in": False, "si_null": None,
        })
    return rows


def ladder_verdict(rows: Sequence[dict[str, Any]], target: float, tolerance: float) -> Verdict:
    """E08's heritage verdict over the real models of `rows`; stand-ins are left out and listed
    in `values["stand_ins_excluded"]`."""
    real = {r["display"]: r["si"] for r in rows if not r.get("stand_in")}
    verdict = heritage(real, target=target, tolerance=tolerance)
    excluded = [r["display"] for r in rows if r.get("stand_in")]
    return dataclasses.replace(verdict, values={**verdict.values, "stand_ins_excluded": excluded})


def ladder_trend(rows: Sequence[dict[str, Any]], min_models: int = TREND_MIN_MODELS,
                 ) -> dict[str, Any] | None:
    """Least-squares line SI = slope * log10(size_b) + intercept over the real models with a
    finite SI (stand-ins left out); None with fewer than `min_models` or a single size."""
    real = [r for r in rows if not r.get("stand_in") and is_finite(r["si"])]
    sizes = np.array([r["size_b"] for r in real], dtype=float)
    if len(real) < min_models or np.ptp(sizes) == 0:
        return None
    slope, intercept = np.polyfit(np.log10(sizes), [float(r["si"]) for r in real], 1)
    return {"slope_per_decade": float(slope), "intercept": float(intercept),
            "models": [r["display"] for r in real], "sizes_b": sizes.tolist()}
