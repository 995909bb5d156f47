"""The frozen-weight battery of seed 004 §4-§6, streamed from a checkpoint one tensor at a time.

Metrics (SPEC-terrain D3-D7): singular-value metrics, sparsity, the QK "manifold" in two named
conventions, dead and weak MLP neurons, adjacent cross-layer cosine, norm-scale statistics and
T5's relative position-bias topology. `run_battery` reads each tensor alone (q and k of one layer
together for QK) and never builds the model.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from lib.memory import PeakRSS, release_freed_memory
from lib.models.checkpoint import checkpoint
from lib.stats.correlation import pearson
from lib.terrain.weights.catalog import (
    ATTENTION_ROLES,
    AttentionHeads,
    Catalog,
    Entry,
    TensorSource,
    build_catalog,
)

THRESHOLDS = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1)  # §4's sparsity thresholds
CROSS_MODEL_THRESHOLDS = (1e-4, 1e-3, 1e-2, 1e-1)  # the cross-model tables' (§5/§6): the last four
Q_THRESHOLD = 0.1  # "Q sparsity" is the < 0.1 column
# groups reported under q_sparsity when the model has them (cross_attn_q: T5's decoder EncDec q)
Q_SPARSITY_GROUPS = ("self_attn_q", "self_attn_k", "self_attn_v", "self_attn_qkv", "cross_attn_q")
SV_SKIP = frozenset({"embedding", "norm", "position_bias", "other", "projection"})
MLP_ROLES = ("mlp_up", "mlp_gate", "mlp_down")
CONVENTIONS = ("seed", "bilinear")
CHUNK = 1 << 21  # entries per sparsity chunk: 8 MB of float32 temporaries at most


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """`device`, or CUDA when there is one, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _matrix(W: Any, what: str) -> torch.Tensor:
    W = torch.as_tensor(W)
    if W.ndim != 2 or W.numel() == 0:
        raise ValueError(f"{what} needs a non-empty 2-D matrix, got shape {tuple(W.shape)}; "
                         "pass a weight matrix [out, in]")
    return W


def metrics_from_singular_values(S: torch.Tensor) -> dict[str, float]:
    """D3 metrics of singular values S (any order); all zeros for an all-zero matrix."""
    S = torch.sort(torch.as_tensor(S, dtype=torch.float64).flatten(), descending=True).values
    if S.numel() == 0:
        raise ValueError("no singular values given")
    s0, total, squares = S[0].item(), S.sum().item(), (S**2).sum().item()
    if s0 <= 0:
        return {"stable_rank": 0.0, "pr": 0.0, "active_frac": 0.0, "rank_90": 0,
                "condition": 0.0, "max_sv": 0.0, "min_sv": 0.0}
    cum = torch.cumsum(S, 0) / total
    return {
        "stable_rank": squares / s0**2,
        "pr": total**2 / squares,
        "active_frac": (S > 0.01 * s0).double().mean().item(),
        "rank_90": int(torch.searchsorted(cum, torch.tensor([0.90], dtype=torch.float64)).item())
        + 1,
        "condition": s0 / (S[-1].item() + 1e-10),
        "max_sv": s0,
        "min_sv": S[-1].item(),
    }


def singular_value_metrics(W: Any, device: str | torch.device | None = None) -> dict[str, float]:
    """D3 metrics of a 2-D matrix from `torch.linalg.svdvals` (float32; on the GPU if there is one).

    stable_rank = ΣS²/S₀²; pr = (ΣS)²/ΣS² (a PR of S, not S²); active_frac = mean(S > 0.01·S₀);
    rank_90 = searchsorted(cumsum(S)/ΣS, 0.90) + 1, the seed's "90% energy", which is 90% of the
    *nuclear norm* (ΣS), not of the energy ΣS²; condition = S₀/(S_min + 1e-10). Also max_sv, min_sv.
    """
    W = _matrix(W, "singular_value_metrics")
    S = torch.linalg.svdvals(W.to(resolve_device(device), torch.float32))
    return metrics_from_singular_values(S.cpu())


