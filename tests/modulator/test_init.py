"""lib.modulator.init: spectral embedding, k-NN fill and Procrustes projection (§8 steps 2-4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lib.modulator.init import (
    canonical_eigenbasis,
    fill_geometry,
    knn_softmax_fill,
    load_geometry,
    procrustes_projection,
    recon_corr,
    spectral_embedding,
)
from lib.modulator.lerp import GeometricResidualModulator


def test_spectral_embedding_reproduces_a_low_rank_target() -> None:
    X = np.random.default_rng(0).normal(size=(30, 4))
    S = X @ X.T
    G, vals = spectral_embedding(S, 4)
    assert np.allclose(np.linalg.norm(G, axis=1), 1.0)
    d = np.sqrt(np.diag(S))
    assert np.allclose(G @ G.T, S / np.outer(d, d), atol=1e-8)  # cosines of X
    assert np.allclose(vals, np.sort(np.linalg.eigvalsh(S))[::-1])
    assert recon_corr(S / np.outer(d, d), G) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="symmetric"):
        spectral_embedding(np.triu(S), 4)
    with pytest.raises(ValueError, match="n_dims"):
        spectral_embedding(S, 31)


def test_negative_eigenvalues_are_clipped_to_zero() -> None:
    S = np.diag([3.0, -2.0, 1.0])
    G, _ = spectral_embedding(S, 3)
    assert np.allclose(np.abs(G[0]), [1, 0, 0]) and np.allclose(G[1], 0.0)


def test_knn_softmax_fill_matches_a_plain_loop() -> None:
    rng = np.random.default_rng(1)
    q, a, g = rng.normal(size=(7, 5)), rng.normal(size=(12, 5)), rng.normal(size=(12, 3))
    got = knn_softmax_fill(q, a, g, k=4, temperature=10.0, batch_size=3)
    for i in range(7):
        cos = [q[i] @ a[j] / (np.linalg.norm(q[i]) + 1e-8) / (np.linalg.norm(a[j]) + 1e-8)
               for j in range(12)]
        top = np.argsort(cos)[::-1][:4]
        w = np.exp(10 * np.array(cos)[top])
        v = (w[:, None] * g[top]).sum(0) / w.sum()
        np.testing.assert_allclose(got[i], v / (np.linalg.norm(v) + 1e-8), rtol=1e-4, atol=1e-5)
    full = fill_geometry(np.vstack([a, q]), np.arange(12), g, k=4)
    np.testing.assert_allclose(full[:12], g, rtol=1e-6)
    np.testing.assert_allclose(full[12:], got, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="k must lie"):
        knn_softmax_fill(q, a, g, k=13)


def test_procrustes_recovers_a_rotation_and_scales_by_the_pooled_norm() -> None:
    rng = np.random.default_rng(2)
    G = rng.normal(size=(200, 4))
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    Q, _ = np.linalg.qr(rng.normal(size=(16, 4)))  # an isometric embedding into 16 dims
    A = 5.0 * (G - G.mean(0)) @ Q.T + rng.normal(size=16)
    out = procrustes_projection(G, A)
    assert out["alignment_cos"].mean() > 0.999
    scale = 0.1 * np.linalg.norm(A, axis=1).mean()
    assert out["residual_scale"] == pytest.approx(scale / 0.1)
    W = out["weight"].astype(np.float64)
    assert W.shape == (16, 4)
    np.testing.assert_allclose(W.T @ W, scale**2 * np.eye(4), atol=1e-4 * scale**2)
    with pytest.raises(ValueError, match="same rows"):
        procrustes_projection(G, A[:10])


def test_load_geometry_writes_only_the_given_rows() -> None:
    mod = GeometricResidualModulator(16, 30, 4, generator=torch.Generator().manual_seed(0))
    before = mod.geometric_embed.weight.detach().clone()
    geo, w = np.ones((3, 4)), np.full((16, 4), 0.5)
    load_geometry(mod, [2, 5, 7], geo, w)
    rows = mod.geometric_embed.weight.detach()
    assert torch.equal(rows[[2, 5, 7]], torch.ones(3, 4))
    keep = [i for i in range(30) if i not in (2, 5, 7)]
    assert torch.equal(rows[keep], before[keep])
    assert torch.equal(mod.proj.weight, torch.full((16, 4), 0.5))
    with pytest.raises(ValueError, match=r"geo must be \[2, 4\]"):
        load_geometry(mod, [1, 2], geo, w)
    with pytest.raises(ValueError, match="outside"):
        load_geometry(mod, [1, 2, 30], geo, w)


def _degenerate(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """S with eigenvalues 5, 3, 3, 3, 2, 2, ...; its eigh output sorted descending."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(40, 40)))
    S = (Q * np.r_[5.0, 3, 3, 3, 2, 2, np.linspace(1, 0.1, 34)]) @ Q.T
    vals, vecs = np.linalg.eigh((S + S.T) / 2)
    return S, vals[::-1], vecs[:, ::-1]


def test_the_spectral_basis_is_fixed_by_the_eigenspaces() -> None:
    """LAPACK's eigenvector signs and its basis of a degenerate eigenspace change with the
    processor (OpenBLAS Haswell vs SkylakeX rotated the Wu-Palmer G, and with it every unmatched
    row's projection): any such basis gives the same canonical one."""
    _, vals, vecs = _degenerate()
    rng = np.random.default_rng(1)
    R, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    other = vecs * rng.choice([-1.0, 1.0], size=40)  # other signs
    other[:, 1:4] = other[:, 1:4] @ R  # another basis of the 3-fold eigenspace
    a, split_a = canonical_eigenbasis(vals, vecs, 5)
    b, split_b = canonical_eigenbasis(vals, other, 5)
    assert not np.allclose(vecs[:, :5], other[:, :5], atol=0.1)
    np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(a.T @ a, np.eye(5), atol=1e-12)  # still orthonormal eigenvectors
    S = (vecs * vals) @ vecs.T
    np.testing.assert_allclose(S @ a, a * vals[:5], atol=1e-10)
    assert split_a and split_b  # the cut at 5 splits the 2-fold eigenspace {2, 2}
    assert not canonical_eigenbasis(vals, vecs, 4)[1] and not canonical_eigenbasis(vals, vecs, 6)[1]
    for j in range(5):  # each vector's largest entry (its pivot) is positive
        assert a[np.argmax(np.abs(a[:, j])), j] > 0


def test_knn_ties_go_to_the_lowest_anchor() -> None:
    """Two anchors with the same static row tie at the k-th place: the lower index is taken,
    whatever the order of the other anchors."""
    rng = np.random.default_rng(4)
    q = rng.normal(size=(1, 6))
    anchors = rng.normal(size=(5, 6))
    anchors[0] = 5 * q[0]  # the nearest
    anchors[3] = anchors[4] = q[0] + 0.3 * rng.normal(size=6)  # tied second-nearest
    g = np.eye(5)
    got = knn_softmax_fill(q, anchors, g, k=2, temperature=1.0)
    assert got[0, 3] > 0 and got[0, 4] == 0 and got[0, 0] > 0
    flipped = knn_softmax_fill(q, anchors[[0, 2, 1, 3, 4]], g[[0, 2, 1, 3, 4]], k=2,
                               temperature=1.0)
    np.testing.assert_array_equal(got, flipped)
