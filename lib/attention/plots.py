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


def _delta_rows(ax, rows: Sequence[Mapping[str, Any]], title: str) -> None:
    """One row per delta: the point with its bootstrap interval, over its seed-null band and
    its head-permutation band (each where given); 0 marked. Row keys: label, point, ci,
    seed_null, permutation (intervals), color."""
    labelled: set[str] = set()
    if not rows:
        ax.text(0.5, 0.5, "no delta measured", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(title)
        return

    def band(y, interval, color, alpha, label, height):
        if interval and all(is_finite(v) for v in interval):
            ax.fill_betweenx([y - height / 2, y + height / 2], interval[0], interval[1],
                             color=color, alpha=alpha, lw=0, zorder=1,
                             label=None if label in labelled else label)
            labelled.add(label)

    for y, r in enumerate(rows):
        band(y, r.get("seed_null"), "tab:orange", 0.25, "seed null 95% (init seeds)", 0.7)
        band(y, r.get("permutation"), style.NULL, 0.45, NULL_LABEL, 0.35)
        point, ci = r.get("point"), r.get("ci")
        if is_finite(point):
            err = None
            if ci and all(is_finite(v) for v in ci):
                err = [[max(point - ci[0], 0)], [max(ci[1] - point, 0)]]
            label = "bootstrap 95% CI (prompts)"
            ax.errorbar(point, y, xerr=err, fmt="D", color=r.get("color", "black"), capsize=4,
                        zorder=3, label=None if label in labelled else label)
            labelled.add(label)
            ax.annotate(f"{point:+.4f}", (point, y), xytext=(0, 9), textcoords="offset points",
                        ha="center", fontsize=8)
    ax.axvline(0, color="black", lw=1)
    ax.set_yticks(range(len(rows)), [r["label"] for r in rows])
    ax.set_ylim(len(rows) - 0.4, -0.6)
    ax.grid(axis="x", alpha=0.3)
    if labelled:
        ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title)


