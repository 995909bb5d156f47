"""lib.terrain.simplex: Cayley-Menger volumes against known answers and reference forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lib.terrain import simplex


def regular_simplex(k: int, d: int | None = None) -> np.ndarray:
    """k+1 points with unit edges: the standard basis of R^(k+1) scaled by 1/sqrt(2)."""
    pts = np.eye(k + 1) / math.sqrt(2)
    if d is not None:
        pts = np.pad(pts, ((0, 0), (0, d - (k + 1))))
    return pts


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_regular_simplex_volume(k: int) -> None:
    known = math.sqrt(k + 1) / (math.factorial(k) * math.sqrt(2**k))
    pts = regular_simplex(k, d=7)[None]
    assert simplex.cayley_menger_volumes(pts)[0] == pytest.approx(known, rel=1e-12)
    assert simplex.cayley_menger_volumes_loop(pts)[0] == pytest.approx(known, rel=1e-12)
    as_torch = torch.tensor(pts, dtype=torch.float32)
    assert simplex.cayley_menger_volumes(as_torch)[0] == pytest.approx(known, rel=1e-6)


def test_known_small_cases() -> None:
    segment = np.array([[[0.0, 0.0], [3.0, 4.0]]])
    triangle = np.array([[[0.0, 0.0], [4.0, 0.0], [0.0, 3.0]]])  # right triangle, area 6
    assert simplex.cayley_menger_volumes(segment)[0] == pytest.approx(5.0)
    assert simplex.cayley_menger_volumes(triangle)[0] == pytest.approx(6.0)


def test_degenerate_simplices_are_nan() -> None:
    repeated = np.array([[[0.0, 0, 0], [1, 0, 0], [1, 0, 0]]])
    collinear = np.array([[[0.0, 0], [1, 0], [2, 0]]])
    for pts in (repeated, collinear):
        assert np.isnan(simplex.cayley_menger_volumes(pts)[0])
        assert np.isnan(simplex.cayley_menger_volumes_loop(pts)[0])
    # 5 points in 3 dimensions: a pentachoron has no 4-volume
    flat = np.random.default_rng(0).standard_normal((20, 5, 3))
    vol2 = simplex.cayley_menger_vol2(flat)
    assert np.all(np.abs(vol2) < 1e-10)


@pytest.mark.parametrize("k,d", [(2, 3), (3, 10), (4, 64)])
def test_matches_gram_determinant_and_loop(k: int, d: int) -> None:
    pts = np.random.default_rng(k).standard_normal((50, k + 1, d))
    edges = pts[:, 1:] - pts[:, :1]
    gram = np.sqrt(np.linalg.det(edges @ edges.transpose(0, 2, 1))) / math.factorial(k)
    np.testing.assert_allclose(simplex.cayley_menger_volumes(pts), gram, rtol=1e-9)
    np.testing.assert_allclose(simplex.cayley_menger_volumes_loop(pts), gram, rtol=1e-9)


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError, match=r"\[n, k\+1, d\]"):
        simplex.cayley_menger_volumes(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="no simplex"):
        simplex.cayley_menger_volumes(np.zeros((0, 5, 3)))
    with pytest.raises(ValueError, match="at least 2 points"):
        simplex.cayley_menger_volumes(np.zeros((4, 1, 3)))


def test_volume_cv_and_summary() -> None:
    v = np.array([1.0, 2.0, np.nan, 3.0])
    assert simplex.volume_cv(v) == pytest.approx(math.sqrt(2 / 3) / 2)
    summary = simplex.volume_summary(v)
    assert (summary["n"], summary["valid"], summary["median"]) == (4, 3, 2.0)
    with pytest.warns(RuntimeWarning, match="at least 2"):
        assert np.isnan(simplex.volume_cv([np.nan, 1.0]))


def test_sample_simplices_follows_the_seed_loop() -> None:
    ids = simplex.sample_simplices(100, 7, np.random.default_rng(3))
    rng = np.random.default_rng(3)
    expected = [rng.choice(100, 5, replace=False) for _ in range(7)]
    np.testing.assert_array_equal(ids, np.stack(expected))
    assert all(len(set(row)) == 5 for row in ids)
    with pytest.raises(ValueError, match="distinct"):
        simplex.sample_simplices(4, 1, np.random.default_rng(0))


def test_gaussian_references_follow_the_seed_draws() -> None:
    rng = np.random.default_rng(5)
    iso = simplex.gaussian_reference(rng, 3, 8, 0.5)
    rng = np.random.default_rng(5)
    per_draw = np.stack([rng.normal(0, 0.5, (5, 8)).astype(np.float32) for _ in range(3)])
    np.testing.assert_array_equal(iso, per_draw)
    assert iso.dtype == np.float32 and simplex.reference_kind(0.5) == "isotropic"

    sigma = np.linspace(0.1, 1.0, 8).astype(np.float32)
    per_dim = simplex.gaussian_reference(np.random.default_rng(5), 3, 8, sigma)
    expected = np.random.default_rng(5).standard_normal((3, 5, 8)) * sigma
    np.testing.assert_array_equal(per_dim, expected)
    assert simplex.reference_kind(sigma) == "per-dimension"
    with pytest.raises(ValueError, match="8"):
        simplex.gaussian_reference(np.random.default_rng(0), 3, 8, sigma[:4])
    with pytest.raises(ValueError, match="positive"):
        simplex.isotropic_gaussian(np.random.default_rng(0), 3, 8, -1.0)


def test_float32_points_far_from_origin_keep_float32_accuracy() -> None:
    # a common offset 30x the spread: a float32 Gram form would lose ~1e-4 to cancellation
    rng = np.random.default_rng(7)
    pts = (rng.standard_normal((40, 5, 64)) + 30 * rng.standard_normal(64)).astype(np.float32)
    exact = simplex.cayley_menger_volumes(pts.astype(np.float64))
    np.testing.assert_allclose(simplex.cayley_menger_volumes(pts), exact, rtol=2e-6)
    np.testing.assert_allclose(simplex.cayley_menger_volumes_loop(pts), exact, rtol=2e-6)


def test_loop_forms_distances_in_the_points_dtype() -> None:
    # the seed's np.sum((p_i - p_j) ** 2) on float32 points: float32 rounding, not float64
    pts = np.random.default_rng(8).standard_normal((30, 5, 256)).astype(np.float32)
    as32 = simplex.cayley_menger_volumes_loop(pts)
    as64 = simplex.cayley_menger_volumes_loop(pts.astype(np.float64))
    assert not np.array_equal(as32, as64)
    np.testing.assert_allclose(as32, as64, rtol=1e-5)


def test_any_layout_and_dtype_gives_the_same_volumes() -> None:
    pts = np.random.default_rng(12).standard_normal((6, 64, 5))
    view = pts.transpose(0, 2, 1)  # [6, 5, 64], not contiguous
    expected = simplex.cayley_menger_volumes_loop(view)
    np.testing.assert_allclose(simplex.cayley_menger_volumes(view), expected, rtol=1e-12)
    halves = view.astype(np.float16)
    np.testing.assert_allclose(simplex.cayley_menger_volumes(halves),
                               simplex.cayley_menger_volumes(halves.astype(np.float64)),
                               rtol=1e-12)


def test_benchmark_agrees_with_loop() -> None:
    result = simplex.pentachoron_benchmark(n=600, d=32, repeats=2)
    assert result["same_validity"] and result["max_rel_diff"] < 1e-6
    assert result["batched_s"] > 0 and result["loop_s"] > 0 and result["floor_s"] > 0
    assert result["speedup"] == result["loop_s"] / result["batched_s"]
    assert result["floor_ratio"] == result["batched_s"] / result["floor_s"]
    with pytest.raises(ValueError, match="repeats"):
        simplex.pentachoron_benchmark(n=5, d=8, repeats=0)
