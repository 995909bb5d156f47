"""§5 cross-architecture table and figure from battery results (one dict per model run).

No file is written: the caller saves through `lib.results`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

QKV_GROUPS = {"Q": "self_attn_q", "K": "self_attn_k", "V": "self_attn_v", "QKV": "self_attn_qkv"}
SR_GROUPS = {"Q": "self_attn_q", "K": "self_attn_k", "V": "self_attn_v", "MLP_up": "mlp_up"}
STACK_ORDER = ("vision", "encoder", "decoder", "text")  # the seed's CLIP rows are `.visual`


def percent_or_dash(value: float | None) -> str:
    """The seed's §5 cell: a percentage with one decimal, '-' for a missing or 0.0 value."""
    missing = value is None or value != value or value == 0  # None, NaN (pandas) or 0.0
    return "-" if missing else f"{100 * value:.1f}%"


def primary_stack(result: dict[str, Any]) -> str | None:
    """The self-attention stack the §5 QK columns use: vision, else encoder, decoder, text."""
    stacks = result["qk"]["summary"]
    return next((f"{loc}/self" for loc in STACK_ORDER if f"{loc}/self" in stacks), None)


def headline_qk(qk_summary: dict[str, Any], convention: str = "seed"
                ) -> tuple[str | None, float | None]:
    """(stack, mean QK positive fraction) for the headline: `decoder/cross` (T5's cross-QK) when
    the model has it, else the primary self-attention stack; (None, None) without attention."""
    stack = "decoder/cross" if "decoder/cross" in qk_summary else \
        primary_stack({"qk": {"summary": qk_summary}})
    return stack, None if stack is None else qk_summary[stack][convention]["mean_pos_frac"]


def _sv(result: dict[str, Any], group: str) -> float | None:
    row = result["sv"]["mean"].get(group)
    return None if row is None else row["stable_rank"]


def table_rows(results: list[dict[str, Any]], convention: str = "seed") -> list[dict[str, Any]]:
    """One numeric row per run: sparsity, stable rank, QK positive fraction, worst adjacent-layer
    cosine mean, dead neurons; the initialization's beside them (`init ...`) when the run has
    one, and the embedding's volume CV beside its Gaussian reference when the block carries
    `volume_cv` and `volume_cv_reference`."""
    if not results:
        raise ValueError("no battery results given; pass run_battery(...) dicts")
    rows = []
    for r in results:
        stack = primary_stack(r)
        qk = r["qk"]["summary"][stack][convention] if stack else {}
        dead = r["dead_neurons"]["total"]
        row = {"model": r["model"], "family": r["family"]}
        row |= {f"{k} sparsity": r["q_sparsity"].get(g) for k, g in QKV_GROUPS.items()}
        row |= {f"SR {k}": _sv(r, g) for k, g in SR_GROUPS.items()}
        row |= {"QK stack": stack, "QK+ first": qk.get("first_pos_frac"),
                "QK+ last": qk.get("last_pos_frac"), "QK+ trend": qk.get("trend"),
                "QK+ mean": qk.get("mean_pos_frac"),
                "cross-layer max|mean|": r["cross_layer_summary"]["max_abs_mean"],
                "dead <1%": dead["dead_frac"]}
        init = r.get("init")
        if init:
            row |= {f"init {k} sparsity": init["q_sparsity"].get(g) for k, g in QKV_GROUPS.items()}
            row |= {f"init SR {k}": (init["sv_mean"].get(g) or {}).get("stable_rank")
                    for k, g in SR_GROUPS.items()}
            init_qk = init["qk_summary"].get(stack, {}).get(convention, {})
            row |= {"init QK+ mean": init_qk.get("mean_pos_frac"),
                    "init cross-layer max|mean|": init["cross_layer_summary"]["max_abs_mean"]}
        if "volume_cv" in r:  # the run's embedding section, when it has one (lib.terrain.summary)
            row |= {"volume CV": r["volume_cv"], "volume CV Gaussian": r["volume_cv_reference"]}
        rows.append(row)
    return rows


def cross_architecture_table(results: list[dict[str, Any]], convention: str = "seed",
                             formatted: bool = True) -> Any:
    """The §5 comparison as a pandas DataFrame (formatted: sparsity as '93.7%' / '-')."""
    frame = pd.DataFrame(table_rows(results, convention)).set_index("model")
    if formatted:
        for column in [c for c in frame.columns if c.endswith("sparsity")]:
            frame[column] = frame[column].map(percent_or_dash)
        frame["dead <1%"] = frame["dead <1%"].map(
            lambda v: "-" if v is None or v != v else f"{100 * v:.2f}%")
    return frame
