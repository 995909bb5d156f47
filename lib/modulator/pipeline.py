"""The modulator's measurement protocol (seed 004 §8-§12), one function per step.

Each step returns a JSON-able dict (plus, where a figure or a later step needs them, arrays or
the modulator). The order a notebook follows:

    data = prepare_data(model, tokenizer)                          # D12 matching, D8 encoding
    built, mod, geo = procrustes_modulator(data, model)            # §8 steps 1-4
    ev = evaluate_modulator(data, model, tokenizer, mod, anchors=geo["anchor_idx"])  # §8 5-7
    train, run = train_step(data, model, tokenizer, mod, TrainConfig(...))          # §9
    sweep = alpha_sweep(data, model, tokenizer, mod, anchors=geo["anchor_idx"])     # §10
    measured, field = field_modulator_step(data, model, tokenizer)                   # §12

Relational evaluation (D10): `default_rng(seed)` draws `n_rel` tokens and `n_pairs` index pairs
(self pairs dropped); pairs with NLTK path (or Wu-Palmer) similarity None or 0 are dropped.
As executed (B8) the evaluation tokens are the same draw as the Wu-Palmer anchors;
`eval_disjoint_from_anchors=True` draws them from the non-anchor tokens instead, and every result
reports the leakage fraction. The seed's "+152%" was never computed: `relative_lift_pearson` is
the plausible definition `(r_mod - r_orig) / r_orig`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from lib.modulator.bootstrap import CI_LEVEL, N_BOOT, correlation_intervals
from lib.modulator.field import (
    PHASE_BOUNDARY,
    FieldModulatorConfig,
    GeometricFieldModulator,
    fault_decisions,
)
from lib.modulator.generation import SWEEP_ALPHAS
from lib.modulator.hooks import attach, encoder_blocks, hidden_size
from lib.modulator.init import (
    EIGENSPACE_RTOL,
    fill_geometry,
    load_geometry,
    procrustes_projection,
    recon_corr,
    spectral_embedding,
)
from lib.modulator.lerp import GeometricResidualModulator
from lib.modulator.train import TrainConfig, alpha_test, save_modulator, train_modulator
from lib.stats.intervals import check_resampling
from lib.terrain.alignment import (
    band_gradient,
    band_masks,
    pentachoron_comparison,
    relational_correlation,
    sample_pairs,
)
from lib.terrain.cosine import normalize_rows, row_cosine
from lib.terrain.similarity import Hierarchy, path_similarities, wup_similarities
from lib.terrain.simplex import cayley_menger_volumes, sample_simplices, volume_summary
from lib.terrain.wordnet import definition_template, encode_definitions, match_single_token_lemmas

COSINE_CONSTANT = 0.29514  # B2: the "phil_constant" of the cosine checks, not an alpha
ALPHA_LABELS = {
    PHASE_BOUNDARY: "0.29154 phase boundary (B2: 0.29514 is the cosine constant)",
}
# §8's bands: [lo, hi), the top one closed (band_masks(exact_edges=True)); at least 5 pairs
SECTION8_BANDS = ((0.5, 1.0), (0.25, 0.5), (0.10, 0.25), (0.05, 0.10), (0.0, 0.05))
SECTION8_MIN_BAND_PAIRS = 5


@dataclass
class ModulatorData:
    """The matched WordNet lemmas of one tokenizer with their static and pooled encoder reps."""

    names: list[str]
    synsets: list[Any]
    token_ids: np.ndarray
    definitions: list[str]
    template: str
    static: np.ndarray  # [N, d] input-embedding rows of the lemma tokens
    encoder: np.ndarray  # [N, d] mean-pooled unmodulated encoder states of the definitions
    n_matched: int  # before any subsetting

    def __len__(self) -> int:
        return len(self.names)

    @property
    def texts(self) -> list[str]:
        """The encoder inputs, e.g. 'summarize: {definition}' for T5."""
        return [self.template.format(definition=d) for d in self.definitions]


def prepare_data(model: nn.Module, tokenizer: Any, *, matched: Sequence[Any] | None = None,
                 max_items: int | None = None, seed: int = 42, template: str | None = None,
                 batch_size: int = 64, max_length: int = 128,
                 progress: bool = True) -> ModulatorData:
    """D12 matching (or `matched`), optionally `max_items` of them (`default_rng(seed).choice`,
    kept in matched order), static rows and D8 pooled encoder reps."""
    if matched is None:
        matched = match_single_token_lemmas(tokenizer)
    n_matched = len(matched)
    if n_matched < 5:
        raise ValueError(f"only {n_matched} matched lemmas; the protocol needs at least 5")
    if max_items is not None and max_items < n_matched:
        if max_items < 5:
            raise ValueError(f"max_items must be >= 5, got {max_items}")
        keep = np.sort(np.random.default_rng(seed).choice(n_matched, max_items, replace=False))
        matched = [matched[i] for i in keep]
    template = definition_template(model, template)
    ids = np.array([m.token_id for m in matched], dtype=np.int64)
    weight = model.get_input_embeddings().weight.detach()
    static = weight[torch.as_tensor(ids, device=weight.device)].float().cpu().numpy()
    definitions = [m.definition for m in matched]
    with torch.inference_mode():
        encoder = encode_definitions(model, tokenizer, definitions, template, batch_size,
                                     max_length, progress)
    return ModulatorData([m.name for m in matched], [m.synset for m in matched], ids,
                         definitions, template, static, encoder, n_matched)


def _device(model: nn.Module) -> torch.device:
    """Where the model's weights are: the modulator must run there too (the hooks call it on
    the block inputs)."""
    return next(model.parameters()).device


def wup_matrix(synsets: Sequence[Any]) -> np.ndarray:
    """§8 step 1: S = I with S_ij = S_ji = Wu-Palmer (None -> 0) for i < j, float32."""
    n = len(synsets)
    if n < 2:
        raise ValueError(f"need at least 2 synsets, got {n}")
    iu, ju = np.triu_indices(n, k=1)
    h = Hierarchy(list(synsets))
    a = [synsets[i] for i in iu]
    b = [synsets[j] for j in ju]
    sim = np.nan_to_num(wup_similarities(a, b, hierarchy=h), nan=0.0).astype(np.float32)
    S = np.eye(n, dtype=np.float32)
    S[iu, ju] = sim
    S[ju, iu] = sim
    return S


def procrustes_modulator(data: ModulatorData, model: nn.Module, *, n_anchor: int = 3000,
                         n_geo: int = 64, seed: int = 42, k_neighbors: int = 10,
                         temperature: float = 10.0, scale_factor: float = 0.1,
                         initial_alpha: float = 0.01, init_seed: int = 0
                         ) -> tuple[dict[str, Any], GeometricResidualModulator, dict[str, Any]]:
    """§8 steps 1-4: Wu-Palmer anchors -> spectral G -> k-NN fill -> Procrustes projection.

    Returns (result, modulator, arrays): the modulator, on the model's device, has per-layer
    alpha = `initial_alpha` on every encoder block; rows of unmatched tokens keep N(0, 1) drawn
    from a generator seeded with `init_seed` (B8: unseeded in the seed). `arrays` holds
    anchor_idx, eigenvalues, S's size, geo [N, n_geo] and alignment_cos for figures.
    """
    n = len(data)
    if not n_geo < n_anchor <= n:
        raise ValueError(f"need n_geo < n_anchor <= N; got n_geo={n_geo}, n_anchor={n_anchor}, "
                         f"N={n}")
    anchors = np.random.default_rng(seed).choice(n, size=n_anchor, replace=False)
    S = wup_matrix([data.synsets[i] for i in anchors])
    G, eigvals = spectral_embedding(S, n_geo)
    geo = fill_geometry(data.static, anchors, G, k_neighbors, temperature)
    proc = procrustes_projection(G, data.encoder[anchors], scale_factor)
    width = hidden_size(model) or data.encoder.shape[1]
    n_layers = len(encoder_blocks(model))
    modulator = GeometricResidualModulator(
        width, model.get_input_embeddings().weight.shape[0], n_geo, initial_alpha,
        per_layer_alpha=True, n_layers=n_layers,
        generator=torch.Generator().manual_seed(init_seed))
    load_geometry(modulator, data.token_ids, geo, proc["weight"])
    norms = modulator.geometric_embed.weight.detach().norm(dim=1)
    matched_mask = torch.zeros(len(norms), dtype=torch.bool)
    matched_mask[torch.as_tensor(data.token_ids)] = True
    result = {
        "n": n, "n_anchor": n_anchor, "n_geo": n_geo, "seed": seed,
        "wup_pairs": int(n_anchor * (n_anchor - 1) // 2),
        "recon_corr": recon_corr(S, G), "top5_eigenvalues": eigvals[:5].tolist(),
        "eigengap_at_cut": float(eigvals[n_geo - 1] - eigvals[n_geo]),
        "cut_splits_eigenspace": bool(eigvals[n_geo - 1] - eigvals[n_geo]
                                      <= EIGENSPACE_RTOL * np.abs(eigvals).max()),
        "k_neighbors": k_neighbors, "temperature": temperature,
        "procrustes_nuclear_norm": proc["nuclear_norm"],
        "procrustes_nuclear_norm_note": "scipy's 'scale' (Σ singular values of GcᵀEc), which "
                                        "the seed printed as 'Procrustes scale'",
        "alignment_cos_mean": float(proc["alignment_cos"].mean()),
        "alignment_cos_std": float(proc["alignment_cos"].std()),
        "pca_retained": proc["pca_retained"],
        "residual_scale": proc["residual_scale"], "scale_factor": scale_factor,
        "projection_norm": float(np.linalg.norm(proc["weight"])),
        # B7: the target's scale is the final pooled reps', injected into every block
        "injection_note": "proj is scaled by 0.1·mean‖pooled final rep‖ but injected into every "
                          "internal residual stream (kept as the seed did)",
        # B8: the vocabulary rows no lemma matched keep their N(0, 1) init
        "unmatched": {"unmatched_rows": int((~matched_mask).sum()), "init_seed": init_seed,
                      "unmatched_row_norm_mean": float(norms[~matched_mask].mean())
                      if (~matched_mask).any() else None,
                      "matched_row_norm_mean": float(norms[matched_mask].mean()),
                      "note": "unmatched vocabulary rows keep their N(0, 1) init (unseeded in the "
                              "seed, seeded here)"},
        "initial_alpha": initial_alpha, "n_layers": n_layers,
        "modulator_params": sum(p.numel() for p in modulator.parameters()),
    }
    arrays = {"anchor_idx": anchors, "eigenvalues": eigvals, "geo": geo,
              "alignment_cos": proc["alignment_cos"]}
    return result, modulator.to(_device(model)), arrays


def encode_modulated(data: ModulatorData, model: nn.Module, tokenizer: Any,
                     modulator: nn.Module, *, alpha: float | None = None,
                     layers: Sequence[int] | None = None, batch_size: int = 64,
                     max_length: int = 128, progress: bool = True) -> np.ndarray:
    """D8 pooled reps with the modulator hooked into `layers` (default all), at `alpha` on every
    layer if given (the modulator's alphas are restored afterwards)."""
    saved = None
    if alpha is not None:
        saved = modulator.alpha.detach().clone()
        modulator.set_alpha(alpha)
    was_training = modulator.training
    modulator.eval()
    try:
        with torch.inference_mode(), attach(model, modulator, layers):
            return encode_definitions(model, tokenizer, data.definitions, data.template,
                                      batch_size, max_length, progress)
    finally:
        modulator.train(was_training)
        if saved is not None:
            with torch.no_grad():
                modulator.alpha.copy_(saved)


def preservation(original: Any, modulated: Any) -> dict[str, float]:
    """Mean cosine per definition between unmodulated and modulated pooled reps."""
    cos = row_cosine(np.asarray(original), np.asarray(modulated))
    return {"mean": float(cos.mean()), "std": float(cos.std()), "min": float(cos.min())}


def evaluation_pairs(data: ModulatorData, *, anchors: Sequence[int] | None = None,
                     eval_disjoint_from_anchors: bool = False, seed: int = 42,
                     n_rel: int = 3000, n_pairs: int = 50000,
                     similarity: str = "path") -> dict[str, Any]:
    """D10 pairs and their WordNet similarity, with the leakage into the anchors.

    Returns rel (rows of `data`), pi, pj (into rel, pairs with similarity None or <= 0 dropped)
    and s; `leakage_fraction` = share of the evaluation tokens that are anchors.
    """
    if similarity not in ("path", "wup"):
        raise ValueError(f"similarity must be 'path' or 'wup', got {similarity!r}")
    n = len(data)
    pool = np.arange(n)
    if eval_disjoint_from_anchors:
        if anchors is None:
            raise ValueError("eval_disjoint_from_anchors needs the anchors (anchor_idx)")
        pool = np.setdiff1d(pool, np.asarray(anchors))
    n_rel = min(n_rel, len(pool))
    rel, pi, pj = sample_pairs(len(pool), n_rel, n_pairs, np.random.default_rng(seed))
    rel = pool[rel]
    syn = data.synsets
    fn = path_similarities if similarity == "path" else wup_similarities
    h = Hierarchy([syn[i] for i in rel])
    s = fn([syn[rel[i]] for i in pi], [syn[rel[j]] for j in pj], hierarchy=h)
    keep = np.isfinite(s) & (s > 0)  # the seed's `sim is not None and sim > 0`
    leakage = (float(np.isin(rel, np.asarray(anchors)).mean()) if anchors is not None
               else None)
    return {"rel": rel, "pi": pi[keep], "pj": pj[keep], "s": s[keep], "similarity": similarity,
            "n_rel": int(n_rel), "n_pairs_drawn": int(n_pairs), "n_pairs": int(keep.sum()),
            "seed": seed, "eval_disjoint_from_anchors": eval_disjoint_from_anchors,
            "leakage_fraction": leakage}


def _pair_cos(X: np.ndarray, rel: np.ndarray, pi: np.ndarray, pj: np.ndarray) -> np.ndarray:
    Xn = normalize_rows(np.asarray(X, dtype=np.float32)[rel])
    return (Xn[pi] * Xn[pj]).sum(axis=1)


def relational_evaluation(pairs: dict[str, Any], reps: dict[str, Any],
                          reference: str = "Original", *, n_boot: int = N_BOOT,
                          level: float = CI_LEVEL) -> dict[str, Any]:
    """Pearson, Spearman, D11 gradient of each rep set over the pairs; deltas and relative lifts
    against `reference`; §8's distance bands (mean cosine per band, >= 5 pairs). Each set also
    gets bootstrap intervals over the evaluation lemmas (`lib.modulator.bootstrap`, seeded with
    the pairs' seed): `pearson_ci`, `spearman_ci`, `relative_lift_pearson_ci`, ...; an interval
    is None where its point estimate is undefined."""
    if reference not in reps:
        raise ValueError(f"reference {reference!r} is not among the sets {list(reps)}")
    check_resampling(n_boot, level)
    s = pairs["s"]
    cos = {name: _pair_cos(X, pairs["rel"], pairs["pi"], pairs["pj"]) for name, X in reps.items()}
    intervals = correlation_intervals(s, cos, pairs["pi"], pairs["pj"], len(pairs["rel"]),
                                      reference=reference, n_boot=n_boot, level=level,
                                      seed=pairs["seed"])
    rows = {}
    for name, c in cos.items():
        rows[name] = relational_correlation(s, c) | {"gradient": band_gradient(s, c)}
    ref = rows[reference]
    for row in rows.values():
        for key in ("pearson", "spearman", "gradient"):
            row[f"delta_{key}"] = row[key] - ref[key]
        # an undefined correlation (NaN, `reason` set) makes its deltas and lifts NaN too
        row["lift_reason"] = row["reason"] or (ref["reason"] and f"{reference}: {ref['reason']}")
        for key in ("pearson", "spearman"):
            row[f"relative_lift_{key}"] = ((row[key] - ref[key]) / ref[key]
                                           if ref[key] != 0 else float("nan"))
    for name, row in rows.items():
        ci = intervals[name]
        for key in ("pearson", "spearman"):  # no interval around an undefined number
            if not np.isfinite(row[key]):
                ci[f"{key}_ci"] = None
            if not np.isfinite(row[f"relative_lift_{key}"]):
                ci[f"relative_lift_{key}_ci"] = None
        row.update(ci)
    bands = []
    for lo, hi, mask in band_masks(s, exact_edges=True, bands=SECTION8_BANDS):
        if mask.sum() < SECTION8_MIN_BAND_PAIRS:
            continue
        bands.append({"lo": lo, "hi": hi, "n": int(mask.sum())}
                     | {name: float(c[mask].mean()) for name, c in cos.items()})
    meta = {k: pairs[k] for k in ("similarity", "n_rel", "n_pairs_drawn", "n_pairs", "seed",
                                  "eval_disjoint_from_anchors", "leakage_fraction")}
    return {"pairs": meta, "reference": reference, "sets": rows, "bands": bands,
            "relative_lift_note": "relative_lift = (r_mod - r_ref) / r_ref; the seed's '+152%' "
                                  "was never computed"}


EFFECT_KEYS = ("pearson", "relative_lift_pearson", "spearman", "relative_lift_spearman")


def _arm(evaluation: dict[str, Any], name: str) -> dict[str, Any]:
    """One side of an effect: the set's correlations, lifts and intervals, the Original's
    Pearson and the pairs they were measured on."""
    row, pairs = evaluation["sets"][name], evaluation["pairs"]
    keys = (*EFFECT_KEYS, "delta_pearson", "pearson_ci", "relative_lift_pearson_ci", "n_boot",
            "level")
    return {k: row[k] for k in keys} | {
        "original_pearson": evaluation["sets"]["Original"]["pearson"],
        "original_pearson_ci": evaluation["sets"]["Original"]["pearson_ci"],
        "n_pairs": pairs["n_pairs"], "n_rel": pairs["n_rel"],
        "leakage_fraction": pairs["leakage_fraction"]}


def anchor_effect(data: ModulatorData, reps: np.ndarray, anchors: Sequence[int], *,
                  name: str = "Procrustes", taken: str = "corrected", seed: int = 42,
                  n_rel: int = 3000, n_pairs: int = 50000, similarity: str = "path",
                  n_boot: int = N_BOOT) -> dict[str, Any]:
    """B8's effect on the number: the modulated reps `reps` scored on pairs drawn from all
    lemmas, which as executed are the Wu-Palmer anchors the modulator was built from
    (`as_executed`), and on pairs disjoint from the anchors (`corrected`), in one run with the
    same `evaluation_pairs` draw; `difference` = as_executed - corrected for each number
    (NaN where either is undefined). The Pearson difference is the token sets' own part (the
    unmodulated encoder's: `original_pearson`) plus the modulator's (its lift r_mod - r_orig:
    `delta_pearson`), exactly."""
    arms = {}
    for arm, disjoint in (("as_executed", False), ("corrected", True)):
        pairs = evaluation_pairs(data, anchors=anchors, eval_disjoint_from_anchors=disjoint,
                                 seed=seed, n_rel=n_rel, n_pairs=n_pairs, similarity=similarity)
        evaluation = relational_evaluation(
            pairs, {"Static": data.static, "Original": data.encoder, name: reps}, n_boot=n_boot)
        arms[arm] = _arm(evaluation, name)
    a, c = arms["as_executed"], arms["corrected"]
    return {"number": f"D10 Pearson (and its relative lift) of the {name} modulator",
            **arms, "difference": {k: a[k] - c[k] for k in (*EFFECT_KEYS, "original_pearson",
                                                               "delta_pearson")},
            "taken": taken,
            "what": "B8: the seed evaluated on all lemmas drawn like the Wu-Palmer anchors (its "
                    "evaluation tokens were the anchors the modulator was built from); corrected: "
                    "evaluation lemmas disjoint from the anchors; difference = as_executed - "
                    "corrected; difference.pearson = difference.original_pearson (the token "
                    "sets, unmodulated) + difference.delta_pearson (the modulator's lift)"}


def pairing_effect(pent: dict[str, Any], *, name: str = "Procrustes",
                   taken: str = "both") -> dict[str, Any]:
    """B11's effect on the number, from one `pentachora` block: the modulated reps' D1 CV from
    other simplices than the original's (`as_executed`) against the same simplices, both
    validity masks (`corrected`); `difference` = as_executed - corrected."""
    original = pent["paired"]["original"].get("cv")
    arms = {}
    for arm, block in (("as_executed", pent["unpaired_as_executed"]["modulated"]),
                       ("corrected", pent["paired"]["modulated"])):
        cv = block.get("cv")
        arms[arm] = {"cv_modulated": cv, "cv_original": original,
                     "cv_change": None if cv is None or original is None else cv - original}
    arms["corrected"]["n_both_valid"] = pent["paired"]["n_both_valid"]
    a, c = arms["as_executed"], arms["corrected"]
    diff = {k: None if a[k] is None or c[k] is None else a[k] - c[k]
            for k in ("cv_modulated", "cv_change")}
    return {"number": f"D1 pentachoron CV of the {name} modulator's pooled reps "
                      "(and its change from the original's)",
            **arms, "difference": diff, "taken": taken, "n_simplices": pent["n_simplices"],
            "what": "B11: the seed drew the modulated reps' simplices apart from the original's "
                    "(unpaired); corrected: the same simplices for both; difference = "
                    "as_executed - corrected"}


def pentachora(original: Any, modulated: Any, *, seed: int = 42,
               n_simplices: int = 500) -> dict[str, Any]:
    """D1 CV of the original and modulated reps: paired by index (B11 fixed: the same
    simplices, both validity masks) and unpaired as executed (500 draws for the original, then
    500 others from the same rng for the modulated)."""
    original, modulated = np.asarray(original), np.asarray(modulated)
    if original.shape != modulated.shape:
        raise ValueError(f"original {original.shape} and modulated {modulated.shape} differ")
    n = len(original)
    rng = np.random.default_rng(seed)
    first = sample_simplices(n, n_simplices, rng)
    second = sample_simplices(n, n_simplices, rng)
    paired = pentachoron_comparison(original, modulated, first)
    unpaired = volume_summary(cayley_menger_volumes(modulated[second]))
    return {
        "paired": {"original": paired["static"], "modulated": paired["encoder"],
                   "n_both_valid": paired["n_both_valid"], "vol_corr": paired["paired_corr"]},
        "unpaired_as_executed": {"original": paired["static"], "modulated": unpaired},
        "seed": seed, "n_simplices": n_simplices,
    }


def evaluate_modulator(data: ModulatorData, model: nn.Module, tokenizer: Any,
                       modulator: nn.Module, *, name: str = "Modulated",
                       alpha: float | None = None, pairs: dict[str, Any] | None = None,
                       anchors: Sequence[int] | None = None,
                       eval_disjoint_from_anchors: bool = False, seed: int = 42,
                       n_rel: int = 3000, n_pairs: int = 50000, similarity: str = "path",
                       n_simplices: int = 500, batch_size: int = 64,
                       layers: Sequence[int] | None = None, n_boot: int = N_BOOT,
                       progress: bool = True) -> tuple[dict[str, Any], np.ndarray]:
    """§8 steps 5-7 (and §9/§10's reports): encode with the modulator (at `alpha` if given) on
    `layers` (default all), preservation, the Static / Original / `name` relational table, bands,
    gradients and pentachora, with bootstrap intervals (`n_boot` lemma resamples). Returns
    (result, modulated reps)."""
    reps = encode_modulated(data, model, tokenizer, modulator, alpha=alpha, layers=layers,
                            batch_size=batch_size, progress=progress)
    if pairs is None:
        pairs = evaluation_pairs(data, anchors=anchors, seed=seed, n_rel=n_rel, n_pairs=n_pairs,
                                 eval_disjoint_from_anchors=eval_disjoint_from_anchors,
                                 similarity=similarity)
    relational = relational_evaluation(
        pairs, {"Static": data.static, "Original": data.encoder, name: reps}, n_boot=n_boot)
    result = {
        "name": name, "alpha": (float(alpha) if alpha is not None
                                else modulator.alphas.cpu().numpy().tolist()),
        "preservation": preservation(data.encoder, reps), "relational": relational,
        "pentachora": pentachora(data.encoder, reps, seed=seed, n_simplices=n_simplices),
    }
    return result, reps


def train_step(data: ModulatorData, model: nn.Module, tokenizer: Any,
               modulator: GeometricResidualModulator, config: TrainConfig | None = None, *,
               reset_alpha: float | None = 0.01, save_path: str | None = None,
               built_by: str | None = None) -> tuple[dict[str, Any], Any]:
    """§9: reset the alphas to `reset_alpha` (the seed's logit(0.01)), train on (definition,
    lemma) pairs, report the final alphas against the constants and whether the run can test
    "alpha increases with depth" (`alpha_test`); save if `save_path`. `built_by` names what
    built the modulator (`train_modulator`'s message when its first loss is not finite)."""
    if reset_alpha is not None:
        modulator.set_alpha(reset_alpha)
    start = modulator.alphas.detach().cpu().numpy().copy()
    run = train_modulator(model, tokenizer, modulator, data.texts, data.names, config,
                          target_ids=data.token_ids.tolist(), built_by=built_by)
    final = np.asarray(run.final_alpha, dtype=np.float64).ravel()
    test = alpha_test(start, final, run.steps, run.val_loss)
    result = run.to_dict() | {
        "final_alpha_mean": float(final.mean()), "final_alpha_std": float(final.std()),
        "distance_to": {"0.29154 (phase boundary)": abs(final.mean() - PHASE_BOUNDARY),
                        "0.5": abs(final.mean() - 0.5),
                        "0.70846 (1 - 0.29154)": abs(final.mean() - (1 - PHASE_BOUNDARY))},
        "alpha_test": test,
        # a verdict only where the run can test it (`alpha_test`), else None
        "alpha_monotonic_increasing_with_depth": test["monotonic_increasing"],
        "trainable_params": sum(p.numel() for p in modulator.parameters()),
        "frozen_params": sum(p.numel() for p in model.parameters()),
    }
    if save_path is not None:
        result["saved_to"] = str(save_modulator(modulator, save_path,
                                                {"objective": run.objective}))
    return result, run


def alpha_sweep(data: ModulatorData, model: nn.Module, tokenizer: Any,
                modulator: GeometricResidualModulator, *,
                alphas: Sequence[float] = SWEEP_ALPHAS, include_phase_boundary: bool = True,
                anchors: Sequence[int] | None = None, eval_disjoint_from_anchors: bool = False,
                seed: int = 42, n_rel: int = 3000, n_pairs: int = 50000,
                similarity: str = "path", n_simplices: int = 500, batch_size: int = 64,
                layers: Sequence[int] | None = None, n_boot: int = N_BOOT,
                progress: bool = True) -> dict[str, Any]:
    """§10: the modulator at a static alpha on every layer (of `layers`, default all), over
    `alphas` and the phase-boundary constant 0.29154 (B2), each evaluated on the same pairs;
    alphas restored afterwards."""
    values = sorted({float(a) for a in alphas} | ({PHASE_BOUNDARY} if include_phase_boundary
                                                  else set()))
    pairs = evaluation_pairs(data, anchors=anchors, seed=seed, n_rel=n_rel, n_pairs=n_pairs,
                             eval_disjoint_from_anchors=eval_disjoint_from_anchors,
                             similarity=similarity)
    rows = []
    for a in values:
        res, _ = evaluate_modulator(data, model, tokenizer, modulator, name="Modulated",
                                    alpha=a, pairs=pairs, seed=seed, n_simplices=n_simplices,
                                    batch_size=batch_size, layers=layers, n_boot=n_boot,
                                    progress=progress)
        mod, orig = res["relational"]["sets"]["Modulated"], res["relational"]["sets"]["Original"]
        rows.append({
            "alpha": a, "label": ALPHA_LABELS.get(a, f"{a:g}"),
            "preservation": res["preservation"]["mean"],
            "pearson": mod["pearson"], "pearson_ci": mod["pearson_ci"],
            "spearman": mod["spearman"], "spearman_ci": mod["spearman_ci"],
            "gradient": mod["gradient"],
            "relative_lift_pearson": mod["relative_lift_pearson"],
            "relative_lift_pearson_ci": mod["relative_lift_pearson_ci"],
            "relative_lift_spearman": mod["relative_lift_spearman"],
            "n_boot": mod["n_boot"], "level": mod["level"], "ci_over": mod["ci_over"],
            "original_pearson": orig["pearson"], "original_gradient": orig["gradient"],
            "cv_paired": res["pentachora"]["paired"]["modulated"]["cv"],
            "cv_original": res["pentachora"]["paired"]["original"]["cv"],
        })
    return {"rows": rows, "pairs": {k: v for k, v in pairs.items()
                                    if k not in ("rel", "pi", "pj", "s")},
            "phase_boundary": PHASE_BOUNDARY, "cosine_constant": COSINE_CONSTANT,
            # B2: the two constants, two digits transposed
            "constants_note": "alpha 0.29154 is the phase-boundary constant; 0.29514 is the "
                              "cosine constant of the §1/§13a checks (two digits transposed)"}


def field_modulator_step(data: ModulatorData, model: nn.Module, tokenizer: Any, *,
                         config: FieldModulatorConfig | None = None,
                         train_config: TrainConfig | None = None, seed: int = 0,
                         n_simplices: int = 500, batch_size: int = 64,
                         pairs: dict[str, Any] | None = None, save_path: str | None = None,
                         n_boot: int = N_BOOT, progress: bool = True
                         ) -> tuple[dict[str, Any], GeometricFieldModulator]:
    """§12: the field modulator (d_model and n_layers from the model unless `config` says),
    trained through the same hooks and loop (on `train_config.layers`), then its health report,
    the seed's `cv_check`, preservation and the D1 CV of the modulated pooled reps; with
    `pairs` (`evaluation_pairs`) also the Static / Original / Field relational table (§9/§10's
    protocol); with the B12 decisions (`fault_decisions`). Saved with `save_modulator` if
    `save_path`."""
    width = hidden_size(model) or data.encoder.shape[1]
    n_layers = len(encoder_blocks(model))
    config = config or FieldModulatorConfig(d_model=width, n_layers=n_layers)
    modulator = GeometricFieldModulator(config, seed=seed).to(_device(model))
    start = modulator.alphas.detach().cpu().numpy().copy()
    run = train_modulator(model, tokenizer, modulator, data.texts, data.names, train_config,
                          target_ids=data.token_ids.tolist())
    reps = encode_modulated(data, model, tokenizer, modulator, layers=run.config["layers"],
                            batch_size=batch_size, progress=progress)
    result = {
        "params": sum(p.numel() for p in modulator.parameters()),
        "config": asdict(config),
        "train": run.to_dict() | {"alpha_test": alpha_test(start, run.final_alpha, run.steps,
                                                                 run.val_loss)},
        "health": modulator.health_report(),
        "cv_check_seed": modulator.cv_check(torch.as_tensor(reps)),
        "preservation": preservation(data.encoder, reps),
        "pentachora": pentachora(data.encoder, reps, n_simplices=n_simplices),
        "fault_decisions": fault_decisions(),
    }
    if pairs is not None:
        result["relational"] = relational_evaluation(
            pairs, {"Static": data.static, "Original": data.encoder, "Field": reps},
            n_boot=n_boot)
    if save_path is not None:
        result["saved_to"] = str(save_modulator(modulator, save_path,
                                                {"objective": run.objective}))
    return result, modulator
