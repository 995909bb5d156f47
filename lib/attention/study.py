"""The attention-specialization protocol (E11-v3) as steps a notebook calls in order.

Load a model from the registry, measure its per-prompt head entropies (seed-invariance
checked), reduce them to specialization metrics with bootstrap intervals, free the model.
Nothing here prints a narrative; the notebooks do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lib.attention.entropy import measure_entropies
from lib.attention.prompts import prompt_md5
from lib.attention.sanity import first_passing_variant, sanity_check
from lib.attention.specialization import specialization_metrics
from lib.attention.stats import bootstrap_delta_si, bootstrap_si, seed_invariance
from lib.claims import CLAIMS_BY_ID, reference
from lib.models import LoadedModel, free_model, load_model
from lib.results import find_result


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

    @property
    def profile(self) -> np.ndarray:
        """E[layers, heads]: the mean over prompts."""
        return self.per_prompt.mean(axis=0)

    def block(self) -> dict[str, Any]:
        """The results-file block of this model."""
        return {**self.metrics, "si_ci": list(self.si_ci), "entropies": self.profile,
                "model": self.record, "seed_invariance": self.seed_invariance,
                "sanity": self.sanity}


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
                      max_memory=max_memory(params["max_memory"]))


def measure_loaded(params: dict[str, Any], loaded: LoadedModel, prompts: Sequence[str],
                   ) -> ModelRun:
    """Measure an already loaded model: seed-invariance checked entropies, metrics, CI."""
    texts = format_prompts(loaded.tokenizer, prompts, params["use_chat_template"])
    sanity = sanity_check(loaded.model, loaded.tokenizer) if params.get("sanity_check") else None
    if sanity is not None and not sanity["ok"]:
        raise RuntimeError(f"sanity check failed for {loaded.name}: {sanity}")
    start = time.perf_counter()
    per_prompt, outcome = seed_invariance(
        lambda _seed: measure_entropies(loaded.model, loaded.tokenizer, texts,
                                        mode=params["entropy_mode"],
                                        max_length=params["max_length"]),
        seeds=params["seeds"])
    measured = time.perf_counter() - start
    boot = params["bootstrap"]
    si = bootstrap_si(per_prompt, n_boot=boot["n"], seed=boot["seed"], ci=boot["ci"])
    return ModelRun(loaded.name, model_record(loaded), per_prompt,
                    specialization_metrics(per_prompt.mean(axis=0)), outcome,
                    (si["low"], si["high"]), sanity, {"measure_s": measured})


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


def compare_pair(params: dict[str, Any], base: ModelRun, instruct: ModelRun) -> dict[str, Any]:
    """Deltas (instruct - base) of the specialization metrics, with a paired bootstrap of dSI."""
    keys = ("specialization_index", "mean_head_correlation", "mean_head_variance",
            "effective_ratio", "early_variance", "middle_variance", "late_variance")
    boot = params["bootstrap"]
    dsi = bootstrap_delta_si(base.per_prompt, instruct.per_prompt, n_boot=boot["n"],
                             seed=boot["seed"], ci=boot["ci"])
    delta = {k: instruct.metrics[k] - base.metrics[k] for k in keys}
    delta["si_ci"] = [dsi["low"], dsi["high"]]
    delta["si_ci_excludes_zero"] = bool(dsi["excludes_zero"])
    return delta


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


def reference_pair(profile: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Base/instruct SI and correlation of another pair run, or its published claims."""
    fields = {
        "base_si": ("base", "specialization_index"),
        "instruct_si": ("instruct", "specialization_index"),
        "delta_si": ("delta", "specialization_index"),
        "base_corr": ("base", "mean_head_correlation"),
        "delta_corr": ("delta", "mean_head_correlation"),
        "verdict": ("verdict", "code"),
    }
    prefix = spec.get("claim")
    out: dict[str, Any] = {"run": spec["run"]}
    for key, path in fields.items():
        claim = f"{prefix}.{key}" if prefix and f"{prefix}.{key}" in CLAIMS_BY_ID else None
        try:
            ref = reference(profile, spec["run"], path, claim)
        except FileNotFoundError:
            out[key] = None  # neither the run nor a published number gives this field
            continue
        out[key] = ref.value
        out["source"] = ref.source
        out["published"] = ref.published
    if "source" not in out:
        raise FileNotFoundError(
            f"reference run results/{profile}/{spec['run']}.json does not exist and no published "
            f"claim backs it: run parameters/{profile}/{spec['run']}.yaml first"
        )
    return out


def matching_quantization(params: dict[str, Any], base: ModelRun) -> dict[str, Any]:
    """Parameters for the instruct model: the quantization the base model actually got."""
    used = {"none": "none", "8-bit": "8bit", "4-bit NF4": "4bit"}[base.record["quantization"]]
    return {**params, "quantization": used}