def delta_rows(delta: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The dSI rows of a pair's delta block for `_delta_rows`: one per entropy mode (the
    protocol's first), with the bootstrap interval, the seed null and (protocol mode) the
    head-permutation null."""
    rows = []
    perm = (((delta.get("controls") or {}).get("head_permutation") or {}).get("si") or {})
    for mode, m in (delta.get("entropy_modes") or {}).items():
        rows.append({"label": f"dSI, {mode}" + (" (protocol)" if m["protocol"] else ""),
                     "point": m["specialization_index"], "ci": m["si_ci"],
                     "seed_null": m.get("seed_null_si_interval"),
                     "permutation": ((perm.get("low"), perm.get("high")) if m["protocol"]
                                     else None),
                     "color": "black" if m["protocol"] else "tab:purple"})
    return rows


def calibration_panel(ax, calibration: Mapping[str, Any] | None, title: str) -> None:
    """Detection rate against the planted fraction for each rule of one calibration block,
    its false-positive rate on null pairs in the legend."""
    if not calibration:
        ax.text(0.5, 0.5, "no calibration (no seed null)", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return
    styles = {"seed_null": ("tab:green", "o-"), "bootstrap_only": ("tab:blue", "s--"),
              "as_executed": ("tab:red", "^:")}
    for rule, block in calibration["rules"].items():
        fractions = sorted(block["power"], key=float)
        color, fmt = styles.get(rule, ("grey", "o-"))
        ax.plot([float(f) for f in fractions], [block["power"][f] for f in fractions], fmt,
                color=color, alpha=0.8,
                label=f"{rule}: false positives {block['false_positive_rate']:.1%} of "
                      f"{block['n_null_pairs']} null pairs")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("planted fraction (toward the layer mean > 0: collapse; < 0: away)")
    ax.set_ylabel("detection rate (reads the planted direction)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center right")
    ax.set_title(title)


def pair_figure(title: str, base: Mapping[str, Any], instruct: Mapping[str, Any],
                labels: tuple[str, str] = ("base", "instruct"),
                delta: Mapping[str, Any] | None = None,
                calibration: Mapping[str, Any] | None = None) -> plt.Figure:
    """Six panels: SI with its interval and null; dSI against its nulls in each entropy mode;
    layer variance; two heatmaps; the calibration of the collapse rules on this architecture.

    `base`/`instruct` are results blocks: specialization metrics plus `si_ci` (low, high);
    `delta` the pair's delta block (`compare_pair`), `calibration` the architecture's
    (`lib.attention.calibration.calibrate`).
    """
    fig, axes = plt.subplots(2, 3, figsize=(18, 11))
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
    _delta_rows(axes[0, 1], delta_rows(delta or {}),
                "dSI against its nulls (judge it against them, not 0)")
    _layer_variance(axes[0, 2], {labels[0]: base["layer_variances"],
                                 labels[1]: instruct["layer_variances"]}, colors)
    axes[0, 2].set_title("Layer-wise head variance")
    _heatmap(axes[1, 0], base["head_correlation_matrix"], f"{labels[0]}: head correlation")
    _heatmap(axes[1, 1], instruct["head_correlation_matrix"], f"{labels[1]}: head correlation")
    calibration_panel(axes[1, 2], calibration,
                      "Collapse rules on this architecture: null pairs and planted effects")
    fig.suptitle(title, fontsize=14, fontweight="bold")
    fig.tight_layout()
    return fig


def calibration_figure(title: str, payload: Mapping[str, Any]) -> plt.Figure:
    """calibration.json: left, each rule's false-positive rate on null pairs per run (the 5%
    target marked); right, the corrected rule's detection rate against the planted fraction,
    one line per run."""
    runs = payload["runs"]
    rules = list(next(iter(runs.values()))["rules"]) if runs else []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(16, 0.5 * max(len(runs), 4) + 3.5))
    y = np.arange(len(runs))
    height = 0.8 / max(len(rules), 1)
    palette = {"seed_null": "tab:green", "bootstrap_only": "tab:blue", "as_executed": "tab:red"}
    for k, rule in enumerate(rules):
        rates = [runs[r]["rules"][rule]["false_positive_rate"] for r in runs]
        ax1.barh(y + (k - (len(rules) - 1) / 2) * height, rates, height,
                 color=palette.get(rule, "grey"), label=rule)
    target = payload["target"]["max_false_positive_rate"]
    ax1.axvline(target, color="black", ls="--", lw=1, label=f"target {target:.0%}")
    ax1.set_yticks(y, [f"{r}\n{runs[r]['architecture']} ({runs[r]['n_models']} seeds)"
                       for r in runs], fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xlim(0, 1.02)
    ax1.set_xlabel("share of null pairs read as anything but NOT_RESOLVED")
    ax1.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4)
    ax1.grid(axis="x", alpha=0.3)
    ax1.set_title("False positives on null pairs (two init seeds, no alignment)")
    cmap = plt.get_cmap("tab10")
    for k, (run, block) in enumerate(runs.items()):
        power = block["rules"]["seed_null"]["power"]
        fractions = sorted(power, key=float)
        ax2.plot([float(f) for f in fractions], [power[f] for f in fractions], "o-",
                 color=cmap(k % 10), label=run, alpha=0.85)
    ax2.axvline(0, color="black", lw=0.8)
    ax2.set_ylim(-0.05, 1.05)
    ax2.set_xlabel("planted fraction (each head's entropy toward its layer mean > 0, away < 0)")
    ax2.set_ylabel("detection rate of the corrected rule")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7, loc="center right")
    ax2.set_title("Power on planted effects (corrected rule)")
    fig.suptitle(title, fontsize=14, fontweight="bold")
    fig.tight_layout()
    return fig


def gqa_figure(title: str, mha: Mapping[str, Any] | None, gqa_base: Mapping[str, Any],
               gqa_instruct: Mapping[str, Any], groups: Mapping[str, Mapping[str, float]],
               group_size: int, gqa_delta: Mapping[str, Any] | None = None) -> plt.Figure:
    """Seed 001's six panels: MHA vs GQA dSI, GQA pair, group analysis, variance, heatmaps.

    The MHA-vs-GQA panel shows each dSI with its bootstrap interval over its seed-null and
    head-permutation bands: `mha` holds delta_si, delta_si_ci, delta_si_seed_null,
    delta_si_permutation ({low, high}) and label (None: no MHA reference, GQA alone);
    `gqa_delta` is this run's delta block. `groups` maps base/instruct to gqa_group_metrics.
    """
    fig, axes = plt.subplots(2, 3, figsize=(18, 11))
    rows = []
    if mha:
        perm = mha.get("delta_si_permutation") or {}
        rows.append({"label": f"MHA\n{mha['label']}", "point": mha.get("delta_si"),
                     "ci": mha.get("delta_si_ci"), "seed_null": mha.get("delta_si_seed_null"),
                     "permutation": (perm.get("low"), perm.get("high")),
                     "color": KIND_COLORS.get("MHA", "black")})
    for r in delta_rows(gqa_delta or {}):
        rows.append({**r, "label": "GQA (this run)\n" + r["label"],
                     "color": KIND_COLORS.get("GQA", "black")})
    _delta_rows(axes[0, 0], rows, "MHA vs GQA: dSI with its interval and nulls")
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


def spread_labels(ys: Sequence[float], gap: float) -> list[float]:
    """Label heights for points at `ys`: each at least `gap` from the next, as close to its
    point as that allows (in the points' order, pushed up, then the block re-centred)."""
    order = np.argsort(ys, kind="stable")
    placed = np.array([float(ys[k]) for k in order])
    for k in range(1, placed.size):
        placed[k] = max(placed[k], placed[k - 1] + gap)
    if placed.size:
        placed -= (placed - np.array([float(ys[k]) for k in order])).mean()
        for k in range(1, placed.size):
            placed[k] = max(placed[k], placed[k - 1] + gap)
    out = np.empty(placed.size)
    out[order] = placed
    return out.tolist()


def ladder_figure(title: str, rows: Sequence[Mapping[str, Any]], target: float,
                  tolerance: float, trend: Mapping[str, Any] | None = None) -> plt.Figure:
    """Seed 003's two panels: SI per model (bars, references hatched) and size vs SI.

    Each row: display, size_b, si, si_ci (or None), kind, reference (bool), stand_in (bool).
    Random-init stand-ins are drawn apart (pale bars, hollow crosses) and labelled; `trend`
    (`lib.attention.study.ladder_trend`: within one family) is drawn over the sizes it was
    fitted on with its slope's interval, and not at all without one. Labels are spread so
    that they do not overlap (`spread_labels`).
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
                     (bar.get_x() + bar.get_width() * 0.55, value if np.isfinite(value) else 0),
                     xytext=(4, 3), textcoords="offset points", ha="left", fontsize=9)
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
    shown = [k for k in range(len(rows)) if finite[k]]
    for k, y_label in zip(shown, spread_labels([values[k] for k in shown], 0.06), strict=True):
        r = rows[k]
        ax2.annotate(r["display"], (r["size_b"], values[k]), xytext=(r["size_b"] * 1.15, y_label),
                     textcoords="data", fontsize=8, va="center",
                     color="grey" if r.get("stand_in") else "black",
                     arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.6})
    if trend and trend.get("slope_ci"):
        xs = np.geomspace(min(trend["sizes_b"]), max(trend["sizes_b"]), 50)
        x0 = np.log10(xs) - np.mean(np.log10(trend["sizes_b"]))
        centre = trend["slope_per_decade"] * np.log10(xs) + trend["intercept"]
        low, high = trend["slope_ci"]
        ax2.plot(xs, centre, "r--", alpha=0.7,
                 label=f"trend within {trend['family']} ({trend['slope_per_decade']:+.4f} SI per "
                 f"tenfold size, {trend['ci']:.0%} CI [{low:+.4f}, {high:+.4f}])")
        slopes = np.array([low, high])[:, None] - trend["slope_per_decade"]
        ax2.fill_between(xs, (centre + slopes * x0).min(axis=0),
                         (centre + slopes * x0).max(axis=0), color="red", alpha=0.12, lw=0)
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

    Each row: label, kind, base_si, base_ci, instruct_si, instruct_ci, delta_si, delta_ci,
    optionally `seed_null_ci` (the dSI's seed-null interval, drawn as a band) and `stand_in`
    (a random-init stand-in pair: labelled so, and the dSI panel is called an
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
        seed = r.get("seed_null_ci")
        if seed and all(is_finite(v) for v in seed):
            label = "seed null 95% (init seeds)"
            ax2.fill_betweenx([k - 0.35, k + 0.35], seed[0], seed[1], color="tab:orange",
                              alpha=0.2, lw=0, zorder=0,
                              label=None if label in labelled else label)
            labelled.add(label)
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
