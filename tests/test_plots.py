"""The figures say what the text says: no blank panel, 0.5 marked on QK axes, the §2 scatter as a
density, intervals drawn where the payload has them, one colour per role in every figure."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from lib import style  # noqa: E402
from lib.attention import plots as aplots  # noqa: E402
from lib.modulator import plots as mplots  # noqa: E402
from lib.terrain import plots as tplots  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _qk_row(location: str, attention: str, layer: int, frac: float) -> dict[str, Any]:
    return {"location": location, "attention": attention, "layer": layer,
            "seed": {"pos_frac": frac, "neg_frac": 1 - frac},
            "bilinear": {"pos_frac": frac, "neg_frac": 1 - frac}}


def _battery(model: str, frac: float, dead: float = 0.0, init_qk: bool = True) -> dict[str, Any]:
    groups = ("self_attn_q", "self_attn_k", "self_attn_v", "mlp_up", "mlp_down")
    qk_layers = [_qk_row("encoder", "self", i, frac + 0.01 * i) for i in range(3)]
    return {
        "model": model,
        "sparsity": {g: {"<0.1": 0.7} for g in groups},
        "q_sparsity": {"self_attn_q": 0.95, "self_attn_k": 0.7, "self_attn_v": 0.7},
        "sv": {"mean": {g: {"stable_rank": 10.0} for g in groups}},
        "qk": {"layers": qk_layers,
               "summary": {"encoder/self": {"seed": {"first_pos_frac": frac}}}},
        "dead_neurons": {"layers": [], "total": {"dead_frac": dead, "weak_frac": dead}},
        "init": {"q_sparsity": {"self_attn_q": 1.0},
                 "qk_summary": {"encoder/self": {"seed": {"min_pos_frac": 0.49,
                                                          "max_pos_frac": 0.51}}}
                 if init_qk else None},
    }


def _terrain_payload(source: str = "tiny", synset_ci: bool = True) -> tuple[dict, dict]:
    rng = np.random.default_rng(0)
    s = rng.uniform(0.05, 1, 500)
    arrays = {"s": s, "static": 0.3 * s + rng.normal(0, 0.1, 500),
              "encoder": 0.5 * s + rng.normal(0, 0.1, 500)}
    stability: dict[str, Any] = {
        "n_seeds": 5, "per_seed": {"static_pearson": [0.4] * 5, "enc_pearson": [0.6] * 5}}
    if synset_ci:
        stability["synset_bootstrap"] = {"enc_pearson": {"mean": 0.6, "ci": [0.5, 0.7]},
                                         "n_boot": 200, "level": 0.95}
    init = _battery("init", 0.5)
    payload = {
        "model": {"name": f"{source}/x", "source": source},
        "embedding": {"cosine": {"mean": 0.0, "percentiles": {"5": -0.1, "50": 0.0, "95": 0.1}},
                      "distances": {"percentiles": {"5": 1.0, "50": 2.0, "95": 3.0}},
                      "pentachora": {"cv": 0.12, "reference_cv": 0.3,
                                     "ratio_embed_random": 0.99}},
        "wordnet": {"alignment": {"static": {"pearson": 0.4}, "encoder": {"pearson": 0.6},
                                  "n_pairs": 500,
                                  "depth_decay": [{"depth": d, "static": 0.5, "encoder": 0.6}
                                                  for d in range(3)]},
                    "stability": stability},
        "weights": {"trained": _battery("trained", 0.7), "init": init},
    }
    return payload, arrays


def _blank_axes(fig: Any) -> list[Any]:
    """Visible axes with nothing drawn and no text note."""
    return [ax for ax in fig.axes if ax.get_visible() and not ax.has_data() and not ax.texts]


def _errorbars(ax: Any) -> list[Any]:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def _modulator_payload(with_ci: bool, source: str = "embedded") -> dict[str, Any]:
    def block(v: float) -> dict[str, Any]:
        b: dict[str, Any] = {"pearson": v, "relative_lift_pearson": v - 0.5}
        if with_ci:
            b |= {"pearson_ci": [v - 0.05, v + 0.05],
                  "relative_lift_pearson_ci": [v - 0.6, v - 0.4], "n_boot": 200, "level": 0.95}
        return b

    sets = {k: block(v) for k, v in (("Static", 0.3), ("Original", 0.5), ("Procrustes", 0.52))}
    return {"model": {"name": "m", "source": source},
            "procrustes": {"evaluation": {"relational": {"sets": sets, "bands": []}}}}


def test_modulator_pearsons_get_error_bars_only_with_intervals() -> None:
    fig, ax = plt.subplots()
    mplots.pearson_panel(ax, _modulator_payload(with_ci=True))
    assert _errorbars(ax)
    assert "lift" in " ".join(t.get_text() for t in ax.texts)
    fig, ax = plt.subplots()
    mplots.pearson_panel(ax, _modulator_payload(with_ci=False))
    assert not _errorbars(ax)


def test_modulator_figure_has_no_blank_axis_and_says_machinery_on_random_weights() -> None:
    fig = mplots.modulator_figure("t", _modulator_payload(True, source="tiny"))
    assert not _blank_axes(fig)
    assert any("machinery check" in ax.get_title() for ax in fig.axes)


def _attention_block(si: float, null: bool = True) -> dict[str, Any]:
    m = np.eye(4).tolist()
    return {"specialization_index": si, "si_ci": [si - 0.02, si + 0.02],
            "mean_head_correlation": 1 - si, "effective_ratio": 0.8,
            "layer_variances": [0.01, 0.02, 0.01], "head_correlation_matrix": m,
            "model": {"name": "embedded/x", "source": "embedded"},
            "controls": {"head_permutation": {"si": {"low": 0.3, "high": 0.4} if null else
                                              {"low": None, "high": None}}}}


def test_the_same_role_gets_the_same_colour_in_every_figure() -> None:
    payload, arrays = _terrain_payload()
    terrain = tplots.terrain_figure("t", payload, arrays)
    sparsity = next(ax for ax in terrain.axes if ax.get_title() == "weight sparsity by role")
    trained, init = sparsity.containers[0], sparsity.containers[1]
    pair = aplots.pair_figure("t", _attention_block(0.6), _attention_block(0.55))
    si_bars = [p for p in pair.axes[0].patches if p.get_height() in (0.6, 0.55)]
    null_band = [p for p in pair.axes[0].collections if p.get_label() == aplots.NULL_LABEL]
    mod = plt.subplots()[1]
    mplots.pearson_panel(mod, _modulator_payload(True))
    original = mod.patches[1]  # Static, Original, Procrustes
    assert to_hex(trained[0].get_facecolor()) == to_hex(si_bars[0].get_facecolor()) \
        == to_hex(original.get_facecolor()) == style.BASE
    assert to_hex(si_bars[1].get_facecolor()) == style.ALIGNED
    assert to_hex(init[0].get_facecolor()) == to_hex(null_band[0].get_facecolor()[0]) \
        == style.NULL
