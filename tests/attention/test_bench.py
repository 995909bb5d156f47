"""A quick run of the benchmark (lib.attention.bench)."""

from __future__ import annotations

import numpy as np
import torch

from lib.attention.bench import (
    ATTENTION_DIFF,
    QUICK,
    QUICK_REHEARSAL,
    attention_rows,
    main,
    random_attention,
    reference_prompt_entropies,
)
from lib.attention.entropy import prompt_entropies
from lib.models.architecture import architecture_info
from lib.models.tiny import tiny_config


def test_reference_loop_matches_vectorized():
    g = torch.Generator().manual_seed(1)
    data = [random_attention(3, 4, 20, n, g) for n in (20, 7, 2)]
    patterns, masks = [d[0] for d in data], [d[1] for d in data]
    for mode in ("masked", "padded"):
        np.testing.assert_allclose(
            reference_prompt_entropies(patterns, masks, mode),
            prompt_entropies(patterns, masks, mode),
            atol=1e-6,
            rtol=0,
        )


def test_quick_bench(capsys):
    result = main(["--quick"])
    out = capsys.readouterr().out
    assert "speedup" in out and "overhead" in out and "memory" in out
    for mode in ("masked", "padded"):  # speed is not asserted: the machine is shared
        kernel = result["kernel"][mode]
        assert kernel["speedup"] == kernel["reference_s"] / kernel["vectorized_s"] > 0
        assert kernel["max_abs_diff"] <= 1e-6
    forward = result["forward"]
    assert forward["plain_s"] > 0 and forward["hooked_s"] > 0
    assert forward["prompts"] == QUICK["forward_prompts"]
    memory = result["memory"]
    assert memory["analytic_mb"]["stack_fp32"] == 4 * memory["analytic_mb"]["one_layer_fp32"]
    # 4 layers x 8 heads x 128 x 128 float32 per prompt (the tiny Llama)
    prompts = QUICK["forward_prompts"]
    assert memory["analytic_mb"]["stack_fp32"] == prompts * 4 * 8 * 128 * 128 * 4 / 2**20
    assert memory["stack"]["held_mb"] == memory["analytic_mb"]["stack_fp32"]
    if memory["stack"]["exact_peak"]:  # peak RSS reset available (Linux /proc/self/clear_refs)
        assert memory["stack"]["peak_mb"] >= memory["stack"]["held_mb"] * 0.9
    assert "4. rehearsal at real shape" in out
    # the quick rehearsal runs the two Falcon code paths (MQA; grouped kv) on the tiny models:
    # each row reports that model's own layers and heads, and one entropy per (prompt, layer, head)
    assert [(r["model"], r["mode"]) for r in result["rehearsal"]] == list(QUICK_REHEARSAL)
    for row in result["rehearsal"]:
        info = architecture_info(tiny_config(row["model"]))
        assert (row["layers"], row["heads"], row["kv_heads"]) == (
            info.num_layers, info.num_heads, info.num_kv_heads)
        assert row["shape"] == [QUICK["rehearsal_prompts"], row["layers"], row["heads"]]
        assert row["measure_s"] > 0 and row["peak_mb"] >= 0
        one_layer = row["prompts"] * row["heads"] * row["tokens"] ** 2 * 2 / 2**20
        assert row["one_layer_bf16_mb"] == one_layer
        assert row["stack_bf16_mb"] == one_layer * row["layers"]
    # the same run as `make bench`'s attention rows: ratios measured, kernels checked
    rows = attention_rows(True, result)
    assert len(rows) == 4 + len(result["rehearsal"])
    for r in rows:
        assert r["ours"] > 0 and r["reference"] > 0 and isinstance(r["met"], bool), r
        assert r["ratio"] == r["reference"] / r["ours"], r
    for r in rows[:2]:  # kernel rows: vectorized vs the seeds' scipy loop
        assert r["max_diff"] <= ATTENTION_DIFF
