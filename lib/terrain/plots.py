"""The terrain run's figure: one panel per measured quantity of the sections the run has."""

from __future__ import annotations

from typing import Any

import numpy as np

GROUPS_QKV = ("self_attn_q", "self_attn_k", "self_attn_v", "self_attn_qkv", "mlp_up", "mlp_down")


def _embedding_panels(block: dict[str, Any]) -> list:
    def cosines(ax: Any) -> None:
        for key, label in (("cosine", "pairwise cosine"), ("distances", "distance / max")):
            pct = block.get(key, {}).get("percentiles")
            if not pct:
                continue
            xs = [float(p) for p in pct]
            ys = np.array([pct[p] for p in pct], dtype=float)
            if key == "distances":
                ys = ys / max(float(np.max(ys)), 1e-12)
            ax.plot(xs, ys, marker="o", label=label)
        ax.set_xlabel("percentile")
        ax.set_title(f"embedding: cosine (mean {block['cosine']['mean']:.3f}) and distance")
        ax.legend(fontsize=7)

    def volumes(ax: Any) -> None:
        p = block["pentachora"]
        means = [p.get("mean"), p.get("random_mean")]
        ax.bar(["embedding", "Gaussian reference"], [m if m is not None else np.nan for m in means],
               color=["tab:blue", "tab:gray"])
        ratio = p.get("ratio_embed_random")
        ax.set_title(f"pentachoron volume: CV {p.get('cv', float('nan')):.3f}, "
                     f"embed/random {ratio if ratio is not None else float('nan'):.3f}")
        ax.set_ylabel("mean volume")

    def categories(ax: Any) -> None:
        cats = block.get("categories") or {}
        names, matrix = cats.get("centroid_names"), cats.get("centroid_cosine")
        if not names or matrix is None:
            ax.set_axis_off()
            return
        im = ax.imshow(np.asarray(matrix, dtype=float), vmin=-1, vmax=1, cmap="coolwarm")
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_title("category centroids: cosine")
        ax.figure.colorbar(im, ax=ax, shrink=0.7)

    return [cosines, volumes, categories]


def _layer_panels(block: dict[str, Any]) -> list:
    def layers(ax: Any) -> None:
        enc = block["encoder"]
        names, per = enc["layers"], enc["per_layer"]
        per = per if isinstance(per, list) else [per[n] for n in names]
        ax.plot(range(len(names)), [v["mean_norm"] for v in per], marker="o", label="token norm")
        ax2 = ax.twinx()
        ax2.plot(range(len(names)), [v["mean_cos"] for v in per], marker="s", color="tab:orange",
                 label="position cosine")
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
        ax.set_ylabel("mean token norm (o)")
        ax2.set_ylabel("mean pairwise position cosine (s)")
        ax.set_title("encoder layer by layer (hooks)")

    return [layers]


def _wordnet_panels(block: dict[str, Any], arrays: dict[str, np.ndarray]) -> list:
    a = block["alignment"]

    def scatter(ax: Any) -> None:
        if not arrays:
            ax.set_axis_off()
            return
        s = arrays["s"]
        for key, color in (("static", "tab:gray"), ("encoder", "tab:blue")):
            ax.scatter(s, arrays[key], s=2, alpha=0.15, color=color,
                       label=f"{key}: Pearson {a[key]['pearson']:.3f}")
        ax.set_xlabel("WordNet path similarity")
        ax.set_ylabel("cosine")
        ax.legend(fontsize=7, markerscale=5)
        ax.set_title(f"relational alignment ({a['n_pairs']:,} pairs)")

    def decay(ax: Any) -> None:
        rows = a.get("depth_decay") or []
        d = [r["depth"] for r in rows]
        for key, color in (("static", "tab:gray"), ("encoder", "tab:blue")):
            ax.plot(d, [r[key] for r in rows], marker="o", color=color, label=key)
        ax.set_xlabel("hypernym depth (matched ancestors)")
        ax.set_ylabel("cosine to the root")
        ax.legend(fontsize=7)
        ax.set_title("hypernym chain decay")

    panels = [scatter, decay]
    stab = block.get("stability")
    if stab:
        def seeds(ax: Any) -> None:
            per = stab["per_seed"]
            keys = [k for k in ("static_pearson", "enc_pearson", "gradient_static",
                                "gradient_enc") if k in per]
            ax.boxplot([per[k] for k in keys], tick_labels=keys)
            ax.tick_params(axis="x", labelrotation=30, labelsize=7)
            ax.set_title(f"stability over {stab['n_seeds']} seeds")

        panels.append(seeds)
    return panels


def _weight_panels(block: dict[str, Any]) -> list:
    trained, init = block.get("trained"), block.get("init")

    def sparsity(ax: Any) -> None:
        groups = [g for g in GROUPS_QKV if g in ((trained or init)["sparsity"])]
        x = np.arange(len(groups))
        for offset, (label, res) in enumerate((("trained", trained), ("initialization", init))):
            if res is None:
                continue
            ax.bar(x + 0.4 * offset, [res["sparsity"][g]["<0.1"] for g in groups], width=0.4,
                   label=label)
        ax.set_xticks(x + 0.2, groups, rotation=30, fontsize=7)
        ax.set_ylabel("share of |w| < 0.1")
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=7)
        ax.set_title("weight sparsity by role")

    def qk(ax: Any) -> None:
        res = trained or init
        for convention, marker in (("seed", "o"), ("bilinear", "s")):
            rows = [r for r in res["qk"]["layers"] if r.get("attention") == "self"
                    and convention in r]
            for location in sorted({r["location"] for r in rows}):
                mine = [r for r in rows if r["location"] == location]
                ax.plot([r["layer"] for r in mine], [r[convention]["pos_frac"] for r in mine],
                        marker=marker, label=f"{location} {convention}")
        ax.axhline(0.5, color="k", lw=0.5)
        ax.set_xlabel("layer")
        ax.set_ylabel("positive eigenvalue fraction")
        ax.legend(fontsize=6)
        ax.set_title("QK manifold (self-attention)")

    return [sparsity, qk]


def _projection_panels(block: dict[str, Any]) -> list:
    def cosines(ax: Any) -> None:
        tok = block["token_cosine"]
        pct = tok.get("percentiles") or {}
        ax.plot([float(p) for p in pct], list(pct.values()), marker="o")
        ax.set_xlabel("percentile")
        ax.set_ylabel("cosine (held-out tokens)")
        ax.set_title(f"{block['source']} -> {block['target']}: projected vs native")

    return [cosines]


def terrain_figure(title: str, payload: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    """All panels of the run's sections in a grid of three columns."""
    import matplotlib.pyplot as plt

    panels: list = []
    if payload.get("embedding"):
        panels += _embedding_panels(payload["embedding"])
    if payload.get("layers"):
        panels += _layer_panels(payload["layers"])
    if payload.get("wordnet"):
        panels += _wordnet_panels(payload["wordnet"], arrays)
    if payload.get("weights"):
        panels += _weight_panels(payload["weights"])
    if payload.get("projection"):
        panels += _projection_panels(payload["projection"])
    rows = max(1, -(-len(panels) // 3))
    fig, axes = plt.subplots(rows, 3, figsize=(15, 4.2 * rows), squeeze=False)
    for ax, draw in zip(axes.flat, panels, strict=False):
        draw(ax)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_axis_off()
    fig.suptitle(title)
    fig.tight_layout()
    return fig
