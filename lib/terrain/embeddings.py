"""Input-embedding geometry (seed 004 §1 and §13a), from the embedding matrix read alone.

`embedding_matrices(name)` reads the input embedding (and the output head when the checkpoint
stores one) without building the model. Two protocols (parameter `embedding.protocol`) reproduce
the seed's with its numpy rng stream **in its order**:

- `all_rows_isotropic_geometry` (seed 004 §1, `default_rng(seed)`): 5k cosine sample -> 1,000 x
  (simplex ids, isotropic Gaussian with σ = global std, ddof 0) alternating -> 2k distance
  sample; spectrum over all rows, cov/N.
- `sampled_per_dimension_geometry` (seed 004 §13a, `default_rng(seed)`): 5k cosine sample -> 2k
  distances -> 10k PR sample (ddof 1) -> 1,000 simplex ids -> 1,000 per-dimension Gaussian
  references (σ_j = per-dimension std, ddof 1).

Both return JSON-able dicts. Quantity names for the published Qwen claims (§1 L648-654):
`cosine.mean` (0.195), `spectrum.pr_over_dim` (0.535), `pentachora.cv` (0.208),
`pentachora.ratio_embed_random` (0.984), `digits.manifold.corr_abs_diff_cosine` (-0.862; B13: the
seed never computed it for Qwen, §13a here uses §1's formula). `pentachora.reference_cv` is the CV
of the Gaussian reference volumes the ratio already draws (the null beside `cv`), and
`pentachora.cv_vs_reference` both CVs with bootstrap intervals (their own rng, `default_rng(seed)`).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from lib.models.checkpoint import checkpoint, checkpoint_folder
from lib.models.tiny import tiny_names, tiny_processor
from lib.terrain.cosine import (
    COSINE_CONSTANTS,
    COSINE_THRESHOLDS,
    PERCENTILES,
    category_geometry,
    digit_cosine_matrix,
    digit_manifold,
    digit_token_ids,
    distance_stats,
    near_value_fractions,
    pairwise_distances,
    sample_rows,
    sampled_cosines,
    special_token_geometry,
    upper_tri_cosines,
    value_stats,
)
from lib.terrain.simplex import (
    cayley_menger_volumes,
    cv_versus_reference,
    isotropic_gaussian,
    per_dimension_gaussian,
    sample_simplices,
    volume_summary,
)
from lib.terrain.spectra import centered_cov_eigvals, spectrum_summary

# Input-embedding tensor names, in order of preference (glob patterns on checkpoint keys).
INPUT_EMBEDDING_PATTERNS = (
    "shared.weight",
    "*embed_tokens.weight",
    "*word_embeddings.weight",
    "*token_embedding.weight",
    "*wte.weight",
    "*embed_in.weight",
    "*tok_embeddings.weight",
)
OUTPUT_HEAD_KEYS = ("lm_head.weight", "embed_out.weight", "output.weight")
# §13a's raw id ranges: the seed labelled them ASCII, but in a BPE vocab they are not (B13).
ID_RANGE_GROUPS = (
    ("ids 48-57 (seed label 'ASCII digits')", 48, 58),
    ("ids 65-90 (seed label 'ASCII upper')", 65, 91),
    ("ids 97-122 (seed label 'ASCII lower')", 97, 123),
)


@dataclass
class EmbeddingMatrices:
    """The input embedding of a checkpoint and its output head, with the tying verdict."""

    name: str
    key: str
    E: torch.Tensor
    head_key: str | None
    head: torch.Tensor | None  # None when the checkpoint stores no separate head
    tied: bool
    tied_reason: str


def find_input_embedding_key(keys: list[str], shapes: dict[str, tuple] | None = None) -> str:
    """The input-embedding tensor among checkpoint keys (see INPUT_EMBEDDING_PATTERNS)."""
    for pattern in INPUT_EMBEDDING_PATTERNS:
        found = [k for k in keys if fnmatch.fnmatchcase(k, pattern)
                 and (shapes is None or len(shapes[k]) == 2)]
        if found:
            not_decoder = [k for k in found if "decoder" not in k]
            return (not_decoder or found)[0]
    candidates = [k for k in keys if "emb" in k.lower() or "wte" in k]
    raise ValueError("no input-embedding tensor found (looked for "
                     f"{', '.join(INPUT_EMBEDDING_PATTERNS)}); embedding-like keys: "
                     f"{', '.join(candidates) or 'none'}; read the right key with "
                     "Checkpoint.tensor(key)")


def embedding_matrices(name: str, dtype: torch.dtype = torch.float32) -> EmbeddingMatrices:
    """Read the input embedding (and an untied output head) of `name` from its checkpoint."""
    ckpt = checkpoint(name)
    key = find_input_embedding_key(ckpt.keys(), ckpt.shapes)
    E = ckpt.tensor(key, dtype)
    head_key = next((k for k in OUTPUT_HEAD_KEYS if k in ckpt.shapes), None)
    config_tied = ckpt.config().get("tie_word_embeddings")
    if head_key is None:
        return EmbeddingMatrices(name, key, E, None, None, True,
                                 f"no output head stored (config tie_word_embeddings="
                                 f"{config_tied}): the head is the input embedding")
    head = ckpt.tensor(head_key, dtype)
    same = head.shape == E.shape and bool(torch.allclose(E, head))
    return EmbeddingMatrices(name, key, E, head_key, None if same else head, same,
                             f"{head_key} stored; allclose to {key}: {same}")


def load_tokenizer(name: str) -> Any:
    """The tokenizer of a registry name (tiny/..., embedded/...) or a local checkpoint folder."""
    if name.startswith("tiny/"):
        if name not in tiny_names():
            raise ValueError(f"unknown tiny model {name!r}; known: {', '.join(tiny_names())}")
        proc = tiny_processor(name)
        if not hasattr(proc, "encode") and not hasattr(proc, "tokenizer"):
            raise ValueError(f"{name} has no text tokenizer (an image model)")
        return getattr(proc, "tokenizer", proc)
    from transformers import AutoTokenizer  # heavy: only a real checkpoint's tokenizer needs it

    return AutoTokenizer.from_pretrained(str(checkpoint_folder(name)))


def _prepare(E: Any) -> Any:
    """float32 numpy for CPU input (the seed's E_np); CUDA tensors stay on the GPU as float32."""
    if isinstance(E, torch.Tensor):
        if E.is_cuda:
            out = E.detach().float()
        else:
            out = E.detach().float().numpy()
    else:
        out = np.asarray(E, dtype=np.float32)
    if out.ndim != 2 or out.shape[0] < 2 or out.shape[1] < 1:
        raise ValueError(f"E must be a [vocab, dims] matrix with at least 2 rows; got shape "
                         f"{tuple(out.shape)}")
    return out


def _rows(E: Any, idx: np.ndarray) -> Any:
    if isinstance(E, torch.Tensor):
        return E[torch.as_tensor(idx, device=E.device)]
    return E[idx]


def _check_counts(V: int, **counts: int) -> None:
    for what, n in counts.items():
        if not 1 <= n <= V:
            raise ValueError(f"{what} = {n} must lie in [1, vocab = {V}]; lower it for a small "
                             "vocabulary")


def _numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _decode(tokenizer: Any, i: int) -> str | None:
    return None if tokenizer is None else tokenizer.decode([int(i)])


def _digits(E: Any, tokenizer: Any) -> dict[str, Any]:
    ids, single = digit_token_ids(tokenizer)
    C = digit_cosine_matrix(_numpy(_rows(E, np.array(ids))))
    return {"token_ids": ids, "single_token": single,
            "tokens": [tokenizer.decode([i]) for i in ids],
            "all_single_token": all(single), "manifold": digit_manifold(C)}


def _special_ids(tokenizer: Any, V: int) -> dict[str, int]:
    ids = {}
    for label, attr in (("pad", "pad_token_id"), ("eos", "eos_token_id"), ("unk", "unk_token_id")):
        value = getattr(tokenizer, attr, None)
        if value is not None and 0 <= value < V:
            ids[label] = int(value)
    vocab = tokenizer.get_vocab()
    for i in range(5):  # B1: the seed's stripped f"" is read as f"<extra_id_{i}>"
        if f"<extra_id_{i}>" in vocab and vocab[f"<extra_id_{i}>"] < V:
            ids[f"sentinel_{i}"] = int(vocab[f"<extra_id_{i}>"])
    return ids


def norm_stats_numpy(E: Any, tokenizer: Any = None) -> dict[str, Any]:
    """§1 norms (numpy semantics): mean/std/min/max, per-dimension means and stds (ddof 0),
    zeros, percentiles."""
    X = _numpy(E).astype(np.float32)
    norms = np.linalg.norm(X, axis=1)
    lo, hi = int(norms.argmin()), int(norms.argmax())
    return {
        "mean": float(norms.mean()), "std": float(norms.std()),
        "min": float(norms.min()), "max": float(norms.max()),
        "argmin": lo, "argmax": hi, "argmin_token": _decode(tokenizer, lo),
        "argmax_token": _decode(tokenizer, hi),
        "per_dim_mean_of_means": float(X.mean(axis=0).mean()),
        "per_dim_mean_of_stds": float(X.std(axis=0).mean()),
        "near_zero_count": int((norms < 1e-6).sum()),
        "percentiles": {str(p): float(v)
                        for p, v in zip(PERCENTILES, np.percentile(norms, PERCENTILES),
                                        strict=True)},
    }


def all_rows_isotropic_geometry(E: Any, seed: int = 42, *, tokenizer: Any = None,
                                n_cosine: int = 5000, n_simplices: int = 1000,
                                n_distances: int = 2000, progress: bool = False
                                ) -> dict[str, Any]:
    """§1 embedding geometry of E [vocab, dims] with the seed's rng stream (module docstring).

    With a tokenizer, also digits (first id of `encode(str(d))`, flagged when split), the eight
    semantic categories, and the special tokens (pad, eos, unk, `<extra_id_i>` when present).
    """
    E = _prepare(E)
    V, d = E.shape
    _check_counts(V, n_cosine=n_cosine, n_distances=n_distances)
    if V < 5 or n_simplices < 1:
        raise ValueError(f"pentachora need vocab >= 5 and n_simplices >= 1; got {V}, "
                         f"{n_simplices}")
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"section": "1", "seed": seed, "vocab": V, "dim": d,
                           "norms": norm_stats_numpy(E, tokenizer)}

    _, cos = sampled_cosines(E, n_cosine, rng)
    out["cosine"] = value_stats(cos) | {"n_sample": n_cosine}
    out["cosine_constants"] = near_value_fractions(cos, COSINE_CONSTANTS)
    global_mean = out["cosine"]["mean"]
    del cos

    sigma = float(E.std()) if isinstance(E, np.ndarray) else float(E.std(unbiased=False))
    ids, refs = [], []
    for _ in tqdm(range(n_simplices), desc="§1 pentachora draws", disable=not progress):
        ids.append(rng.choice(V, size=5, replace=False))
        refs.append(isotropic_gaussian(rng, 1, d, sigma)[0])
    vol_e = cayley_menger_volumes(_rows(E, np.stack(ids).ravel()).reshape(n_simplices, 5, d))
    vol_r = cayley_menger_volumes(np.stack(refs))
    embed, random = volume_summary(vol_e), volume_summary(vol_r)
    out["pentachora"] = {
        "n_simplices": n_simplices, "valid": embed["valid"], "mean": embed["mean"],
        "std": embed["std"], "cv": embed["cv"], "random_valid": random["valid"],
        "random_mean": random["mean"], "random_cv": random["cv"],
        "ratio_embed_random": embed["mean"] / random["mean"],
        "reference": "isotropic Gaussian, sigma = global std of E (ddof 0)", "sigma": sigma,
        "reference_cv": random["cv"], "cv_vs_reference": cv_versus_reference(vol_e, vol_r, seed),
    }

    out["distances"] = distance_stats(E, n_distances, rng) | {"n_sample": n_distances}

    eig = centered_cov_eigvals(E, ddof=0)
    out["spectrum"] = spectrum_summary(eig, d) | {"covariance": "all rows, centered, /N"}
    if tokenizer is not None:
        out["digits"] = _digits(E, tokenizer)
        out["categories"] = category_geometry(_numpy(E), tokenizer, global_mean)
        specials = _special_ids(tokenizer, V)
        out["special_tokens"] = special_token_geometry(_numpy(E), specials) if specials else None
    return out


