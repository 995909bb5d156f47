"""The figures of the attention study: pair panels, GQA panels, the size ladder, the summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from lib import style
from lib.attention.verdicts import is_finite

BASE_COLOR = style.BASE  # kept names: the roles' colours live in lib.style
INSTRUCT_COLOR = style.ALIGNED
KIND_COLORS = style.KIND_COLORS
NULL_LABEL = "head-permutation null (95%)"


def si_null(block: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """The SI's head-permutation null interval (low, high) of a results block (its
    `controls.head_permutation.si`, or a ladder row's `si_null`), None where undefined."""
    if not block:
        return None
    null = block.get("si_null") or (((block.get("controls") or {}).get("head_permutation")
                                     or {}).get("si"))
    if not null or not (is_finite(null.get("low")) and is_finite(null.get("high"))):
        return None
    return float(null["low"]), float(null["high"])


def _null_marks(ax, xs: Sequence[float], nulls: Sequence[Any], width: float = 0.8,
                horizontal: bool = False) -> None:
    """Each defined null interval as a grey band over its bar (or row), labelled once."""
    labelled = NULL_LABEL in ax.get_legend_handles_labels()[1]
    for x, null in zip(xs, nulls, strict=True):
        if null is None:
            continue
        label = None if labelled else NULL_LABEL
        if horizontal:
            ax.fill_betweenx([x - width / 2, x + width / 2], null[0], null[1], color=style.NULL,
                             alpha=0.3, lw=0, label=label, zorder=1)
        else:
            ax.fill_between([x - width / 2, x + width / 2], null[0], null[1], color=style.NULL,
                            alpha=0.45, lw=0, label=label, zorder=3)
        labelled = True


def _bars_with_ci(ax, labels, values, intervals, colors) -> None:
    values = np.asarray(values, dtype=float)
    err = None
    if intervals is not None:
        lows = np.array([lo for lo, _ in intervals])
        highs = np.array([hi for _, hi in intervals])
        err = np.vstack([values - lows, highs - values]).clip(min=0)
    bars = ax.bar(labels, values, yerr=err, color=colors, capsize=6, edgecolor="black", alpha=0.85)
    for bar, value in zip(bars, values, strict=True):
        ax.annotate(f"{value:.4f}", (bar.get_x() + bar.get_width() / 2, value),
                    xytext=(8, 4), textcoords="offset points", ha="left", fontsize=10)
    top = values if err is None else values + err[1]
    bottom = values if err is None else values - err[0]
    # SI exceeds 1 (and correlations go negative) when heads are anti-correlated
    ax.set_ylim(min(0.0, float(bottom.min())) - 0.05, max(1.0, float(top.max())) + 0.1)


