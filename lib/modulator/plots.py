"""The modulator run's figure: alpha per layer over training, loss curves, the alpha sweep, the
relational Pearson of each set, the field modulator's alphas and the distance bands."""

from __future__ import annotations

from typing import Any

import numpy as np

from lib import style
from lib.modulator.field import PHASE_BOUNDARY

_off = style.note
LOSS_COLORS = (style.SET_COLORS["Trained"], style.SET_COLORS["Field"])


def _per_layer(history: Any) -> np.ndarray:
    """[checkpoints, layers] (field alphas [checkpoints, layers, experts] averaged over experts)."""
    h = np.asarray(history, dtype=float)
    return h.reshape(len(h), h.shape[1], -1).mean(axis=2) if h.ndim > 1 else h[:, None]


def alpha_panel(ax: Any, train: dict[str, Any] | None, title: str) -> None:
    """Alpha of each layer over the training steps, with the 0.29154 and 0.5 lines."""
    if not train or not train["alpha_history"]:
        _off(ax, f"{title}: not run")
        return
    h = _per_layer(train["alpha_history"])
    for layer in range(h.shape[1]):
        ax.plot(train["alpha_steps"], h[:, layer], "o-", ms=3, label=f"layer {layer}",
                color=f"C{layer % 10}")
    top = float(np.nanmax(h))
    far = []  # the constants are drawn only where they would not flatten the curves
    for value, line in ((PHASE_BOUNDARY, "--"), (0.5, ":")):
        if value <= 3 * top:
            ax.axhline(value, color="k", ls=line, lw=0.8, label=f"{value}")
        else:
            far.append(f"{value}")
    if far:
        title = f"{title}\n({' and '.join(far)} far above)"
    ax.set_xlabel("step")
    ax.set_ylabel("alpha")
    ax.set_title(title)
    ax.legend(fontsize=6, ncol=2)


def loss_panel(ax: Any, trains: dict[str, dict[str, Any] | None]) -> None:
    """Per-step training loss and per-epoch validation loss of each trained modulator."""
    drawn = False
    for i, (name, train) in enumerate(trains.items()):
        if not train or not train["step_loss"]:
            continue
        steps = np.arange(1, len(train["step_loss"]) + 1)
        ax.plot(steps, train["step_loss"], color=LOSS_COLORS[i % 2], alpha=0.5, lw=0.8,
                label=f"{name} train")
        n_epochs = len(train["val_loss"])
        ends = np.minimum(np.cumsum(np.full(n_epochs, -(-train["n_train"] //
                                                       train["config"]["batch_size"]))),
                          train["steps"])
        ax.plot(ends, train["val_loss"], "o-", color=LOSS_COLORS[i % 2],
                label=f"{name} validation")
        drawn = True
    if not drawn:
        _off(ax, "loss: no training")
        return
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy")
    ax.set_title("training loss")
    ax.legend(fontsize=7)


def sweep_panel(ax: Any, sweep: dict[str, Any] | None) -> None:
    """§10: Pearson and Spearman of the modulated reps and preservation against alpha."""
    if not sweep:
        _off(ax, "§10 sweep: not run")
        return
    rows = sweep["rows"]
    a = [r["alpha"] for r in rows]
    ax.plot(a, [r["pearson"] for r in rows], "o-", label="Pearson")
    ax.plot(a, [r["spearman"] for r in rows], "s-", label="Spearman")
    ax.axhline(rows[0]["original_pearson"], color="C0", ls=":", lw=0.8, label="original Pearson")
    ax.axvline(PHASE_BOUNDARY, color="k", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("static alpha (all layers)")
    ax.set_ylabel("relational correlation")
    twin = ax.twinx()
    twin.plot(a, [r["preservation"] for r in rows], "^-", color="C3", label="preservation")
    twin.set_ylabel("preservation (mean cosine)", color="C3")
    ax.set_title("§10: alpha sweep (untrained §8 modulator)")
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7)