def norm_stats_torch(E: Any) -> dict[str, Any]:
    """§13a norms (torch semantics: std ddof 1, lower median, quantile percentiles)."""
    T = torch.as_tensor(E).float()
    norms = T.norm(dim=1)
    dim_means, dim_stds = T.mean(dim=0), T.std(dim=0)
    return {
        "mean": float(norms.mean()), "std": float(norms.std()),
        "min": float(norms.min()), "max": float(norms.max()),
        "argmin": int(norms.argmin()), "argmax": int(norms.argmax()),
        "median": float(norms.median()),
        "percentiles": {str(p): float(torch.quantile(norms, p / 100.0)) for p in PERCENTILES},
        "near_zero_count": int((norms < 1e-6).sum()),
        "per_dim_mean_of_means": float(dim_means.mean()),
        "per_dim_mean_of_stds": float(dim_stds.mean()),
        "per_dim_std_of_means": float(dim_means.std()),
        "per_dim_std_of_stds": float(dim_stds.std()),
    }


def embed_head_comparison(E: Any, head: Any) -> dict[str, Any]:
    """Per-token cosine of embedding and output-head rows; Frobenius norms and their difference."""
    A, B = torch.as_tensor(E).float(), torch.as_tensor(head).float().to(torch.as_tensor(E).device)
    if A.shape != B.shape:
        raise ValueError(f"embedding {tuple(A.shape)} and head {tuple(B.shape)} differ in shape")
    cos = torch.nn.functional.cosine_similarity(A, B, dim=1)
    diff, norm_e = float((A - B).norm()), float(A.norm())
    return {"tied": bool(torch.allclose(A, B)),
            "cosine_mean": float(cos.mean()), "cosine_std": float(cos.std()),
            "cosine_min": float(cos.min()), "cosine_max": float(cos.max()),
            "frobenius_embed": norm_e, "frobenius_head": float(B.norm()),
            "frobenius_diff": diff, "relative_diff": diff / norm_e}


