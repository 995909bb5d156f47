"""Sanity checks before a measurement: seed 002's attention check and E08's dtype fallback.

`sanity_check` runs "What is 2+2?" padded to 32 tokens and tests the first layer's attention
(|A| mean > 0.001, std > 0.01, heads 1..4 not all identical to head 0 within atol 1e-4, at
least one head with a defined entropy, everything finite). `first_passing_variant` loads a model
in bf16, fp16, fp32 in turn and keeps the first whose baseline SI on one unpadded prompt is
>= 0.05 (seed 003).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from lib.attention.entropy import (
    EAGER_HINT,
    MAX_LENGTH,
    NAN_HINT,
    NonFiniteAttentionError,
    PromptTooShortError,
    backbone_of,
    column_sums,
    entropy_from_sums,
    eval_mode,
    forward_kwargs,
    measure_entropies,
    padding_state,
)
from lib.attention.specialization import head_correlations, specialization_index

SANITY_PROMPT = "What is 2+2?"
SANITY_MAX_LENGTH = 32
MIN_ABS_MEAN = 0.001  # |A| mean must exceed this
MIN_STD = 0.01  # std of A must exceed this
IDENTICAL_ATOL = 1e-4  # head 0 vs heads 1..4
COMPARED_HEADS = 5  # heads 0..4

SI_THRESHOLD = 0.05  # E08 baseline SI on prompt 0 must be >= this
MIN_TOKENS = 5  # E08: the test prompt must have more than 5 tokens

DTYPE_LABELS = {"bfloat16": "raw+bf16", "float16": "raw+fp16", "float32": "raw+fp32"}
SANITY_DTYPES: tuple[str, ...] = tuple(DTYPE_LABELS)  # E08's order: bf16 -> fp16 -> fp32
SANITY_VARIANTS: tuple[dict[str, Any], ...] = tuple(
    {"label": label, "dtype": dtype, "use_chat_template": False}
    for dtype, label in DTYPE_LABELS.items()
)
# what another dtype can cure: NaN/Inf attention and running out of memory (a low baseline SI is
# a failed attempt too); anything else (unknown model, no network, no weights) fails at once
DTYPE_DEPENDENT_ERRORS: tuple[type[BaseException], ...] = (
    NonFiniteAttentionError, torch.cuda.OutOfMemoryError, MemoryError,
)


class SanityError(RuntimeError):
    """No sanity variant produced usable attention."""


def first_layer_attention(
    model: torch.nn.Module, tokenizer, prompt: str, max_length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Layer-0 attention [heads, T, T] (float32) and mask [T] of `prompt` padded to max_length."""
    device = getattr(model, "device", None) or next(model.parameters()).device
    backbone = backbone_of(model)
    with padding_state(tokenizer, "right"), eval_mode(model), torch.no_grad():
        inputs = tokenizer(
            prompt,
            return_tensors="pt",
            max_length=max_length,
            truncation=True,
            padding="max_length",
        ).to(device)
        out = backbone(**inputs, **forward_kwargs(backbone), output_attentions=True)
    if not out.attentions or out.attentions[0] is None:
        raise ValueError(f"the model returned no attention weights; {EAGER_HINT}")
    return out.attentions[0][0].float().cpu(), inputs["attention_mask"][0].cpu()


def sanity_check(
    model: torch.nn.Module,
    tokenizer,
    prompt: str = SANITY_PROMPT,
    max_length: int = SANITY_MAX_LENGTH,
) -> dict:
    """Seed 002's check of the first layer's attention; 'ok' plus the numbers behind it.

    Never raises for bad attention: NaN/Inf gives ok=False with a reason.
    """
    attn, _ = first_layer_attention(model, tokenizer, prompt, max_length)
    num_heads = attn.shape[0]
    finite = bool(torch.isfinite(attn).all())
    abs_mean = float(attn.abs().mean())
    std = float(attn.double().std(correction=0))
    last = min(num_heads, COMPARED_HEADS)
    heads_identical = bool(
        torch.isclose(attn[1:last], attn[:1], rtol=1e-5, atol=IDENTICAL_ATOL).all()
    )
    sums = column_sums(attn)
    defined = ((sums > 0).sum(dim=-1) > 1) & torch.isfinite(sums).all(dim=-1)
    entropies = entropy_from_sums(torch.nan_to_num(sums, nan=0.0, posinf=0.0, neginf=0.0))
    entropies = entropies[defined].numpy()
    # seed 002's baseline: correlation of the heads' mean attention received per token
    profiles = sums.numpy() / attn.shape[-2]  # [heads, T]
    corr = head_correlations(profiles.T) if finite else np.full((num_heads, num_heads), np.nan)
    upper = corr[np.triu_indices(num_heads, k=1)]
    baseline_corr = float(np.nanmean(upper)) if np.isfinite(upper).any() else float("nan")
    checks = {
        "finite": finite,
        "abs_mean_ok": abs_mean > MIN_ABS_MEAN,
        "std_ok": std > MIN_STD,
        "heads_differ": not heads_identical,
        "entropies_defined": entropies.size > 0,
    }
    ok = all(checks.values())
    failed = [name for name, passed in checks.items() if not passed]
    reason = "" if ok else "failed: " + ", ".join(failed)
    if not finite:
        reason += f" (attention contains NaN/Inf; {NAN_HINT})"
    return {
        "ok": ok,
        "reason": reason,
        "checks": checks,
        "num_heads": int(num_heads),
        "attn_abs_mean": abs_mean,
        "attn_std": std,
        "heads_identical": heads_identical,
        "entropy_range": [float(entropies.min()), float(entropies.max())]
        if entropies.size
        else [0.0, 0.0],
        "baseline_correlation": baseline_corr,
        "baseline_si": 1.0 - baseline_corr,
    }


