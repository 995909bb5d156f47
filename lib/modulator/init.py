"""Initializations of the LERP modulator from WordNet geometry (seed 004 §8 steps 1-4).

1. `spectral_embedding(S)`: the top eigenvectors of a relational target S (e.g. Wu-Palmer over
   the anchors), `G = V·√max(λ, 0)`, rows normalized; `recon_corr` checks it against S.
2. `knn_softmax_fill`: every non-anchor token gets the softmax(temperature·cos)-weighted mean of
   the G rows of its k nearest anchors by static-embedding cosine, normalized.
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
from lib.terrain.correlation import pearson
from lib.terrain.cosine import normalize_rows, row_cosine, upper_tri_cosines
from lib.terrain.procrustes import fit_procrustes, pca_fit


def spectral_embedding(S: Any, n_dims: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(G [n, n_dims] with unit rows, eigenvalues sorted descending [n]) of a symmetric S."""
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
    G = vecs[:, :n_dims] * np.sqrt(np.maximum(vals[:n_dims], 0.0))[None, :]
    return normalize_rows(G), vals


def recon_corr(S: Any, G: Any) -> float:
    """Pearson correlation of S's upper triangle with the cosines of G's rows (NaN when either
    is constant: `lib.terrain.correlation`)."""
    S = np.asarray(S, dtype=np.float64)
    return pearson(S[np.triu_indices(len(S), k=1)], upper_tri_cosines(G),
                   ("the similarities", "the embedding cosines"))[0]


def knn_softmax_fill(static_query: Any, static_anchor: Any, G_anchor: Any, k: int = 10,
                     temperature: float = 10.0, batch_size: int = 1000) -> np.ndarray:
    """Geometric rows for query tokens from their k nearest anchors (static-embedding cosine):
    `normalize(Σ softmax(temperature·cos) · G)`, computed in batches (float32, as the seed)."""
    q = torch.as_tensor(np.asarray(static_query), dtype=torch.float32)
    a = torch.as_tensor(np.asarray(static_anchor), dtype=torch.float32)
    g = torch.as_tensor(np.asarray(G_anchor), dtype=torch.float32)
    if q.dim() != 2 or a.dim() != 2 or q.shape[1] != a.shape[1] or len(g) != len(a):
        raise ValueError(f"need static_query [n, d], static_anchor [m, d], G_anchor [m, g]; got "
                         f"{tuple(q.shape)}, {tuple(a.shape)}, {tuple(g.shape)}")
    if not 1 <= k <= len(a):
        raise ValueError(f"k must lie in 1..{len(a)} (the number of anchors), got {k}")
    a_n = normalize_rows(a)
    out = torch.empty(len(q), g.shape[1])
    for start in range(0, len(q), batch_size):
        cos = normalize_rows(q[start:start + batch_size]) @ a_n.T
        top, idx = cos.topk(k, dim=1)
        w = torch.softmax(top * temperature, dim=1)
        out[start:start + batch_size] = normalize_rows((g[idx] * w.unsqueeze(-1)).sum(dim=1))
    return out.numpy()


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
