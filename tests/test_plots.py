"""The figures say what the text says: no blank panel, 0.5 marked on QK axes, the §2 scatter as a
density, intervals drawn where the payload has them, one colour per role in every figure."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection, QuadMesh  # noqa: E402
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


def _qk_axes(fig: Any) -> list[Any]:
    return [ax for ax in fig.axes if "QK" in ax.get_title()]


def _has_half_line(ax: Any) -> bool:
    return any(np.allclose(line.get_ydata(), 0.5) for line in ax.get_lines()
               if len(line.get_ydata()))


def _errorbars(ax: Any) -> list[Any]:
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def _texts(fig: Any) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_terrain_figure_has_no_blank_axis_and_notes_all_zero_dead_neurons() -> None:
    payload, arrays = _terrain_payload()
    fig = tplots.terrain_figure("t", payload, arrays)
    assert not _blank_axes(fig)
    assert "no dead neurons" in _texts(fig)


def test_dead_neurons_are_drawn_as_bars_when_some_are_dead() -> None:
    fig = tplots.cross_architecture_figure([_battery("a", 0.6, dead=0.02), _battery("b", 0.6)])
    assert not _blank_axes(fig)
    assert "no dead neurons" not in _texts(fig)
    dead_ax = next(ax for ax in fig.axes if "MLP neurons" in ax.get_title())
    assert max(p.get_height() for p in dead_ax.patches) == pytest.approx(2.0)


def test_cross_architecture_figure_notes_all_zero_dead_neurons() -> None:
    fig = tplots.cross_architecture_figure([_battery("a", 0.6), _battery("b", 0.4)])
    assert not _blank_axes(fig)
    assert "no dead neurons" in _texts(fig)


def test_qk_axes_mark_random_half_in_range_and_draw_the_init_in_grey() -> None:
    payload, arrays = _terrain_payload()
    for fig in (tplots.terrain_figure("t", payload, arrays),
                tplots.cross_architecture_figure([_battery("a", 0.6)])):
        axes = _qk_axes(fig)
        assert axes
        for ax in axes:
            assert _has_half_line(ax)
            lo, hi = ax.get_ylim()
            assert lo <= 0.0 and hi >= 1.0
            assert style.RANDOM_QK_LABEL in ax.get_legend_handles_labels()[1]
    terrain_qk = _qk_axes(tplots.terrain_figure("t", payload, arrays))[0]
    init_lines = [ln for ln in terrain_qk.get_lines() if "(init)" in ln.get_label()]
    assert init_lines and all(to_hex(ln.get_color()) == style.NULL for ln in init_lines)
    band = _qk_axes(tplots.cross_architecture_figure([_battery("a", 0.6)]))[0].patches
    assert any(to_hex(p.get_facecolor()) == style.NULL for p in band)
    no_init = _qk_axes(tplots.cross_architecture_figure([_battery("a", 0.6, init_qk=False)]))[0]
    assert not no_init.patches


def test_wordnet_scatter_is_a_density_with_binned_means() -> None:
    payload, arrays = _terrain_payload()
    fig = tplots.terrain_figure("t", payload, arrays)
    ax = next(ax for ax in fig.axes if "pairs)" in ax.get_title())
    assert any(isinstance(c, PolyCollection | QuadMesh) for c in ax.collections)
    assert len(_errorbars(ax)) == 2  # static and encoder binned means with their spread
    assert not any(type(c).__name__ == "PathCollection" for c in ax.collections)  # no cloud


def test_random_weights_get_a_machinery_title_and_real_ones_an_alignment_title() -> None:
    for source, expected, absent in (("tiny", "machinery check", "relational alignment"),
                                     ("embedded", "relational alignment", "machinery check")):
        payload, arrays = _terrain_payload(source)
        titles = " ".join(ax.get_title() for ax in
                          tplots.terrain_figure("t", payload, arrays).axes)
        assert expected in titles and absent not in titles


def test_synset_bootstrap_interval_and_reference_cv_are_drawn_when_present() -> None:
    payload, arrays = _terrain_payload(synset_ci=True)
    fig = tplots.terrain_figure("t", payload, arrays)
    stab = next(ax for ax in fig.axes if ax.get_title().startswith("stability"))
    assert _errorbars(stab)
    vol = next(ax for ax in fig.axes if "pentachoron" in ax.get_title())
    assert any(np.allclose(ln.get_ydata(), 0.3) for ln in vol.get_lines())
    payload, arrays = _terrain_payload(synset_ci=False)
    del payload["embedding"]["pentachora"]["reference_cv"]
    fig = tplots.terrain_figure("t", payload, arrays)
    stab = next(ax for ax in fig.axes if ax.get_title().startswith("stability"))
    assert not _errorbars(stab)
    vol = next(ax for ax in fig.axes if "pentachoron" in ax.get_title())
    assert not vol.get_lines()


def _modulator_payload(with_ci: bool, source: str = "embedded") -> dict[str, Any]:
    def block(v: float) -> dict[str, Any]:
        b: dict[str, Any] = {"pearson": v, "relative_lift_pearson": v - 0.5}
        if with_ci:
            b |= {"pearson_ci": [v - 0.05, v + 0.05],
                  "relative_lift_pearson_ci": [v - 0.6, v - 0.4], "n_boot": 200, "level": 0.95}
        return b

    sets = {k: block(v) for k, v in (("Static", 0.3), ("Original", 0.5), ("Procrustes", 0.52))}
    return {"model": {"name": "m", "source": source},
            "section8": {"evaluation": {"relational": {"sets": sets, "bands": []}}}}


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


def test_pair_figure_draws_the_si_null_interval_and_bootstrap_error_bars() -> None:
    fig = aplots.pair_figure("t", _attention_block(0.6), _attention_block(0.55))
    ax = fig.axes[0]
    assert _errorbars(ax)
    assert aplots.NULL_LABEL in ax.get_legend_handles_labels()[1]
    assert not _blank_axes(fig)
    fig = aplots.pair_figure("t", _attention_block(0.6, False), _attention_block(0.55, False))
    assert aplots.NULL_LABEL not in fig.axes[0].get_legend_handles_labels()[1]


def test_summary_and_ladder_draw_null_intervals_when_present() -> None:
    perm = [{"figure": "SI (1 - mean head correlation)", "base": {"low": 0.3, "high": 0.4},
             "instruct": {"low": 0.3, "high": 0.4}, "delta": {"low": -0.1, "high": 0.1}}]
    rows = [{"label": "E11 a", "kind": "MHA", "base_si": 0.6, "base_ci": [0.58, 0.62],
             "instruct_si": 0.55, "instruct_ci": [0.53, 0.57], "delta_si": -0.05,
             "delta_ci": [-0.07, -0.03], "stand_in": False,
             "controls": {"permutation": perm}}]
    fig = aplots.summary_figure("t", rows)
    assert all(aplots.NULL_LABEL in ax.get_legend_handles_labels()[1] for ax in fig.axes[:2])
    ladder = [{"display": "m", "size_b": 1.0, "si": 0.6, "si_ci": [0.58, 0.62], "kind": "MHA",
               "reference": False, "si_null": {"low": 0.3, "high": 0.4}}]
    fig = aplots.ladder_figure("t", ladder, 0.7, 0.05)
    assert aplots.NULL_LABEL in fig.axes[0].get_legend_handles_labels()[1]


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