def relational_sets(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every relational evaluation set of the run, by name: §8's Static / Original /
    Procrustes (`procrustes`), §9's Trained (`trained`), §12's Field (`field`), each its block:
    pearson, pearson_ci, lifts ..."""
    out: dict[str, dict[str, Any]] = {}
    procrustes = payload.get("procrustes")
    if procrustes:
        sets = procrustes["evaluation"]["relational"]["sets"]
        out.update({n: sets[n] for n in ("Static", "Original", "Procrustes") if n in sets})
    if payload.get("trained"):
        out["Trained"] = payload["trained"]["evaluation"]["relational"]["sets"]["Trained"]
    field = payload.get("field")
    if field and "relational" in field:
        out["Field"] = field["relational"]["sets"]["Field"]
    return out


def _ci(block: dict[str, Any], key: str) -> Any:
    ci = block.get(key)
    return ci if ci is not None and len(ci) == 2 and None not in ci else None


def pearson_panel(ax: Any, payload: dict[str, Any]) -> None:
    """The relational Pearson of every set measured on the same pairs, with its interval from
    resampling the evaluation lemmas (`pearson_ci`) and the relative lift's
    (`relative_lift_pearson_ci`) when stored."""
    sets = relational_sets(payload)
    if not sets:
        _off(ax, "no relational evaluation")
        return
    names = list(sets)
    heights = [np.nan if b.get("pearson") is None else float(b["pearson"]) for b in sets.values()]
    err = style.yerr(heights, [_ci(b, "pearson_ci") for b in sets.values()])
    ax.bar(names, heights, yerr=err, capsize=5,
           color=[style.SET_COLORS.get(n, style.NULL) for n in names])
    for i, (h, b) in enumerate(zip(heights, sets.values(), strict=True)):
        text = f"{h:.3f}"
        lift, lift_ci = b.get("relative_lift_pearson"), _ci(b, "relative_lift_pearson_ci")
        if lift is not None and lift_ci:
            text += f"\nlift {100 * lift:+.1f}%\n[{100 * lift_ci[0]:+.1f}, {100 * lift_ci[1]:+.1f}]"
        top = h + (err[1][i] if err is not None else 0)
        ax.text(i, top if np.isfinite(top) else 0, text, ha="center", va="bottom", fontsize=6)
    tops = [h + (err[1][i] if err is not None else 0) for i, h in enumerate(heights)]
    finite = [t for t in tops if np.isfinite(t)]
    if finite:  # headroom for the three-line labels above the tallest bar
        ax.set_ylim(top=max(max(finite), 0) * 1.35 + 0.02)
    level = next((b.get("level") for b in sets.values() if b.get("level")), 0.95)
    n_boot = next((b.get("n_boot") for b in sets.values() if b.get("n_boot")), None)
    ax.set_ylabel("Pearson r with WordNet similarity")
    subject = ("machinery check (random weights): relational Pearson"
               if style.random_weights(payload.get("model")) else
               "original vs modulated relational Pearson")
    resamples = f", {n_boot} resamples of the evaluation lemmas" if n_boot else ", lemmas resampled"
    ax.set_title(subject + (f"\n({100 * level:.0f}% CI{resamples})"
                            if err is not None else ""), fontsize=9)
    ax.tick_params(axis="x", labelsize=8)


def bands_panel(ax: Any, payload: dict[str, Any]) -> None:
    """Mean cosine per similarity band for the Original and the modulated sets (§8, §9)."""
    procrustes = payload.get("procrustes")
    if not procrustes or not procrustes["evaluation"]["relational"]["bands"]:
        _off(ax, "no bands")
        return
    bands = procrustes["evaluation"]["relational"]["bands"]
    x = np.arange(len(bands))
    series = {name: [b[name] for b in bands] for name in ("Static", "Original", "Procrustes")}
    trained = payload.get("trained")
    if trained:
        by_band = {(b["lo"], b["hi"]): b.get("Trained")
                   for b in trained["evaluation"]["relational"]["bands"]}
        series["Trained"] = [by_band.get((b["lo"], b["hi"])) for b in bands]
    for i, (name, ys) in enumerate(series.items()):
        ax.plot(x, [y if y is not None else np.nan for y in ys], "o-",
                color=style.SET_COLORS.get(name, f"C{i}"), label=name)
    ax.set_xticks(x, [f"[{b['lo']:g}, {b['hi']:g})" for b in bands], fontsize=7)
    ax.set_xlabel("path-similarity band")
    ax.set_ylabel("mean cosine")
    ax.set_title("distance bands")
    ax.legend(fontsize=7)


def modulator_figure(title: str, payload: dict[str, Any]) -> Any:
    """One figure for a run: 2 × 3 panels, each saying 'not run' where its section is off."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    trained, field = payload.get("trained"), payload.get("field")
    alpha_panel(axes[0, 0], trained["train"] if trained else None, "§9: alpha per layer (LERP)")
    loss_panel(axes[0, 1], {"LERP §9": trained["train"] if trained else None,
                            "field §12": field["train"] if field else None})
    sweep_panel(axes[0, 2], payload.get("alpha_sweep"))
    pearson_panel(axes[1, 0], payload)
    bands_panel(axes[1, 1], payload)
    alpha_panel(axes[1, 2], field["train"] if field else None,
                "§12: field alpha per layer (mean of experts)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
