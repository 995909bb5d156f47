"""lib.stats.intervals and lib.stats.resampling: the one interval, its NaN policy, the one draw."""

from __future__ import annotations

import numpy as np
import pytest

from lib.stats.intervals import check_resampling, percentile_interval
from lib.stats.resampling import mean_weights, multiplicities


def test_the_interval_is_numpys_central_percentile_of_the_defined_values() -> None:
    values = np.arange(101, dtype=float)
    assert percentile_interval(values, 0.9) == pytest.approx((5.0, 95.0))
    with_nan = np.r_[values, [np.nan] * 20]  # dropped: 101 of 121 defined
    assert percentile_interval(with_nan, 0.9) == percentile_interval(values, 0.9)


def test_fewer_than_half_defined_is_no_interval() -> None:
    assert percentile_interval([1.0, 2.0, np.nan, np.inf, np.nan], 0.9) is None
    assert percentile_interval([1.0, 2.0, np.nan, 3.0], 0.9) is not None
    assert percentile_interval([], 0.9) is None


@pytest.mark.parametrize("n_boot, level", [(0, 0.95), (1, 0.95), (2.5, 0.95), (10, 1.0),
                                           (10, 0.0)])
def test_bad_resampling_settings_are_refused_in_one_line(n_boot, level) -> None:
    with pytest.raises(ValueError) as err:
        check_resampling(n_boot, level)
    assert "\n" not in str(err.value)


def test_one_seeded_draw_of_multiplicities() -> None:
    counts = multiplicities(7, 500, seed=3)
    assert counts.shape == (500, 7) and (counts.sum(axis=1) == 7).all()
    assert np.array_equal(counts, multiplicities(7, 500, seed=3))
    assert not np.array_equal(counts, multiplicities(7, 500, seed=4))
    assert counts.mean() == pytest.approx(1.0, abs=0.05)  # each item drawn once on average
    assert np.allclose(mean_weights(7, 500, 3).sum(axis=1), 1.0)
