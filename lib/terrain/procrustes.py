"""PCA, orthogonal Procrustes and §13b's cross-scale embedding projection.

`cross_scale_projection(E_large, E_small)` maps the wider embedding onto the narrower one:
PCA of the larger to the smaller width, Procrustes on anchor tokens, metrics on held-out tokens.
The seed (§13b) had one vocabulary for both models; here the two may differ: rows are paired over
the token *strings* both tokenizers share (`shared_token_index`). With `default_rng(seed)`:
PCA sample `choice(V, n_pca)` -> `permutation(V)` (first `n_anchor` anchors, next `n_test` test)
-> pentachora `choice(V, 5)` x n, V being the number of shared tokens -> (new, after the seed's
draws) n isotropic Gaussian pentachora, σ = global std of the native rows: `reference_cv`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.linalg import orthogonal_procrustes

from lib.models.tiny import bytes_to_unicode
from lib.stats.correlation import pearson
from lib.terrain.cosine import normalize_rows, row_cosine, upper_tri_cosines, value_stats
from lib.terrain.simplex import (
    cayley_menger_volumes,
    cv_versus_reference,
    isotropic_gaussian,
    sample_simplices,
    volume_summary,
)
from lib.terrain.spectra import participation_ratio_of

TOKEN_COS_PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99)
ALIGN_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _f64(X: Any, what: str) -> np.ndarray:
    A = X.detach().cpu().double().numpy() if isinstance(X, torch.Tensor) else \
        np.asarray(X, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"{what} must be a non-empty [rows, dims] matrix; got shape {A.shape}")
    return A


@dataclass
class PCA:
    """A fitted PCA: `transform(X) = (X - mean) @ basis`."""

    mean: np.ndarray  # [D]
    basis: np.ndarray  # [D, k]
    singular_values: np.ndarray  # all of the fit sample's, descending
    retained: float  # ΣS²[:k] / ΣS²
    sample_idx: np.ndarray | None

    def transform(self, X: Any) -> np.ndarray:
        return (_f64(X, "X") - self.mean) @ self.basis


def pca_fit(X: Any, k: int, rng: np.random.Generator | None = None,
            sample: int | None = None) -> PCA:
    """Center, top-k principal axes (SVD via the Gram eigendecomposition), retained variance.

    Fits on `rng.choice(N, sample, replace=False)` rows when `sample` is given (§13b: 50,000).
    """
    n, D = X.shape if len(getattr(X, "shape", ())) == 2 else (0, 0)
    if n == 0:
        raise ValueError(f"X must be a non-empty [rows, dims] matrix; got shape "
                         f"{tuple(getattr(X, 'shape', ()))}")
    idx = None
    if sample is not None:
        if rng is None:
            raise ValueError("pca_fit(sample=...) needs rng (a numpy Generator)")
        if not 1 <= sample <= n:
            raise ValueError(f"sample = {sample} must lie in [1, {n}]")
        idx = rng.choice(n, size=sample, replace=False)
        X = X[idx]
    A = _f64(X, "X")
    if not 1 <= k <= min(A.shape):
        raise ValueError(f"k = {k} must lie in [1, min(rows, dims) = {min(A.shape)}]")
    mean = A.mean(axis=0)
    Ac = torch.from_numpy(A - mean)
    # eigh of AcᵀAc = V S² Vᵀ: the SVD's right vectors and squared singular values, several
    # times faster than an SVD of the tall matrix (signs may differ; Procrustes absorbs them)
    lam, vecs = torch.linalg.eigh(Ac.T @ Ac)
    lam, vecs = lam.flip(0).clamp_min(0).numpy(), vecs.flip(1).numpy()
    total = float(lam.sum())
    retained = float(lam[:k].sum() / total) if total > 0 else float("nan")
    return PCA(mean, vecs[:, :k].copy(), np.sqrt(lam), retained, idx)


@dataclass
class ProcrustesFit:
    """R minimizing ||(A - mean_a) R - (B - mean_b)||_F over orthogonal R."""

    R: np.ndarray
    nuclear_norm: float  # scipy's second return ("scale"): Σ singular values of AcᵀBc, no scale
    mean_a: np.ndarray
    mean_b: np.ndarray

    def apply(self, X: Any) -> np.ndarray:
        """(X - mean_a) @ R + mean_b."""
        return (_f64(X, "X") - self.mean_a) @ self.R + self.mean_b


def fit_procrustes(A: Any, B: Any, center: bool = True) -> ProcrustesFit:
    """`scipy.linalg.orthogonal_procrustes` on matrices centred on their own means."""
    A, B = _f64(A, "A"), _f64(B, "B")
    if A.shape != B.shape:
        raise ValueError(f"A {A.shape} and B {B.shape} must have the same shape (paired rows, "
                         "equal width: reduce the wider one with pca_fit first)")
    mean_a = A.mean(axis=0) if center else np.zeros(A.shape[1])
    mean_b = B.mean(axis=0) if center else np.zeros(B.shape[1])
    R, nuclear = orthogonal_procrustes(A - mean_a, B - mean_b)
    return ProcrustesFit(R, float(nuclear), mean_a, mean_b)


# ---- shared tokens between two vocabularies ----

@dataclass
class SharedTokens:
    """Token strings present in two vocabularies, with their ids on each side."""

    keys: list[str]  # the surface form both share (repr of bytes for byte-level keys)
    ids_a: np.ndarray
    ids_b: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)


def _vocab(tokenizer_or_vocab: Any) -> tuple[dict[str, int], set[str]]:
    if isinstance(tokenizer_or_vocab, Mapping):
        return dict(tokenizer_or_vocab), set()
    if not hasattr(tokenizer_or_vocab, "get_vocab"):
        raise ValueError("expected a tokenizer (with get_vocab()) or a {token: id} mapping; got "
                         f"{type(tokenizer_or_vocab).__name__}")
    specials = set(getattr(tokenizer_or_vocab, "all_special_tokens", []) or [])
    return tokenizer_or_vocab.get_vocab(), specials


def _byte_decoder() -> dict[str, int]:
    return {ch: b for b, ch in bytes_to_unicode().items()}


def surface_form(token: str, scheme: str, byte_decoder: dict[str, int] | None = None) -> bytes:
    """The bytes a vocabulary entry stands for: byte-level BPE ('Ġ' = space), SentencePiece
    ('▁' = space, '<0xNN>' = one byte) or raw (the string's UTF-8)."""
    if scheme == "byte-level":
        table = byte_decoder or _byte_decoder()
        if all(ch in table for ch in token):
            return bytes(table[ch] for ch in token)
        return token.encode()
    if scheme == "sentencepiece":
        if len(token) == 6 and token.startswith("<0x") and token.endswith(">"):
            return bytes([int(token[3:5], 16)])
        return token.replace("\u2581", " ").encode()
    if scheme == "raw":
        return token.encode()
    raise ValueError(f"unknown scheme {scheme!r}: use byte-level, sentencepiece or raw")


def detect_scheme(vocab: Mapping[str, int]) -> str:
    """'sentencepiece' if '▁' marks many tokens, 'byte-level' if 'Ġ' does, else 'raw'."""
    tokens = list(vocab)
    spm = sum("\u2581" in t for t in tokens)
    gpt = sum(t.startswith("\u0120") for t in tokens)
    if max(spm, gpt) < 0.01 * len(tokens):
        table = _byte_decoder()
        return "byte-level" if all(all(c in table for c in t) for t in tokens[:2000]) else "raw"
    return "sentencepiece" if spm >= gpt else "byte-level"


def shared_token_index(a: Any, b: Any, surface: str = "auto") -> SharedTokens:
    """Pair the tokens two vocabularies (tokenizers or {token: id}) share, ordered by id in `a`.

    `surface='auto'` compares the text each token stands for (so byte-level 'Ġthe' matches
    SentencePiece '▁the'); 'raw' compares the token strings. Special tokens are left out; where
    several entries of one vocabulary give the same text, the lowest id is kept.
    """
    sides = []
    for tok in (a, b):
        vocab, specials = _vocab(tok)
        if not vocab:
            raise ValueError("an empty vocabulary was given")
        scheme = "raw" if surface == "raw" else detect_scheme(vocab)
        if surface not in ("auto", "raw"):
            raise ValueError(f"surface must be 'auto' or 'raw'; got {surface!r}")
        table = _byte_decoder()
        keyed: dict[bytes, int] = {}
        for token, i in sorted(vocab.items(), key=lambda kv: kv[1]):
            if token not in specials:
                keyed.setdefault(surface_form(token, scheme, table), i)
        sides.append(keyed)
    common = sorted(set(sides[0]) & set(sides[1]), key=lambda k: sides[0][k])
    if not common:
        raise ValueError("the two vocabularies share no token")
    keys = [k.decode("utf-8", errors="backslashreplace") for k in common]
    return SharedTokens(keys, np.array([sides[0][k] for k in common]),
                        np.array([sides[1][k] for k in common]))


# ---- §13b ----

def _relational(native: np.ndarray, aligned: np.ndarray) -> dict[str, Any]:
    a, b = upper_tri_cosines(native), upper_tri_cosines(aligned)
    r, reason = pearson(a, b, ("the native pair cosines", "the projected pair cosines"))
    return {"n_tokens": int(native.shape[0]), "pearson": r, "pearson_reason": reason,
            "mean_abs_diff": float(np.abs(a - b).mean())}


def _paired_volumes(native: np.ndarray, projected: np.ndarray) -> dict[str, Any]:
    nat, prj = volume_summary(native), volume_summary(projected)
    both = np.isfinite(native) & np.isfinite(projected)
    v_n, v_p = native[np.isfinite(native)], projected[np.isfinite(projected)]
    m = min(v_n.size, v_p.size)
    names = ("the native volumes", "the projected volumes")
    paired, paired_reason = pearson(native[both], projected[both], names)
    # B11: the seed paired the two valid lists by truncation, misaligned if any was invalid
    truncated, truncated_reason = pearson(v_n[:m], v_p[:m], names)
    return {
        "native": nat, "projected": prj, "ratio_projected_native": prj["mean"] / nat["mean"],
        "paired_valid": int(both.sum()),
        "vol_corr_paired": paired, "vol_corr_paired_reason": paired_reason,
        "vol_corr_truncated_as_executed": truncated,
        "vol_corr_truncated_as_executed_reason": truncated_reason,
    }


def cross_scale_projection(E_large: Any, E_small: Any, shared: SharedTokens | None = None, *,
                           seed: int = 42, n_pca: int = 50000, n_anchor: int = 10000,
                           n_test: int = 5000, n_rel: int = 1000, n_simplices: int = 1000,
                           digit_rows: Sequence[int] | None = None,
                           n_extremes: int = 20, n_raw: int = 500) -> dict[str, Any]:
    """§13b: PCA E_large to E_small's width, Procrustes on anchors, held-out metrics (JSON-able).

    Rows are paired by `shared` (ids into each matrix, e.g. from `shared_token_index(large_tok,
    small_tok)`), else E_large and E_small must have the same rows (one vocabulary, as the seed).
    Counts are capped by the number V of shared tokens: anchors `perm[:n_anchor]`, test the next
    `n_test`. `digit_rows` (10 row numbers into the shared set) adds §13b's digit comparison.
    `raw_relational` is the cross-check the seed states but never computes ("was 0.920 on 500
    tokens"): each model's own pair cosines over the first `n_raw` test tokens, no projection.
    """
    if shared is not None:
        if len(shared) == 0:
            raise ValueError("shared holds no token")
        L = _f64(E_large[torch.as_tensor(shared.ids_a)] if isinstance(E_large, torch.Tensor)
                 else np.asarray(E_large)[shared.ids_a], "E_large")
        S = _f64(E_small[torch.as_tensor(shared.ids_b)] if isinstance(E_small, torch.Tensor)
                 else np.asarray(E_small)[shared.ids_b], "E_small")
    else:
        L, S = _f64(E_large, "E_large"), _f64(E_small, "E_small")
        if L.shape[0] != S.shape[0]:
            raise ValueError(f"E_large has {L.shape[0]} rows and E_small {S.shape[0]}: pass "
                             "shared=shared_token_index(...) to pair vocabularies that differ")
    V, k = S.shape[0], S.shape[1]
    if L.shape[1] < k:
        raise ValueError(f"E_large ({L.shape[1]}-d) must be at least as wide as E_small ({k}-d); "
                         "swap the arguments")
    n_anchor_used = min(n_anchor, V)
    n_test_used = min(n_test, V - n_anchor_used)
    if n_anchor_used < 2 or n_test_used < 2:
        raise ValueError(f"{V} shared tokens leave {n_anchor_used} anchors and {n_test_used} test "
                         "tokens; need at least 2 of each (lower n_anchor)")
    if V < 5:
        raise ValueError(f"pentachora need at least 5 shared tokens; got {V}")
    rng = np.random.default_rng(seed)
    pca = pca_fit(L, k, rng, sample=min(n_pca, V))
    L_proj = pca.transform(L)
    perm = rng.permutation(V)
    anchors, test = perm[:n_anchor_used], perm[n_anchor_used:n_anchor_used + n_test_used]
    fit = fit_procrustes(L_proj[anchors], S[anchors])
    aligned = fit.apply(L_proj)

    token_cos = row_cosine(S[test], aligned[test])
    token_l2 = np.linalg.norm(S[test] - aligned[test], axis=1)
    all_cos = row_cosine(S, aligned)
    order = np.argsort(all_cos)
    keys = shared.keys if shared is not None else None

    def _row(r: int) -> dict[str, Any]:
        out = {"row": int(r), "cosine": float(all_cos[r])}
        if shared is not None:
            out |= {"token": keys[r], "id_large": int(shared.ids_a[r]),
                    "id_small": int(shared.ids_b[r])}
        return out

    rel = test[:min(n_rel, test.size)]
    residual = S[test] - aligned[test]
    res_eig = torch.linalg.eigvalsh(torch.from_numpy(residual.T @ residual / test.size)) \
        .flip(0).numpy()
    ids = sample_simplices(V, n_simplices, rng)
    native_vol = cayley_menger_volumes(S[ids.ravel()].reshape(n_simplices, 5, k))
    sigma = float(S.std())
    # drawn after every earlier draw of the stream, so the seed's numbers do not move
    reference_vol = cayley_menger_volumes(isotropic_gaussian(rng, n_simplices, k, sigma))
    reference = volume_summary(reference_vol)
    out: dict[str, Any] = {
        "section": "13b", "seed": seed, "shared_tokens": V, "dim_large": int(L.shape[1]),
        "dim_small": k, "n_pca": int(min(n_pca, V)), "n_anchor": int(n_anchor_used),
        "n_test": int(n_test_used), "pca_retained_variance": pca.retained,
        "procrustes_nuclear_norm": fit.nuclear_norm,
        "token_cosine": value_stats(token_cos, TOKEN_COS_PERCENTILES)
        | {"argmin_row": int(test[token_cos.argmin()])},
        "token_l2": value_stats(token_l2, ()),
        "relational": _relational(S[rel], aligned[rel]),
        "raw_relational": _relational(S[test[:n_raw]], L[test[:n_raw]])
        | {"what": "the large model's own pair cosines vs the small model's over the first "
                   "n_raw test tokens, before any projection (§13b's stated raw cross-check)"},
        "all_tokens": {"mean": float(all_cos.mean()), "median": float(np.median(all_cos)),
                       "fraction_above": {str(t): float((all_cos > t).mean())
                                          for t in ALIGN_THRESHOLDS},
                       "worst": [_row(r) for r in order[:n_extremes]],
                       "best": [_row(r) for r in order[::-1][:n_extremes]]},
        "pentachora": _paired_volumes(
            native_vol, cayley_menger_volumes(aligned[ids.ravel()].reshape(n_simplices, 5, k)))
        | {"reference_cv": reference["cv"], "reference_valid": reference["valid"],
           "reference": "isotropic Gaussian, sigma = global std of the native shared rows "
                        "(ddof 0), drawn after the simplex ids",
           "cv_vs_reference": cv_versus_reference(native_vol, reference_vol, seed)},
        "residual_eigenspectrum": {"eigenvalues": res_eig.tolist(),
                                   "total": float(res_eig.sum()),
                                   "participation_ratio": participation_ratio_of(res_eig),
                                   "covariance": "uncentered residual (native - aligned) of the "
                                                 "test tokens, /n_test"},
    }
    if digit_rows is not None:
        d = np.asarray(digit_rows)
        if d.shape != (10,) or d.min() < 0 or d.max() >= V:
            raise ValueError(f"digit_rows must be 10 row numbers in [0, {V}); got {d.tolist()}")
        Cn, Ca = normalize_rows(S[d]), normalize_rows(aligned[d])
        cs, ca = (Cn @ Cn.T)[np.triu_indices(10, 1)], (Ca @ Ca.T)[np.triu_indices(10, 1)]
        corr, reason = pearson(cs, ca, ("the native digit cosines", "the projected digit cosines"))
        out["digits"] = {"per_digit_cosine": row_cosine(S[d], aligned[d]).tolist(),
                         "structure_corr": corr, "structure_corr_reason": reason,
                         "mean_abs_diff": float(np.abs(cs - ca).mean())}
    return out
