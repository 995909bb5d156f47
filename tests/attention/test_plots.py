"""The attention figures (lib.attention.plots): intervals and nulls drawn where the payload has
them, stand-ins drawn apart and never called an alignment effect, labels that never overlap."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

# the figure helpers the other lines' figure tests share (tests/test_plots.py)
from test_plots import _attention_block, _blank_axes, _errorbars  # noqa: E402

from lib.attention import plots, study, tables  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_pair_figure_draws_the_si_null_interval_and_bootstrap_error_bars() -> None:
    fig = plots.pair_figure("t", _attention_block(0.6), _attention_block(0.55))
    ax = fig.axes[0]
    assert _errorbars(ax)
    assert plots.NULL_LABEL in ax.get_legend_handles_labels()[1]
    assert not _blank_axes(fig)
    fig = plots.pair_figure("t", _attention_block(0.6, False), _attention_block(0.55, False))
    assert plots.NULL_LABEL not in fig.axes[0].get_legend_handles_labels()[1]


def test_summary_and_ladder_draw_null_intervals_when_present() -> None:
    perm = [{"figure": "SI (1 - mean head correlation)", "base": {"low": 0.3, "high": 0.4},
             "instruct": {"low": 0.3, "high": 0.4}, "delta": {"low": -0.1, "high": 0.1}}]
    rows = [{"label": "E11 a", "kind": "MHA", "base_si": 0.6, "base_ci": [0.58, 0.62],
             "instruct_si": 0.55, "instruct_ci": [0.53, 0.57], "delta_si": -0.05,
             "delta_ci": [-0.07, -0.03], "stand_in": False,
             "controls": {"permutation": perm}}]
    fig = plots.summary_figure("t", rows)
    assert all(plots.NULL_LABEL in ax.get_legend_handles_labels()[1] for ax in fig.axes[:2])
    ladder = [{"display": "m", "size_b": 1.0, "si": 0.6, "si_ci": [0.58, 0.62], "kind": "MHA",
               "reference": False, "si_null": {"low": 0.3, "high": 0.4}}]
    fig = plots.ladder_figure("t", ladder, 0.7, 0.05)
    assert plots.NULL_LABEL in fig.axes[0].get_legend_handles_labels()[1]



def test_ladder_figure_draws_stand_ins_apart(ladder, family) -> None:
    trend = study.ladder_trend(family)
    fig = plots.ladder_figure("t", family, 0.33, 0.05, trend)
    scatter = fig.axes[1]
    labels = scatter.get_legend_handles_labels()[1]
    assert "random-init stand-in (not in trend or verdict)" in labels
    real, apart = [c for c in scatter.collections if c.get_offsets().shape[0]][:2]
    assert real.get_offsets()[:, 1].tolist() == [0.30, 0.34, 0.32]
    assert sorted(apart.get_offsets()[:, 1].tolist()) == [0.95, 0.99]
    line = scatter.lines[0]  # the trend spans the family's sizes only, with its interval
    assert line.get_xdata().min() == pytest.approx(0.0227)
    assert any("CI [" in label for label in labels)
    table = tables.ladder_table(family)
    assert table.loc[table["model"] == "tiny Phi", "in verdict"].item() == (
        "no: random-init stand-in")
    plt.close(fig)
    fig = plots.ladder_figure("t", ladder, 0.33, 0.05, study.ladder_trend(ladder))
    assert not fig.axes[1].lines  # no trend line without one family of three sizes
    plt.close(fig)


def test_spread_labels_never_overlap() -> None:
    ys = [0.30, 0.305, 0.31, 0.9]
    placed = plots.spread_labels(ys, 0.05)
    ordered = sorted(placed)
    assert all(b - a >= 0.05 - 1e-12 for a, b in zip(ordered, ordered[1:], strict=False))
    assert placed[3] == pytest.approx(0.9, abs=0.05)



def test_stand_in_pairs_are_labelled_in_the_summary_figure() -> None:
    rows = [{"label": "E11 a", "kind": "MQA", "base_si": 0.5, "instruct_si": 0.4,
             "delta_si": -0.1, "stand_in": True}]
    fig = plots.summary_figure("t", rows)
    titles = [ax.get_title() for ax in fig.axes]
    assert "dSI with bootstrap 95% CI: random-init stand-in pairs (test the pipeline)" in titles
    assert not any("Alignment effect" in t for t in titles)
    assert "(random-init stand-in)" in fig.axes[1].get_yticklabels()[0].get_text()
    fig = plots.summary_figure("t", [{**rows[0], "stand_in": False}])
    assert "Alignment effect: dSI with bootstrap 95% CI" in [ax.get_title() for ax in fig.axes]
