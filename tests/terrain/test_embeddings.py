"""lib.terrain.embeddings: the embedding matrix from a checkpoint; the all-rows isotropic (§1) and
sampled per-dimension (§13a) protocols."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist

from lib.results import to_jsonable
from lib.terrain import embeddings, tables
from lib.terrain.simplex import cayley_menger_volumes_loop

SMALL = {"n_cosine": 40, "n_simplices": 30, "n_distances": 25}


@pytest.fixture(scope="module")
def E() -> np.ndarray:
    rng = np.random.default_rng(7)
    return (rng.standard_normal((300, 12)) * np.linspace(0.2, 2.0, 12)).astype(np.float32)


def _upper(X: np.ndarray) -> np.ndarray:
    Xn = X / (np.linalg.norm(X, axis=1, keepdims=True) + 1e-8)
    return (Xn @ Xn.T)[np.triu_indices(len(X), 1)]


def test_find_input_embedding_key() -> None:
    find = embeddings.find_input_embedding_key
    assert find(["encoder.embed_tokens.weight", "shared.weight"]) == "shared.weight"
    assert find(["decoder.embed_tokens.weight", "encoder.embed_tokens.weight"]) == \
        "encoder.embed_tokens.weight"
    assert find(["embeddings.word_embeddings.weight"]) == "embeddings.word_embeddings.weight"
    assert find(["transformer.wte.weight", "lm_head.weight"]) == "transformer.wte.weight"
    with pytest.raises(ValueError, match="pos_embed"):
        find(["pos_embed", "blocks.0.attn.qkv.weight"])


def test_embedding_matrices_from_tiny_checkpoints() -> None:
    t5 = embeddings.embedding_matrices("tiny/t5")
    assert t5.key == "shared.weight" and tuple(t5.E.shape) == (260, 128) and t5.tied
    qwen = embeddings.embedding_matrices("tiny/qwen")
    assert qwen.key == "model.embed_tokens.weight" and not qwen.tied
    assert qwen.head is not None and qwen.head.shape == qwen.E.shape


def test_all_rows_isotropic_reproduces_the_seed_stream(E: np.ndarray) -> None:
    out = embeddings.all_rows_isotropic_geometry(E, seed=42, **SMALL)
    rng = np.random.default_rng(42)
    cos = _upper(E[rng.choice(300, 40, replace=False)])
    sigma = E.std()
    emb, ref = [], []
    for _ in range(30):
        emb.append(E[rng.choice(300, 5, replace=False)])
        ref.append(rng.normal(0, sigma, (5, 12)).astype(np.float32))
    dist = pdist(E[rng.choice(300, 25, replace=False)])
    v_e, v_r = cayley_menger_volumes_loop(np.stack(emb)), cayley_menger_volumes_loop(np.stack(ref))
    assert out["cosine"]["mean"] == pytest.approx(cos.mean(), rel=1e-5)
    p = out["pentachora"]
    # differences in float32 as the seed took them (D1): our float64 sums of their squares and
    # the seed's float32 sums agree to float32 rounding, not to float64's
    assert p["mean"] == pytest.approx(np.nanmean(v_e), rel=1e-6)
    assert p["cv"] == pytest.approx(np.nanstd(v_e) / np.nanmean(v_e), rel=1e-6)
    assert p["ratio_embed_random"] == pytest.approx(np.nanmean(v_e) / np.nanmean(v_r), rel=1e-6)
    assert out["distances"]["mean"] == pytest.approx(dist.mean(), rel=1e-9)
    Ec = E.astype(np.float64) - E.mean(axis=0)
    lam = np.linalg.eigvalsh(Ec.T @ Ec / 300)
    assert out["spectrum"]["pr_over_dim"] == pytest.approx(lam.sum() ** 2 / (lam**2).sum() / 12)
    json.dumps(out)


def test_sampled_per_dimension_reproduces_the_seed_stream(E: np.ndarray) -> None:
    out = embeddings.sampled_per_dimension_geometry(E, seed=42, n_pca=100, **SMALL)
    rng = np.random.default_rng(42)
    cos = _upper(E[rng.choice(300, 40, replace=False)])
    dist = pdist(E[rng.choice(300, 25, replace=False)])
    pr_rows = E[rng.choice(300, 100, replace=False)].astype(np.float64)
    lam = np.linalg.eigvalsh(np.cov(pr_rows.T, ddof=1))
    emb = np.stack([E[rng.choice(300, 5, replace=False)] for _ in range(30)])
    ref = rng.standard_normal((30, 5, 12)) * torch.from_numpy(E).std(dim=0).numpy()
    v_e, v_r = cayley_menger_volumes_loop(emb), cayley_menger_volumes_loop(ref)
    assert out["cosine"]["mean"] == pytest.approx(cos.mean(), rel=1e-5)
    assert out["distances"]["mean"] == pytest.approx(dist.mean(), rel=1e-9)
    assert out["spectrum"]["participation_ratio"] == pytest.approx(
        lam.sum() ** 2 / (lam**2).sum(), rel=1e-9)
    assert out["pentachora"]["cv"] == pytest.approx(np.nanstd(v_e) / np.nanmean(v_e), rel=1e-6)
    assert out["pentachora"]["ratio_embed_random"] == pytest.approx(
        np.nanmean(v_e) / np.nanmean(v_r), rel=1e-6)
    assert out["norms"]["std"] == pytest.approx(np.linalg.norm(E, axis=1).std(ddof=1), rel=1e-5)
    json.dumps(out)


def test_tokenizer_parts_and_head_comparison() -> None:
    t5 = embeddings.embedding_matrices("tiny/t5")
    tok = embeddings.load_tokenizer("tiny/t5")
    out = embeddings.all_rows_isotropic_geometry(t5.E, tokenizer=tok, **SMALL)
    assert out["digits"]["all_single_token"]
    assert out["digits"]["token_ids"] == [tok.encode(str(d), add_special_tokens=False)[0]
                                          for d in range(10)]
    assert {t["name"] for t in out["special_tokens"]["tokens"]} >= {"pad", "eos", "unk"}
    assert "animals" in out["categories"]["categories"]
    qwen = embeddings.embedding_matrices("tiny/qwen")
    sampled = embeddings.sampled_per_dimension_geometry(qwen.E, tokenizer=tok, lm_head=qwen.head,
                                                        n_pca=200, **SMALL)
    head = sampled["embed_vs_head"]
    A, B = qwen.E.numpy(), qwen.head.numpy()
    assert head["relative_diff"] == pytest.approx(np.linalg.norm(A - B) / np.linalg.norm(A),
                                                  rel=1e-5)
    assert not head["tied"]
    assert "corr_abs_diff_cosine" in sampled["digits"]["manifold"]
    json.dumps(sampled)


def test_parallel_digit_rows_give_an_undefined_digit_correlation() -> None:
    """Ten digit rows along one direction: their cosines are 1 up to rounding (not exactly 1),
    which np.corrcoef turns into a number; the manifold records undefined and its reason, and
    the tables print "undefined"."""
    tok = embeddings.load_tokenizer("tiny/t5")
    E = embeddings.embedding_matrices("tiny/t5").E.clone()
    ids = [tok.encode(str(d), add_special_tokens=False)[0] for d in range(10)]
    direction = torch.randn(E.shape[1], generator=torch.Generator().manual_seed(0))
    for k, i in enumerate(ids):
        E[i] = direction * (0.3 + 0.37 * k)
    block = embeddings.all_rows_isotropic_geometry(E, tokenizer=tok, **SMALL)
    manifold = block["digits"]["manifold"]
    assert np.isnan(manifold["corr_abs_diff_cosine"])
    assert manifold["corr_reason"].startswith(
        "undefined: no variance in the digit pair cosines (std ")
    block.update(tensor="shared.weight", shape=list(E.shape), tied=True)
    assert tables.embedding_table(block).loc["digit |i-j| vs cosine corr", "value"] == "undefined"
    published = tables.published_embedding_table(block, lambda claim: -1.0)  # any number
    assert published.loc["qwen08.digit_corr", "this model"] == "undefined"
    assert json.loads(json.dumps(to_jsonable(manifold)))["corr_abs_diff_cosine"] is None
    defined = embeddings.all_rows_isotropic_geometry(embeddings.embedding_matrices("tiny/t5").E,
                                           tokenizer=tok, **SMALL)["digits"]["manifold"]
    assert np.isfinite(defined["corr_abs_diff_cosine"]) and defined["corr_reason"] is None


def test_bad_input_raises(E: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"\[vocab, dims\]"):
        embeddings.all_rows_isotropic_geometry(E[0])
    with pytest.raises(ValueError, match="n_cosine"):
        embeddings.all_rows_isotropic_geometry(E, n_cosine=1000)


@pytest.mark.slow
def test_embedded_smollm2_matrix() -> None:
    m = embeddings.embedding_matrices("embedded/smollm2-135m-instruct")
    assert tuple(m.E.shape) == (49152, 576) and m.tied
    tok = embeddings.load_tokenizer("embedded/smollm2-135m-instruct")
    out = embeddings.sampled_per_dimension_geometry(m.E, tokenizer=tok, n_cosine=500,
                                                    n_distances=200, n_pca=2000, n_simplices=200)
    assert out["digits"]["all_single_token"]
    assert -1 <= out["digits"]["manifold"]["corr_abs_diff_cosine"] < 0
    assert 0 < out["spectrum"]["pr_over_dim"] < 1
