"""The Gaussian reference beside every pentachoron volume CV (issue 16): `reference_cv` is the CV
of the reference volumes the ratio already draws, with bootstrap intervals, in §1, §13a, §13b."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lib.terrain import embeddings, procrustes
from lib.terrain.simplex import cayley_menger_volumes, cv_versus_reference, sample_simplices

SIZES = {"n_cosine": 40, "n_distances": 25}


def _gaussian_cv(d: int, n: int = 20_000) -> float:
    """The CV of isotropic Gaussian pentachoron volumes in d dims, from a large sample."""
    v = cayley_menger_volumes(np.random.default_rng(123).standard_normal((n, 5, d)))
    return float(np.nanstd(v) / np.nanmean(v))


@pytest.fixture(scope="module")
def gaussian() -> np.ndarray:
    return np.random.default_rng(11).standard_normal((3000, 24)).astype(np.float32)


@pytest.fixture(scope="module")
def low_rank() -> np.ndarray:
    rng = np.random.default_rng(12)
    basis = rng.standard_normal((4, 24))
    return (rng.standard_normal((3000, 4)) @ basis
            + 1e-2 * rng.standard_normal((3000, 24))).astype(np.float32)


@pytest.mark.parametrize("protocol", ["all_rows_isotropic", "sampled_per_dimension"])
def test_reference_cv_is_the_gaussian_cv_and_separates_a_low_rank_matrix(
        protocol: str, gaussian: np.ndarray, low_rank: np.ndarray) -> None:
    geometry = getattr(embeddings, f"{protocol}_geometry")
    extra = {"n_pca": 500} if protocol == "sampled_per_dimension" else {}
    truth = _gaussian_cv(24)
    g = geometry(gaussian, seed=3, n_simplices=800, **SIZES, **extra)["pentachora"]
    cmp = g["cv_vs_reference"]
    assert g["reference_cv"] == cmp["reference_cv"] and g["cv"] == pytest.approx(cmp["cv"])
    assert g["reference_cv"] == pytest.approx(g["random_cv"])  # the ratio's own reference
    lo, hi = cmp["reference_cv_ci"]
    assert lo < truth < hi and lo < g["reference_cv"] < hi
    assert cmp["cv_ci"][0] < truth < cmp["cv_ci"][1]  # a Gaussian matrix: its CV is the null's
    assert cmp["distinguishable"] is False
    assert (cmp["n_boot"], cmp["level"]) == (1000, 0.95)
    r = geometry(low_rank, seed=3, n_simplices=800, **SIZES, **extra)["pentachora"]
    # 4-d pentachora spread far more in volume than the 24-d Gaussian reference
    assert r["cv_vs_reference"]["distinguishable"] is True
    assert r["cv_vs_reference"]["difference_ci"][0] > 0
    assert r["cv"] > 1.5 * r["reference_cv"]
    assert r["reference_cv"] == pytest.approx(truth, rel=0.15)
    json.dumps(g)


def test_reference_does_not_move_the_seed_numbers(gaussian: np.ndarray) -> None:
    """Same inputs, same seed: identical blocks; the bootstrap draws from its own rng."""
    a = embeddings.all_rows_isotropic_geometry(gaussian, seed=5, n_simplices=50, **SIZES)
    b = embeddings.all_rows_isotropic_geometry(gaussian, seed=5, n_simplices=50, **SIZES)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    c = embeddings.all_rows_isotropic_geometry(gaussian, seed=6, n_simplices=50, **SIZES)
    assert c["pentachora"]["cv_vs_reference"]["cv_ci"] != a["pentachora"]["cv_vs_reference"][
        "cv_ci"]


def test_cv_versus_reference_undefined_and_bad_input() -> None:
    out = cv_versus_reference([1.0, np.nan], [1.0, 2.0, 3.0], seed=0)
    assert out["cv"] is None and out["distinguishable"] is None and "at least 2" in out["reason"]
    with pytest.raises(ValueError, match="n_boot"):
        cv_versus_reference([1.0, 2.0], [1.0, 2.0], seed=0, n_boot=0)


def test_projection_reference_cv_after_the_seed_draws() -> None:
    rng = np.random.default_rng(3)
    small = rng.standard_normal((600, 6)) @ np.diag([3, 2.5, 2, 1.5, 1, 0.8])
    large = small @ np.linalg.qr(rng.standard_normal((9, 9)))[0][:6] \
        + 1e-3 * rng.standard_normal((600, 9))
    out = procrustes.cross_scale_projection(large, small, seed=4, n_pca=500, n_anchor=300,
                                            n_test=200, n_rel=50, n_simplices=300)
    p = out["pentachora"]
    # the native volumes come from the seed's stream: PCA sample, permutation, then the ids
    replay = np.random.default_rng(4)
    procrustes.pca_fit(large, 6, replay, sample=500)
    replay.permutation(600)
    ids = sample_simplices(600, 300, replay)
    native = cayley_menger_volumes(small[ids.ravel()].reshape(300, 5, 6))
    assert p["native"]["cv"] == pytest.approx(np.nanstd(native) / np.nanmean(native), rel=1e-9)
    sigma = small.std()
    ref = cayley_menger_volumes(replay.normal(0.0, sigma, (300, 5, 6)).astype(np.float32))
    assert p["reference_cv"] == pytest.approx(np.nanstd(ref) / np.nanmean(ref), rel=1e-9)
    assert p["cv_vs_reference"]["reference_cv"] == p["reference_cv"]
    # anisotropic native rows (stds 3 to 0.8) spread their volumes more than the isotropic null
    assert p["native"]["cv"] > p["reference_cv"]
    json.dumps(out)
