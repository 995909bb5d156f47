"""lib.terrain.spectra: participation ratio and variance dimensions (D2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lib.terrain import spectra


def test_isotropic_data_has_pr_near_dim() -> None:
    X = np.random.default_rng(0).standard_normal((20000, 10))
    assert spectra.participation_ratio(X) == pytest.approx(10, rel=0.02)


def test_rank_one_data_has_pr_one() -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 1)) * rng.standard_normal((1, 20)) + 3.0  # offset: centered
    assert spectra.participation_ratio(X) == pytest.approx(1.0, abs=1e-9)


def test_eigvals_match_numpy_cov_for_both_ddofs() -> None:
    X = np.random.default_rng(2).standard_normal((40, 6)) @ np.diag([3, 2, 1, 1, 0.5, 0.1])
    for ddof in (0, 1):
        expected = np.sort(np.linalg.eigvalsh(np.cov(X.T, ddof=ddof)))[::-1]
        np.testing.assert_allclose(spectra.centered_cov_eigvals(X, ddof), expected, rtol=1e-10)
    # PR is scale free: ddof does not change it
    assert spectra.participation_ratio(X, 0) == pytest.approx(spectra.participation_ratio(X, 1))
    as_torch = spectra.centered_cov_eigvals(torch.tensor(X, dtype=torch.float64), 1)
    np.testing.assert_allclose(as_torch, spectra.centered_cov_eigvals(X, 1), rtol=1e-12)


def test_hand_computed_pr_and_dims() -> None:
    eig = np.array([4.0, 3.0, 2.0, 1.0])
    assert spectra.participation_ratio_of(eig) == pytest.approx(100 / 30)
    # cumulative shares 0.4, 0.7, 0.9, 1.0
    assert spectra.dims_for_variance(eig, [0.4, 0.5, 0.8, 0.95]) == [1, 2, 3, 4]
    summary = spectra.spectrum_summary(eig, dim=8)
    assert summary["pr_over_dim"] == pytest.approx(100 / 30 / 8)
    assert summary["top1_share"] == pytest.approx(0.4)


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match=r"\[samples, dims\]"):
        spectra.participation_ratio(np.zeros(5))
    with pytest.raises(ValueError, match="more than ddof"):
        spectra.centered_cov_eigvals(np.zeros((1, 3)), ddof=1)
    with pytest.raises(ValueError, match="zero"):
        spectra.participation_ratio(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        spectra.dims_for_variance([1.0], [1.5])
