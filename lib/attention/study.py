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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.stats import norm

from lib.attention.entropy import OTHER_MODES, measure_attention
from lib.attention.layout import ModelRecord
from lib.attention.multiplicity import ALPHA as PERMUTATION_ALPHA
from lib.attention.multiplicity import permutation_family
from lib.attention.nulls import head_permutation_controls, head_permutation_delta, undefined_null
from lib.attention.parameters import (
    AttentionParameters,
    E08Parameters,
    LadderModel,
    LadderReferences,
    MaxMemory,
    PairParameters,
    PairReference,
    SeedReference,
)
from lib.attention.prompts import prompt_md5
from lib.attention.sanity import first_passing_variant, sanity_check
from lib.attention.seednull import (
    init_architecture,
    init_comparison,
    seed_null_block,
    seeds_for,
    spreads,
    trained_spread,
)
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
from lib.attention.verdicts import (
    SEED_NULL_ALPHA,
    Verdict,
    heritage,
    heritage_family,
    is_finite,
    territorial_collapse,
)
from lib.claims import CLAIMS_BY_ID, reference
from lib.models import LoadedModel, free_model, load_model
from lib.models.architecture import architecture_info
from lib.models.base import check_quantization, default_device, set_pad_token, torch_dtype
from lib.models.random_init import DEFAULT_MAX_PARAMETERS, random_models
from lib.models.random_init import PREFIX as RANDOM_PREFIX
from lib.params import ParameterError, load_parameters
from lib.paths import ROOT
from lib.results import ResultRefused, find_result, workflow_run

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
    # entropies [prompts, layers, heads] in the other modes the same pass gives, by mode
    other_modes: dict[str, np.ndarray] = field(default_factory=dict)

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


def max_memory(spec: MaxMemory | None) -> dict[Any, str] | None:
    """accelerate's max_memory from a parameter file's {gpu_headroom_gib, cpu} (seed 002:
    GPU total minus 2 GiB, 50 GiB of CPU offload). None without a GPU or without a spec."""
    if spec is None or not torch.cuda.is_available():
        return None
    total_gib = torch.cuda.get_device_properties(0).total_memory / 2**30
    return {0: f"{int(total_gib - spec.gpu_headroom_gib)}GiB", "cpu": spec.cpu}


def _load(params: AttentionParameters, name: str, dtype: str | None = None) -> LoadedModel:
    return load_model(name, dtype=dtype or params.dtype, quantization=params.quantization,
                      trust_remote_code=params.trust_remote_code,
                      max_memory=max_memory(params.max_memory),
                      max_parameters=params.random_max_parameters)


def _bootstrap_args(params: AttentionParameters) -> dict[str, Any]:
    boot = params.bootstrap
    return {"n_boot": boot.n, "seed": boot.seed, "ci": boot.ci}


def bootstrap_settings(params: AttentionParameters, n_prompts: int) -> dict[str, Any]:
    """How the intervals are made: {n_prompts, n_boot, seed, ci} (percentile, over prompts)."""
    return {"n_prompts": int(n_prompts), **_bootstrap_args(params)}


def _null_args(params: AttentionParameters) -> dict[str, Any]:
    return params.permutation_null.model_dump()  # n, seed, ci


def is_stand_in(record: Mapping[str, Any] | ModelRecord | None) -> bool:
    """True for a random-initialized model (`tiny/...`, `random/...`): it tests the pipeline
    (`record`: a model record, as a dict or typed)."""
    if isinstance(record, ModelRecord):
        return record.source in STAND_IN_SOURCES
    return bool(record) and record.get("source") in STAND_IN_SOURCES


def pair_subject(base: ModelRun, instruct: ModelRun, what: str = "territorial collapse") -> str:
    """What a pair's figures and tables are about: `what` for real models, `STAND_IN_PAIR` when
    either model is a random initialization (its instruct - base difference is no alignment
    effect)."""
    return STAND_IN_PAIR if is_stand_in(base.record) or is_stand_in(instruct.record) else what