def sampled_per_dimension_geometry(E: Any, seed: int = 42, *, tokenizer: Any = None,
                                   lm_head: Any = None, n_cosine: int = 5000,
                                   n_distances: int = 2000, n_pca: int = 10000,
                                   n_simplices: int = 1000) -> dict[str, Any]:
    """§13a embedding geometry of E [vocab, dims] with the seed's rng stream (module docstring).

    The volume reference is a per-dimension Gaussian (B13; §1 uses an isotropic one). With a
    tokenizer, the digit manifold is computed with §1's formula (the seed printed only the 45
    cosines). With `lm_head`, the embedding/head comparison.
    """
    E = _prepare(E)
    V, d = E.shape
    _check_counts(V, n_cosine=n_cosine, n_distances=n_distances, n_pca=n_pca)
    if V < 5 or n_simplices < 1:
        raise ValueError(f"pentachora need vocab >= 5 and n_simplices >= 1; got {V}, "
                         f"{n_simplices}")
    rng = np.random.default_rng(seed)
    T = E if isinstance(E, torch.Tensor) else torch.from_numpy(E)
    out: dict[str, Any] = {"section": "13a", "seed": seed, "vocab": V, "dim": d,
                           "norms": norm_stats_torch(T)}

    _, cos = sampled_cosines(E, n_cosine, rng)
    out["cosine"] = value_stats(cos) | {"n_sample": n_cosine}
    out["cosine_constants"] = near_value_fractions(cos, COSINE_THRESHOLDS)
    global_mean = out["cosine"]["mean"]
    del cos

    dist = pairwise_distances(_rows(E, sample_rows(V, n_distances, rng)))
    out["distances"] = value_stats(dist) | {
        "n_sample": n_distances, "cv": float(dist.std() / dist.mean()),
        "normalized_mean": float((dist / np.sqrt(d)).mean()),
        "normalized_std": float((dist / np.sqrt(d)).std()),
    }
    del dist

    eig = centered_cov_eigvals(_rows(E, sample_rows(V, n_pca, rng)), ddof=1)
    cum = np.cumsum(eig) / eig.sum()
    out["spectrum"] = spectrum_summary(eig, d) | {
        "covariance": f"{n_pca}-row sample, centered, /(N-1)",
        "top20": [{"eigenvalue": float(eig[i]), "share": float(eig[i] / eig.sum()),
                   "cumulative": float(cum[i])} for i in range(min(20, eig.size))],
    }

    ids = sample_simplices(V, n_simplices, rng)
    vol_e = cayley_menger_volumes(_rows(E, ids.ravel()).reshape(n_simplices, 5, d))
    dim_stds = _numpy(T.std(dim=0))
    vol_r = cayley_menger_volumes(per_dimension_gaussian(rng, n_simplices, dim_stds))
    embed, random = volume_summary(vol_e), volume_summary(vol_r)
    out["pentachora"] = {
        "n_simplices": n_simplices, "valid": embed["valid"], "mean": embed["mean"],
        "std": embed["std"], "min": embed["min"], "max": embed["max"],
        "median": embed["median"], "cv": embed["cv"], "random_valid": random["valid"],
        "random_mean": random["mean"], "random_cv": random["cv"],
        "ratio_embed_random": embed["mean"] / random["mean"],
        "reference": "per-dimension Gaussian, sigma_j = std of dimension j (ddof 1)",
        "reference_cv": random["cv"], "cv_vs_reference": cv_versus_reference(vol_e, vol_r, seed),
    }

    groups = {}
    for label, lo, hi in (*ID_RANGE_GROUPS, ("last 100 ids", V - 100, V)):
        ids_g = np.arange(max(lo, 0), min(hi, V))
        if ids_g.size >= 2:
            c = upper_tri_cosines(_rows(E, ids_g))
            groups[label] = {"n": int(ids_g.size), "intra_mean": float(c.mean()),
                             "intra_std": float(c.std(ddof=1)) if c.size > 1 else float("nan")}
    out["id_range_groups"] = {"global_mean": global_mean, "groups": groups}
    if tokenizer is not None:
        out["digits"] = _digits(E, tokenizer) | {"formula": "§1 (B13: not computed by the seed)"}
    if lm_head is not None:
        out["embed_vs_head"] = embed_head_comparison(T, lm_head)
    return out



