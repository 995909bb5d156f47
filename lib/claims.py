"""The one registry of published numbers (SPEC §2), and how a notebook looks up a reference.

Each claim names the results file and field that reproduce it, the parameter file and the
hardware that run needs, and a tolerance. Notebooks never type a reference number: they ask
`reference()`, which reads the run that produced it and falls back to the published value,
labelled as such, when that run has not been made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lib.results import find_result

GPU_HUB = "GPU machine with network access to the Hugging Face hub"
SI_TOL = 0.005


@dataclass(frozen=True)
class Claim:
    """A published number and where the repository regenerates it."""

    id: str
    statement: str
    value: float | str
    source: str
    result: str | None  # "<profile>/<experiment>_<run>" under results/
    field: tuple[str, ...] | None
    parameters: str | None
    hardware: str = GPU_HUB
    tolerance: float | None = SI_TOL  # absolute; None for an exact (string) match


def _e11(run: str, params: str, rows: list[tuple[str, str, float | str, tuple[str, ...]]],
         source: str) -> tuple[Claim, ...]:
    return tuple(
        Claim(cid, statement, value, source, f"paper/{run}", field, params,
              tolerance=None if isinstance(value, str) else SI_TOL)
        for cid, statement, value, field in rows
    )


CLAIMS: tuple[Claim, ...] = (
    _e11("E11_mistral-7b", "parameters/paper/E11_mistral-7b.yaml", [
        ("mistral7b.base_si", "Mistral-7B-v0.3 base SI", 0.7492,
         ("base", "specialization_index")),
        ("mistral7b.instruct_si", "Mistral-7B-Instruct-v0.3 SI", 0.7806,
         ("instruct", "specialization_index")),
        ("mistral7b.delta_si", "Mistral dSI (instruct - base)", 0.0314,
         ("delta", "specialization_index")),
        ("mistral7b.base_corr", "Mistral base mean head correlation", 0.2508,
         ("base", "mean_head_correlation")),
        ("mistral7b.instruct_corr", "Mistral instruct mean head correlation", 0.2194,
         ("instruct", "mean_head_correlation")),
        ("mistral7b.delta_corr", "Mistral d correlation", -0.0314,
         ("delta", "mean_head_correlation")),
        ("mistral7b.verdict", "Mistral territorial-collapse verdict", "C_REFUTED",
         ("verdict", "code")),
    ], "seed 001 E11_MHA_REFERENCE")
    + _e11("E11_falcon-7b", "parameters/paper/E11_falcon-7b.yaml", [
        ("falcon7b.base_si", "Falcon-7B base SI", 0.1174, ("base", "specialization_index")),
        ("falcon7b.instruct_si", "Falcon-7B-instruct SI", 0.1312,
         ("instruct", "specialization_index")),
        ("falcon7b.delta_si", "Falcon-7B dSI", 0.0138, ("delta", "specialization_index")),
        ("falcon7b.base_corr", "Falcon-7B base mean head correlation", 0.8826,
         ("base", "mean_head_correlation")),
        ("falcon7b.pattern", "Falcon-7B is pre-collapsed", "PRE-COLLAPSED",
         ("pre_collapsed", "code")),
    ], "seed 002 FALCON_7B_REFERENCE")
    + (
        Claim("phi3mini.si", "Phi-3-mini (3.8B, MHA) SI", 0.329, "seed 003 PHI3_REFERENCE",
              "paper/E08_phi3-references",
              ("models", "microsoft/Phi-3-mini-4k-instruct", "specialization_index"),
              "parameters/paper/E08_phi3-references.yaml"),
        Claim("phi3medium.si", "Phi-3-medium (14B, GQA) SI", 0.334, "seed 003 PHI3_REFERENCE",
              "paper/E08_phi3-references",
              ("models", "microsoft/Phi-3-medium-4k-instruct", "specialization_index"),
              "parameters/paper/E08_phi3-references.yaml"),
    )
    + tuple(
        Claim(cid, statement, value, source, None, None, None,
              hardware="terrain/modulator notebooks (not yet in the repository); " + GPU_HUB,
              tolerance=tol)
        for cid, statement, value, source, tol in [
            ("t5small.sparsity_q", "T5-small Q sparsity (share |w| < 0.1)", 0.937,
             "seed 004 section 5", 0.001),
            ("t5small.sparsity_k", "T5-small K sparsity", 0.192, "seed 004 section 5", 0.001),
            ("t5small.sparsity_v", "T5-small V sparsity", 0.121, "seed 004 section 5", 0.001),
            ("t5base.sparsity_q", "T5-base Q sparsity", 0.994, "seed 004 section 5", 0.001),
            ("t5base.sparsity_k", "T5-base K sparsity", 0.300, "seed 004 section 5", 0.001),
            ("t5base.sparsity_v", "T5-base V sparsity", 0.162, "seed 004 section 5", 0.001),
            ("bert.sparsity_q", "BERT-large Q sparsity", 0.991, "seed 004 section 6", 0.001),
            ("dinov2.sparsity_q", "DINOv2-large Q sparsity", 1.000, "seed 004 section 6", 0.001),
            ("t5xxl.sparsity_q", "T5-v1.1-XXL Q sparsity", 1.000, "seed 004 summary", 0.001),
            ("t5xxl.cross_qk", "T5-v1.1-XXL cross-attention QK manifold (all 24 layers)", 0.500,
             "seed 004 section 6", 0.001),
            ("position_bias.mixed_heads", "decoder position-bias mixed heads (T5-small, XXL)",
             0.0, "seed 004 summary", 0.0),
            ("qwen08.pr_dim", "Qwen3.5-0.8B participation ratio / dim", 0.535,
             "seed 004 section 1", 0.001),
            ("qwen08.volume_cv", "Qwen3.5-0.8B pentachoron volume CV", 0.208,
             "seed 004 section 1", 0.001),
            ("qwen08.volume_ratio", "Qwen3.5-0.8B embed/random volume ratio", 0.984,
             "seed 004 section 1", 0.001),
            ("qwen08.digit_corr", "Qwen3.5-0.8B digit |i-j| correlation", -0.862,
             "seed 004 section 1", 0.001),
            ("qwen08.mean_cos", "Qwen3.5-0.8B mean pairwise cosine", 0.195,
             "seed 004 section 1", 0.001),
            ("attention.cross_layer_corr", "cross-layer attention weight correlation", 0.0,
             "seed 004 summary", 0.005),
            ("t5small.wordnet_lemmas", "T5-small x WordNet single-token lemmas", 9362.0,
             "seed 004 section 2", 0.0),
            ("modulator.a001_pearson", "modulator alpha 0.01 Pearson", 0.099,
             "seed 004 section 10", 0.001),
            ("modulator.a001_gradient", "modulator alpha 0.01 gradient", 0.022,
             "seed 004 section 10", 0.001),
            ("modulator.a001_preservation", "modulator alpha 0.01 preservation", 0.9998,
             "seed 004 section 10", 0.0001),
            ("modulator.a050_pearson", "modulator alpha 0.50 Pearson", 0.185,
             "seed 004 section 10", 0.001),
            ("modulator.a050_gradient", "modulator alpha 0.50 gradient", 0.076,
             "seed 004 section 10", 0.001),
            ("modulator.a050_preservation", "modulator alpha 0.50 preservation", 0.176,
             "seed 004 section 10", 0.001),
            ("modulator.best_pearson_gain", "best modulator Pearson gain vs unmodulated", 1.52,
             "seed 004 summary", 0.01),
            ("modulator.best_spearman_gain", "best modulator Spearman gain vs unmodulated", 1.89,
             "seed 004 summary", 0.01),
            ("modulator.phase_boundary", "phase boundary constant alpha", 0.29154,
             "seed 004 section 10", 0.00001),
        ]
    )
)

CLAIMS_BY_ID: dict[str, Claim] = {c.id: c for c in CLAIMS}

# SPEC §3: where the seeds disagree with themselves, and what the repository takes.
RESOLUTIONS: tuple[dict[str, str], ...] = (
    {"topic": "Mistral dSI",
     "values": "+0.0420 (seed 000 text and comparison block) vs +0.0314 (seed 001)",
     "taken": "+0.0314",
     "why": "it is the difference of the published SIs (0.7806 - 0.7492); +0.0420 matches no "
            "pair of published numbers. A regenerated Mistral run replaces both."},
    {"topic": "Falcon-7B precision",
     "values": "bf16 full precision (seed 000) vs 8-bit (seed 002's reference)",
     "taken": "bfloat16, no quantization (parameters/paper/E11_falcon-7b.yaml)",
     "why": "seed 000 is the run that produced the Falcon-7B numbers and loads bf16 without a "
            "quantization config; every result now records the quantization actually used."},
    {"topic": "masked vs padded entropy",
     "values": "'E11-v3 masked' claimed everywhere; seeds 001 and 002 compute padded",
     "taken": "each parameter file states its mode: masked for E11 Falcon-7B/Mistral, padded for "
              "E11-T and Falcon-40B, unpadded for E08",
     "why": "reproduces what each seed computed; the results file records the mode."},
    {"topic": "three-seed loop",
     "values": "SI +- std over seeds 42/123/456 (std always 0); seed 002 runs once",
     "taken": "run seeds 42 and 123, a third only if they differ; report seed invariance",
     "why": "eval-mode inference is deterministic; uncertainty comes from a bootstrap over "
            "prompts instead."},
    {"topic": "phase boundary constant",
     "values": "0.29154 vs 0.29514 ('phil_constant') in seed 004",
     "taken": "0.29154",
     "why": "the value used in section 10's fixed-alpha runs and the summary."},
    {"topic": "hard-coded references",
     "values": "each notebook types its reference numbers",
     "taken": "references read from the producing run's results file, else this registry",
     "why": "one source of truth; a regenerated reference propagates."},
    {"topic": "Mistral as the 'MHA' reference",
     "values": "the seeds call Mistral-7B-v0.3 MHA; its config has 32 query / 8 kv heads",
     "taken": "attention kind is read from each model's config and recorded",
     "why": "the label is the seeds'; the regenerated result shows what the config says."},
    {"topic": "Falcon-40B as 'MQA'",
     "values": "seed 002 validates 'MQA' on Falcon-40B; its config (new decoder architecture) has "
               "128 query / 8 kv heads",
     "taken": "attention kind read from the config (GQA for Falcon-40B, MQA for Falcon-7B)",
     "why": "Falcon-7B's multi_query has one kv head; Falcon-40B's grouped kv heads are GQA. The "
            "cross-scale verdict keeps the seed's criteria and names."},
)


@dataclass(frozen=True)
class Reference:
    """A reference number and where it came from."""

    value: Any
    source: str  # "results/<profile>/<name>.json" or "published (<seed source>)"
    published: bool


def lookup(payload: dict[str, Any], field: tuple[str, ...]) -> Any:
    """Follow `field` through nested dicts; KeyError names the missing step."""
    node: Any = payload
    for step in field:
        if not isinstance(node, dict) or step not in node:
            raise KeyError(f"field {'/'.join(field)} missing at {step!r}")
        node = node[step]
    return node


def reference(profile: str, run: str, field: tuple[str, ...], claim: str | None) -> Reference:
    """The value of `field` in run `run` of `profile`; else the published claim, labelled."""
    payload = find_result(profile, run)
    if payload is not None:
        return Reference(lookup(payload, field), f"results/{profile}/{run}.json", False)
    if claim is None:
        raise FileNotFoundError(
            f"results/{profile}/{run}.json does not exist and no published claim backs it: run "
            f"the notebook with parameters/{profile}/{run}.yaml first"
        )
    c = CLAIMS_BY_ID[claim]
    return Reference(c.value, f"published ({c.source})", True)
