"""Benchmark of the entropy measurement: `python -m lib.attention.bench [--quick]`.

1. kernel: the seeds' per-head scipy loop vs `prompt_entropies` on a Falcon-40B-sized stack
   (60 layers x 128 heads x 128 tokens, random causal softmax attention with right padding);
   times, speedup and max abs difference, for the masked and the padded mode.
2. forward: the streaming hooks' share of a forward pass (10 Standard prompts at 128 tokens).
3. memory: peak RSS above the loaded model, streaming vs holding the seeds' attention stack,
   each measured in a fresh subprocess, next to the analytic size of what is held.
4. rehearsal: the streaming measurement's time and peak RSS (above the loaded model) at
   Falcon-7B's and Falcon-40B's real depth and head counts (71 q / 1 kv over 32 layers, 128 q /
   8 kv over 60 layers), on their width-reduced random models (`random/...`, bfloat16), in each
   paper file's entropy mode, next to the size of one layer's attention and of the whole stack
   the seeds held (quick: 2 prompts at 32 tokens).

Prints a table and the results as one JSON line; `main()` returns them as a dict.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lib.attention import entropy as attention
from lib.attention.entropy import (
    MAX_LENGTH,
    backbone_of,
    forward_kwargs,
    measure_entropies,
    padding_state,
    prompt_entropies,
)
from lib.attention.prompts import load_prompts
from lib.bench import row
from lib.memory import PeakRSS
from lib.models import free_model, load_model
from lib.models.embedded import is_built
from lib.models.tiny import byte_tokenizer

EMBEDDED_NAME = "embedded/smollm2-135m-instruct"
SMOLLM2_SHAPE = {
    "num_hidden_layers": 30,
    "hidden_size": 576,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "intermediate_size": 1536,
    "vocab_size": 49152,
}
TINY_SHAPE = {
    "num_hidden_layers": 4,
    "hidden_size": 64,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
    "vocab_size": 300,
}
FULL = {"prompts": 2, "layers": 60, "heads": 128, "tokens": 128, "valid": (40, 90), "repeats": 6,
        "forward_prompts": 10, "rehearsal_prompts": 10, "rehearsal_tokens": MAX_LENGTH}
# (random model, entropy mode of its paper file): parameters/paper/E11_falcon-7b.yaml, -40b.yaml
REHEARSAL = (("random/tiiuae/falcon-7b", "masked"), ("random/tiiuae/falcon-40b", "padded"))
# the quick run's rehearsal: the same two Falcon code paths (MQA, and grouped kv) at tiny size
QUICK_REHEARSAL = (("tiny/falcon-mqa", "masked"), ("tiny/falcon-40b-style", "padded"))
QUICK = {"prompts": 1, "layers": 4, "heads": 32, "tokens": 128, "valid": (40,), "repeats": 3,
         "forward_prompts": 4, "rehearsal_prompts": 2, "rehearsal_tokens": 32,
         "rehearsal": QUICK_REHEARSAL}
MEMORY_VARIANTS = ("plain", "streaming", "stack")


# --------------------------------------------------------------------------- 1. kernel


def reference_prompt_entropies(
    patterns: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor | None] | None = None,
    mode: str = "masked",
) -> np.ndarray:
    """The seeds' loop (seed 000 masked, seed 002 padded, seed 003 unpadded), kept as reference."""
    from scipy.stats import entropy as scipy_entropy  # scipy: only the seeds' reference loop

    num_layers, num_heads = patterns[0].shape[:2]
    out = np.zeros((len(patterns), num_layers, num_heads))
    for p, attn in enumerate(patterns):
        mask = masks[p].bool() if mode == "masked" and masks is not None else None
        for layer in range(num_layers):
            for head in range(num_heads):
                matrix = attn[layer, head]
                if mask is not None:
                    valid = mask.nonzero(as_tuple=False).squeeze(-1)
                    if valid.numel() <= 1:
                        continue
                    matrix = matrix[valid][:, valid]
                weights = matrix.mean(dim=0).float().cpu().numpy()
                total = weights.sum()
                if total <= 0:
                    continue
                weights = weights / total
                weights = weights[weights > 0]
                if len(weights) > 1:
                    out[p, layer, head] = scipy_entropy(weights, base=2) / np.log2(len(weights))
    return out


