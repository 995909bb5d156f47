"""The terrain figures (lib.terrain.plots): no blank panel, 0.5 marked on QK axes, the §2
scatter as a density, intervals drawn where the payload has them, dead neurons noted or drawn."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection, QuadMesh  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

# the figure helpers the lines' figure tests share (tests/test_plots.py)
from test_plots import _battery, _blank_axes, _errorbars, _terrain_payload  # noqa: E402

from lib import style  # noqa: E402
from lib.terrain import plots as tplots  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _qk_axes(fig: Any) -> list[Any]:
    return [ax for ax in fig.axes if "QK" in ax.get_title()]


def _has_half_line(ax: Any) -> bool:
    return any(np.allclose(line.get_ydata(), 0.5) for line in ax.get_lines()
               if len(line.get_ydata()))


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
