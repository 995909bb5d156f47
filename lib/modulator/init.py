"""Initializations of the LERP modulator from WordNet geometry (seed 004 §8 steps 1-4).

1. `spectral_embedding(S)`: the top eigenvectors of a relational target S (e.g. Wu-Palmer over
   the anchors), `G = V·√max(λ, 0)`, rows normalized; `recon_corr` checks it against S. The
   eigenvectors get a basis fixed by their eigenspaces (`canonical_eigenbasis`): LAPACK's signs
   and its basis of a degenerate eigenspace change with the processor, and so did every number
   the unmatched rows (B8) or AdamW touch.
2. `knn_softmax_fill`: every non-anchor token gets the softmax(temperature·cos)-weighted mean of
   the G rows of its k nearest anchors by static-embedding cosine (float64, ties to the lowest
   anchor index), normalized.
3. `procrustes_projection`: the encoder's pooled anchor reps are reduced by PCA to n_geo dims,
   G is rotated onto them (orthogonal Procrustes), and `proj.weight = (R P)ᵀ · 0.1·mean‖A_i‖`.
   B7: that scale is the norm of the *final* pooled representations, while the modulator
   injects into every internal residual stream; kept as the seed did, and documented.
4. `load_geometry`: writes the rows of the matched tokens and the projection into a modulator;
   the other rows keep their N(0, 1) init, drawn from the modulator's seeded generator (B8).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lib.modulator.lerp import GeometricResidualModulator
from lib.stats.correlation import pearson
from lib.terrain.cosine import normalize_rows, row_cosine, upper_tri_cosines
from lib.terrain.procrustes import fit_procrustes, pca_fit

# Eigenvalues within EIGENSPACE_RTOL x max|λ| of each other span one eigenspace: LAPACK builds
# (OpenBLAS SkylakeX vs Haswell) give a Wu-Palmer matrix's eigenvalues to ~4e-16 x max|λ|, and
# its degenerate ones (Wu-Palmer values are ratios of small depths: 0.8 three times, 0.75 three
# times among the top 64 of the embedded run) differ by that much only.
EIGENSPACE_RTOL = 1e-9
# Pivot candidates within PIVOT_RTOL (relative) of the largest are a tie, broken by lowest index.
PIVOT_RTOL = 1e-9
# k-NN cosines are ranked rounded to this many decimals (float64 noise is ~1e-16)
RANK_DECIMALS = 12


def _first_max(values: np.ndarray, rtol: float = PIVOT_RTOL) -> int:
    """The lowest index whose value is within `rtol` (relative) of the maximum."""
    return int(np.flatnonzero(values >= values.max() * (1.0 - rtol))[0])


def canonical_eigenbasis(vals: np.ndarray, vecs: np.ndarray, n_dims: int,
                         rtol: float = EIGENSPACE_RTOL) -> tuple[np.ndarray, bool]:
    """([n, n_dims] eigenvectors whose basis depends on the eigenspaces only, whether the cut at
    `n_dims` splits an eigenspace) for `vals` sorted descending and their `vecs` columns.

    LAPACK returns each eigenvector up to sign, and any orthonormal basis of a degenerate
    eigenspace: which one depends on the BLAS kernels (the processor). Every step after G is
    invariant to that rotation except the rows the modulator projects without G (B8's unmatched
    rows) and Adam's per-coordinate updates, so the basis is fixed here: within each eigenspace
    (eigenvalues within `rtol` x max|λ|), pivoted Gram-Schmidt of its projector Π's columns,
    `v = Π e_i / ‖Π e_i‖` at the largest remaining diagonal `Π_ii` (ties: lowest i), Π deflated
    by v v^T after each. A 1-dimensional eigenspace gets the sign that makes its largest
    component (lowest index among ties) positive. An eigenspace cut by `n_dims` keeps its first
    pivoted vectors.
    """
    scale = max(float(np.abs(vals).max()), np.finfo(np.float64).tiny)
    out = np.empty((vecs.shape[0], n_dims))
    start = 0
    while start < n_dims:
        stop = start + 1
        while stop < len(vals) and vals[stop - 1] - vals[stop] <= rtol * scale:
            stop += 1
        B = vecs[:, start:stop].copy()  # orthonormal: Π = B B^T
        for j in range(start, min(stop, n_dims)):
            i = _first_max((B * B).sum(axis=1))
            c = B[i] / np.linalg.norm(B[i])  # Π e_i = B c ‖B[i]‖
            out[:, j] = B @ c
            B -= np.outer(out[:, j], c)  # B (I - c c^T): Π - v v^T
        start = stop
    return out, start > n_dims


def spectral_embedding(S: Any, n_dims: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(G [n, n_dims] with unit rows, eigenvalues sorted descending [n]) of a symmetric S; the
    eigenvectors in `canonical_eigenbasis`, so that G is the same on every processor."""
    S = np.asarray(S, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] != S.shape[1] or S.shape[0] < 2:
        raise ValueError(f"S must be a square [n, n] matrix with n >= 2, got {S.shape}")
    if not 1 <= n_dims <= S.shape[0]:
        raise ValueError(f"n_dims must lie in 1..{S.shape[0]}, got {n_dims}")
    if not np.allclose(S, S.T):
        raise ValueError("S must be symmetric (a pairwise similarity matrix)")
    vals, vecs = np.linalg.eigh(S)
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    V, _ = canonical_eigenbasis(vals, vecs, n_dims)
    G = V * np.sqrt(np.maximum(vals[:n_dims], 0.0))[None, :]
    return normalize_rows(G), vals