# the quantities of the embedding protocols that claims read: the spread of each over
# initialization seeds is their baseline (lib.terrain.nulls)
SPREAD_QUANTITIES = ("spectrum/pr_over_dim", "cosine/mean", "pentachora/cv",
                     "pentachora/ratio_embed_random", "digits/manifold/corr_abs_diff_cosine")


def protocol_quantities(E: Any, protocol: str, seed: int, *, tokenizer: Any = None,
                        n_cosine: int = 5000, n_simplices: int = 1000, n_pca: int = 10000,
                        quantities: tuple[str, ...] = SPREAD_QUANTITIES
                        ) -> dict[str, float | None]:
    """`quantities` (of `SPREAD_QUANTITIES`) of E by `protocol`'s definitions
    (all_rows_isotropic, §1: PR over all rows /N, isotropic Gaussian reference of the global σ;
    sampled_per_dimension, §13a: PR over an n_pca-row sample /(N−1), per-dimension reference),
    with rng `seed`, without the rest of the protocol: what one initialization seed costs (only
    what is asked is computed). The digit correlation needs the tokenizer (else None)."""
    if protocol not in ("all_rows_isotropic", "sampled_per_dimension"):
        raise ValueError("protocol must be all_rows_isotropic or sampled_per_dimension; got "
                         f"{protocol!r}")
    unknown = [q for q in quantities if q not in SPREAD_QUANTITIES]
    if unknown or not quantities:
        raise ValueError(f"quantities must be some of {', '.join(SPREAD_QUANTITIES)}; got "
                         f"{list(quantities)}")
    E = _prepare(E)
    V, d = E.shape
    _check_counts(V, n_cosine=n_cosine,
                  **({"n_pca": n_pca} if protocol == "sampled_per_dimension" else {}))
    rng = np.random.default_rng(seed)
    out: dict[str, float | None] = {}
    if "cosine/mean" in quantities:
        _, cos = sampled_cosines(E, n_cosine, rng)
        out["cosine/mean"] = float(cos.mean())
        del cos
    if "pentachora/cv" in quantities or "pentachora/ratio_embed_random" in quantities:
        ids = sample_simplices(V, n_simplices, rng)
        vol_e = cayley_menger_volumes(_rows(E, ids.ravel()).reshape(n_simplices, 5, d))
        if protocol == "all_rows_isotropic":
            sigma = float(E.std()) if isinstance(E, np.ndarray) else float(E.std(unbiased=False))
            refs = isotropic_gaussian(rng, n_simplices, d, sigma)
        else:
            T = E if isinstance(E, torch.Tensor) else torch.from_numpy(E)
            refs = per_dimension_gaussian(rng, n_simplices, _numpy(T.std(dim=0)))
        embed, random = volume_summary(vol_e), volume_summary(cayley_menger_volumes(refs))
        out["pentachora/cv"] = embed["cv"]
        out["pentachora/ratio_embed_random"] = embed["mean"] / random["mean"]
    if "spectrum/pr_over_dim" in quantities:
        eig = (centered_cov_eigvals(E, ddof=0) if protocol == "all_rows_isotropic" else
               centered_cov_eigvals(_rows(E, sample_rows(V, n_pca, rng)), ddof=1))
        out["spectrum/pr_over_dim"] = spectrum_summary(eig, d)["pr_over_dim"]
    if "digits/manifold/corr_abs_diff_cosine" in quantities:
        out["digits/manifold/corr_abs_diff_cosine"] = (
            _digits(E, tokenizer)["manifold"]["corr_abs_diff_cosine"]
            if tokenizer is not None else None)
    return {q: out[q] for q in quantities}
