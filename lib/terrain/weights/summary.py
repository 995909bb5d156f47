"""§5 cross-architecture table and figure from battery results (one dict per model run).

No file is written: the caller saves through `lib.results`.
"""

from __future__ import annotations

from typing import Any

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


def _sv(result: dict[str, Any], group: str) -> float | None:
    row = result["sv"]["mean"].get(group)
    return None if row is None else row["stable_rank"]


def table_rows(results: list[dict[str, Any]], convention: str = "seed") -> list[dict[str, Any]]:
    """One numeric row per run: sparsity, stable rank, QK positive fraction, dead, init."""
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
                "dead <1%": dead["dead_frac"]}
        init = r.get("init")
        if init:
            row |= {f"init {k} sparsity": init["q_sparsity"].get(g) for k, g in QKV_GROUPS.items()}
            row |= {f"init SR {k}": (init["sv_mean"].get(g) or {}).get("stable_rank")
                    for k, g in SR_GROUPS.items()}
        rows.append(row)
    return rows


def cross_architecture_table(results: list[dict[str, Any]], convention: str = "seed",
                             formatted: bool = True) -> Any:
    """The §5 comparison as a pandas DataFrame (formatted: sparsity as '93.7%' / '-')."""
    import pandas as pd

    frame = pd.DataFrame(table_rows(results, convention)).set_index("model")
    if formatted:
        for column in [c for c in frame.columns if c.endswith("sparsity")]:
            frame[column] = frame[column].map(percent_or_dash)
        frame["dead <1%"] = frame["dead <1%"].map(
            lambda v: "-" if v is None or v != v else f"{100 * v:.2f}%")
    return frame


def cross_architecture_figure(results: list[dict[str, Any]], convention: str = "seed") -> Any:
    """2×2 figure: Q/K/V/QKV sparsity (init hatched), stable rank, QK+ fraction by depth, dead."""
    import matplotlib.pyplot as plt
    import numpy as np

    rows = table_rows(results, convention)
    names = [r["model"] for r in rows]
    x = np.arange(len(rows))
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    ax = axes[0, 0]
    width = 0.8 / len(QKV_GROUPS)
    for i, key in enumerate(QKV_GROUPS):
        trained = [100 * (r[f"{key} sparsity"] or 0) for r in rows]
        ax.bar(x + i * width, trained, width, label=key)
        init = [100 * (r.get(f"init {key} sparsity") or 0) for r in rows]
        if any(init):
            ax.bar(x + i * width, init, width, fill=False, hatch="//", edgecolor="k",
                   label="init" if i == 0 else None)
    ax.set(title="share of |w| < 0.1 (hatched: initialization)", ylabel="%",
           xticks=x + 0.3, xticklabels=names)
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    width = 0.8 / len(SR_GROUPS)
    for i, key in enumerate(SR_GROUPS):
        ax.bar(x + i * width, [r[f"SR {key}"] or 0 for r in rows], width, label=key)
    ax.set(title="mean stable rank ΣS²/S₀²", xticks=x + 0.3, xticklabels=names)
    ax.legend(fontsize=8)
    ax = axes[1, 0]
    for r, row in zip(results, rows, strict=True):
        stack = row["QK stack"]
        layers = [q for q in r["qk"]["layers"] if f"{q['location']}/{q['attention']}" == stack]
        if layers:
            depth = np.linspace(0, 1, len(layers))
            ax.plot(depth, [q[convention]["pos_frac"] for q in layers], marker="o",
                    label=f"{row['model']} ({stack})")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    label = "W_q W_kᵀ" if convention == "seed" else "W_qᵀ W_k"
    ax.set(title=f"QK positive-eigenvalue fraction ({label})", xlabel="relative depth",
           ylim=(0, 1))
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    ax.bar(x, [100 * (r["dead <1%"] or 0) for r in rows])
    ax.set(title="dead MLP neurons (c < 1% of the layer mean)", ylabel="%", xticks=x,
           xticklabels=names)
    for a in axes.flat:
        a.tick_params(axis="x", labelrotation=20, labelsize=7)
    fig.tight_layout()
    return fig
