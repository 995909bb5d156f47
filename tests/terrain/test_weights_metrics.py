"""lib.terrain.weights.battery: D3-D7 metrics on constructed weights with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lib.terrain.weights import (
    AttentionHeads,
    cross_layer_cosine,
    dead_neurons,
    expand_kv_heads,
    neuron_contributions,
    norm_scale_stats,
    position_bias_topology,
    qk_manifold,
    singular_value_metrics,
    sparsity,
    split_fused_qkv,
)


def _with_singular_values(s: list[float], rows: int, cols: int, seed: int = 0) -> torch.Tensor:
    """U diag(s) Vᵀ with random orthonormal U [rows, k], V [cols, k]."""
    g = torch.Generator().manual_seed(seed)
    k = len(s)
    U, _ = torch.linalg.qr(torch.randn(rows, k, generator=g, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(cols, k, generator=g, dtype=torch.float64))
    return (U @ torch.diag(torch.tensor(s, dtype=torch.float64)) @ V.T).float()


def test_sv_metrics_of_a_rank_3_matrix() -> None:
    m = singular_value_metrics(_with_singular_values([4.0, 2.0, 1.0], 6, 5), device="cpu")
    assert m["stable_rank"] == pytest.approx(21 / 16, rel=1e-5)
    assert m["pr"] == pytest.approx(49 / 21, rel=1e-5)
    assert m["active_frac"] == pytest.approx(3 / 5)  # two zero singular values of five
    # nuclear-norm rank: cumsum(S)/ΣS = 4/7, 6/7, 1 -> 3 (the energy ΣS² would give 2)
    assert m["rank_90"] == 3
    assert m["max_sv"] == pytest.approx(4.0, rel=1e-5)


def test_sv_condition_and_full_rank() -> None:
    m = singular_value_metrics(_with_singular_values([4.0, 2.0, 1.0, 0.5, 0.25], 7, 5, seed=1))
    assert m["condition"] == pytest.approx(16.0, rel=1e-4)
    assert m["active_frac"] == 1.0
    # 4, 6, 7, 7.5, 7.75 of 7.75: 0.9·7.75 = 6.975 is first reached at the third value
    assert m["rank_90"] == 3
    assert singular_value_metrics(torch.zeros(3, 4))["stable_rank"] == 0.0


@pytest.mark.parametrize("bad", [torch.ones(5), torch.ones(2, 3, 4), torch.ones(0, 3)])
def test_sv_metrics_reject_non_matrices(bad: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="2-D matrix"):
        singular_value_metrics(bad)


def test_sparsity_is_strict_pooled_and_streamed() -> None:
    a = torch.tensor([0.0, 0.1, -0.05, 0.2, 1e-5])
    b = torch.tensor([[0.3, -0.09], [1e-3, 2.0]])
    out = sparsity((t for t in (a, b)), [0.1, 1e-4, 1e-3])
    assert out[0.1] == pytest.approx(5 / 9)  # 0.0, -0.05, 1e-5, -0.09, 1e-3 (0.1 itself is not)
    assert out[1e-4] == pytest.approx(2 / 9)
    assert out[1e-3] == pytest.approx(2 / 9)  # 1e-3 is not < 1e-3


def test_sparsity_matches_numpy_on_random_tensors() -> None:
    rng = np.random.default_rng(3)
    tensors = [rng.normal(0, 0.05, size) for size in ((40, 30), (17,), (3, 5, 7))]
    flat = np.abs(np.concatenate([t.ravel() for t in tensors]))
    out = sparsity([torch.from_numpy(t) for t in tensors], [1e-2, 0.1])
    for t in (1e-2, 0.1):
        assert out[t] == pytest.approx(np.mean(flat < t))


def test_sparsity_rejects_empty_input() -> None:
    with pytest.raises(ValueError, match="empty iterable"):
        sparsity([], [0.1])
    with pytest.raises(ValueError, match="threshold"):
        sparsity([torch.ones(2)], [])


def test_qk_of_identical_orthonormal_rows_is_symmetric_positive() -> None:
    Q, _ = torch.linalg.qr(torch.randn(8, 4, generator=torch.Generator().manual_seed(0)))
    W = Q.T.contiguous()  # [inner 4, d_model 8], orthonormal rows
    seed = qk_manifold(W, W, "seed", device="cpu")  # W Wᵀ = I_4
    assert seed["dim"] == 4 and seed["n_pos"] == 4 and seed["pos_frac"] == 1.0
    assert seed["sym_dev"] == pytest.approx(0.0, abs=1e-6)
    assert seed["stable_rank"] == pytest.approx(4.0, rel=1e-5)
    bilinear = qk_manifold(W, W, "bilinear", device="cpu")  # Wᵀ W: a rank-4 projection in 8-d
    assert bilinear["dim"] == 8 and bilinear["n_null"] == 4 and bilinear["n_neg"] <= 4
    assert bilinear["top_eig"][:4] == pytest.approx([1.0] * 4, abs=1e-5)
    assert bilinear["sym_dev"] == pytest.approx(0.0, abs=1e-6)


def test_qk_signs_and_antisymmetry() -> None:
    eye = torch.eye(4)
    mixed = qk_manifold(eye, torch.diag(torch.tensor([1.0, 1.0, -1.0, -1.0])), "seed")
    assert (mixed["n_pos"], mixed["n_neg"], mixed["pos_frac"]) == (2, 2, 0.5)
    B = torch.tensor([[0.0, 1, 0, 0], [-1, 0, 0, 0], [0, 0, 0, 2], [0, 0, -2, 0]])
    anti = qk_manifold(eye, B.T, "seed")  # QK = I Bᵀᵀ = B, antisymmetric
    assert anti["sym_dev"] == pytest.approx(2.0, rel=1e-6)
    assert anti["n_null"] == 4
    # the two conventions differ: seed = W_q W_kᵀ, bilinear = W_qᵀ W_k
    Wq, Wk = torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    assert qk_manifold(Wq, Wk, "seed")["stable_rank"] == 0.0  # W_q W_kᵀ = 0
    bilinear = qk_manifold(Wq, Wk, "bilinear")  # W_qᵀ W_k = [[0, 1], [0, 0]]
    assert bilinear["stable_rank"] == pytest.approx(1.0)
    assert bilinear["sym_dev"] == pytest.approx(2**0.5, rel=1e-6)
    assert (bilinear["n_pos"], bilinear["n_neg"]) == (1, 1)  # eig of [[0, .5], [.5, 0]] = ±0.5
    rect = torch.randn(2, 6, generator=torch.Generator().manual_seed(1))
    assert qk_manifold(rect, rect, "seed")["dim"] == 2
    assert qk_manifold(rect, rect, "bilinear")["dim"] == 6


def test_qk_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="convention"):
        qk_manifold(torch.eye(2), torch.eye(2), "other")
    with pytest.raises(ValueError, match="expand"):
        qk_manifold(torch.eye(4), torch.eye(4)[:2], "seed")


def test_split_fused_qkv_layouts() -> None:
    E, d = 4, 2
    heads = AttentionHeads(n_heads=4, n_kv=2, head_dim=d)
    q = torch.arange(8 * E, dtype=torch.float32).reshape(8, E)
    k = 100 + torch.arange(4 * E, dtype=torch.float32).reshape(4, E)
    v = 200 + torch.arange(4 * E, dtype=torch.float32).reshape(4, E)
    # Falcon grouped: per kv group [q heads of the group, k, v]
    qh, kh, vh = q.reshape(4, d, E), k.reshape(2, d, E), v.reshape(2, d, E)
    grouped = torch.cat([torch.cat([qh[2 * g], qh[2 * g + 1], kh[g], vh[g]]) for g in range(2)])
    for got, want in zip(split_fused_qkv(grouped, heads, "falcon-grouped"), (q, k, v),
                         strict=True):
        assert torch.equal(got, want)
    for got, want in zip(split_fused_qkv(torch.cat([q, k, v]), heads), (q, k, v), strict=True):
        assert torch.equal(got, want)
    square = torch.randn(12, 4)
    wq, wk, _ = split_fused_qkv(square)  # the seed's W[:E], W[E:2E]
    assert torch.equal(wq, square[:4]) and torch.equal(wk, square[4:8])
    # GQA: query heads 0,1 meet kv head 0, query heads 2,3 meet kv head 1
    expanded = expand_kv_heads(k, 8, heads)
    assert torch.equal(expanded, torch.cat([k[:2], k[:2], k[2:], k[2:]]))
    with pytest.raises(ValueError, match="layout"):
        split_fused_qkv(grouped, heads, "diagonal")
    with pytest.raises(ValueError, match="not \\[3E, E\\]"):
        split_fused_qkv(torch.ones(10, 4))


def test_dead_and_weak_neurons_plain_and_gated() -> None:
    g = torch.Generator().manual_seed(0)
    up, down = torch.randn(6, 4, generator=g), torch.randn(4, 6, generator=g)
    up[2] *= 1e-4  # dead: c far below 1% of the mean
    down[:, 4] *= 0.05 * (up.norm(dim=1) * down.norm(dim=0)).mean() / (
        up[4].norm() * down[:, 4].norm())  # c_4 ≈ 5% of the mean: weak, not dead
    c = neuron_contributions(up, down)
    loop = torch.tensor([up[n].norm() * down[:, n].norm() for n in range(6)])
    assert torch.allclose(c, loop)
    out = dead_neurons(up, down)
    assert (out["dead"], out["weak"], out["d_ff"]) == (1, 2, 6)
    gate = torch.ones(6, 4)
    gate[5] = 0.0
    gated = dead_neurons(up, down, gate)
    assert gated["dead"] == 2  # neuron 2 and the gated-off neuron 5
    with pytest.raises(ValueError, match="MLP shapes"):
        dead_neurons(up, down[:, :5])


def test_adjacent_cross_layer_cosine() -> None:
    A = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    B = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # orthogonal to A as flattened vectors
    out = cross_layer_cosine(iter([A, 2 * A, -A, B]))
    assert out["values"] == pytest.approx([1.0, -1.0, 0.0], abs=1e-7)
    assert (out["mean"], out["min"], out["max"]) == pytest.approx((0.0, -1.0, 1.0), abs=1e-7)
    with pytest.raises(ValueError, match="no matrices"):
        cross_layer_cosine([])


def test_norm_scale_stats() -> None:
    out = norm_scale_stats(torch.tensor([0.4, 0.9, 1.0, 1.6]))
    assert (out["n_gt_1.5"], out["n_lt_0.5"], out["n_in_0.8_1.2"]) == (1, 1, 2)
    assert out["mean"] == pytest.approx(0.975)
    assert out["std"] == pytest.approx(np.std([0.4, 0.9, 1.0, 1.6]))
    gemma = norm_scale_stats(torch.zeros(3), offset=1.0)  # Gemma scales by (1 + w)
    assert gemma["n_in_0.8_1.2"] == 3 and gemma["mean"] == 1.0


def test_position_bias_classes_unidirectional() -> None:
    n = 32
    dist = torch.arange(n, dtype=torch.float32)
    rpb = torch.stack([-dist, dist, -(dist - 10).abs()], dim=1)  # [buckets, heads]
    out = position_bias_topology(rpb, bidirectional=False)
    assert out["peak"] == [0, 31, 10]
    assert out["classes"] == ["local", "global", "mixed"]
    assert (out["local"], out["global"], out["mixed"]) == (1, 1, 1)
    assert out["monotonic_frac"][0] == 1.0 and out["monotonic_frac"][1] == 0.0
    assert out["dist_corr"][0] == pytest.approx(-1.0) and out["dist_corr"][1] == pytest.approx(1.0)


def test_position_bias_encoder_is_classified_per_direction() -> None:
    half = torch.arange(16, dtype=torch.float32)
    # head 0: local looking back (key<=query) and global looking ahead; head 1: mixed both ways
    h0 = torch.cat([-half, half])
    h1 = torch.cat([-(half - 7).abs(), -(half - 8).abs()])
    out = position_bias_topology(torch.stack([h0, h1], dim=1), bidirectional=True)
    back, ahead = out["directions"]["key<=query"], out["directions"]["key>query"]
    assert back["classes"] == ["local", "mixed"] and ahead["classes"] == ["global", "mixed"]
    assert (out["local"], out["global"], out["mixed"]) == (1, 1, 2)
    assert out["seed_as_executed"]["peak"][0] == 31  # the seed's whole-range argmax mixes them
    with pytest.raises(ValueError, match="buckets"):
        position_bias_topology(torch.ones(32))