class SparsityCounter:
    """Streamed D5 counts: entries with |w| < t (strict), pooled over every tensor added."""

    def __init__(self, thresholds: Iterable[float]) -> None:
        self.thresholds = tuple(float(t) for t in thresholds)
        if not self.thresholds:
            raise ValueError("sparsity needs at least one threshold, e.g. (1e-4, 1e-3, 1e-2, 0.1)")
        self.below = [0] * len(self.thresholds)
        self.total = 0
        self.n_tensors = 0

    def count(self, W: torch.Tensor) -> list[int]:
        """Entries of W below each threshold, in chunks (no full-size temporary)."""
        below = [0] * len(self.thresholds)
        for chunk in W.detach().reshape(-1).split(CHUNK):
            magnitude = chunk.abs()
            for i, t in enumerate(self.thresholds):
                below[i] += int(torch.count_nonzero(magnitude < t).item())
        return below

    def add(self, W: torch.Tensor, below: list[int] | None = None) -> None:
        """Add one tensor (`below`: its counts from `count`, when already computed)."""
        below = self.count(W) if below is None else below
        self.below = [a + b for a, b in zip(self.below, below, strict=True)]
        self.total += W.numel()
        self.n_tensors += 1

    def fractions(self) -> dict[float, float]:
        return {t: b / self.total if self.total else 0.0
                for t, b in zip(self.thresholds, self.below, strict=True)}

    def table(self) -> dict[str, Any]:
        """{'n_matrices', 'n_params', '<0.1': fraction, ...} with the seed's column names."""
        return {"n_matrices": self.n_tensors, "n_params": self.total,
                **{f"<{t}": f for t, f in self.fractions().items()}}


def sparsity(tensors: Iterable[Any],
             thresholds: Iterable[float] = THRESHOLDS) -> dict[float, float]:
    """D5: threshold -> fraction of all entries with |w| < threshold (strict), pooled and streamed.

    `tensors` is consumed one at a time (a generator of checkpoint reads is fine).
    """
    counter = SparsityCounter(thresholds)
    for W in tensors:
        counter.add(torch.as_tensor(W))
    if counter.n_tensors == 0:
        raise ValueError("sparsity got an empty iterable of tensors; pass at least one tensor")
    if counter.total == 0:
        raise ValueError("sparsity got only empty tensors; nothing to count")
    return counter.fractions()


