"""lib.modulator.init: spectral embedding, k-NN fill and Procrustes projection (§8 steps 2-4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lib.modulator.init import (
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