def _layer_variance(ax, series: Mapping[str, Sequence[float]], colors: Sequence[str]) -> None:
    n = 0
    for (label, values), color, marker in zip(series.items(), colors, "os^v", strict=False):
        ax.plot(range(len(values)), values, marker=marker, color=color, label=label, markersize=4)
        n = len(values)
    third = n // 3
    ax.axvspan(third - 0.5, 2 * third - 0.5, color="gold", alpha=0.2, label="middle third (L*)")
    ax.set_xlabel("layer")
    ax.set_ylabel("variance of head entropy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _heatmap(ax, matrix, title: str, group_size: int | None = None) -> None:
    sns.heatmap(np.asarray(matrix, dtype=float), cmap="RdBu_r", center=0, vmin=-1, vmax=1, ax=ax,
                cbar_kws={"label": "correlation"}, square=True, xticklabels=False,
                yticklabels=False)
    if group_size and group_size > 1:
        n = len(matrix)
        for g in range(group_size, n, group_size):
            ax.axhline(g, color="black", lw=0.5)
            ax.axvline(g, color="black", lw=0.5)
    ax.set_title(title)
    ax.set_xlabel("head")
    ax.set_ylabel("head")


def pair_figure(title: str, base: Mapping[str, Any], instruct: Mapping[str, Any],
                labels: tuple[str, str] = ("base", "instruct")) -> plt.Figure:
    """Seed 000's six panels: SI, correlation, layer variance, two heatmaps, summary.

    `base`/`instruct` are results blocks: specialization metrics plus `si_ci` (low, high).
    """
    fig, axes = plt.subplots(2, 3, figsize=(17, 10.5))
    colors = [BASE_COLOR, INSTRUCT_COLOR]
    _bars_with_ci(axes[0, 0], labels, [base["specialization_index"],
                  instruct["specialization_index"]],
                  [base.get("si_ci"), instruct.get("si_ci")] if base.get("si_ci") else None, colors)
    nulls = [si_null(base), si_null(instruct)]
    _null_marks(axes[0, 0], [0, 1], nulls)
    if any(nulls):
        axes[0, 0].legend(fontsize=8, loc="upper right")
    machinery = style.random_weights(base.get("model")) or style.random_weights(
        instruct.get("model"))
    axes[0, 0].set_title("Specialization index (bootstrap 95% CI"
                         + ("; grey: null" if any(nulls) else "") + ")"
                         + ("\nmachinery check (random weights)" if machinery else ""))
    _bars_with_ci(axes[0, 1], labels, [base["mean_head_correlation"],
                  instruct["mean_head_correlation"]], None, colors)
    axes[0, 1].set_title("Mean head correlation")
    _layer_variance(axes[0, 2], {labels[0]: base["layer_variances"],
                                 labels[1]: instruct["layer_variances"]}, colors)
    axes[0, 2].set_title("Layer-wise head variance")
    _heatmap(axes[1, 0], base["head_correlation_matrix"], f"{labels[0]}: head correlation")
    _heatmap(axes[1, 1], instruct["head_correlation_matrix"], f"{labels[1]}: head correlation")
    names = ["SI", "effective ratio", "1 - correlation"]
    b = [base["specialization_index"], base["effective_ratio"], 1 - base["mean_head_correlation"]]
    i = [instruct["specialization_index"], instruct["effective_ratio"],
         1 - instruct["mean_head_correlation"]]
    x = np.arange(3)
    axes[1, 2].bar(x - 0.18, b, 0.36, color=BASE_COLOR, label=labels[0])
    axes[1, 2].bar(x + 0.18, i, 0.36, color=INSTRUCT_COLOR, label=labels[1])
    for k in range(3):
        d = i[k] - b[k]
        axes[1, 2].annotate("±0.000" if abs(d) < 5e-4 else f"{d:+.3f}",
                            (k, max(b[k], i[k]) + 0.03), ha="center",
                            color="grey" if abs(d) < 5e-4 else ("green" if d > 0 else "red"))
    axes[1, 2].set_xticks(x, names)
    axes[1, 2].set_ylim(min(0.0, *b, *i) - 0.05, max(1.0, *b, *i) + 0.35)
    axes[1, 2].legend(loc="upper right", fontsize=8)
    axes[1, 2].set_title("Specialization summary")
    fig.suptitle(title, fontsize=14, fontweight="bold")
    fig.tight_layout()
    return fig


def gqa_figure(title: str, mha: Mapping[str, Any] | None, gqa_base: Mapping[str, Any],
               gqa_instruct: Mapping[str, Any], groups: Mapping[str, Mapping[str, float]],
               group_size: int) -> plt.Figure:
    """Seed 001's six panels: MHA vs GQA SI, GQA pair, group analysis, variance, heatmaps.

    `mha` holds base_si/instruct_si/label (None: no MHA reference, GQA alone); `groups` maps
    base/instruct to gqa_group_metrics. Values that are not finite are drawn as 0, marked n/a.
    """
    fig, axes = plt.subplots(2, 3, figsize=(17, 10.5))
    sides = ([(mha["base_si"], mha["instruct_si"], f"MHA\n{mha['label']}")] if mha else []) + [
        (gqa_base["specialization_index"], gqa_instruct["specialization_index"],
         "GQA\n(this run)")]
    x = np.arange(len(sides))
    base_vals = [float(b) if is_finite(b) else 0.0 for b, _, _ in sides]
    inst_vals = [float(i) if is_finite(i) else 0.0 for _, i, _ in sides]
    ax = axes[0, 0]
    ax.bar(x - 0.18, base_vals, 0.36, color=BASE_COLOR, label="base")
    ax.bar(x + 0.18, inst_vals, 0.36, color=INSTRUCT_COLOR, label="instruct")
    for k, (b, i, _) in enumerate(sides):
        defined = is_finite(b) and is_finite(i)
        d = float(i) - float(b) if defined else 0.0
        ax.annotate(f"dSI={d:+.4f}" if defined else "dSI n/a",
                    (k, max(base_vals[k], inst_vals[k]) + 0.03), ha="center",
                    color="green" if d > 0 else "red", fontweight="bold")
    ax.set_xticks(x, [label for _, _, label in sides])
    ax.set_ylim(min(0.0, *base_vals, *inst_vals) - 0.05, max(1.0, *base_vals, *inst_vals) + 0.2)
    ax.legend()
    ax.set_title("MHA vs GQA: specialization index")
    _bars_with_ci(axes[0, 1], ["base", "instruct"],
                  [gqa_base["specialization_index"], gqa_instruct["specialization_index"]],
                  [gqa_base["si_ci"], gqa_instruct["si_ci"]] if gqa_base.get("si_ci") else None,
                  [BASE_COLOR, INSTRUCT_COLOR])
    nulls = [si_null(gqa_base), si_null(gqa_instruct)]
    _null_marks(axes[0, 1], [0, 1], nulls)
    if any(nulls):
        axes[0, 1].legend(fontsize=8, loc="upper right")
    axes[0, 1].set_title("GQA pair: SI (bootstrap 95% CI" + ("; grey: null" if any(nulls) else "")
                         + ")")
    ax = axes[0, 2]
    keys = ["within_group_variance", "between_group_variance"]
    xb = np.arange(2)
    ax.bar(xb - 0.18, [groups["base"][k] for k in keys], 0.36, color=BASE_COLOR, label="base")
    ax.bar(xb + 0.18, [groups["instruct"][k] for k in keys], 0.36, color=INSTRUCT_COLOR,
           label="instruct")
    ax.set_xticks(xb, ["within group", "between groups"])
    ax.set_ylabel("variance of head entropy")
    ratios = ", ".join(f"{k}: {float(groups[k]['within_between_ratio']):.2f}"
                       for k in ("base", "instruct"))
    ax.set_title(f"KV-group analysis (within/between ratio {ratios})", fontsize=10)
    ax.legend()
    _layer_variance(axes[1, 0], {"base": gqa_base["layer_variances"],
                                 "instruct": gqa_instruct["layer_variances"]},
                    [BASE_COLOR, INSTRUCT_COLOR])
    axes[1, 0].set_title("GQA: layer-wise head variance")
    _heatmap(axes[1, 1], gqa_base["head_correlation_matrix"], "GQA base: head correlation",
             group_size)
    _heatmap(axes[1, 2], gqa_instruct["head_correlation_matrix"],
             "GQA instruct: head correlation", group_size)
    fig.suptitle(title, fontsize=14, fontweight="bold")
    fig.tight_layout()
    return fig


def ladder_figure(title: str, rows: Sequence[Mapping[str, Any]], target: float,
                  tolerance: float, trend: Mapping[str, Any] | None = None) -> plt.Figure:
    """Seed 003's two panels: SI per model (bars, references hatched) and size vs SI.

    Each row: display, size_b, si, si_ci (or None), kind, reference (bool), stand_in (bool).
    Random-init stand-ins are drawn apart (pale bars, hollow crosses) and labelled; `trend`
    (`lib.attention.study.ladder_trend`: fitted to the real models only) is drawn over the
    sizes it was fitted on.
    """
    rows = sorted(rows, key=lambda r: r["size_b"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 6))
    labels = [r["display"] + ("\n(stand-in)" if r.get("stand_in") else "") for r in rows]
    values = np.array([np.nan if r["si"] is None else r["si"] for r in rows], dtype=float)
    finite = np.isfinite(values)
    err = np.array([[r["si"] - r["si_ci"][0], r["si_ci"][1] - r["si"]]
                    if r.get("si_ci") and finite[k] and None not in r["si_ci"] else [0.0, 0.0]
                    for k, r in enumerate(rows)]).T.clip(min=0)
    colors = [KIND_COLORS.get(r["kind"], style.NULL) for r in rows]
    bars = ax1.bar(labels, np.where(finite, values, 0.0), yerr=err, color=colors, capsize=5,
                   edgecolor="black", hatch=None)
    for bar, r, value in zip(bars, rows, values, strict=True):
        if r.get("stand_in"):
            bar.set_alpha(0.35)
            bar.set_hatch("xx")
        elif r["reference"]:
            bar.set_hatch("//")
        ax1.annotate(f"{value:.3f}" if np.isfinite(value) else "n/a",
                     (bar.get_x() + bar.get_width() / 2, (value if np.isfinite(value) else 0)
                      + 0.03), ha="center", fontsize=9)
    _null_marks(ax1, [bar.get_x() + bar.get_width() / 2 for bar in bars],
                [si_null(r) for r in rows], bars[0].get_width() if len(bars) else 0.8)
    ax1.axhline(target, color="green", ls="--", label=f"target SI {target}")
    ax1.axhspan(target - tolerance, target + tolerance, color="green", alpha=0.15,
                label=f"+/- {tolerance}")
    ax1.set_ylim(0, 1.05)
    ax1.set_ylabel("specialization index")
    ax1.tick_params(axis="x", rotation=20)
    ax1.set_title("SI per model (hatched: reference; pale, crossed: random-init stand-in)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in KIND_COLORS.values()]
    ax1.legend(handles + ax1.get_legend_handles_labels()[0],
               list(KIND_COLORS) + ax1.get_legend_handles_labels()[1], fontsize=8)
    sizes = np.array([r["size_b"] for r in rows], dtype=float)
    stand_in = np.array([bool(r.get("stand_in")) for r in rows])
    real = finite & ~stand_in
    ax2.scatter(sizes[real], values[real], c=[c for c, k in zip(colors, real, strict=True) if k],
                s=120, edgecolors="black", zorder=3, label="real model")
    apart = finite & stand_in
    if apart.any():
        ax2.scatter(sizes[apart], values[apart], marker="X", s=110, facecolors="none",
                    edgecolors=[c for c, k in zip(colors, apart, strict=True) if k],
                    linewidths=1.5, zorder=3,
                    label="random-init stand-in (not in trend or verdict)")
    for r, value, ok in zip(rows, values, finite, strict=True):
        if ok:
            ax2.annotate(r["display"], (r["size_b"], value), xytext=(6, 6),
                         textcoords="offset points", fontsize=8,
                         color="grey" if r.get("stand_in") else "black")
    if trend:
        xs = np.geomspace(min(trend["sizes_b"]), max(trend["sizes_b"]), 50)
        ax2.plot(xs, trend["slope_per_decade"] * np.log10(xs) + trend["intercept"], "r--",
                 alpha=0.6, label=f"trend of the real models ({trend['slope_per_decade']:+.4f} "
                 "SI per tenfold size)")
    ax2.legend(fontsize=8)
    ax2.axhspan(target - tolerance, target + tolerance, color="green", alpha=0.1)
    ax2.set_xscale("log")
    ax2.set_xlabel("model size (billions of parameters, log)")
    ax2.set_ylabel("specialization index")
    ax2.set_ylim(0, 1.05)
    ax2.set_title("Size vs SI")
    fig.suptitle(title, fontsize=14, fontweight="bold")
    fig.tight_layout()
    return fig


def summary_figure(title: str, rows: Sequence[Mapping[str, Any]]) -> plt.Figure:
    """The headline figure: SI (base, instruct) and dSI with bootstrap CIs, grouped by kind.

    Each row: label, kind, base_si, base_ci, instruct_si, instruct_ci, delta_si, delta_ci and
    `stand_in` (a random-init stand-in pair: labelled so, and the dSI panel is called an
    alignment effect only when no row is one). A value that is not finite (None: JSON null) is
    left out and its row labelled "n/a".
    """
    order = {k: i for i, k in enumerate(KIND_COLORS)}
    rows = sorted(rows, key=lambda r: (order.get(r["kind"], 9), r["label"]))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 0.6 * len(rows) + 3))
    y = np.arange(len(rows))

    def err(point, ci):
        if not ci or not all(is_finite(v) for v in ci):
            return None
        return [[max(point - ci[0], 0)], [max(ci[1] - point, 0)]]

    labelled: set[str] = set()

    def point(ax, value, ci, yk, label=None, **style):
        if is_finite(value):
            ax.errorbar(value, yk, xerr=err(value, ci), **style,
                        label=label if label not in labelled else None)
            labelled.add(label)

    for k, r in enumerate(rows):
        perm = next((f for f in ((r.get("controls") or {}).get("permutation") or [])
                     if f.get("figure", "").startswith("SI")), None) or {}
        _null_marks(ax1, [k - 0.15, k + 0.15],
                    [si_null({"si_null": perm.get(side)}) for side in ("base", "instruct")],
                    width=0.25, horizontal=True)
        _null_marks(ax2, [k], [si_null({"si_null": perm.get("delta")})], width=0.5,
                    horizontal=True)
        point(ax1, r["base_si"], r.get("base_ci"), k - 0.15, "base", fmt="o", color=BASE_COLOR,
              capsize=3)
        point(ax1, r["instruct_si"], r.get("instruct_ci"), k + 0.15, "instruct", fmt="s",
              color=INSTRUCT_COLOR, capsize=3)
        point(ax2, r["delta_si"], r.get("delta_ci"), k, fmt="D",
              color=KIND_COLORS.get(r["kind"], style.NULL), capsize=4)
    labels = [f"{r['label']} [{r['kind']}]"
              + (" (random-init stand-in)" if r.get("stand_in") else "")
              + ("" if all(is_finite(r[k]) for k in ("base_si", "instruct_si", "delta_si"))
                 else " (n/a)") for r in rows]
    for ax in (ax1, ax2):
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    ax1.set_xlabel("specialization index")
    highs = [v for r in rows for v in (r["base_si"], r["instruct_si"], *(r.get("base_ci") or ()),
                                       *(r.get("instruct_ci") or ())) if is_finite(v)]
    # SI exceeds 1 for anti-correlated heads
    ax1.set_xlim(-0.02, max([1.02, *(h + 0.03 for h in highs)]))
    ax1.legend(fontsize=8)
    ax1.set_title("SI with bootstrap 95% CI")
    ax2.axvline(0, color="black", lw=1)
    if ax2.get_legend_handles_labels()[0]:
        ax2.legend(fontsize=8)
    ax2.set_xlabel("dSI = instruct - base")
    stand_ins = sum(bool(r.get("stand_in")) for r in rows)
    ax2.set_title("Alignment effect: dSI with bootstrap 95% CI" if not stand_ins else
                  "dSI with bootstrap 95% CI: random-init stand-in pairs (test the pipeline)"
                  if stand_ins == len(rows) else
                  "dSI with bootstrap 95% CI (stand-in rows: random init, test the pipeline)")
    fig.suptitle(title, fontsize=14, fontweight="bold")
    fig.tight_layout()
    return fig