def split_fused_qkv(W: Any, heads: AttentionHeads | None = None,
                    layout: str = "contiguous") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(W_q, W_k, W_v) rows of a fused [q; k; v] projection [rows, E].

    contiguous (open_clip `in_proj_weight`, Phi-3): q = W[:E], k = W[E:2E], v = W[2E:] without
    `heads` (the seed's split of a [3E, E] matrix), or q = H·d rows then k, v = H_kv·d rows each.
    falcon-grouped (Falcon MQA / new decoder architecture): rows are (H_kv, H/H_kv + 2, d), the
    last two slots of each group being k and v. falcon-interleaved: rows are (H, 3, d).
    q keeps the head order of attention (query head h uses kv head h // (H/H_kv)).
    """
    W = _matrix(W, "split_fused_qkv")
    rows = W.shape[0]
    if layout == "contiguous":
        if heads is None:
            if rows % 3:
                raise ValueError(f"fused qkv with {rows} rows is not [3E, E]; give the heads")
            third = rows // 3
            return W[:third], W[third:2 * third], W[2 * third:]
        nq, nkv = heads.n_heads * heads.head_dim, heads.n_kv * heads.head_dim
        if rows != nq + 2 * nkv:
            raise ValueError(f"fused qkv has {rows} rows, expected {nq} + 2·{nkv} for {heads}")
        return W[:nq], W[nq:nq + nkv], W[nq + nkv:]
    if heads is None:
        raise ValueError(f"layout {layout!r} needs the attention heads (config num_heads etc.)")
    d = heads.head_dim
    if layout == "falcon-grouped":
        group = heads.n_heads // heads.n_kv
        if rows != heads.n_kv * (group + 2) * d:
            raise ValueError(f"fused qkv has {rows} rows, not {heads.n_kv}·({group}+2)·{d}")
        blocks = W.reshape(heads.n_kv, group + 2, d, -1)
        return (blocks[:, :-2].reshape(-1, W.shape[1]), blocks[:, -2].reshape(-1, W.shape[1]),
                blocks[:, -1].reshape(-1, W.shape[1]))
    if layout == "falcon-interleaved":
        if rows != 3 * heads.n_heads * d:
            raise ValueError(f"fused qkv has {rows} rows, not 3·{heads.n_heads}·{d}")
        blocks = W.reshape(heads.n_heads, 3, d, -1)
        return tuple(blocks[:, i].reshape(-1, W.shape[1]) for i in range(3))  # type: ignore
    raise ValueError(f"unknown fused layout {layout!r}; use contiguous, falcon-grouped or "
                     "falcon-interleaved")


def expand_kv_heads(W_k: torch.Tensor, q_rows: int, heads: AttentionHeads | None) -> torch.Tensor:
    """K rows repeated so query head h meets its kv head h // (H/H_kv) (GQA/MQA); else W_k."""
    if W_k.shape[0] == q_rows:
        return W_k
    if heads is None or heads.n_kv * heads.head_dim != W_k.shape[0] \
            or heads.n_heads * heads.head_dim != q_rows:
        raise ValueError(f"W_k has {W_k.shape[0]} rows and W_q {q_rows}: give AttentionHeads "
                         "that explain the grouping (num_heads, num_key_value_heads, head_dim)")
    group = heads.n_heads // heads.n_kv
    return W_k.reshape(heads.n_kv, heads.head_dim, -1).repeat_interleave(group, 0) \
        .reshape(q_rows, -1)


def qk_manifold(W_q: Any, W_k: Any, convention: str = "seed",
                device: str | torch.device | None = None, svd: bool = True) -> dict[str, Any]:
    """D4 quantities of the QK matrix in one named convention (Linear weights are [out, in]).

    seed: QK = W_q W_kᵀ, the head-space Gram [inner × inner] the seed computed (B4).
    bilinear: QK = W_qᵀ W_k, the attention bilinear form [d_model × d_model] (x_qᵀ QK x_k).
    Returns stable rank and PR of svdvals(QK), sym_dev = ‖QK−QKᵀ‖_F/(‖QK‖_F+1e-10), and from
    eigvalsh((QK+QKᵀ)/2): n_pos (> 0), n_neg (< 0), their fractions of dim, n_null (|λ| within
    float32 round-off of zero, which the strict signs split at random) and the top 5.
    `svd=False` skips svdvals (stable rank and PR None): the signs alone, for the seed spread.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown QK convention {convention!r}; use 'seed' (W_q W_kᵀ) or "
                         "'bilinear' (W_qᵀ W_k)")
    W_q, W_k = _matrix(W_q, "qk_manifold W_q"), _matrix(W_k, "qk_manifold W_k")
    if W_q.shape != W_k.shape:
        raise ValueError(f"W_q {tuple(W_q.shape)} and W_k {tuple(W_k.shape)} differ; expand "
                         "grouped K heads first (expand_kv_heads)")
    dev = resolve_device(device)
    Q, K = W_q.to(dev, torch.float32), W_k.to(dev, torch.float32)
    QK = Q @ K.T if convention == "seed" else Q.T @ K
    metrics = (metrics_from_singular_values(torch.linalg.svdvals(QK).cpu()) if svd
               else {"stable_rank": None, "pr": None})
    norm = torch.linalg.matrix_norm(QK).item()
    sym_dev = torch.linalg.matrix_norm(QK - QK.T).item() / (norm + 1e-10)
    eig = torch.linalg.eigvalsh((QK + QK.T) / 2).cpu().double().flip(0)
    dim = eig.numel()
    tol = dim * torch.finfo(torch.float32).eps * eig.abs().max().item()
    n_pos, n_neg = int((eig > 0).sum()), int((eig < 0).sum())
    return {
        "convention": convention, "dim": dim, "stable_rank": metrics["stable_rank"],
        "pr": metrics["pr"], "sym_dev": sym_dev, "n_pos": n_pos, "n_neg": n_neg,
        "pos_frac": n_pos / dim, "neg_frac": n_neg / dim,
        "n_null": int((eig.abs() <= tol).sum()), "top_eig": eig[:5].tolist(),
    }


def neuron_contributions(W_up: Any, W_down: Any, W_gate: Any | None = None) -> torch.Tensor:
    """D6: c_n = ‖W_up[n,:]‖·‖W_down[:,n]‖ (·‖W_gate[n,:]‖ when gated); HF weights [out, in]."""
    W_up, W_down = _matrix(W_up, "W_up"), _matrix(W_down, "W_down")
    d_ff = W_up.shape[0]
    if W_down.shape[1] != d_ff or (W_gate is not None and torch.as_tensor(W_gate).shape[0] != d_ff):
        raise ValueError(f"MLP shapes disagree: up {tuple(W_up.shape)}, down "
                         f"{tuple(W_down.shape)} (want [E, {d_ff}])"
                         + ("" if W_gate is None else f", gate {tuple(W_gate.shape)}"))
    c = W_up.float().norm(dim=1) * W_down.float().norm(dim=0)
    return c if W_gate is None else c * _matrix(W_gate, "W_gate").float().norm(dim=1)


def dead_neuron_counts(c: torch.Tensor, fracs: tuple[float, float] = (0.01, 0.10)) -> dict:
    """Dead (c < 0.01·mean c) and weak (c < 0.10·mean c) counts of one layer's contributions."""
    c = torch.as_tensor(c, dtype=torch.float64)
    if c.ndim != 1 or c.numel() == 0:
        raise ValueError(f"need a 1-D vector of neuron contributions, got {tuple(c.shape)}")
    mean = c.mean().item()
    dead, weak = (int((c < f * mean).sum()) for f in fracs)
    n = c.numel()
    return {"d_ff": n, "mean_c": mean, "dead": dead, "weak": weak,
            "dead_frac": dead / n, "weak_frac": weak / n}


def dead_neurons(W_up: Any, W_down: Any, W_gate: Any | None = None) -> dict:
    """D6 dead and weak neurons of one MLP layer (gated when W_gate is given)."""
    return dead_neuron_counts(neuron_contributions(W_up, W_down, W_gate))


def flat_cosine(A: torch.Tensor, B: torch.Tensor) -> float:
    """D7 uncentered cosine of two flattened matrices, ⟨A,B⟩/(‖A‖‖B‖+1e-8)."""
    a, b = A.reshape(-1).double(), B.reshape(-1).double()
    if a.numel() != b.numel():
        raise ValueError(f"cross-layer cosine needs equal sizes, got {A.shape} and {B.shape}")
    return (torch.dot(a, b) / (a.norm() * b.norm() + 1e-8)).item()


def adjacent_stats(values: list[float]) -> dict[str, Any]:
    """Mean, min and max of the adjacent-pair cosines (i, i+1)."""
    if not values:
        return {"n_pairs": 0, "mean": None, "min": None, "max": None, "values": []}
    return {"n_pairs": len(values), "mean": float(np.mean(values)), "min": min(values),
            "max": max(values), "values": list(values)}


def cross_layer_summary(cross_layer: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """D7 over every matrix type at once, from `cross_layer` ({type: adjacent_stats}).

    max_abs_mean = max over types of |mean adjacent cosine| (worst_type is that type), mean_abs =
    the mean over types of |mean|, max_abs_pair = max |cosine| over every adjacent pair of every
    type; types without a pair (one layer) are left out. None everywhere when no type has a pair.
    """
    means = {t: s["mean"] for t, s in sorted(cross_layer.items()) if s["n_pairs"]}
    if not means:
        return {"max_abs_mean": None, "mean_abs": None, "max_abs_pair": None, "n_types": 0,
                "n_pairs": 0, "worst_type": None}
    worst = max(means, key=lambda t: abs(means[t]))
    pairs = [abs(v) for t in means for v in cross_layer[t]["values"]]
    return {"max_abs_mean": abs(means[worst]),
            "mean_abs": float(np.mean([abs(m) for m in means.values()])),
            "max_abs_pair": max(pairs), "n_types": len(means), "n_pairs": len(pairs),
            "worst_type": worst}


def cross_layer_cosine(matrices: Iterable[Any]) -> dict[str, Any]:
    """D7 over adjacent pairs only (never the n×n matrix), holding two matrices at a time."""
    values, previous = [], None
    for W in matrices:
        W = torch.as_tensor(W)
        if previous is not None:
            values.append(flat_cosine(previous, W))
        previous = W
    if previous is None:
        raise ValueError("cross_layer_cosine got no matrices")
    return adjacent_stats(values)


class ScaleStats:
    """Norm gains: mean, std (ddof 0), #>1.5, #<0.5, #in (0.8, 1.2), pooled over tensors."""

    def __init__(self) -> None:
        self.n, self.total, self.squares = 0, 0.0, 0.0
        self.high = self.low = self.near_one = 0

    def add(self, w: torch.Tensor) -> None:
        w = w.double().reshape(-1)
        self.n += w.numel()
        self.total += w.sum().item()
        self.squares += (w**2).sum().item()
        self.high += int((w > 1.5).sum())
        self.low += int((w < 0.5).sum())
        self.near_one += int(((w > 0.8) & (w < 1.2)).sum())

    def stats(self) -> dict[str, Any]:
        mean = self.total / self.n if self.n else 0.0
        var = max(self.squares / self.n - mean**2, 0.0) if self.n else 0.0
        return {"n": self.n, "mean": mean, "std": math.sqrt(var), "n_gt_1.5": self.high,
                "n_lt_0.5": self.low, "n_in_0.8_1.2": self.near_one}


def norm_scale_stats(w: Any, offset: float = 0.0) -> dict[str, Any]:
    """LayerNorm / RMSNorm scale stats of one gain vector (+ offset: 1 for Gemma's (1 + w))."""
    w = torch.as_tensor(w)
    if w.numel() == 0:
        raise ValueError("norm_scale_stats got an empty tensor")
    acc = ScaleStats()
    acc.add(w + offset)
    return acc.stats()


def _topology(b: np.ndarray) -> dict[str, Any]:
    """Per-head peak, local/global/mixed (§6 rule), monotonic fraction and distance corr (§4)."""
    n, heads = b.shape
    peak = b.argmax(axis=0)
    local, global_ = peak <= 2, peak >= n - 3
    half = b[: n // 2]
    monotonic = (np.diff(half, axis=0) <= 0).mean(axis=0)
    index = np.arange(n)
    corr = [pearson(index, b[:, h], ("the bucket index", f"head {h}'s bias")) for h in range(heads)]
    return {
        "n_buckets": n, "local": int(local.sum()), "global": int(global_.sum()),
        "mixed": int((~local & ~global_).sum()), "peak": peak.tolist(),
        "classes": ["local" if lo else "global" if gl else "mixed"
                    for lo, gl in zip(local, global_, strict=True)],
        "monotonic_frac": monotonic.tolist(),
        "dist_corr": [None if reason else r for r, reason in corr],
        "dist_corr_reason": [reason for _, reason in corr],
        "range": [float(b.min()), float(b.max())],
    }


def position_bias_topology(rpb: Any, bidirectional: bool = False) -> dict[str, Any]:
    """Per-head topology of a T5 relative position bias [buckets × heads].

    Unidirectional (decoder; buckets 0..nb-1 = growing past distance): peak = argmax; Local =
    #heads with peak ≤ 2, Global = #heads with peak ≥ nb−3, Mixed = the rest (§6's rule);
    monotonic_frac = mean(diff(b[:nb/2]) ≤ 0); dist_corr = corrcoef(arange(nb), b) (§4), None
    for a head whose bias is constant (`dist_corr_reason` says why).
    Bidirectional (encoder): buckets 0..nb/2−1 are key ≤ query, nb/2.. key > query, each growing
    with distance, so the same quantities are computed per direction on its nb/2 buckets
    (`directions`); `seed_as_executed` keeps the seed's whole-range numbers, which mix directions.
    """
    b = torch.as_tensor(rpb).detach().double().cpu().numpy()
    if b.ndim != 2 or b.shape[0] < 4:
        raise ValueError(f"position bias must be [buckets, heads] with ≥ 4 buckets, got {b.shape}")
    whole = _topology(b)
    out = {"n_buckets": b.shape[0], "n_heads": b.shape[1], "bidirectional": bidirectional}
    if not bidirectional:
        return out | whole
    half = b.shape[0] // 2
    directions = {"key<=query": _topology(b[:half]), "key>query": _topology(b[half:])}
    totals = {c: sum(d[c] for d in directions.values()) for c in ("local", "global", "mixed")}
    return out | {"directions": directions, "seed_as_executed": whole,
                  "note": "encoder: classified per direction (nb/2 buckets each); counts are "
                          "over heads × 2 directions"} | totals


def _read(source: TensorSource, key: str, reads: list[str]) -> torch.Tensor:
    reads.append(key)
    return source.tensor(key).to(torch.float32)


def _mean_rows(rows: list[dict], fields: tuple[str, ...]) -> dict[str, float]:
    return {f: float(np.mean([r[f] for r in rows])) for f in fields} | {"n": len(rows)}


def _warm_up(device: torch.device) -> None:
    """First LAPACK/BLAS calls allocate their pools: do them before memory is measured."""
    W = torch.randn(64, 48, generator=torch.Generator().manual_seed(0)).to(device)
    torch.linalg.svdvals(W)
    torch.linalg.eigvalsh(W.T @ W)


def _tensor_pass(source: TensorSource, catalog: Catalog, thresholds: tuple[float, ...],
                 device: torch.device, reads: list[str], progress: bool,
                 svd: bool = True) -> dict[str, Any]:
    groups: dict[str, SparsityCounter] = defaultdict(lambda: SparsityCounter(thresholds))
    by_location: dict[tuple[str, str], SparsityCounter] = defaultdict(
        lambda: SparsityCounter(thresholds))
    full_2d, full_all = SparsityCounter(thresholds), SparsityCounter(thresholds)
    sv_rows, norm_rows, pos_bias = [], [], {}
    norm_pooled: dict[str, ScaleStats] = defaultdict(ScaleStats)
    mlp_norms: dict[tuple[str, int], dict[str, torch.Tensor]] = defaultdict(dict)
    chains: dict[str, list[float]] = defaultdict(list)
    chain_numel: dict[str, int] = {}  # entries of one matrix of the chain (the analytic null)
    previous: tuple[str, int, torch.Tensor] | None = None  # the order is chain-major
    sv_seconds = 0.0
    order = sorted(catalog.entries, key=lambda e: (e.location, e.group, e.kind, e.layer, e.key))
    for e in tqdm(order, desc=f"battery {catalog.name}", disable=not progress, leave=False):
        W = _read(source, e.key, reads)
        below = full_all.count(W)
        full_all.add(W, below)
        matrix = e.kind == "weight" and W.ndim == 2
        if matrix:
            for counter in (groups[e.group], by_location[(e.location, e.group)], full_2d):
                counter.add(W, below)
        chain = f"{e.location}/{e.group}" if matrix and e.layer >= 0 and (
            e.role in ATTENTION_ROLES or e.role in MLP_ROLES) else None
        if chain and previous is not None and previous[0] == chain \
                and previous[1] == e.layer - 1 and previous[2].shape == W.shape:
            chains[chain].append(flat_cosine(previous[2], W))
            chain_numel[chain] = W.numel()
        previous = None
        if svd and matrix and e.role not in SV_SKIP:
            start = time.perf_counter()
            sv_rows.append({"key": e.key, "group": e.group, "location": e.location,
                            "layer": e.layer, "shape": list(W.shape)}
                           | singular_value_metrics(W, device))
            sv_seconds += time.perf_counter() - start
        if matrix and e.role in MLP_ROLES:
            parts = mlp_norms[(e.location, e.layer)]
            if e.role == "mlp_down":
                parts["down"] = W.norm(dim=0)
            elif e.fused == "gate_up":
                half = W.shape[0] // 2
                parts["gate"], parts["up"] = W[:half].norm(dim=1), W[half:].norm(dim=1)
            else:
                parts["gate" if e.role == "mlp_gate" else "up"] = W.norm(dim=1)
        if e.role == "norm" and e.kind == "weight":
            gains = W + catalog.norm_offset
            norm_rows.append({"key": e.key, "location": e.location, "layer": e.layer}
                             | norm_scale_stats(gains))
            norm_pooled[e.location].add(gains)
        if e.role == "position_bias" and W.ndim == 2:
            pos_bias[e.key] = {"location": e.location, "layer": e.layer} | \
                position_bias_topology(W, bidirectional=e.location == "encoder")
        if chain:
            previous = (chain, e.layer, W)
        del W
        release_freed_memory()
    dead_rows = []
    for (location, layer), parts in sorted(mlp_norms.items()):
        if "up" not in parts or "down" not in parts:
            continue
        c = parts["up"] * parts["down"] * parts.get("gate", 1.0)
        dead_rows.append({"location": location, "layer": layer, "gated": "gate" in parts,
                          "up_norm_mean": parts["up"].mean().item(),
                          "up_norm_std": parts["up"].std().item(),
                          "down_norm_mean": parts["down"].mean().item(),
                          "down_norm_std": parts["down"].std().item()}
                         | dead_neuron_counts(c))
    by_group: dict[str, list[dict]] = defaultdict(list)
    for row in sv_rows:
        by_group[row["group"]].append(row)
    fields = ("stable_rank", "pr", "active_frac", "rank_90", "condition")
    n_ff = sum(r["d_ff"] for r in dead_rows)
    cross_layer = {chain: adjacent_stats(v) | {"numel": chain_numel[chain]}
                   for chain, v in sorted(chains.items())}
    return {
        "sparsity": {g: c.table() for g, c in sorted(groups.items())},
        "sparsity_by_location": {loc: {g: c.table() for (lc, g), c in sorted(by_location.items())
                                       if lc == loc} for loc in catalog.locations()},
        "sparsity_full_2d": full_2d.table(),
        "sparsity_full": full_all.table(),
        "sv": {"mean": {g: _mean_rows(rows, fields) for g, rows in sorted(by_group.items())},
               "matrices": sv_rows, "n_svd": len(sv_rows), "seconds": sv_seconds},
        "dead_neurons": {
            "layers": dead_rows,
            "total": {"neurons": n_ff, "dead": sum(r["dead"] for r in dead_rows),
                      "weak": sum(r["weak"] for r in dead_rows),
                      "dead_frac": sum(r["dead"] for r in dead_rows) / n_ff if n_ff else None,
                      "weak_frac": sum(r["weak"] for r in dead_rows) / n_ff if n_ff else None}},
        "cross_layer": cross_layer,
        "cross_layer_summary": cross_layer_summary(cross_layer),
        "norms": {"offset": catalog.norm_offset, "tensors": norm_rows,
                  "pooled": {loc: acc.stats() for loc, acc in sorted(norm_pooled.items())}},
        "position_bias": pos_bias,
    }


def qk_pairs(catalog: Catalog) -> list[tuple[str, str, int, Entry | None, Entry | None]]:
    """(location, attention, layer, q-or-qkv entry, k entry or None) for every attention layer."""
    found: dict[tuple[str, str, int], dict[str, Entry]] = defaultdict(dict)
    for e in catalog.entries:
        if e.kind == "weight" and e.role in ("q", "k", "qkv") and e.layer >= 0 and e.attention:
            found[(e.location, e.attention, e.layer)][e.role] = e
    pairs = []
    for (location, attention, layer), parts in sorted(found.items()):
        if "qkv" in parts:
            pairs.append((location, attention, layer, parts["qkv"], None))
        elif "q" in parts and "k" in parts:
            pairs.append((location, attention, layer, parts["q"], parts["k"]))
    return pairs


def _qk_pass(source: TensorSource, catalog: Catalog, device: torch.device,
             reads: list[str], svd: bool = True,
             conventions: tuple[str, ...] = CONVENTIONS) -> dict[str, Any]:
    rows = []
    for location, attention, layer, first, second in (qk_pairs(catalog) if conventions else []):
        if second is None:
            W_q, W_k, _ = split_fused_qkv(_read(source, first.key, reads), catalog.heads,
                                          first.fused or "contiguous")
        else:
            W_q, W_k = _read(source, first.key, reads), _read(source, second.key, reads)
        W_k = expand_kv_heads(W_k, W_q.shape[0], catalog.heads)
        rows.append({"location": location, "attention": attention, "layer": layer,
                     **{c: qk_manifold(W_q, W_k, c, device, svd) for c in conventions}})
        del W_q, W_k
        release_freed_memory()
    summary = {}
    for stack in sorted({(r["location"], r["attention"]) for r in rows}):
        layers = [r for r in rows if (r["location"], r["attention"]) == stack]
        summary[f"{stack[0]}/{stack[1]}"] = {
            c: {"n_layers": len(layers), "first_pos_frac": layers[0][c]["pos_frac"],
                "last_pos_frac": layers[-1][c]["pos_frac"],
                "trend": layers[-1][c]["pos_frac"] - layers[0][c]["pos_frac"],
                "mean_pos_frac": float(np.mean([r[c]["pos_frac"] for r in layers])),
                "min_pos_frac": min(r[c]["pos_frac"] for r in layers),
                "max_pos_frac": max(r[c]["pos_frac"] for r in layers),
                "mean_neg_frac": float(np.mean([r[c]["neg_frac"] for r in layers])),
                "min_neg_frac": min(r[c]["neg_frac"] for r in layers),
                "max_neg_frac": max(r[c]["neg_frac"] for r in layers),
                "mean_stable_rank": float(np.mean([r[c]["stable_rank"] for r in layers]))
                if svd else None}
            for c in conventions}
    return {"layers": rows, "summary": summary,
            "conventions": {"seed": "W_q W_k^T, head space [inner x inner] (B4)",
                            "bilinear": "W_q^T W_k, attention bilinear form [d_model x d_model]"}}


def open_source(name_or_checkpoint: str | TensorSource) -> TensorSource:
    """A registry name / folder / hub id as a lazily read checkpoint; a source passes through."""
    if isinstance(name_or_checkpoint, str):
        return checkpoint(name_or_checkpoint)
    return name_or_checkpoint


def run_battery(name_or_checkpoint: str | TensorSource, *, thresholds: Iterable[float] = THRESHOLDS,
                locations: Iterable[str] | None = None, device: str | torch.device | None = None,
                threads: int | None = 1, progress: bool = False,
                svd: bool = True, conventions: Iterable[str] = CONVENTIONS) -> dict[str, Any]:
    """The §4-§6 battery of one checkpoint, streamed; a JSON-able dict.

    Keys: model, family, counts (tensors per group), sparsity (per group, 2-D weights, the seed's
    `<t` columns), sparsity_by_location, sparsity_full_2d, sparsity_full (every tensor), q_sparsity
    (the < 0.1 share of self_attn_q/k/v/qkv and, encoder-decoder only, cross_attn_q), sv (D3
    means per group and per matrix), qk (per layer, both conventions, and per stack first/last/
    trend, mean/min/max of the positive and negative fractions), dead_neurons, cross_layer
    (adjacent D7 per location/group), cross_layer_summary (over all types), norms,
    position_bias, timings_s, memory (peak RSS above the start vs the largest tensor, and every
    tensor read). The wall times and peak memory vary from run to
    run: `lib.results.pop_measurements` takes them out before a results file is written.
    `locations` keeps only those (e.g. ['vision'] for
    the seed's CLIP `.visual`). `threads` sets torch's CPU threads for the run (restored after;
    None keeps the current setting): one thread is the default because LAPACK on weight-sized
    matrices gains little from more and slows down many-fold when the cores are shared.
    `svd=False` skips every singular-value decomposition (sv empty, the QK stable ranks None):
    what the initialization seed spread needs (sparsity, QK signs, cross-layer cosines,
    position bias), at a fraction of the cost; `conventions` limits the QK pass to those (none:
    no QK pass, `qk` without layers).
    """
    start = time.perf_counter()
    thresholds = tuple(float(t) for t in thresholds)
    conventions = tuple(conventions)
    if any(c not in CONVENTIONS for c in conventions) or len(set(conventions)) < len(conventions):
        raise ValueError(f"conventions must be a subset of {CONVENTIONS} (empty: no QK pass); "
                         f"got {conventions}")
    if not thresholds:
        raise ValueError("give at least one sparsity threshold")
    source = open_source(name_or_checkpoint)
    catalog = build_catalog(source)
    if locations is not None:
        catalog = catalog.restrict(tuple(locations))
    catalog_s = time.perf_counter() - start
    dev = resolve_device(device)
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1 (or None to keep torch's setting), got {threads}")
    saved_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        _warm_up(dev)
        result = _measure(source, catalog, thresholds, dev, progress, svd, conventions)
    finally:
        torch.set_num_threads(saved_threads)
    result["timings_s"] = {"catalog": catalog_s} | result["timings_s"] \
        | {"total": time.perf_counter() - start}
    result["threads"] = threads or saved_threads
    return result


def _measure(source: TensorSource, catalog: Catalog, thresholds: tuple[float, ...],
             dev: torch.device, progress: bool, svd: bool = True,
             conventions: tuple[str, ...] = CONVENTIONS) -> dict[str, Any]:
    reads: list[str] = []
    with PeakRSS() as peak:
        t0 = time.perf_counter()
        tensors = _tensor_pass(source, catalog, thresholds, dev, reads, progress, svd)
        t1 = time.perf_counter()
        qk = _qk_pass(source, catalog, dev, reads, svd, conventions)
        t2 = time.perf_counter()
    largest = max(catalog.entries, key=lambda e: e.numel)
    largest_mb = largest.numel * 4 / 2**20  # read as float32
    sparsity_table = tensors.pop("sparsity")
    return {
        "model": source.name, "family": catalog.family, "locations": catalog.locations(),
        "device": str(dev), "thresholds": list(thresholds),
        "counts": catalog.counts(), "bias_counts": catalog.counts("bias"),
        "n_params": sum(e.numel for e in catalog.entries),
        "n_params_2d": sum(e.numel for e in catalog.entries if len(e.shape) == 2),
        "tied": catalog.tied, "buffers": catalog.buffers, "unmatched": catalog.unmatched,
        "sparsity": sparsity_table,
        "q_sparsity": {g: sparsity_table[g][f"<{Q_THRESHOLD}"] for g in Q_SPARSITY_GROUPS
                       if g in sparsity_table},
        **tensors,
        "qk": qk,
        "timings_s": {"tensors": t1 - t0, "svd": tensors["sv"]["seconds"], "qk": t2 - t1},
        "memory": {"peak_rss_mb": peak.mb, "peak_exact": peak.exact,
                   "largest_tensor": largest.key,
                   "largest_tensor_mb": largest_mb,
                   "peak_over_largest": peak.mb / largest_mb if largest_mb else None,
                   "n_reads": len(reads), "n_tensors": len(catalog.entries)},
    }
