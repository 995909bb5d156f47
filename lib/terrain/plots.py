"""The terrain run's figure: one panel per measured quantity of the sections the run has."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from lib import style
from lib.terrain.weights.summary import QKV_GROUPS, SR_GROUPS, primary_stack

GROUPS_QKV = ("self_attn_q", "self_attn_k", "self_attn_v", "self_attn_qkv", "mlp_up", "mlp_down")


def _num(value: Any) -> float:
    return float("nan") if value is None else float(value)


def pentachora_panel(ax: Any, block: dict[str, Any], what: str) -> None:
    """Volume CV of the matrix's pentachora (or native / projected) beside the Gaussian
    reference CV (`reference_cv`, else the block's `random_cv`), drawn as a grey line."""
    if "native" in block:  # §13b: native vs projected volume summaries
        bars = {"native": (block["native"] or {}).get("cv"),
                "projected": (block["projected"] or {}).get("cv")}
        colors = [style.BASE, style.ALIGNED]
    else:
        bars, colors = {what: block.get("cv")}, [style.BASE]
    values = [_num(v) for v in bars.values()]
    if not np.isfinite(values).any():
        style.note(ax, f"pentachoron volumes: no finite CV ({what})")
        return
    boot = block.get("cv_vs_reference") or {}
    err = style.yerr(values, [boot.get("cv_ci")] * len(values)) if "native" not in block \
        else None
    ax.bar(list(bars), values, color=colors, width=0.5, yerr=err, capsize=4,
           label=(f"CV, {boot.get('level', 0.95):.0%} bootstrap CI ({boot.get('n_boot')} "
                  "resamples)") if err is not None else None)
    for i, v in enumerate(values):  # above the bar and its interval, never on them
        top = v + (float(err[1][i]) if err is not None else 0.0)
        ax.text(i, top, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
    reference = block.get("reference_cv", block.get("random_cv"))
    if reference is not None and np.isfinite(reference):
        ax.axhline(reference, color=style.NULL, ls="--", lw=1.2,
                   label=f"Gaussian reference CV {reference:.3f}")
        band = boot.get("reference_cv_ci")
        if band and None not in band:
            ax.axhspan(band[0], band[1], color=style.NULL, alpha=0.25,
                       label="reference CV, bootstrap CI")
        tops = [v + (float(err[1][i]) if err is not None else 0.0)
                for i, v in enumerate(values)]
        # headroom for the legend above the bars, their intervals and their value labels
        ax.set_ylim(0, 1.7 * max(v for v in [*tops, reference] if np.isfinite(v)))
        ax.legend(fontsize=7, loc="upper right")
    ratio = block.get("ratio_embed_random", block.get("ratio_projected_native"))
    label = "embed/random" if "ratio_embed_random" in block else "projected/native"
    ax.set_ylabel("CV of Cayley-Menger volumes")
    ax.set_title(f"pentachoron volume CV ({label} mean {_num(ratio):.3f})")


def _embedding_panels(block: dict[str, Any]) -> list:
    def cosines(ax: Any) -> None:
        for key, label in (("cosine", "pairwise cosine"), ("distances", "distance / max")):
            pct = block.get(key, {}).get("percentiles")
            if not pct:
                continue
            order = sorted(pct, key=float)  # a results file stores the keys sorted as text
            xs = [float(p) for p in order]
            ys = np.array([pct[p] for p in order], dtype=float)
            if key == "distances":
                ys = ys / max(float(np.max(ys)), 1e-12)
            ax.plot(xs, ys, marker="o", label=label)
        ax.set_xlabel("percentile")
        ax.set_title(f"embedding: cosine (mean {block['cosine']['mean']:.3f}) and distance")
        ax.legend(fontsize=7)

    def volumes(ax: Any) -> None:
        pentachora_panel(ax, block["pentachora"], "embedding")

    def categories(ax: Any) -> None:
        cats = block.get("categories") or {}
        names, matrix = cats.get("centroid_names"), cats.get("centroid_cosine")
        im = ax.imshow(np.asarray(matrix, dtype=float), vmin=-1, vmax=1, cmap="coolwarm")
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_title("category centroids: cosine")
        ax.figure.colorbar(im, ax=ax, shrink=0.7)

    cats = block.get("categories") or {}
    has_cats = bool(cats.get("centroid_names")) and cats.get("centroid_cosine") is not None
    return [cosines, volumes] + ([categories] if has_cats else [])


def _layer_panels(block: dict[str, Any]) -> list:
    def layers(ax: Any) -> None:
        enc = block["encoder"]
        names, per = enc["layers"], enc["per_layer"]
        per = per if isinstance(per, list) else [per[n] for n in names]
        x = np.arange(len(names))
        sd_norm = [v.get("std_norm") for v in per]
        sd_cos = [v.get("std_cos") for v in per]
        ax.errorbar(x, [v["mean_norm"] for v in per], yerr=None if None in sd_norm else sd_norm,
                    marker="o", capsize=2, label="token norm ± sd")
        ax2 = ax.twinx()
        ax2.errorbar(x + 0.1, [v["mean_cos"] for v in per],
                     yerr=None if None in sd_cos else sd_cos, marker="s", capsize=2,
                     color="tab:orange", label="position cosine ± sd")
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
        ax.set_ylabel("mean token norm (o)")
        ax2.set_ylabel("mean pairwise position cosine (s)")
        ax.set_title("encoder layer by layer (hooks; ± sd within a sentence, averaged)",
                     fontsize=9)

    return [layers]


def _binned(s: np.ndarray, y: np.ndarray, n_bins: int = 10) -> tuple[np.ndarray, ...]:
    """Centres, means and standard deviations of y in n_bins equal-width bins of s (>= 2 points)."""
    edges = np.linspace(float(np.min(s)), float(np.max(s)), n_bins + 1)
    idx = np.clip(np.digitize(s, edges) - 1, 0, n_bins - 1)
    keep = [b for b in range(n_bins) if (idx == b).sum() >= 2]
    centres = np.array([(edges[b] + edges[b + 1]) / 2 for b in keep])
    return (centres, np.array([y[idx == b].mean() for b in keep]),
            np.array([y[idx == b].std() for b in keep]))


def _wordnet_panels(block: dict[str, Any], arrays: dict[str, np.ndarray],
                    machinery: bool = False) -> list:
    a = block["alignment"]
    what = "machinery check (random weights)" if machinery else "relational alignment"

    def scatter(ax: Any) -> None:
        s = arrays["s"]
        hb = ax.hexbin(s, arrays["encoder"], gridsize=40, mincnt=1, bins="log", cmap="Blues")
        ax.figure.colorbar(hb, ax=ax, shrink=0.8, label="pairs (encoder, log)")
        for key, role in (("static", "static"), ("encoder", "encoder model")):
            if key not in arrays:
                continue
            x, m, sd = _binned(s, np.asarray(arrays[key], dtype=float))
            ax.errorbar(x, m, yerr=sd, fmt="o-", ms=3, capsize=2, color=style.color(role),
                        label=f"{key}: binned mean ± sd (Pearson {_num(a[key]['pearson']):.3f})")
        ax.set_xlabel("WordNet path similarity")
        ax.set_ylabel("cosine")
        ax.legend(fontsize=6, loc="upper left")
        ax.set_title(f"{what} ({a['n_pairs']:,} pairs)")

    def decay(ax: Any) -> None:
        rows = a.get("depth_decay") or []
        d = np.array([r["depth"] for r in rows], dtype=float)
        for offset, (key, role) in ((-0.06, ("static", "static")),
                                    (0.06, ("encoder", "encoder model"))):
            means = [r[key] for r in rows]
            # the 95% t-interval of each depth's mean over its chains (none with one chain)
            half = [stats.t.ppf(0.975, r["n"] - 1) * r[f"{key}_sd"] / np.sqrt(r["n"])
                    if r.get(f"{key}_sd") is not None else 0.0 for r in rows]
            ax.errorbar(d + offset, means, yerr=half, marker="o", ms=4, capsize=2,
                        color=style.color(role), label=f"{key}: mean, 95% CI over chains")
        ax.set_xlabel("hypernym depth (matched ancestors)")
        ax.set_ylabel("cosine to the root")
        ax.legend(fontsize=7)
        ax.set_title("hypernym chain decay" + (" (random weights)" if machinery else ""))

    panels = ([scatter] if arrays and "s" in arrays else []) + (
        [decay] if a.get("depth_decay") else [])
    stab = block.get("stability")
    if stab:
        def seeds(ax: Any) -> None:
            per = stab["per_seed"]
            keys = [k for k in ("static_pearson", "enc_pearson", "gradient_static",
                                "gradient_enc") if k in per]
            ax.boxplot([per[k] for k in keys], tick_labels=keys,
                       boxprops={"color": style.NULL})
            boot = stab.get("synset_bootstrap") or {}
            pts = [(i + 1.3, boot[k]) for i, k in enumerate(keys)
                   if isinstance(boot.get(k), dict) and boot[k].get("ci")
                   and None not in boot[k]["ci"]]
            if pts:
                xs = [x for x, _ in pts]
                ys = [_num(b.get("mean")) for _, b in pts]
                ax.errorbar(xs, ys, yerr=style.yerr(ys, [b["ci"] for _, b in pts]), fmt="D",
                            color=style.BASE, capsize=3,
                            label=f"synset bootstrap {100 * boot.get('level', 0.95):.0f}% CI "
                                  f"({boot.get('n_boot', '?')} resamples)")
                ax.legend(fontsize=6)
            ax.tick_params(axis="x", labelrotation=30, labelsize=7)
            ax.set_title(f"stability: {stab['n_seeds']} resampling seeds (box)"
                         + ("; synset bootstrap (◆)" if pts else ""), fontsize=9)

        panels.append(seeds)
    return panels


def qk_layers(result: dict[str, Any], stack: str, convention: str) -> list[dict[str, Any]]:
    """The per-layer QK rows of `stack` ("<location>/<attention>") that have `convention`."""
    return [r for r in result["qk"]["layers"]
            if f"{r['location']}/{r['attention']}" == stack and convention in r]


def qk_panel(ax: Any, trained: dict[str, Any] | None, init: dict[str, Any] | None,
             convention: str = "seed", spread: dict[str, Any] | None = None) -> None:
    """Positive-eigenvalue fraction per layer of every stack (self and cross attention), the
    trained weights in the stack's colour, the initialization in grey; 0.5 (random) marked;
    with `spread` (the weights block's `init_spread`), what random weights give per layer: from
    the lowest to the highest bound of the seeds' 99% intervals of a stack's min and max."""
    drawn = False
    bands = []
    for q, b in ((spread or {}).get("quantities") or {}).items():
        parts = q.split("/")
        if parts[0] == "qk" and parts[-2] == convention and parts[-1] == "min_pos_frac":
            top = spread["quantities"].get("/".join([*parts[:-1], "max_pos_frac"]))
            if b.get("low") is not None and top and top.get("high") is not None:
                bands.append((b["low"], top["high"]))
    if bands:
        ax.axhspan(min(lo for lo, _ in bands), max(hi for _, hi in bands), color=style.NULL,
                   alpha=0.3, label=f"random weights, {len(spread['seeds'])} seeds: 99% "
                                    "interval of a layer")
    for label, res, dim in (("trained", trained, False), ("init", init, True)):
        if not res or not res.get("qk"):
            continue
        for stack in sorted({f"{r['location']}/{r['attention']}" for r in res["qk"]["layers"]}):
            rows = qk_layers(res, stack, convention)
            if not rows:
                continue
            location, attention = stack.split("/")
            role = "cross" if attention == "cross" else location
            ax.plot([r["layer"] for r in rows], [r[convention]["pos_frac"] for r in rows],
                    marker="s" if attention == "cross" else "o", ms=4,
                    color=style.NULL if dim else style.color(role), ls=":" if dim else "-",
                    label=f"{stack} ({label})")
            drawn = True
    if not drawn:
        style.note(ax, "QK manifold: no attention layers measured")
        return
    style.qk_reference(ax)
    ax.set_xlabel("layer")
    ax.set_ylabel("positive eigenvalue fraction")
    ax.legend(fontsize=6)
    ax.set_title(f"QK manifold ({'W_q W_kᵀ' if convention == 'seed' else 'W_qᵀ W_k'}; "
                 "grey: initialization)", fontsize=9)


def dead_panel(ax: Any, results: list[dict[str, Any]]) -> None:
    """Dead (< 1%) and weak (< 10% of the layer mean) MLP neurons per model, in %; a note when
    every share is zero or absent (nothing to draw)."""
    names = [r["model"] for r in results]
    totals = [(r.get("dead_neurons") or {}).get("total") or {} for r in results]
    dead = [_num(t.get("dead_frac")) for t in totals]
    weak = [_num(t.get("weak_frac")) for t in totals]
    values = np.array(dead + weak, dtype=float)
    if not np.any(np.nan_to_num(values) > 0):
        measured = [n for n, d in zip(names, dead, strict=True) if np.isfinite(d)]
        style.note(ax, "no dead neurons at the 1% / 10% thresholds in any layer\n"
                   + (f"({', '.join(measured)})" if measured else "(no MLP measured)"))
        return
    x = np.arange(len(names))
    ax.bar(x - 0.2, 100 * np.nan_to_num(dead), 0.4, color=style.BASE, label="dead (< 1%)")
    ax.bar(x + 0.2, 100 * np.nan_to_num(weak), 0.4, color=style.ALIGNED, label="weak (< 10%)")
    ax.set(title="MLP neurons with c below 1% / 10% of the layer mean", ylabel="%", xticks=x,
           xticklabels=names)
    ax.legend(fontsize=7)


def _weight_panels(block: dict[str, Any]) -> list:
    trained, init = block.get("trained"), block.get("init")

    def sparsity(ax: Any) -> None:
        groups = [g for g in GROUPS_QKV if g in ((trained or init)["sparsity"])]
        x = np.arange(len(groups))
        drawn = [(label, res) for label, res in (("trained", trained), ("initialization", init))
                 if res is not None]
        for offset, (label, res) in enumerate(drawn):
            ax.bar(x + 0.4 * offset, [res["sparsity"][g]["<0.1"] for g in groups], width=0.4,
                   label=label, color=style.color(label))
        ax.set_xticks(x + 0.2 * (len(drawn) - 1), groups, rotation=30, fontsize=7, ha="right")
        ax.set_ylabel("share of |w| < 0.1")
        ax.set_ylim(0, 1.25)  # the legend sits above the bars, never on them
        ax.legend(fontsize=7, loc="upper center", ncol=2)
        ax.set_title("weight sparsity by role")

    def qk(ax: Any) -> None:
        qk_panel(ax, trained, init, spread=block.get("init_spread"))

    panels = [sparsity, qk]
    res = trained or init
    if res and res.get("dead_neurons"):
        panels.append(lambda ax: dead_panel(ax, [{"model": "trained" if trained else "init",
                                                  **res}]))
    return panels


def _projection_panels(block: dict[str, Any]) -> list:
    def cosines(ax: Any) -> None:
        tok = block["token_cosine"]
        pct = tok.get("percentiles") or {}
        order = sorted(pct, key=float)
        ax.plot([float(p) for p in order], [pct[p] for p in order], marker="o")
        ax.set_xlabel("percentile")
        ax.set_ylabel("cosine (held-out tokens)")
        ax.set_title(f"{block['source']} -> {block['target']}: projected vs native")

    panels = [cosines]
    if block.get("pentachora"):
        panels.append(lambda ax: pentachora_panel(ax, block["pentachora"], "projection"))
    return panels


def terrain_figure(title: str, payload: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """All panels of the run's sections in a grid of three columns."""
    panels: list = []
    if payload.get("embedding"):
        panels += _embedding_panels(payload["embedding"])
    if payload.get("layers"):
        panels += _layer_panels(payload["layers"])
    if payload.get("wordnet"):
        panels += _wordnet_panels(payload["wordnet"], arrays,
                                  style.random_weights(payload.get("model")))
    if payload.get("weights"):
        panels += _weight_panels(payload["weights"])
    if payload.get("projection"):
        panels += _projection_panels(payload["projection"])
    rows = max(1, -(-len(panels) // 3))
    fig, axes = plt.subplots(rows, 3, figsize=(15, 4.2 * rows), squeeze=False)
    for ax, draw in zip(axes.flat, panels, strict=False):
        draw(ax)
    for ax in list(axes.flat)[len(panels):]:
        fig.delaxes(ax)  # no blank axis where the grid has more cells than panels
    if not panels:
        style.note(axes[0, 0], "no section of this run has a figure")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (4.2 * rows)))  # room for the suptitle
    return fig


def cross_architecture_figure(results: list[dict[str, Any]], convention: str = "seed") -> Any:
    """§5 across runs (battery dicts with `model`): Q/K/V/QKV sparsity (initialization hatched
    grey), stable rank, QK positive fraction by depth (0.5 = random; the initialization's range
    as a grey band where the run has it), dead and weak MLP neurons (a note when all zero)."""
    if not results:
        raise ValueError("no battery results given; pass run_battery(...) dicts")
    names = [r["model"] for r in results]
    x = np.arange(len(results))
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    ax = axes[0, 0]
    groups = [k for k, g in QKV_GROUPS.items() if any(g in r["q_sparsity"] for r in results)]
    width = 0.8 / max(len(groups), 1)
    for i, key in enumerate(groups):
        g = QKV_GROUPS[key]
        ax.bar(x + i * width, [100 * _num(r["q_sparsity"].get(g)) for r in results], width,
               label=key, color=f"C{i}")
        init = [100 * _num(((r.get("init") or {}).get("q_sparsity") or {}).get(g))
                for r in results]
        if np.isfinite(init).any():
            ax.bar(x + i * width, np.nan_to_num(init), width, fill=False, hatch="//",
                   edgecolor=style.NULL, label="initialization" if i == 0 else None)
    ax.set(title="share of |w| < 0.1 (grey hatched: initialization)", ylabel="%",
           xticks=x + 0.4 - width / 2, xticklabels=names, ylim=(0, 105))
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    width = 0.8 / len(SR_GROUPS)
    for i, (key, g) in enumerate(SR_GROUPS.items()):
        ax.bar(x + i * width, [_num((r["sv"]["mean"].get(g) or {}).get("stable_rank"))
                               for r in results], width, label=key, color=f"C{i}")
    ax.set(title="mean stable rank ΣS²/S₀²", xticks=x + 0.4 - width / 2, xticklabels=names)
    ax.legend(fontsize=8)
    ax = axes[1, 0]
    banded = one_seed = False
    for i, r in enumerate(results):
        stack = primary_stack(r)
        layers = qk_layers(r, stack, convention) if stack else []
        if not layers:
            continue
        ax.plot(np.linspace(0, 1, len(layers)), [q[convention]["pos_frac"] for q in layers],
                marker="o", color=f"C{i}", label=f"{r['model']} ({stack})")
        spread = ((r.get("init_spread") or {}).get("quantities") or {})
        low = (spread.get(f"qk/{stack}/{convention}/min_pos_frac") or {}).get("low")
        high = (spread.get(f"qk/{stack}/{convention}/max_pos_frac") or {}).get("high")
        init = (((r.get("init") or {}).get("qk_summary") or {}).get(stack) or {}).get(convention)
        if low is not None and high is not None:  # the seeds' 99% interval of a layer
            ax.axhspan(low, high, color=style.NULL, alpha=0.25,
                       label="random weights: 99% interval of a layer (init seeds)"
                       if not banded else None)
            banded = True
        elif init and init.get("min_pos_frac") is not None:
            ax.axhspan(init["min_pos_frac"], init["max_pos_frac"], color=style.NULL, alpha=0.25,
                       label="initialization, one seed (min-max over layers)"
                       if not one_seed else None)
            one_seed = True
    style.qk_reference(ax)
    ax.set(title="QK positive-eigenvalue fraction "
                 f"({'W_q W_kᵀ' if convention == 'seed' else 'W_qᵀ W_k'})",
           xlabel="relative depth")
    ax.legend(fontsize=7)
    dead_panel(axes[1, 1], results)
    for a in axes.flat:  # model names slanted and right-aligned under their bars: no overlap
        a.tick_params(axis="x", labelrotation=30, labelsize=7)
        for label in a.get_xticklabels():
            label.set_horizontalalignment("right")
    fig.tight_layout()
    return fig