def model_controls(params: AttentionParameters, per_prompt: np.ndarray, sink_share: np.ndarray,
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


def measure_loaded(params: AttentionParameters, loaded: LoadedModel, prompts: Sequence[str],
                   ) -> ModelRun:
    """Measure an already loaded model: seed-invariance checked entropies and sink shares (one
    pass per seed), metrics, CI, architecture controls; a pair file's `sanity_check` first."""
    texts = format_prompts(loaded.tokenizer, prompts, params.use_chat_template)
    sanity = (sanity_check(loaded.model, loaded.tokenizer)
              if isinstance(params, PairParameters) and params.sanity_check else None)
    if sanity is not None and not sanity["ok"]:
        raise RuntimeError(f"sanity check failed for {loaded.name}: {sanity}")

    others = OTHER_MODES[params.entropy_mode]

    def measure(_seed: int) -> np.ndarray:  # [2 + others, prompts, layers, heads], seed-checked
        m = measure_attention(loaded.model, loaded.tokenizer, texts, mode=params.entropy_mode,
                              max_length=params.max_length, other_modes=others)
        return np.stack([m.entropies, m.sink_share, *(m.other_modes[o] for o in others)])

    start = time.perf_counter()
    (per_prompt, sink, *extra), outcome = seed_invariance(measure, seeds=params.seeds)
    measured = time.perf_counter() - start
    si = bootstrap_si(per_prompt, **_bootstrap_args(params))
    record = model_record(loaded)
    return ModelRun(loaded.name, record, per_prompt,
                    specialization_metrics(per_prompt.mean(axis=0)), outcome,
                    (si["low"], si["high"]), sanity, {"measure_s": measured}, sink,
                    model_controls(params, per_prompt, sink,
                                   record["architecture"]["num_kv_heads"], si),
                    dict(zip(others, extra, strict=True)))


def measure_model(params: AttentionParameters, name: str, prompts: Sequence[str]) -> ModelRun:
    """Load `name` as the parameters say, measure it, and free it (and its hub cache if asked)."""
    start = time.perf_counter()
    loaded = _load(params, name)
    load_s = time.perf_counter() - start
    try:
        run = measure_loaded(params, loaded, prompts)
    finally:
        free_model(loaded, delete_hub_cache=params.free_hub_cache)
    run.timings["load_s"] = load_s
    return run


def measure_with_sanity_variants(params: E08Parameters, name: str, prompts: Sequence[str],
                                 ) -> ModelRun:
    """E08: try the dtype variants in order until one passes, then measure with it."""
    loaded_by_dtype: dict[str, LoadedModel] = {}

    def load(dtype: str) -> tuple[Any, Any]:
        for other in [d for d in loaded_by_dtype if d != dtype]:
            free_model(loaded_by_dtype.pop(other))
        loaded_by_dtype[dtype] = _load(params, name, dtype)
        return loaded_by_dtype[dtype].model, loaded_by_dtype[dtype].tokenizer

    start = time.perf_counter()
    outcome = first_passing_variant(load, prompts[0], max_length=params.max_length,
                                    threshold=params.sanity_threshold,
                                    variants=params.sanity_variants)
    loaded = loaded_by_dtype[outcome["dtype"]]
    load_s = time.perf_counter() - start
    try:
        run = measure_loaded(params, loaded, prompts)
    finally:
        for item in loaded_by_dtype.values():
            free_model(item, delete_hub_cache=params.free_hub_cache)
    run.sanity = outcome
    run.timings["load_s"] = load_s
    return run


@dataclass
class InitSeeds:
    """An architecture at random initialization, measured from several seeds (`seeds_for`)."""

    architecture: str  # the random/ name
    seeds: list[int]
    per_prompt: dict[str, np.ndarray]  # mode -> [seeds, prompts, layers, heads] entropies
    sink_share: np.ndarray  # [seeds, prompts, layers, heads]
    record: dict[str, Any]  # `model_record` of the first seed's model
    timings: dict[str, float] = field(default_factory=dict)  # seconds; printed, not saved


def measure_init_seeds(params: AttentionParameters, name: str, prompts: Sequence[str],
                       n: int | None = None) -> InitSeeds:
    """`name`'s architecture at random initialization (`random/<name>`, or `name` itself if it
    is one) from `n` seeds (default the file's `seed_null.n`; `seeds_for`), each measured by the
    file's protocol in one pass per seed (the entropy mode and the other modes that pass gives,
    sink shares), in the file's dtype, unquantized, with the model's own tokenizer and full
    vocabulary where it has one (`keep_vocabulary`; widths shrink only to fit
    `random_max_parameters`)."""
    architecture = init_architecture(name)
    seeds = seeds_for(architecture, n or params.seed_null.n)
    mode = params.entropy_mode
    modes = (mode, *OTHER_MODES[mode])
    per: dict[str, list[np.ndarray]] = {m: [] for m in modes}
    sinks, record = [], None
    start = time.perf_counter()
    budget = params.random_max_parameters or DEFAULT_MAX_PARAMETERS
    for built in random_models(architecture, seeds, budget, keep_vocabulary=True):
        model = built.model.to(device=default_device(None), dtype=torch_dtype(params.dtype))
        set_pad_token(built.tokenizer)
        if record is None:
            record = model_record(LoadedModel.ready(
                architecture, model, built.tokenizer, architecture_info(model.config), "random",
                "none", built.revision, built.reduction))
        texts = format_prompts(built.tokenizer, prompts, params.use_chat_template)
        m = measure_attention(model, built.tokenizer, texts, mode=mode,
                              max_length=params.max_length, other_modes=modes[1:],
                              progress=False)
        per[mode].append(m.entropies)
        for other in modes[1:]:
            per[other].append(m.other_modes[other])
        sinks.append(m.sink_share)
        del model, built
    return InitSeeds(architecture, seeds, {m: np.stack(v) for m, v in per.items()},
                     np.stack(sinks), record or {},
                     {"measure_s": time.perf_counter() - start})


def init_block(init: InitSeeds, mode: str, ci: float = 0.95) -> dict[str, Any]:
    """The seed null of `init` in `mode` (`seed_null_block`) with its architecture, seeds and the
    reduction its models needed."""
    return {"architecture": init.architecture, "seeds": init.seeds, "n_models": len(init.seeds),
            "entropy_mode": mode, "reduction": init.record.get("reduction"),
            **seed_null_block(init.per_prompt[mode], ci)}


def null_model(params: AttentionParameters, name: str, prompts: Sequence[str],
               point: float | None = None, seed_null: dict[str, Any] | None = None,
               ) -> dict[str, Any]:
    """The null model of `name`: its architecture at random initialization from the file's
    `seed_null.n` seeds (`measure_init_seeds`: real layers and heads, own tokenizer and full
    vocabulary, widths reduced only as far as `random_max_parameters` requires, saying so),
    measured by the same protocol, unquantized. Returns the controls of the first seed
    (`specialization`, `kv_groups`, `attention_sink`, `head_permutation`), `model` (its record,
    `reduction` included) and `init_seeds`: the SI of every seed and, given the trained model's
    SI `point`, that SI against them (`init_comparison`). A pair's `seed_null` (the same seeds
    of the same architecture, `lib.attention.calibration.seed_null_for_run`) gives the seeds'
    SIs without measuring them again: only the first seed is measured, for its controls. Every
    figure undefined, with the reason, when the file turns it off (`null_model: false`) or
    `name` is itself a random initialization.
    """
    reason = None
    if not params.null_model:
        reason = "null_model: false in the parameter file"
    elif name.startswith(RANDOM_PREFIX):
        reason = f"{name} is itself a random initialization: its own SI is the null"
    if reason:
        nothing = undefined_estimate(reason)
        return {"model": None, "specialization": {"si": nothing},
                "kv_groups": {"group_si": nothing, "within_group_correlation": nothing},
                "attention_sink": {"mean": nothing},
                "head_permutation": {"si": undefined_null(reason)},
                "init_seeds": {"reason": reason}}
    mode = params.entropy_mode
    reuse = bool(seed_null) and seed_null.get("architecture") == init_architecture(name)
    init = measure_init_seeds(params, name, prompts, 1 if reuse else None)
    first = init.per_prompt[mode][0]
    si = bootstrap_si(first, **_bootstrap_args(params))
    controls = model_controls(params, first, init.sink_share[0],
                              init.record["architecture"]["num_kv_heads"], si)
    if reuse:
        stored = seed_null["modes"][mode]
        block = {"architecture": seed_null["architecture"], "seeds": seed_null["seeds"],
                 "n_models": seed_null["n_models"], "entropy_mode": mode,
                 "reduction": seed_null.get("reduction"),
                 **{key: stored[key] for key in ("specialization_index", "mean_head_variance")}}
    else:
        block = init_block(init, mode)
    values = block["specialization_index"].get("raw", block["specialization_index"]["values"])
    return {"model": init.record, **controls,
            "init_seeds": {**block, "si_against_init": (
                init_comparison(point, values) if point is not None else None)}}


def pair_controls(params: AttentionParameters, base: ModelRun, instruct: ModelRun,
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


def _mode_delta(params: AttentionParameters, base: np.ndarray, instruct: np.ndarray,
                ) -> dict[str, Any]:
    """dSI and d mean head variance of one entropy mode with their paired bootstraps."""
    boot = _bootstrap_args(params)
    dsi = bootstrap_delta_si(base, instruct, **boot)
    dvar = bootstrap_delta(base, instruct, mean_head_variance, **boot)
    return {"specialization_index": dsi["point"], "si_ci": [dsi["low"], dsi["high"]],
            "si_ci_excludes_zero": bool(dsi["excludes_zero"]),
            "mean_head_variance": dvar["point"], "variance_ci": [dvar["low"], dvar["high"]],
            "variance_ci_excludes_zero": bool(dvar["excludes_zero"]), "_dsi": dsi}


def seed_null_summary(seed_null: dict[str, Any] | None, mode: str,
                      alpha: float = SEED_NULL_ALPHA) -> dict[str, Any]:
    """The seed null a pair's verdict reads in `mode`: the architecture, seeds, per metric its
    spread and 95% delta interval, where it came from, the verdict's `alpha`; `reason` when
    there is none."""
    if not seed_null:
        return {"reason": "no seed null (the run has none)", "alpha": alpha}
    block = (seed_null.get("modes") or {}).get(mode)
    if not block:
        return {"reason": f"the seed null has no {mode} entropies", "alpha": alpha}
    return {"architecture": seed_null["architecture"], "n_models": seed_null["n_models"],
            "seeds": seed_null["seeds"], "entropy_mode": mode,
            "reduction": seed_null.get("reduction"), "source": seed_null.get("source"),
            **{k: block[k] for k in ("specialization_index", "mean_head_variance")},
            "alpha": alpha, "reason": None}


def compare_pair(params: AttentionParameters, base: ModelRun, instruct: ModelRun,
                 seed_null: dict[str, Any] | None = None) -> dict[str, Any]:
    """Deltas (instruct - base) of the specialization metrics and of the architecture controls
    (`controls`), with paired bootstrap intervals over prompts of dSI (`si_ci`; the correlation's
    is its mirror, `correlation_ci`: SI = 1 - correlation) and of the mean head variance
    (`variance_ci`); `specialization_index_relative` is dSI / base SI (seed 001's "+4.2%");
    `bootstrap` says how the intervals were made; `seed_null` the seed null the verdict reads
    (`lib.attention.calibration.seed_null_for_run`) and `entropy_modes` dSI and d variance in
    every mode the pass measured (the protocol's first), each with its own collapse verdict."""
    keys = ("specialization_index", "mean_head_correlation", "mean_head_variance",
            "effective_ratio", "early_variance", "middle_variance", "late_variance")
    mode = params.entropy_mode
    protocol = _mode_delta(params, base.per_prompt, instruct.per_prompt)
    dsi = protocol.pop("_dsi")
    delta = {k: instruct.metrics[k] - base.metrics[k] for k in keys}
    base_si = base.metrics["specialization_index"]
    delta["specialization_index_relative"] = (
        delta["specialization_index"] / base_si if is_finite(base_si) and base_si else None)
    delta["si_ci"] = protocol["si_ci"]
    delta["si_ci_excludes_zero"] = protocol["si_ci_excludes_zero"]
    delta["correlation_ci"] = [-dsi["high"], -dsi["low"]]
    delta["variance_ci"] = protocol["variance_ci"]
    delta["variance_ci_excludes_zero"] = protocol["variance_ci_excludes_zero"]
    delta["bootstrap"] = bootstrap_settings(params, dsi["n_prompts"])
    alpha = params.seed_null.alpha
    delta["seed_null"] = seed_null_summary(seed_null, mode, alpha)
    delta["controls"] = pair_controls(params, base, instruct, dsi)
    modes = {mode: protocol}
    for other in base.other_modes.keys() & instruct.other_modes.keys():
        modes[other] = _mode_delta(params, base.other_modes[other], instruct.other_modes[other])
        modes[other].pop("_dsi")
    for name, block in modes.items():
        null = seed_null_summary(seed_null, name, alpha)
        verdict = _collapse(base.name, instruct.name,
                            _mode_metrics(base, name), _mode_metrics(instruct, name), block,
                            null, alpha)
        block.update({"protocol": name == mode, "seed_null_si_interval": (
            null.get("specialization_index") or {}).get("interval"), "verdict": verdict.code,
            "verdict_seed_rule": (verdict.as_executed or {}).get("code"),
            "sign_status": verdict.values.get("sign_status")})
    delta["entropy_modes"] = modes
    delta["multiplicity"] = permutation_family(
        {"base": base.controls["head_permutation"],
         "instruct": instruct.controls["head_permutation"],
         "delta": delta["controls"]["head_permutation"]},
        "every head-permutation test of this pair (base, instruct, delta)")
    return delta


def _mode_metrics(run: ModelRun, mode: str) -> dict[str, Any]:
    """SI, correlation and head variance of `run` in `mode` (its protocol mode: its metrics)."""
    if mode not in run.other_modes:
        return run.metrics
    return specialization_metrics(run.other_modes[mode].mean(axis=0))


def _collapse(base: str, instruct: str, base_metrics: dict[str, Any],
              instruct_metrics: dict[str, Any], delta: dict[str, Any],
              seed_null: dict[str, Any], alpha: float) -> Verdict:
    null = None if seed_null.get("reason") else spreads(seed_null)
    return territorial_collapse(
        base_metrics, instruct_metrics, (f"base {base}", f"instruct {instruct}"),
        intervals={"specialization_index": delta["si_ci"],
                   "mean_head_variance": delta["variance_ci"]},
        seed_null=null, alpha=alpha)


def collapse_verdict(base: ModelRun, instruct: ModelRun, delta: dict[str, Any]) -> Verdict:
    """The territorial-collapse verdict of a pair: corrected (two independent signs, each
    counted only when its bootstrap interval excludes 0 and the delta lies outside its seed
    null, `delta["seed_null"]`; Holm over the two) with the seed rule as executed beside it
    (`lib.attention.verdicts.territorial_collapse`)."""
    null = delta.get("seed_null") or {"reason": "no seed null"}
    return _collapse(base.name, instruct.name, base.metrics, instruct.metrics, delta, null,
                     null.get("alpha", SEED_NULL_ALPHA))


def interval_side(interval: Sequence[Any] | None) -> str:
    """'below 0', 'above 0' or 'includes 0' (also for a missing or non-finite interval)."""
    if not interval or not all(is_finite(v) for v in interval):
        return "includes 0"
    return "below 0" if interval[1] < 0 else "above 0" if interval[0] > 0 else "includes 0"


def modes_differ(delta: dict[str, Any]) -> bool:
    """Whether the entropy modes a pair was measured in give different collapse verdicts or
    dSI intervals on different sides of 0."""
    modes = (delta.get("entropy_modes") or {}).values()
    return len({(m["verdict"], interval_side(m["si_ci"])) for m in modes}) > 1


def methodology(params: AttentionParameters, prompts: Sequence[str], runs: Sequence[ModelRun],
                ) -> dict[str, Any]:
    """The seeds' E11-v3 methodology block, as this run actually applied it."""
    return {
        "standard": "E11-v3", "prompt_set": params.prompt_set, "num_prompts": len(prompts),
        "prompt_md5": prompt_md5(prompts), "prompt_md5_verified": True,
        "max_length": params.max_length, "dtype": params.dtype,
        "entropy_mode": params.entropy_mode,
        "attention_masked": params.entropy_mode == "masked",
        "use_chat_template": params.use_chat_template, "seeds": list(params.seeds),
        "quantization_requested": params.quantization,
        "quantization_used": {r.name: r.record["quantization"] for r in runs},
        "seed_invariance": {r.name: r.seed_invariance["outcome"] for r in runs},
        "bootstrap": params.bootstrap.model_dump(), "seed_null": params.seed_null.model_dump(),
        "other_entropy_modes": list(OTHER_MODES[params.entropy_mode]),
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


def ensure_reference(profile: str, spec: PairReference | LadderReferences | SeedReference | None,
                     make: Callable[[list[str]], Any] | None = None) -> str | None:
    """Check at load that reference run `spec.run` can be read; return where it comes from.

    Its results file, else (paper profile) the published claims. Missing elsewhere: a workflow
    job raises MissingReferenceError at once (Snakemake makes references first); an interactive
    run makes it with the workflow (`snakemake results/<profile>/<run>.json`, the same file
    `make reproduce` writes) before measuring anything. `make` runs that command (tests pass one).
    """
    if spec is None:
        return None
    run = spec.run
    path = f"results/{profile}/{run}.json"
    try:
        if find_result(profile, run) is not None:
            return path
        why = "has no results"
    except ResultRefused as refused:  # swapped, edited or stale: never read, made again
        if workflow_run():
            raise
        why = f"is refused ({refused})"
    if profile == PUBLISHED_FALLBACK_PROFILE and why == "has no results":
        return "published claims (the run has not been made)"
    if workflow_run():
        raise _missing_reference(profile, run, allowed=False)
    command = snakemake_target(profile, run)
    print(f"reference run {run} {why}: making it with the workflow "
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
    try:
        params = load_parameters(f"parameters/{profile}/{run}.yaml")
    except ParameterError:  # no such file
        return None
    return params.entropy_mode if isinstance(params, AttentionParameters) else None


def mode_mismatch(this_mode: str, reference: dict[str, Any]) -> dict[str, str] | None:
    """{this_run, reference, reference_run} when a comparison mixes entropy modes, else None."""
    other = reference.get("entropy_mode")
    if other is None or other == this_mode:
        return None
    return {"this_run": this_mode, "reference": other, "reference_run": reference["run"]}


def reference_pair(profile: str, spec: PairReference) -> dict[str, Any]:
    """Base/instruct SI and correlation of another pair run (`spec`: its run and claim group),
    with its entropy mode and source.

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
        "base_si_ci": ("base", "si_ci"),
        "delta_si_ci": ("delta", "si_ci"),
        "delta_si_seed_null": ("delta", "seed_null", "specialization_index", "interval"),
        "delta_si_permutation": ("delta", "controls", "head_permutation", "si"),
        "si_sign": ("verdict", "values", "sign_status", "SI down / correlation up"),
    }
    run = spec.run
    payload = find_result(profile, run)
    fallback = profile == PUBLISHED_FALLBACK_PROFILE
    if payload is None and not fallback:
        raise _missing_reference(profile, run, allowed=False)
    prefix = spec.claim
    out: dict[str, Any] = {"run": run, "entropy_mode": reference_mode(profile, run, payload)}
    for key, path in fields.items():
        claim = f"{prefix}.{key}" if prefix and f"{prefix}.{key}" in CLAIMS_BY_ID else None
        try:
            ref = reference(profile, run, path, claim)
        except (FileNotFoundError, KeyError):
            out[key] = None  # neither the run nor a published number gives this field
            continue
        out[key] = ref.value
        out["source"] = ref.source
        out["published"] = ref.published
    if "source" not in out:
        raise _missing_reference(profile, run, allowed=True)
    return out


def matching_quantization(params: PairParameters, base: ModelRun) -> PairParameters:
    """Parameters for the instruct model: the quantization the base model actually got."""
    used = check_quantization(base.record["quantization"])  # "8-bit" -> "8bit", ...
    return params.model_copy(update={"quantization": used})


def ladder_row(entry: LadderModel, run: ModelRun) -> dict[str, Any]:
    """A model of the E08 ladder: its label, size, SI with interval, and descriptors.

    `stand_in` marks a random-initialized model (`tiny/...`, `random/...`): drawn apart, left out
    of the trend and the verdict.
    """
    a = run.record["architecture"]
    return {
        "display": run.name if entry.display is None else entry.display, "name": run.name,
        "family": entry.family or a["family"],
        "size_b": run.record["parameters"] / 1e9 if entry.size_b is None else entry.size_b,
        "si": run.metrics["specialization_index"], "si_ci": list(run.si_ci),
        "kind": a["attention_kind"], "rho_head": run.record["rho_head"],
        "rho_kv": run.record["rho_kv"], "sanity": run.sanity["label"] if run.sanity else None,
        "reference": False, "source": "this run", "stand_in": is_stand_in(run.record),
        "si_null": (run.controls.get("head_permutation") or {}).get("si"),
    }


def ladder_references(profile: str, spec: LadderReferences | None) -> list[dict[str, Any]]:
    """Reference rows for E08: the reference run's models; in the paper profile, while that run
    has not been made, its published fallback (labelled); elsewhere MissingReferenceError."""
    if spec is None:
        return []
    run_name = spec.run
    payload = find_result(profile, run_name)
    if payload is not None:
        return [{
            "display": m["display"], "name": name, "size_b": m["size_b"],
            "family": m.get("family") or m["model"]["architecture"]["family"],
            "si": m["specialization_index"], "si_ci": m["si_ci"],
            "kind": m["model"]["architecture"]["attention_kind"],
            "rho_head": m["model"]["rho_head"], "rho_kv": m["model"]["rho_kv"],
            "sanity": (m.get("sanity") or {}).get("label"), "reference": True,
            "source": f"results/{profile}/{run_name}.json", "stand_in": is_stand_in(m["model"]),
            "si_null": ((m.get("controls") or {}).get("head_permutation") or {}).get("si"),
        } for name, m in payload["models"].items()]
    published = spec.published
    if profile != PUBLISHED_FALLBACK_PROFILE or not published:
        raise _missing_reference(profile, run_name, profile == PUBLISHED_FALLBACK_PROFILE)
    rows = []
    for entry in published:
        claim = CLAIMS_BY_ID[entry.claim]
        rows.append({
            "display": entry.display, "name": claim.id, "size_b": entry.size_b,
            "family": entry.family or entry.display,
            "si": claim.value, "si_ci": None, "kind": entry.kind, "rho_head": None,
            "rho_kv": None, "sanity": None, "reference": True,
            "source": f"published ({claim.source}); results/{profile}/{run_name}.json not made",
            "stand_in": False, "si_null": None,
        })
    return rows


def ladder_verdict(rows: Sequence[dict[str, Any]], target: float, tolerance: float) -> Verdict:
    """E08's heritage verdict over the real models of `rows`: corrected (`heritage_family`: size
    is testable only within one family, each model read on its interval) with the seed rule
    as executed (`heritage`, point values, every model pooled) in `as_executed`; stand-ins are
    left out and listed in `values["stand_ins_excluded"]`, and the models whose SI is a typical
    draw of its head-permutation null in `values["typical_null_draws"]`."""
    real = [r for r in rows if not r.get("stand_in")]
    seed = heritage({r["display"]: r["si"] for r in real}, target=target, tolerance=tolerance)
    verdict = heritage_family({r["display"]: {"si": r["si"], "si_ci": r.get("si_ci"),
                                              "family": r.get("family"), "size_b": r["size_b"]}
                               for r in real}, target=target, tolerance=tolerance)
    typical = [r["display"] for r in real if (r.get("si_null") or {}).get("p") is not None
               and r["si_null"]["p"] > PERMUTATION_ALPHA]
    excluded = [r["display"] for r in rows if r.get("stand_in")]
    return dataclasses.replace(verdict, values={**verdict.values, "stand_ins_excluded": excluded,
                                                "typical_null_draws": typical},
                               as_executed={"code": seed.code, "criteria": seed.criteria,
                                            "values": seed.values, "reason": seed.reason})


def ladder_trend(rows: Sequence[dict[str, Any]], min_models: int = TREND_MIN_MODELS,
                 ci: float = 0.95) -> dict[str, Any] | None:
    """Least-squares line SI = slope * log10(size_b) + intercept within one family: the family
    with the most sizes among the real models with a finite SI (stand-ins left out), None with
    fewer than `min_models` sizes in every family (across families size is confounded with
    family, objective and attention kind). `slope_ci`: the `ci` interval of the slope from each
    model's bootstrap interval (read as normal: sd = width / (2 z)), None when a model has none
    (a published SI)."""
    real = [r for r in rows if not r.get("stand_in") and is_finite(r["si"])]
    families: dict[str, list[dict[str, Any]]] = {}
    for r in real:
        families.setdefault(str(r.get("family")), []).append(r)
    family, members = max(families.items(), key=lambda kv: len({m["size_b"] for m in kv[1]}),
                          default=(None, []))
    sizes = np.array([r["size_b"] for r in members], dtype=float)
    if len({*sizes.tolist()}) < min_models:
        return None
    x = np.log10(sizes)
    y = np.array([float(r["si"]) for r in members])
    slope, intercept = np.polyfit(x, y, 1)
    weights = (x - x.mean()) / ((x - x.mean()) ** 2).sum()
    z = float(norm.ppf(0.5 + ci / 2))
    cis = [r.get("si_ci") for r in members]
    slope_ci = None
    if all(c and all(is_finite(v) for v in c) for c in cis):
        sd = np.array([(float(c[1]) - float(c[0])) / (2 * z) for c in cis])
        half = z * float(np.sqrt((weights ** 2 * sd ** 2).sum()))
        slope_ci = [float(slope) - half, float(slope) + half]
    return {"slope_per_decade": float(slope), "intercept": float(intercept), "family": family,
            "slope_ci": slope_ci, "ci": ci, "models": [r["display"] for r in members],
            "sizes_b": sizes.tolist()}


def trained_seed_reference(profile: str, spec: SeedReference | None, delta_si: float,
                           mode: str) -> dict[str, Any] | None:
    """dSI against how SI varies between trained checkpoints that differ only in training seed
    (`spec.run`: an E08 run over such checkpoints, e.g. MultiBERTs or Pythia's seed
    variants): that run's SIs, their spread and the 95% interval of a two-seed dSI
    (`lib.attention.seednull.trained_spread`), and whether `delta_si` lies outside it. Shown
    beside the init seed null (another architecture: a scale, not this pair's null). None
    without `spec`; `reason` while that run has not been made."""
    if spec is None:
        return None
    payload = find_result(profile, spec.run)
    if payload is None:
        return {"run": spec.run, "reason": f"results/{profile}/{spec.run}.json has not "
                "been made (a GPU run)"}
    other = (payload.get("methodology") or {}).get("entropy_mode")
    block = trained_spread({name: m["specialization_index"]
                            for name, m in payload["models"].items()})
    interval = block["specialization_index"]["interval"]
    return {"run": spec.run, "entropy_mode": other, "mode_mismatch": other != mode,
            **block, "delta_si": delta_si,
            "outside": (None if not interval or not is_finite(delta_si) else
                        not interval[0] <= delta_si <= interval[1]), "reason": None}


def seed_reference_spread(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """When the real models of an E08 run are one family at one size (checkpoints that differ
    only in training seed: MultiBERTs, Pythia's seed variants), the SI's spread over them and
    the 95% interval of a two-seed dSI (`lib.attention.seednull.trained_spread`); else None."""
    real = [r for r in rows if not r.get("stand_in")]
    if len(real) < 3 or len({(r.get("family"), r["size_b"]) for r in real}) != 1:
        return None
    return trained_spread({r["display"]: r["si"] for r in real})