def recon_corr(S: Any, G: Any) -> float:
    """Pearson correlation of S's upper triangle with the cosines of G's rows (NaN when either
    is constant: `lib.stats.correlation`)."""
    S = np.asarray(S, dtype=np.float64)
    return pearson(S[np.triu_indices(len(S), k=1)], upper_tri_cosines(G),
                   ("the similarities", "the embedding cosines"))[0]


def knn_softmax_fill(static_query: Any, static_anchor: Any, G_anchor: Any, k: int = 10,
                     temperature: float = 10.0, batch_size: int = 1000) -> np.ndarray:
    """Geometric rows for query tokens from their k nearest anchors (static-embedding cosine):
    `normalize(Σ softmax(temperature·cos) · G)`, in batches, float32 out.

    The cosines are float64 and ranked on their value rounded to RANK_DECIMALS, ties by the
    lowest anchor index (a stable sort): float32 cosines (the seed's) differ between processors
    in their last digits, and a near tie at the k-th neighbour would swap a whole G row."""
    q, a, g = (np.asarray(x, dtype=np.float64) for x in (static_query, static_anchor, G_anchor))
    if q.ndim != 2 or a.ndim != 2 or q.shape[1] != a.shape[1] or len(g) != len(a):
        raise ValueError(f"need static_query [n, d], static_anchor [m, d], G_anchor [m, g]; got "
                         f"{q.shape}, {a.shape}, {g.shape}")
    if not 1 <= k <= len(a):
        raise ValueError(f"k must lie in 1..{len(a)} (the number of anchors), got {k}")
    a_n = normalize_rows(a)
    out = np.empty((len(q), g.shape[1]), dtype=np.float32)
    for start in range(0, len(q), batch_size):
        cos = normalize_rows(q[start:start + batch_size]) @ a_n.T
        idx = np.argsort(-np.round(cos, RANK_DECIMALS), axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(cos, idx, axis=1) * temperature
        w = np.exp(top - top.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        out[start:start + batch_size] = normalize_rows(np.einsum("bk,bkg->bg", w, g[idx]))
    return out


def fill_geometry(static_reps: Any, anchor_idx: Any, G_anchor: Any, k: int = 10,
                  temperature: float = 10.0, batch_size: int = 1000) -> np.ndarray:
    """[N, n_geo]: G at the anchors, the k-NN softmax fill everywhere else."""
    static_reps = np.asarray(static_reps)
    anchor_idx = np.asarray(anchor_idx)
    rest = np.setdiff1d(np.arange(len(static_reps)), anchor_idx)
    out = np.zeros((len(static_reps), np.shape(G_anchor)[1]), dtype=np.float32)
    out[anchor_idx] = G_anchor
    if rest.size:
        out[rest] = knn_softmax_fill(static_reps[rest], static_reps[anchor_idx], G_anchor, k,
                                     temperature, batch_size)
    return out


def load_geometry(modulator: GeometricResidualModulator, token_ids: Any, geo: Any,
                  proj_weight: Any) -> None:
    """Write `geo` rows at `token_ids` and `proj.weight` [d_model, n_geo] into the modulator."""
    ids = torch.as_tensor(np.asarray(token_ids), dtype=torch.long)
    geo_t = torch.as_tensor(np.asarray(geo), dtype=torch.float32)
    w = torch.as_tensor(np.asarray(proj_weight), dtype=torch.float32)
    if geo_t.shape != (len(ids), modulator.n_geometric_dims):
        raise ValueError(f"geo must be [{len(ids)}, {modulator.n_geometric_dims}], got "
                         f"{tuple(geo_t.shape)}")
    if w.shape != modulator.proj.weight.shape:
        raise ValueError(f"proj_weight must be {tuple(modulator.proj.weight.shape)}, got "
                         f"{tuple(w.shape)}")
    if len(ids) and (ids.min() < 0 or ids.max() >= modulator.vocab_size):
        raise ValueError(f"token ids outside 0..{modulator.vocab_size - 1}")
    with torch.no_grad():
        modulator.geometric_embed.weight[ids] = geo_t
        modulator.proj.weight.copy_(w)


def procrustes_projection(G_anchor: Any, enc_anchor: Any, scale_factor: float = 0.1
                          ) -> dict[str, Any]:
    """§8 step 4: the projection [d_model, n_geo] that carries G into the encoder's space.

    `P` = the top-n_geo PCA basis of the centered anchor reps A; `enc = normalize(A_c P)`;
    `R` = orthogonal Procrustes of normalize(G) onto enc (both centered on their means);
    `weight = (R Pᵀ)ᵀ · scale_factor·mean‖A_i‖`. B7: ‖A_i‖ is the norm of the *final* pooled
    representation, yet the target is injected into every internal residual (kept, documented).
    `nuclear_norm` is what scipy returns as "scale" (Σ singular values of GcᵀEc), not a scale.
    """
    G = np.asarray(G_anchor, dtype=np.float64)
    A = np.asarray(enc_anchor, dtype=np.float64)
    if G.ndim != 2 or A.ndim != 2 or len(G) != len(A):
        raise ValueError(f"G_anchor [n, n_geo] and enc_anchor [n, d] need the same rows; got "
                         f"{G.shape} and {A.shape}")
    n_geo = G.shape[1]
    if n_geo > min(A.shape):
        raise ValueError(f"n_geo = {n_geo} exceeds min(anchors, d_model) = {min(A.shape)}")
    pca = pca_fit(A, n_geo)
    enc_n = normalize_rows(pca.transform(A))
    fit = fit_procrustes(normalize_rows(G), enc_n)
    alignment = row_cosine(fit.apply(normalize_rows(G)), enc_n)
    residual_scale = float(np.linalg.norm(A, axis=1).mean())
    weight = (fit.R @ pca.basis.T).T * (residual_scale * scale_factor)
    return {"weight": weight.astype(np.float32), "R": fit.R, "basis": pca.basis,
            "nuclear_norm": fit.nuclear_norm, "alignment_cos": alignment,
            "residual_scale": residual_scale, "scale_factor": scale_factor,
            "pca_retained": pca.retained}