def describe_run(run: ModelRun) -> str:
    """One line: architecture, precision, SI with its interval, seed invariance, timings."""
    a = run.record["architecture"]
    lo, hi = run.si_ci
    return (f"{run.name}: {a['attention_kind']} {a['num_layers']} layers x {a['num_heads']} heads "
            f"({a['num_kv_heads']} kv), {run.record['dtype']}, quantization "
            f"{run.record['quantization']} | SI {run.metrics['specialization_index']:.4f} "
            f"[{lo:.4f}, {hi:.4f}] | {run.seed_invariance['outcome']}"
            + (f" | sanity {'passed' if run.sanity['ok'] else 'FAILED'}" if run.sanity else "")
            + " | load "
            f"{run.timings.get('load_s', 0):.1f} s, "
            f"measure {run.timings.get('measure_s', 0):.1f} s")


_PAIR_ROWS = (
    ("Specialization index", "specialization_index"),
    ("Mean head correlation", "mean_head_correlation"),
    ("Mean head variance", "mean_head_variance"),
    ("Effective head ratio", "effective_ratio"),
    ("Early-layer variance", "early_variance"),
    ("Middle-layer variance (L*)", "middle_variance"),
    ("Late-layer variance", "late_variance"),
)


def pair_table(base: ModelRun, instruct: ModelRun, delta: dict[str, Any]) -> pd.DataFrame:
    """Base, instruct and delta of each specialization metric (rounded for reading)."""
    def fmt(value: float, key: str, signed: bool) -> str:
        spec = ".3e" if "variance" in key else ".4f"
        text = format(float(value) + 0.0, ("+" if signed else "") + spec)
        return text.replace("-0.0000", "+0.0000") if signed else text

    rows = [(label, fmt(base.metrics[k], k, False), fmt(instruct.metrics[k], k, False),
             fmt(delta[k], k, True)) for label, k in _PAIR_ROWS]
    return pd.DataFrame(rows, columns=["metric", "base", "instruct", "delta"]).set_index("metric")


def group_table(groups: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Within/between KV-group variance and their ratio for base and instruct."""
    keys = ("within_group_variance", "between_group_variance", "within_between_ratio")
    return pd.DataFrame({k: [float(groups[m][k]) for m in groups] for k in keys},
                        index=list(groups)).round(6)


def comparison_table(mha: dict[str, Any], verdict: Any,
                     delta: dict[str, Any]) -> pd.DataFrame:
    """dSI, d correlation and verdict of the MHA reference next to this GQA run."""
    return pd.DataFrame({
        "MHA reference": [mha["delta_si"], mha["delta_corr"], mha["verdict"]],
        "GQA (this run)": [round(delta["specialization_index"], 4),
                           round(delta["mean_head_correlation"], 4), verdict.code],
    }, index=["dSI", "d correlation", "verdict"])


def ladder_row(entry: dict[str, Any], run: ModelRun) -> dict[str, Any]:
    """A model of the E08 ladder: its label, size, SI with interval, and descriptors."""
    a = run.record["architecture"]
    return {
        "display": entry.get("display", run.name), "name": run.name,
        "size_b": entry.get("size_b", run.record["parameters"] / 1e9),
        "si": run.metrics["specialization_index"], "si_ci": list(run.si_ci),
        "kind": a["attention_kind"], "rho_head": run.record["rho_head"],
        "rho_kv": run.record["rho_kv"], "sanity": run.sanity["label"] if run.sanity else None,
        "reference": False, "source": "this run",
    }


def ladder_references(profile: str, spec: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Reference rows for E08: the reference run's models, else its published fallback."""
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
            "source": f"results/{profile}/{run_name}.json",
        } for name, m in payload["models"].items()]
    published = spec.get("published")
    if not published:
        raise FileNotFoundError(
            f"reference run results/{profile}/{run_name}.json does not exist: run "
            f"parameters/{profile}/{run_name}.yaml first"
        )
    rows = []
    for entry in published:
        claim = CLAIMS_BY_ID[entry["claim"]]
        rows.append({
            "display": entry["display"], "name": claim.id, "size_b": entry["size_b"],
            "si": claim.value, "si_ci": None, "kind": entry["kind"], "rho_head": None,
            "rho_kv": None, "sanity": None, "reference": True,
            "source": f"published ({claim.source}); results/{profile}/{run_name}.json not made",
        })
    return rows


def ladder_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The ladder as a table sorted by size."""
    def fmt(x: Any, spec: str) -> str:
        return "-" if x is None else format(x, spec)

    ordered = sorted(rows, key=lambda r: r["size_b"])
    return pd.DataFrame({
        "model": [r["display"] for r in ordered],
        "size (B)": [fmt(r["size_b"], ".4g") for r in ordered],
        "kind": [r["kind"] for r in ordered],
        "SI": [fmt(r["si"], ".4f") for r in ordered],
        "95% CI": ["-" if not r["si_ci"] else f"[{r['si_ci'][0]:.3f}, {r['si_ci'][1]:.3f}]"
                   for r in ordered],
        "rho_head": [fmt(r["rho_head"], ".3f") for r in ordered],
        "rho_kv": [fmt(r["rho_kv"], ".3f") for r in ordered],
        "sanity": [r["sanity"] or "-" for r in ordered],
        "source": ["reference" if r["reference"] else "this run" for r in ordered],
    })