def random_attention(
    layers: int, heads: int, tokens: int, valid: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Causal softmax attention [layers, heads, T, T] (float32) with padding keys masked."""
    mask = torch.zeros(tokens, dtype=torch.long)
    mask[:valid] = 1
    blocked = torch.ones(tokens, tokens, dtype=torch.bool).triu(1) | (mask == 0)[None, :]
    blocked[valid:, :valid] = False  # a padded query row still sees the valid keys (as Llama)
    logits = torch.randn(layers, heads, tokens, tokens, generator=generator).mul_(2.0)
    logits.masked_fill_(blocked, float("-inf"))
    return torch.softmax(logits, dim=-1), mask


def _best_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def bench_kernel(
    prompts: int, layers: int, heads: int, tokens: int, valid: Sequence[int], repeats: int = 1
) -> dict:
    """Seed loop vs vectorized entropies on random stacks, for the masked and padded modes."""
    generator = torch.Generator().manual_seed(0)
    lengths = [valid[p % len(valid)] for p in range(prompts)]
    data = [random_attention(layers, heads, tokens, n, generator) for n in lengths]
    patterns, masks = [d[0] for d in data], [d[1] for d in data]
    warm = ([patterns[0][:1, :1]], [masks[0]])
    out = {
        "shape": [prompts, layers, heads, tokens, tokens],
        "valid_tokens": lengths,
        "stack_mb": round(sum(p.numel() * p.element_size() for p in patterns) / 2**20, 1),
    }
    for mode in ("masked", "padded"):
        reference_prompt_entropies(*warm, mode)  # scipy's first call is slow; not counted
        prompt_entropies(*warm, mode)
        ref_s, ref = _best_time(lambda m=mode: reference_prompt_entropies(patterns, masks, m), 1)
        vec_s, vec = _best_time(lambda m=mode: prompt_entropies(patterns, masks, m), repeats)
        out[mode] = {
            "reference_s": ref_s,
            "vectorized_s": vec_s,
            "speedup": ref_s / vec_s,
            "max_abs_diff": float(np.abs(ref - vec).max()),
        }
    return out


# --------------------------------------------------------------------------- models


def toy_tokenizer():
    """The registry's byte-level tokenizer, one token per byte (ids fit a 300-token vocab)."""
    return byte_tokenizer("plain")


def llama_model(shape: dict, seed: int = 0) -> torch.nn.Module:
    """A randomly initialized Llama (eager attention, float32, eval) of the given shape."""
    from transformers import LlamaConfig, LlamaForCausalLM  # transformers: only a random model

    config = LlamaConfig(**shape, tie_word_embeddings=True, attn_implementation="eager")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    return model.eval()


def bench_model(quick: bool) -> tuple[torch.nn.Module, object, str]:
    """(model, tokenizer, description): the embedded SmolLM2 if its cache is built, else a
    random model of its shape (quick: a 4-layer toy)."""
    if quick:
        return llama_model(TINY_SHAPE), toy_tokenizer(), "random tiny Llama (4 layers, 8 heads)"
    try:
        if is_built(EMBEDDED_NAME):
            loaded = load_model(EMBEDDED_NAME, dtype="float32")
            return loaded.model, loaded.tokenizer, f"{EMBEDDED_NAME} (real weights, float32)"
    except Exception as error:  # the registry is optional here
        print(f"[bench] embedded model unavailable ({error!r}); using a random model")
    desc = "random SmolLM2-135M-shaped Llama (30 layers, 9 heads / 3 kv, float32; not built)"
    return llama_model(SMOLLM2_SHAPE), toy_tokenizer(), desc


def _tokenize(tokenizer, prompts: Sequence[str], device) -> dict:
    with padding_state(tokenizer, "right"):
        return tokenizer(
            list(prompts),
            return_tensors="pt",
            max_length=MAX_LENGTH,
            truncation=True,
            padding="max_length",
        ).to(device)


# --------------------------------------------------------------------------- 2. forward


def bench_forward(model, tokenizer, prompts: Sequence[str], repeats: int) -> dict:
    """Plain forward (no hooks) vs `measure_entropies` (hooks + tokenization).

    The two alternate in ABBA order (run-order effects of a few % cancel). The time spent
    inside the hooks' reductions is also measured directly, the low-noise estimate of the
    measurement's share of the forward pass.
    """
    backbone = backbone_of(model)
    inputs = _tokenize(tokenizer, prompts, model.device)
    kwargs = forward_kwargs(backbone)
    reduce_s = [0.0]
    original = attention._StreamingEntropy._reduce

    def timed_reduce(self, layer: int, weights: torch.Tensor) -> None:
        start = time.perf_counter()
        original(self, layer, weights)
        reduce_s[0] += time.perf_counter() - start

    def plain() -> None:
        with torch.no_grad():
            backbone(**inputs, **kwargs)

    def hooked() -> None:
        measure_entropies(model, tokenizer, prompts, mode="masked", progress=False)

    plain(), hooked()  # warm-up
    plain_s, hooked_s, inside_s = [], [], []
    attention._StreamingEntropy._reduce = timed_reduce
    try:
        for i in range(repeats):
            for which in ("plain", "hooked") if i % 2 == 0 else ("hooked", "plain"):
                reduce_s[0] = 0.0
                elapsed = _best_time(plain if which == "plain" else hooked, 1)[0]
                (plain_s if which == "plain" else hooked_s).append(elapsed)
                if which == "hooked":
                    inside_s.append(reduce_s[0])
    finally:
        attention._StreamingEntropy._reduce = original
    plain_med, hooked_med = statistics.median(plain_s), statistics.median(hooked_s)
    return {
        "prompts": len(prompts),
        "tokens": MAX_LENGTH,
        "repeats": repeats,
        "plain_s": plain_med,
        "hooked_s": hooked_med,
        "overhead": (hooked_med - plain_med) / plain_med,
        "overhead_min": (min(hooked_s) - min(plain_s)) / min(plain_s),
        "inside_hooks_s": statistics.median(inside_s),
        "hook_share": statistics.median(inside_s) / plain_med,
    }


# --------------------------------------------------------------------------- 3. memory


def memory_variant(variant: str, model, tokenizer, prompts: Sequence[str]) -> dict:
    """Peak RSS above the current RSS while running `variant` (plain | streaming | stack).

    A 2-token forward first pages in the weights (safetensors are mmapped lazily).
    """
    if variant not in MEMORY_VARIANTS:
        raise ValueError(f"unknown memory variant {variant!r}; use one of {MEMORY_VARIANTS}")
    backbone = backbone_of(model)
    kwargs = forward_kwargs(backbone)
    with torch.no_grad():  # page in lazily loaded (mmapped) weights: not the variant's memory
        backbone(**tokenizer("Hi", return_tensors="pt").to(model.device), **kwargs)
    held = 0
    with PeakRSS() as peak, torch.no_grad():
        if variant == "plain":
            backbone(**_tokenize(tokenizer, prompts, model.device), **kwargs)
        elif variant == "streaming":
            measure_entropies(model, tokenizer, prompts, mode="masked", progress=False)
        else:  # stack, the seeds: one prompt at a time, every layer's attention kept
            patterns, masks = [], []
            for prompt in prompts:
                inputs = _tokenize(tokenizer, [prompt], model.device)
                out = backbone(**inputs, **kwargs, output_attentions=True)
                patterns.append(torch.stack([a.squeeze(0) for a in out.attentions]).cpu())
                masks.append(inputs["attention_mask"][0].cpu())
                del out
            held = sum(p.numel() * p.element_size() for p in patterns)
            prompt_entropies(patterns, masks, "masked")
    return {"peak_mb": peak.mb, "held_mb": held / 2**20, "exact_peak": peak.exact}


def _attention_bytes(model, prompts: int, layers: bool) -> int:
    config = model.config
    n = prompts * config.num_attention_heads * MAX_LENGTH * MAX_LENGTH * 4
    return n * (config.num_hidden_layers if layers else 1)


def bench_memory(quick: bool, model, tokenizer, prompts: Sequence[str]) -> dict:
    """Each variant in a fresh subprocess (quick: in this process), plus analytic sizes."""
    out = {
        "subprocess": not quick,
        "analytic_mb": {
            "stack_fp32": _attention_bytes(model, len(prompts), True) / 2**20,
            "one_layer_fp32": _attention_bytes(model, len(prompts), False) / 2**20,
            "falcon40b_stack_bf16": 10 * 60 * 128 * 128 * 128 * 2 / 2**20,
            "falcon40b_one_layer_bf16_plus_fp32": 10 * 128 * 128 * 128 * 6 / 2**20,
        },
    }
    for variant in MEMORY_VARIANTS:
        if quick:
            out[variant] = memory_variant(variant, model, tokenizer, prompts)
            continue
        cmd = [sys.executable, "-m", "lib.attention.bench", "--memory-variant", variant]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"memory variant {variant} failed:\n{done.stderr[-2000:]}")
        out[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


# --------------------------------------------------------------------------- 4. rehearsal


def bench_rehearsal(prompts: Sequence[str], tokens: int,
                    models: Sequence[tuple[str, str]] = REHEARSAL) -> list[dict]:
    """Time and peak RSS of `measure_entropies` on each (model, entropy mode) of `models`
    (bfloat16), after a short warm-up pass; the attention sizes are for bfloat16 weights."""
    rows = []
    for name, mode in models:
        start = time.perf_counter()
        loaded = load_model(name, dtype="bfloat16")
        load_s = time.perf_counter() - start
        info, model, tokenizer = loaded.info, loaded.model, loaded.tokenizer
        # warm-up: first-call allocations and kernel setup
        measure_entropies(model, tokenizer, prompts[:1], mode=mode, max_length=16, progress=False)
        with PeakRSS() as peak:
            start = time.perf_counter()
            entropies = measure_entropies(model, tokenizer, prompts, mode=mode, max_length=tokens,
                                          progress=False)
            seconds = time.perf_counter() - start
        del model, tokenizer
        batch = 1 if mode == "unpadded" else len(prompts)
        one_layer = batch * info.num_heads * tokens * tokens * 2 / 2**20
        rows.append({
            "model": name, "mode": mode, "layers": info.num_layers, "heads": info.num_heads,
            "kv_heads": info.num_kv_heads, "head_dim": info.head_dim,
            "parameters": int(sum(p.numel() for p in loaded.model.parameters())),
            "reduction": loaded.reduction, "prompts": len(prompts), "tokens": tokens,
            "shape": list(entropies.shape), "load_s": load_s, "measure_s": seconds,
            "peak_mb": peak.mb, "exact_peak": peak.exact, "one_layer_bf16_mb": one_layer,
            "stack_bf16_mb": one_layer * info.num_layers,
        })
        free_model(loaded)
    return rows


# --------------------------------------------------------------------------- report


def _table(result: dict) -> str:
    k, f, m = result["kernel"], result["forward"], result["memory"]
    p, layers, heads, t, _ = k["shape"]
    lines = [
        f"1. kernel: {p} prompt(s) x {layers} layers x {heads} heads x {t}x{t} float32 "
        f"({k['stack_mb']} MB), valid tokens {k['valid_tokens']} of {t}",
        f"   {'mode':<8} {'seed loop s':>12} {'vectorized s':>13} {'speedup':>9} "
        f"{'max |diff|':>11}",
    ]
    for mode in ("masked", "padded"):
        r = k[mode]
        lines.append(
            f"   {mode:<8} {r['reference_s']:>12.3f} {r['vectorized_s']:>13.4f} "
            f"{r['speedup']:>8.1f}x {r['max_abs_diff']:>11.1e}"
        )
    lines += [
        f"2. forward: {result['model']}",
        f"   {f['prompts']} prompts x {f['tokens']} tokens, median of {f['repeats']} (ABBA): "
        f"plain {f['plain_s']:.3f} s, with entropy hooks {f['hooked_s']:.3f} s -> overhead "
        f"{100 * f['overhead']:+.1f}% (best-of: {100 * f['overhead_min']:+.1f}%)",
        f"   time inside the hooks {1000 * f['inside_hooks_s']:.1f} ms = "
        f"{100 * f['hook_share']:.2f}% of the plain forward",
        "3. memory above the loaded model (peak RSS"
        + (", fresh subprocess each" if m["subprocess"] else ", in-process")
        + f"; exact peak reset: {m['plain']['exact_peak']}):",
    ]
    a = m["analytic_mb"]
    for variant, note in (
        ("plain", "forward only, no measurement"),
        ("streaming", f"hooks; analytic one layer {a['one_layer_fp32']:.1f} MB"),
        ("stack", f"seeds; analytic stack {a['stack_fp32']:.1f} MB"),
    ):
        lines.append(f"   {variant:<10} {m[variant]['peak_mb']:>8.1f} MB  ({note})")
    lines.append(
        f"   Falcon-40B protocol (10 prompts, bf16): stack {a['falcon40b_stack_bf16']:.0f} MB held"
        f" vs one layer + fp32 copy {a['falcon40b_one_layer_bf16_plus_fp32']:.0f} MB transient"
    )
    lines.append("4. rehearsal at real shape (random init, width reduced, bfloat16; peak RSS above "
                 "the loaded model):")
    for r in result["rehearsal"]:
        lines.append(
            f"   {r['model']:<26} {r['layers']} layers x {r['heads']} q / {r['kv_heads']} kv "
            f"(head_dim {r['head_dim']}, {r['parameters'] / 1e6:.0f} M), {r['prompts']} prompts x "
            f"{r['tokens']} tokens {r['mode']}: {r['measure_s']:.2f} s, peak "
            f"{r['peak_mb']:.1f} MB (one layer's attention {r['one_layer_bf16_mb']:.1f} MB, "
            f"the seeds' stack {r['stack_bf16_mb']:.1f} MB)")
    return "\n".join(lines)


def run(quick: bool = False) -> dict:
    """Run the four benchmarks; return the results."""
    size = QUICK if quick else FULL
    start = time.perf_counter()
    kernel = bench_kernel(
        size["prompts"],
        size["layers"],
        size["heads"],
        size["tokens"],
        size["valid"],
        repeats=size["repeats"],
    )
    model, tokenizer, description = bench_model(quick)
    prompts = load_prompts()[: size["forward_prompts"]]
    forward = bench_forward(model, tokenizer, prompts, size["repeats"])
    memory = bench_memory(quick, model, tokenizer, prompts)
    del model
    rehearsal = bench_rehearsal(load_prompts()[: size["rehearsal_prompts"]],
                                size["rehearsal_tokens"], size.get("rehearsal", REHEARSAL))
    return {
        "quick": quick,
        "kernel": kernel,
        "model": description,
        "forward": forward,
        "memory": memory,
        "rehearsal": rehearsal,
        "total_s": time.perf_counter() - start,
    }


def main(argv: Sequence[str] | None = None) -> dict:
    """Command line entry point; prints the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (for the tests)")
    parser.add_argument("--memory-variant", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_variant:  # child process of bench_memory
        model, tokenizer, _ = bench_model(quick=False)
        result = memory_variant(args.memory_variant, model, tokenizer, load_prompts())
        print(json.dumps(result))
        return result
    result = run(args.quick)
    print(_table(result))
    print(f"total {result['total_s']:.1f} s")
    print(json.dumps(result, default=float))
    return result


if __name__ == "__main__":
    main()


ATTENTION_SPEEDUP = 10.0  # the attention kernel goal (its test's former threshold)


ATTENTION_DIFF = 1e-6


HOOK_SHARE = 0.10  # the entropy hooks' share of a plain forward pass


def attention_rows(quick: bool, result: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Kernel (masked, padded), forward overhead and memory rows from `lib.attention.bench`
    (run here unless its `result` is given)."""
    result = run(quick) if result is None else result
    k, f, m = result["kernel"], result["forward"], result["memory"]
    shape = "x".join(str(x) for x in k["shape"])
    rows = [
        row("attention", f"entropy kernel, {mode}, [{shape}]", k[mode]["vectorized_s"],
            k[mode]["reference_s"], "s", f">= {ATTENTION_SPEEDUP:.0f}x, |diff| <= 1e-6",
            k[mode]["speedup"] >= ATTENTION_SPEEDUP
            and k[mode]["max_abs_diff"] <= ATTENTION_DIFF,
            k[mode]["max_abs_diff"], "reference: the seeds' per-head scipy loop")
        for mode in ("masked", "padded")
    ]
    rows.append(row("attention", f"forward with entropy hooks, {f['prompts']} prompts",
                    f["hooked_s"], f["plain_s"], "s",
                    f"hooks < {HOOK_SHARE:.0%} of the forward",
                    f["hook_share"] < HOOK_SHARE, None,
                    f"{result['model']}; reference: plain forward; time inside the hooks "
                    f"{f['hook_share']:.1%} of it; median of {f['repeats']} (ABBA)"))
    rows.append(row("attention", "peak memory, streaming vs the seeds' stack",
                    m["streaming"]["peak_mb"], m["stack"]["peak_mb"], "MB",
                    "streaming < stack", m["streaming"]["peak_mb"] < m["stack"]["peak_mb"],
                    None, f"above the loaded model; exact peak reset: "
                    f"{m['stack']['exact_peak']}; stack held {m['stack']['held_mb']:.1f} MB"))
    for r in result["rehearsal"]:  # the streaming measurement at the paper models' head counts
        rows.append(row("attention", f"rehearsal {r['model']} ({r['layers']}L {r['heads']}q/"
                        f"{r['kv_heads']}kv, {r['mode']}): streaming peak vs the seeds' stack",
                        r["peak_mb"], r["stack_bf16_mb"], "MB", "streaming peak < stack",
                        r["peak_mb"] < r["stack_bf16_mb"], None,
                        f"{r['measure_s']:.2f} s for {r['prompts']} prompts x {r['tokens']} "
                        f"tokens; stack analytic (bf16); reduced: {r['reduction']}"))
    return rows
