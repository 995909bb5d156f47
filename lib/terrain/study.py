"""The terrain notebook's steps: one call per section of seed 004, each returning a JSON-able block.

Each step reads what it needs and no more: the embedding sections read the embedding matrix
alone from the checkpoint, the weight battery streams one tensor at a time, and only the layer and
WordNet sections build the model (they run it). Nothing here prints; the notebook narrates.

Wall times and peak memory stay out of the blocks (the same inputs must give the same results
file, byte for byte): each step moves them into `measured[<section>]` when given a `measured`
dict (`lib.results.pop_measurements`), for the notebook to print.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from lib.models import load_model
from lib.models.checkpoint import checkpoint_folder, checkpoint_revision
from lib.models.random_init import build_random
from lib.results import pop_measurements
from lib.terrain.alignment import (
    RelationalSample,
    baseline_alignment,
    defect_effects,
    hypernym_chains,
    pair_cosines,
    relational_sample,
    wordnet_alignment,
)
from lib.terrain.embeddings import (
    all_rows_isotropic_geometry,
    embedding_matrices,
    load_tokenizer,
    sampled_per_dimension_geometry,
)
from lib.terrain.layers import (
    encoder_decoder_position_cosine,
    encoder_layer_geometry,
    position_bias_stats,
    read_position_bias,
)
from lib.terrain.nulls import analytic_nulls
from lib.terrain.parameters import (
    SECTIONS,
    EmbeddingSection,
    LayersSection,
    ProjectionSection,
    WeightsSection,
    WordNetSection,
)
from lib.terrain.procrustes import cross_scale_projection, shared_token_index
from lib.terrain.stability import stability, synset_bootstrap
from lib.terrain.weights.baseline import (
    attach_init,
    embedding_spread,
    init_battery,
    init_folder,
    init_spread,
)
from lib.terrain.weights.battery import run_battery
from lib.terrain.weights.summary import headline_qk
from lib.terrain.wordnet import (
    MatchedLemma,
    definition_template,
    encode_definitions,
    ensure_wordnet,
    match_single_token_lemmas,
    pos_mix,
    tfidf_definitions,
)

__all__ = ["SECTIONS"]

# §1's probes (seed 004 L346-357, L407-410): the inputs are data, kept as the seed wrote them.
SENTENCES = (
    "The cat sat on the mat.",
    "Quantum mechanics describes the behavior of particles at the atomic scale.",
    "She quickly ran to the store before it closed.",
    "The derivative of x squared is two x.",
    "Red and blue make purple when mixed together.",
    "The president signed the new trade agreement yesterday.",
    "Three plus four equals seven.",
    "Love is patient, love is kind.",
    "The function returns a sorted list of integers.",
    "Mount Everest is the tallest mountain in the world.",
)
TRANSLATION = ("translate English to German: The house is big.", "Das Haus ist groß.")


def _measured(block: dict[str, Any], start: float, section: str,
              measured: dict[str, Any] | None) -> dict[str, Any]:
    """`block` without its measurements; they and the section's wall time go to
    `measured[section]` when `measured` is given."""
    found = pop_measurements(block)
    if measured is not None:
        measured[section] = found | {"seconds": time.perf_counter() - start}
    return block


def embedding_section(model: str, cfg: EmbeddingSection,
                      measured: dict[str, Any] | None = None) -> dict[str, Any]:
    """§1 or §13a on the input-embedding matrix read alone from the checkpoint."""
    start = time.perf_counter()
    em = embedding_matrices(model)
    tokenizer = load_tokenizer(model)
    sizes = {"n_cosine": cfg.n_cosine, "n_simplices": cfg.n_simplices,
             "n_distances": cfg.n_distances}
    if cfg.protocol == "all_rows_isotropic":
        block = all_rows_isotropic_geometry(em.E, cfg.seed, tokenizer=tokenizer, **sizes)
    else:
        block = sampled_per_dimension_geometry(em.E, cfg.seed, tokenizer=tokenizer,
                                               lm_head=em.head, n_pca=cfg.n_pca, **sizes)
    block.update(protocol=cfg.protocol, tensor=em.key, tied=em.tied,
                 tied_reason=em.tied_reason, shape=list(em.E.shape))
    if cfg.init_seeds:
        spread_sizes = {"n_cosine": cfg.n_cosine, "n_simplices": cfg.n_simplices} | (
            {"n_pca": cfg.n_pca} if cfg.protocol == "sampled_per_dimension" else {})
        block["init_spread"] = embedding_spread(model, list(range(cfg.init_seeds)),
                                                cfg.protocol, spread_sizes, tokenizer,
                                                tuple(cfg.init_quantities))
    return _measured(block, start, "embedding", measured)


def load_for_forward(model: str) -> Any:
    """The model built (float32, eval) for the sections that run it."""
    return load_model(model, dtype="float32")


def layers_section(model: str, cfg: LayersSection, loaded: Any,
                   measured: dict[str, Any] | None = None) -> dict[str, Any]:
    """§1: encoder layer-by-layer geometry through hooks; T5: encoder vs decoder, position bias."""
    start = time.perf_counter()
    net, tokenizer = loaded.model, loaded.tokenizer
    block: dict[str, Any] = {"sentences": len(SENTENCES),
                             "encoder": encoder_layer_geometry(net, tokenizer, SENTENCES)}
    is_t5 = getattr(net.config, "model_type", "") == "t5"
    block["encoder_decoder"] = (encoder_decoder_position_cosine(net, tokenizer, *TRANSLATION)
                                if cfg.encoder_decoder and is_t5 else None)
    bias = {}
    if cfg.position_bias and is_t5:
        for stack in ("encoder", "decoder"):
            bias[stack] = position_bias_stats(read_position_bias(model, stack))
    block["position_bias"] = bias or None
    return _measured(block, start, "layers", measured)


def slow_tokenizer(model: str) -> Any:
    """The model's slow (SentencePiece) tokenizer with `legacy=True`, as seed 004 loaded T5's."""
    from transformers import AutoTokenizer  # heavy: only the seed-faithful T5 runs ask for it

    return AutoTokenizer.from_pretrained(str(checkpoint_folder(model)), use_fast=False, legacy=True)


def wordnet_section(model: str, cfg: WordNetSection, loaded: Any,
                    measured: dict[str, Any] | None = None
                    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """§2 (and §3 when asked): single-token lemmas, pooled definitions, the alignment.

    Returns the results block and the arrays the figure needs (pair similarities and cosines).
    """
    start = time.perf_counter()
    ensure_wordnet()
    tokenizer = slow_tokenizer(model) if cfg.slow_tokenizer else loaded.tokenizer
    matched = match_single_token_lemmas(tokenizer)
    if len(matched) < max(cfg.n_rel, 5):
        raise ValueError(f"{model}: only {len(matched)} single-token WordNet lemmas, fewer than "
                         f"n_rel = {cfg.n_rel}; lower wordnet.n_rel in the parameter file")
    template = definition_template(loaded.model, cfg.template)
    encoder = encode_definitions(loaded.model, tokenizer, [m.definition for m in matched],
                                 template=template, batch_size=cfg.batch_size,
                                 max_length=cfg.max_length)
    E = embedding_matrices(model).E
    static = E[torch.as_tensor([m.token_id for m in matched])].float().numpy()
    encode_s = time.perf_counter() - start
    alignment = wordnet_alignment(static, encoder, matched, seed=cfg.seed, n_rel=cfg.n_rel,
                                  n_pairs=cfg.n_pairs, n_simplices=cfg.n_simplices,
                                  exact_edges=cfg.exact_edges)
    scatter = alignment.pop("scatter", None)
    block: dict[str, Any] = {"matched": len(matched), "template": template,
                             "pos_mix": pos_mix(matched), "alignment": alignment,
                             "encode_seconds": encode_s}
    sample = relational_sample(matched, np.random.default_rng(cfg.seed), cfg.n_rel,
                               cfg.n_pairs)  # the alignment's pairs, drawn again
    block["baselines"] = _wordnet_baselines(model, cfg, matched, encoder, template, sample)
    block["effects"] = defect_effects(encoder, matched, sample, alignment["pentachora"])
    if cfg.stability is not None:
        s = cfg.stability
        chains = hypernym_chains(matched)
        block["stability"] = stability(static, encoder, matched, chains, n_seeds=s.n_seeds,
                                       n_rel=s.n_rel, n_pairs=s.n_pairs,
                                       n_simplices=s.n_simplices, n_chains=s.n_chains)
        cosines = {name: pair_cosines(X[sample.rel], sample.pi, sample.pj)
                   for name, X in (("enc", encoder), ("static", static))}
        block["stability"]["synset_bootstrap"] = synset_bootstrap(
            sample.s, cosines, sample.pi, sample.pj, len(sample.rel), n_boot=cfg.n_boot,
            seed=cfg.boot_seed)
    arrays = {k: np.asarray(v) for k, v in (scatter or {}).items()}
    return _measured(block, start, "wordnet", measured), arrays


def _wordnet_baselines(model: str, cfg: WordNetSection, matched: list[MatchedLemma],
                       encoder: np.ndarray, template: str,
                       sample: RelationalSample) -> dict[str, Any]:
    """`cfg.baselines` on the alignment's pairs: TF-IDF of the definitions, the architecture
    at random initialization (`random/<model>`, seeded by its name) encoding them, noun pairs."""
    wanted = cfg.baselines
    definitions = [m.definition for m in matched]
    reps: dict[str, Any] = {}
    if "tfidf" in wanted:
        reps["tfidf"] = tfidf_definitions(definitions)
    if "random_encoder" in wanted:
        # only the sampled lemmas' definitions: the statistic reads no other row (NaN there);
        # the architecture with its own tokenizer and full vocabulary (widths reduced only if it
        # exceeds the random-model budget, `reduction` says so)
        rand = build_random(f"random/{model}", keep_vocabulary=True)
        rows = np.unique(sample.rel)
        encoded = encode_definitions(
            rand.model, rand.tokenizer, [definitions[i] for i in rows], template=template,
            batch_size=cfg.batch_size, max_length=cfg.max_length)
        reps["random_encoder"] = np.full((len(definitions), encoded.shape[1]), np.nan,
                                         dtype=encoded.dtype)
        reps["random_encoder"][rows] = encoded
    out = baseline_alignment(sample, matched, encoder, reps, noun_only="noun_only" in wanted)
    if "random_encoder" in out:
        out["random_encoder"].update(model=f"random/{model}", reduction=rand.reduction)
    return out


def weights_section(model: str, cfg: WeightsSection,
                    measured: dict[str, Any] | None = None) -> dict[str, Any]:
    """§4-§6: the battery streamed from the checkpoint, the initialization beside it, and what
    random weights give: the spread over `init_seeds` initializations (`init_spread`, with
    the rule's leave-one-seed-out false-positive rate) and the analytic intervals where the
    initializer makes them known (`analytic_null`, from the shapes alone; lib.terrain.nulls)."""
    start = time.perf_counter()
    thresholds = cfg.thresholds
    init = (init_battery(model, seed=cfg.init_seed, thresholds=thresholds)
            if cfg.init_baseline else None)
    seeds = [cfg.init_seed + i for i in range(cfg.init_seeds)]
    spread = (init_spread(model, init, seeds, qk=cfg.init_spread_qk)
              if init is not None and len(seeds) > 1 else None)
    trained = run_battery(model, thresholds=thresholds) if cfg.trained else None
    if trained is not None and init is not None:
        trained = attach_init(trained, init)
    block = {"trained": trained, "init": init, "init_spread": spread,
             "analytic_null": analytic_nulls(trained or init)}
    return _measured(block, start, "weights", measured)


def projection_section(model: str, cfg: ProjectionSection,
                       measured: dict[str, Any] | None = None) -> dict[str, Any]:
    """§13b: `cfg.source`'s embeddings projected onto `model`'s over their shared tokens."""
    start = time.perf_counter()
    source = cfg.source
    shared = shared_token_index(load_tokenizer(source), load_tokenizer(model))
    block = cross_scale_projection(embedding_matrices(source).E, embedding_matrices(model).E,
                                   shared, seed=cfg.seed, n_pca=cfg.n_pca,
                                   n_anchor=cfg.n_anchor, n_test=cfg.n_test)
    block.update(source=source, target=model, shared_tokens=len(shared))
    return _measured(block, start, "projection", measured)


def model_record(model: str, init_seed: int = 0) -> dict[str, Any]:
    """The provenance of the weights a run measured: name and revision (no machine paths)."""
    if model.startswith("init/"):
        return {"name": model, "source": "initialization",
                "revision": init_folder(model, init_seed).name}
    source = model.split("/", 1)[0] if model.startswith(("embedded/", "tiny/")) else "hub"
    return {"name": model, "source": source, "revision": checkpoint_revision(model)}


def _weights_headline(w: dict[str, Any]) -> dict[str, Any]:
    """Q sparsity, the mean QK positive fraction (seed convention; decoder/cross when there is
    one) and the worst adjacent-layer cosine mean of the weights measured (trained, else the
    initialization alone), and the same of the initialization (init_*) whenever it ran."""
    res = w["trained"] or w["init"]
    stack, pos = headline_qk(res["qk"]["summary"])
    out: dict[str, Any] = {
        "weights_measured": "trained" if w["trained"] else "initialization",
        "q_sparsity": res.get("q_sparsity", {}), "qk_stack": stack, "qk_pos_frac": pos,
        "cross_layer_max_abs_mean": res["cross_layer_summary"]["max_abs_mean"]}
    if w["init"]:
        init = w["init"]
        out.update(init_q_sparsity=init["q_sparsity"],
                   init_qk_pos_frac=headline_qk(init["qk"]["summary"])[1],
                   init_cross_layer_max_abs_mean=init["cross_layer_summary"]["max_abs_mean"])
    return out


def headline(payload: dict[str, Any]) -> dict[str, Any]:
    """The few numbers a reader compares across runs (and the report's embedded table)."""
    out: dict[str, Any] = {}
    emb = payload.get("embedding")
    if emb:
        out.update(mean_cosine=emb["cosine"]["mean"], pr_over_dim=emb["spectrum"]["pr_over_dim"],
                   volume_cv=emb["pentachora"]["cv"],
                   volume_cv_reference=emb["pentachora"]["reference_cv"],
                   volume_ratio=emb["pentachora"]["ratio_embed_random"],
                   digit_corr=emb["digits"]["manifold"]["corr_abs_diff_cosine"])
    wn = payload.get("wordnet")
    if wn:
        a = wn["alignment"]
        out.update(matched=wn["matched"], static_pearson=a["static"]["pearson"],
                   encoder_pearson=a["encoder"]["pearson"],
                   static_spearman=a["static"]["spearman"],
                   encoder_spearman=a["encoder"]["spearman"],
                   lift_pearson=a["lift"]["pearson"], lift_spearman=a["lift"]["spearman"],
                   gradient_static=a["gradient"]["static"],
                   gradient_encoder=a["gradient"]["encoder"])
        stab = wn.get("stability")
        if stab:
            out["stability_ci"] = {k: stab["summary"][k].get("ci") for k in (
                "enc_pearson", "static_pearson", "enc_spearman", "static_spearman",
                "gradient_enc", "gradient_static") if k in stab["summary"]}
            boot = stab.get("synset_bootstrap")
            if boot:
                out["stability_bootstrap_ci"] = boot["enc_pearson"]["ci"]
        base = wn.get("baselines") or {}
        for key, name in (("baseline_tfidf_pearson", "tfidf"),
                          ("baseline_random_pearson", "random_encoder")):
            if name in base:
                out[key] = base[name]["pearson"]
    w = payload.get("weights")
    if w:
        out.update(_weights_headline(w))
    proj = payload.get("projection")
    if proj:
        out["projection_token_cosine"] = proj["token_cosine"]["mean"]
    return out