def _variant_attempt(model, tokenizer, prompt: str, max_length: int, threshold: float) -> dict:
    n_tokens = len(tokenizer(prompt, max_length=max_length, truncation=True)["input_ids"])
    if n_tokens <= MIN_TOKENS:  # the same for every dtype: no retry
        raise PromptTooShortError(
            f"E08's sanity prompt {prompt!r} has {n_tokens} tokens; it needs more than "
            f"{MIN_TOKENS}: use a longer first prompt (or a larger max_length)"
        )
    try:
        E = measure_entropies(
            model, tokenizer, [prompt], mode="unpadded", max_length=max_length, progress=False
        )[0]
    except DTYPE_DEPENDENT_ERRORS as error:
        return {"ok": False, "reason": _reason(error), "valid_len": n_tokens}
    si = specialization_index(E)
    return {
        "ok": bool(si >= threshold),
        "reason": "" if si >= threshold else f"baseline SI {si:.4f} < {threshold}",
        "valid_len": n_tokens,
        "baseline_si": float(si),
        "mean_corr": float(1.0 - si),
        "entropy_range": [float(E.min()), float(E.max())],
        "num_layers": int(E.shape[0]),
        "num_heads": int(E.shape[1]),
    }


def _reason(error: BaseException) -> str:
    if isinstance(error, NonFiniteAttentionError):
        return str(error)
    return f"out of memory ({type(error).__name__}: {error})"


def _variants(variants: Sequence[str | dict[str, Any]] | None) -> list[dict[str, Any]]:
    if variants is None:
        return list(SANITY_VARIANTS)
    out = []
    for v in variants:
        if isinstance(v, str):
            v = {"label": DTYPE_LABELS.get(v, f"raw+{v}"), "dtype": v, "use_chat_template": False}
        out.append(dict(v))
    if not out:
        raise ValueError("no sanity variants to try")
    return out


def first_passing_variant(
    load: Callable[[str], tuple[Any, Any]],
    prompt: str,
    *,
    max_length: int = MAX_LENGTH,
    threshold: float = SI_THRESHOLD,
    variants: Sequence[str | dict[str, Any]] | None = None,
) -> dict:
    """Try `SANITY_VARIANTS` in order; return the first with baseline SI >= `threshold`.

    `load(dtype_name)` ("bfloat16", "float16", "float32") returns (model, tokenizer);
    `variants` (dtype names or dicts like SANITY_VARIANTS' entries) overrides the order. The
    baseline SI is the SI of the [layers, heads] entropy of `prompt` alone, unpadded. Returns the
    passing variant's label, dtype, numbers and `attempts` (every variant tried, with reasons);
    raises SanityError if none passes. Only what another dtype can cure moves on to the next
    variant (`DTYPE_DEPENDENT_ERRORS`, a low baseline SI); any other error (an unknown or
    unavailable model, a too short prompt) propagates at once. Models are dropped after each
    attempt.
    """
    attempts = []
    for variant in _variants(variants):
        try:
            model, tokenizer = load(variant["dtype"])
        except DTYPE_DEPENDENT_ERRORS as error:
            attempt = {"ok": False, "reason": f"load failed: {_reason(error)}"}
        else:
            attempt = _variant_attempt(model, tokenizer, prompt, max_length, threshold)
            del model, tokenizer
            gc.collect()
        attempt = {"label": variant["label"], "dtype": variant["dtype"], **attempt}
        attempts.append(attempt)
        if attempt["ok"]:
            return {**attempt, "attempts": attempts}
    summary = "; ".join(f"{a['label']}: {a['reason']}" for a in attempts)
    raise SanityError(f"no sanity variant passed ({summary})")
