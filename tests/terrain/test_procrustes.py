"""lib.terrain.procrustes: PCA, Procrustes and §13b's cross-scale projection."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import ortho_group

from lib.terrain import procrustes


def test_procrustes_recovers_a_rotation() -> None:
    rng = np.random.default_rng(0)
    A = rng.standard_normal((400, 6)) + 5.0
    R = ortho_group.rvs(6, random_state=1)
    B = A @ R + 0.01 * rng.standard_normal((400, 6)) - 2.0
    fit = procrustes.fit_procrustes(A, B)
    np.testing.assert_allclose(fit.R, R, atol=5e-3)
    Ac, Bc = A - A.mean(0), B - B.mean(0)
    assert fit.nuclear_norm == pytest.approx(np.linalg.svd(Ac.T @ Bc, compute_uv=False).sum())
    np.testing.assert_allclose(fit.apply(A), B, atol=0.05)
    with pytest.raises(ValueError, match="same shape"):
        procrustes.fit_procrustes(A, B[:, :5])


def test_pca_matches_svd() -> None:
    X = np.random.default_rng(2).standard_normal((300, 8)) @ np.diag([5, 4, 3, 2, 1, .5, .2, .1])
    pca = procrustes.pca_fit(X, 3)
    _, S, Vt = np.linalg.svd(X - X.mean(0), full_matrices=False)
    np.testing.assert_allclose(np.abs(pca.basis), np.abs(Vt[:3].T), atol=1e-8)
    assert pca.retained == pytest.approx((S[:3] ** 2).sum() / (S**2).sum())
    sampled = procrustes.pca_fit(X, 3, np.random.default_rng(42), sample=100)
    np.testing.assert_array_equal(sampled.sample_idx,
                                  np.random.default_rng(42).choice(300, 100, replace=False))
    with pytest.raises(ValueError, match="k = 9"):
        procrustes.pca_fit(X, 9)
    with pytest.raises(ValueError, match="needs rng"):
        procrustes.pca_fit(X, 3, sample=10)


def test_shared_tokens_across_schemes() -> None:
    byte_level = {"<pad>": 0, "the": 1, "\u0120the": 2, "\u0120cat": 3, "dog": 4, "\u010a": 5}
    spm = {"<pad>": 0, "\u2581cat": 1, "\u2581the": 2, "dog": 3, "<0x0A>": 4, "zebra": 5}
    shared = procrustes.shared_token_index(byte_level, spm)
    assert shared.keys == ["<pad>", " the", " cat", "dog", "\n"]
    assert shared.ids_a.tolist() == [0, 2, 3, 4, 5] and shared.ids_b.tolist() == [0, 2, 1, 3, 4]
    raw = procrustes.shared_token_index(byte_level, spm, surface="raw")
    assert raw.keys == ["<pad>", "dog"]
    with pytest.raises(ValueError, match="share no token"):
        procrustes.shared_token_index({"a": 0}, {"b": 0}, surface="raw")


def test_shared_tokens_of_two_tiny_tokenizers() -> None:
    from lib.terrain.embeddings import load_tokenizer

    t5, qwen = load_tokenizer("tiny/t5"), load_tokenizer("tiny/qwen")
    shared = procrustes.shared_token_index(t5, qwen)
    assert len(shared) == 256  # the 256 bytes; the special tokens are left out
    assert shared.ids_a.tolist() == shared.ids_b.tolist() == list(range(4, 260))


def test_cross_scale_projection_on_a_hidden_rotation() -> None:
    rng = np.random.default_rng(3)
    small = rng.standard_normal((600, 6)) @ np.diag([3, 2.5, 2, 1.5, 1, 0.8])
    embed = np.linalg.qr(rng.standard_normal((9, 9)))[0][:6]  # 6 -> 9, orthonormal rows
    large = small @ embed + 0.3 + 1e-3 * rng.standard_normal((600, 9))
    shuffle = rng.permutation(600)  # the large vocabulary orders tokens differently
    large_shuffled = np.empty_like(large)
    large_shuffled[shuffle] = large
    shared = procrustes.SharedTokens([str(i) for i in range(600)], shuffle, np.arange(600))
    out = procrustes.cross_scale_projection(large_shuffled, small, shared, n_pca=500,
                                            n_anchor=300, n_test=200, n_rel=50,
                                            n_simplices=40, digit_rows=list(range(10)))
    assert (out["n_anchor"], out["n_test"], out["shared_tokens"]) == (300, 200, 600)
    assert out["pca_retained_variance"] > 0.999
    assert out["token_cosine"]["min"] > 0.999
    assert out["relational"]["pearson"] > 0.999
    p = out["pentachora"]
    assert p["ratio_projected_native"] == pytest.approx(1, abs=1e-2)
    assert p["vol_corr_paired"] > 0.999
    assert out["digits"]["structure_corr"] > 0.999
    json.dumps(out)
    with pytest.raises(ValueError, match="anchors"):
        procrustes.cross_scale_projection(large, small, n_anchor=600)
    with pytest.raises(ValueError, match="at least as wide"):
        procrustes.cross_scale_projection(small, large)
    with pytest.raises(ValueError, match="shared="):
        procrustes.cross_scale_projection(large[:500], small)


@pytest.mark.slow
def test_embedded_gemma_to_smollm2() -> None:
    from lib.terrain.embeddings import embedding_matrices, load_tokenizer

    gemma, smol = (embedding_matrices(f"embedded/{n}") for n in ("gemma-3-270m",
                                                                 "smollm2-135m-instruct"))
    shared = procrustes.shared_token_index(load_tokenizer("embedded/gemma-3-270m"),
                                           load_tokenizer("embedded/smollm2-135m-instruct"))
    assert 30_000 < len(shared) < 49_152
    assert " the" in shared.keys and "\n" in shared.keys
    out = procrustes.cross_scale_projection(gemma.E, smol.E, shared, n_pca=5000, n_anchor=3000,
                                            n_test=1000, n_rel=300, n_simplices=200)
    assert (out["dim_large"], out["dim_small"]) == (640, 576)
    assert out["token_cosine"]["mean"] > 0.3  # real shared structure, far above chance (~0)


def test_raw_relational_compares_each_models_own_cosines_without_projection() -> None:
    """§13b's stated raw cross-check: a model whose rows are a rotation of the other's (padded
    with zero dimensions) has the same pair cosines: raw Pearson 1; unrelated rows: near 0."""
    rng = np.random.default_rng(3)
    S = rng.standard_normal((400, 8))
    L = np.hstack([S @ ortho_group.rvs(8, random_state=4), np.zeros((400, 4))])
    out = procrustes.cross_scale_projection(L, S, seed=1, n_pca=400, n_anchor=100, n_test=300,
                                            n_rel=50, n_simplices=20, n_raw=120)
    raw = out["raw_relational"]
    assert raw["n_tokens"] == 120 and raw["pearson"] == pytest.approx(1.0, abs=1e-9)
    noise = procrustes.cross_scale_projection(rng.standard_normal((400, 12)), S, seed=1,
                                              n_pca=400, n_anchor=100, n_test=300, n_rel=50,
                                              n_simplices=20, n_raw=120)
    assert abs(noise["raw_relational"]["pearson"]) < 0.1
