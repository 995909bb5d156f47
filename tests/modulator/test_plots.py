"""lib.modulator.plots: the run's figure, with sections switched off."""

from __future__ import annotations

import matplotlib
import numpy as np

from lib.modulator import plots


def test_figure_draws_with_sections_missing() -> None:
    matplotlib.use("Agg")
    train = {"alpha_history": np.full((3, 2), 0.01).tolist(), "alpha_steps": [0, 10, 20],
             "step_loss": [3.0, 2.5, 2.0], "val_loss": [2.2], "n_train": 90, "steps": 3,
             "config": {"batch_size": 32}}
    evaluation = {"relational": {"sets": {"Trained": {"pearson": 0.2}}, "bands": []}}
    fig = plots.modulator_figure("t", {"trained": {"train": train, "evaluation": evaluation},
                                       "procrustes": None})
    assert len(fig.axes) >= 6
    titles = [ax.get_title() for ax in fig.axes]
    assert any("alpha per layer" in t for t in titles)
