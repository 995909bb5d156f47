"""The modulator notebook's steps: one call per section of seed 004 §8-§12 (`procrustes_section`,
`trained_section`, `alpha_sweep_section`, `generation_section`, `field_section`), each returning a
JSON-able block (and, where a later step needs it, the modulator), plus the tables it prints.

Nothing here prints; the notebook narrates. Wall times are kept out of the blocks (a results file
must be the same from run to run): `pop_timings` moves them into a separate dict to print.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lib.claims import CLAIMS, lookup
from lib.modulator.field import PHASE_BOUNDARY, FieldModulatorConfig
from lib.modulator.generation import compare_generation, generation_alpha_sweep, is_seq2seq
from lib.modulator.generation import not_applicable as generation_not_applicable
from lib.modulator.hooks import LayerIndexError, encoder_blocks, hidden_size
from lib.modulator.parameters import FieldSection, ModulatorParameters, TrainingSection
from lib.modulator.pipeline import (
    ModulatorData,
    alpha_sweep,
    anchor_effect,
    evaluate_modulator,
    evaluation_pairs,
    field_modulator_step,
    pairing_effect,
    prepare_data,
    procrustes_modulator,
    train_step,
)
from lib.modulator.train import TrainConfig, objective_for
from lib.paths import shown
from lib.results import clean_companions, companion_path, pop_measurements, staged
from lib.stats.correlation import UNDEFINED
from lib.terrain.wordnet import MatchedLemma, match_single_token_lemmas, pos_mix

TIMING_KEYS = ("seconds", "seconds_per_step")
CLAIM_GROUP = "modulator."
CORRECTED_GROUP = "modulator.corrected."  # the claims of the corrected paper run


class NotAnEncoderError(ValueError):
    """The model has no encoder the modulator can be hooked into (e.g. a causal LM)."""


# ------------------------------------------------------------------------------ checks, setup


def check_model(loaded: Any, layers: Sequence[int] | None,
                seed_faithful: bool = False) -> dict[str, Any]:
    """Refuse a decoder-only model, layer indices the encoder lacks and `seed_faithful` on an
    encoder-only model (one-line errors); return what the run needs to know: family, blocks,
    width, seq2seq, the training objective."""
    model, name = loaded.model, loaded.name
    if loaded.info.is_decoder:
        raise NotAnEncoderError(
            f"{name} is a decoder-only (causal) language model ({type(model).__name__}): the "
            "modulator needs a text encoder; use a T5 (e.g. google-t5/t5-small, tiny/t5) or a "
            "BERT-like model (e.g. embedded/all-minilm-l6-v2)")
    n_blocks = len(encoder_blocks(model))  # BlockListNotFoundError names the model's type
    bad = [i for i in (layers or []) if i >= n_blocks]
    if bad:
        raise LayerIndexError(f"layers {bad} do not exist: {name} has {n_blocks} encoder blocks "
                              f"(0..{n_blocks - 1}); fix `layers` in the parameter file")
    return {"family": loaded.info.family, "encoder_blocks": n_blocks,
            "hidden_size": hidden_size(model), "seq2seq": is_seq2seq(model),
            "layers": list(layers) if layers else list(range(n_blocks)),
            "objective": objective_for(model, seed_faithful)}


def unmatched_rows_seed(seed: int | None) -> dict[str, Any]:
    """B8: the seed of the unmatched vocabulary rows; None draws a fresh one (as the seed ran,
    unseeded) and records it, so the run can still be repeated."""
    if seed is None:
        return {"seed": secrets.randbits(63), "drawn": True}
    return {"seed": int(seed), "drawn": False}


def train_config(section: TrainingSection, params: ModulatorParameters,
                 progress: bool = True) -> TrainConfig:
    """§9's TrainConfig from a `training` block and the run's B9 switch and layers."""
    keys = ("epochs", "batch_size", "lr", "weight_decay", "clip", "max_input_len",
            "max_target_len", "val_fraction", "alpha_every", "seed", "max_steps")
    layers = params.layers
    return TrainConfig(**{k: getattr(section, k) for k in keys},
                       seed_faithful=params.seed_faithful,
                       layers=tuple(layers) if layers else None, progress=progress)


def field_config(section: FieldSection, model: Any) -> FieldModulatorConfig:
    """§12's FieldModulatorConfig: the section's keys, the model's width and depth."""
    keys = ("expert_ks", "expert_edim", "initial_alpha", "alpha_max", "alpha_min",
            "null_space_fraction", "null_space_position", "gradient_scale", "cv_target",
            "cv_tolerance", "deform_scale")
    values = {k: getattr(section, k) for k in keys}
    values["expert_ks"] = tuple(values["expert_ks"])
    return FieldModulatorConfig(d_model=hidden_size(model), n_layers=len(encoder_blocks(model)),
                                vocab_size=model.get_input_embeddings().weight.shape[0], **values)


def pop_timings(block: Any) -> dict[str, float]:
    """Remove every `seconds` / `seconds_per_step` key from a nested block, in place; return them
    keyed by their path (they vary from run to run and stay out of the results file)."""
    return pop_measurements(block, TIMING_KEYS)


def modulator_paths(results_file: Path) -> dict[str, Path]:
    """Where the trained modulators go: a folder beside the results file, named by its stem
    (`lib.results.companion_path`). What an interrupted run left there is removed first
    (`clean_companions`); §9 and §12 write them staged, and `write_json(results_file, ...)`
    publishes them with the results."""
    clean_companions(results_file)
    return {name: companion_path(results_file, f"{name}.safetensors")
            for name in ("lerp", "field")}


def _saved_to(block: dict[str, Any], save_path: Path | None) -> None:
    """`saved_to`: where the staged modulator will be once the results are written, relative to
    the repository (no machine paths in a results file)."""
    if save_path is not None and "saved_to" in block:
        block["saved_to"] = shown(Path(save_path))


# ------------------------------------------------------------------------------- the sections


def load_data(loaded: Any, params: ModulatorParameters,
              progress: bool = True) -> tuple[ModulatorData, dict[str, Any]]:
    """D12 matching (all of WordNet), `max_items` of them, D8 encoding; with the POS mix (B10)."""
    cfg = params.data
    matched = match_single_token_lemmas(loaded.tokenizer)
    data = prepare_data(loaded.model, loaded.tokenizer, matched=matched,
                        max_items=params.max_items, seed=cfg.seed, template=cfg.template,
                        batch_size=cfg.batch_size, max_length=cfg.max_length,
                        progress=progress)
    used = [MatchedLemma(n, s, int(i), d) for n, s, i, d in
            zip(data.names, data.synsets, data.token_ids, data.definitions, strict=True)]
    block = {"matched": data.n_matched, "used": len(data), "max_items": params.max_items,
             "sample_seed": cfg.seed, "template": data.template, "pos_mix": pos_mix(used),
             "hidden_size": int(data.encoder.shape[1])}
    return data, block


def pairs_for(data: ModulatorData, params: ModulatorParameters, anchors: Any) -> dict[str, Any]:
    """The D10 pairs every set is measured on (disjoint from the anchors unless as executed)."""
    ev = params.evaluation
    return evaluation_pairs(data, anchors=anchors, seed=ev.seed, n_rel=ev.n_rel,
                            n_pairs=ev.n_pairs, similarity=ev.similarity,
                            eval_disjoint_from_anchors=params.eval_disjoint_from_anchors)


def procrustes_section(data: ModulatorData, loaded: Any, params: ModulatorParameters,
                       init_seed: int, progress: bool = True
                       ) -> tuple[dict[str, Any], Any, dict[str, Any], dict[str, Any]]:
    """§8 (`procrustes` of the results): build the Procrustes modulator and measure it at its
    initial alpha (the seed's α=0.01 row). Returns (block, modulator, arrays, pairs);
    `arrays["procrustes_reps"]` holds the modulated reps `effects` reuses."""
    p, ev = params.pipeline, params.evaluation
    built, modulator, arrays = procrustes_modulator(
        data, loaded.model, n_anchor=p.n_anchor, n_geo=p.n_geo, seed=p.seed,
        k_neighbors=p.k_neighbors, temperature=p.temperature,
        scale_factor=p.scale_factor, initial_alpha=p.initial_alpha, init_seed=init_seed)
    pairs = pairs_for(data, params, arrays["anchor_idx"])
    evaluation, reps = evaluate_modulator(
        data, loaded.model, loaded.tokenizer, modulator, name="Procrustes", pairs=pairs,
        seed=ev.seed, n_simplices=ev.n_simplices, batch_size=params.data.batch_size,
        layers=params.layers, n_boot=ev.n_boot, progress=progress)
    arrays["procrustes_reps"] = reps  # for `effects` (B8 on the same reps, no re-encoding)
    return {"pipeline": built, "evaluation": evaluation}, modulator, arrays, pairs


def trained_section(data: ModulatorData, loaded: Any, params: ModulatorParameters,
                    modulator: Any, pairs: dict[str, Any], save_path: Path | None,
                    progress: bool = True) -> tuple[dict[str, Any], Any, Any]:
    """§9 (`trained`): train a copy of the §8 modulator on the frozen encoder, then measure it
    (Original vs Trained, the lift the seed's "+152%" most plausibly is). Returns (block,
    trained, run). With `training.save`, the modulator is written staged for `save_path`
    (`modulator_paths`): `write_json` of the results publishes it."""
    section, ev = params.training, params.evaluation
    trained = copy.deepcopy(modulator)
    config = train_config(section, params, progress)
    save_path = save_path if section.save else None
    train, run = train_step(data, loaded.model, loaded.tokenizer, trained, config,
                            reset_alpha=section.reset_alpha,
                            save_path=str(staged(save_path)) if save_path else None,
                            built_by=f"pipeline.scale_factor (now "
                                     f"{params.pipeline.scale_factor:g})")
    _saved_to(train, save_path)
    evaluation, _ = evaluate_modulator(
        data, loaded.model, loaded.tokenizer, trained, name="Trained", pairs=pairs,
        seed=ev.seed, n_simplices=ev.n_simplices, batch_size=params.data.batch_size,
        layers=params.layers, n_boot=ev.n_boot, progress=progress)
    return {"train": train, "evaluation": evaluation}, trained, run


def alpha_sweep_section(data: ModulatorData, loaded: Any, params: ModulatorParameters,
                        modulator: Any, anchors: Any, progress: bool = True) -> dict[str, Any]:
    """§10 (`alpha_sweep`): the untrained §8 modulator at each static alpha (rows keyed by alpha
    as well)."""
    ev, sw = params.evaluation, params.sweep
    block = alpha_sweep(data, loaded.model, loaded.tokenizer, modulator, alphas=sw.alphas,
                        include_phase_boundary=sw.include_phase_boundary, anchors=anchors,
                        eval_disjoint_from_anchors=params.eval_disjoint_from_anchors,
                        seed=ev.seed, n_rel=ev.n_rel, n_pairs=ev.n_pairs,
                        similarity=ev.similarity, n_simplices=ev.n_simplices,
                        batch_size=params.data.batch_size, layers=params.layers,
                        n_boot=ev.n_boot, progress=progress)
    block["by_alpha"] = {f"{row['alpha']:g}": row for row in block["rows"]}
    block["modulator"] = "the §8 Procrustes modulator, untrained (SPEC §10: the §8 state)"
    return block


def generation_section(loaded: Any, params: ModulatorParameters, modulator: Any,
                       progress: Callable[[Sequence], Sequence] | None = None) -> dict[str, Any]:
    """§11 (`generation`): greedy (or sampled) generations with and without the modulator, and
    the alpha sweep on one prompt; a 'not applicable' record for encoder-only models."""
    if not is_seq2seq(loaded.model):
        return generation_not_applicable(loaded.model)
    g = params.generation
    prompts = progress(g.prompts) if progress else g.prompts
    rows = [compare_generation(loaded.model, loaded.tokenizer, modulator, prompt,
                               max_new_tokens=g.max_new_tokens, temperature=g.temperature,
                               top_p=g.top_p, seed=g.seed, layers=params.layers)
            for prompt in prompts]
    sweep = (generation_alpha_sweep(loaded.model, loaded.tokenizer, modulator, g.sweep_prompt,
                                    g.sweep_alphas, max_new_tokens=g.sweep_max_new_tokens,
                                    layers=params.layers)
             if g.sweep_alphas else None)
    alphas = modulator.alphas.cpu().numpy().tolist()
    return {"applicable": True, "modulator": "the §9 trained modulator", "alphas": alphas,
            "comparisons": rows, "identical": sum(r["identical"] for r in rows),
            "alpha_sweep": sweep}


def field_section(data: ModulatorData, loaded: Any, params: ModulatorParameters,
                  pairs: dict[str, Any], save_path: Path | None,
                  progress: bool = True) -> tuple[dict[str, Any], Any]:
    """§12 (`field`): the field modulator trained with §9's loop, measured with §10's protocol;
    saved staged for `save_path` like §9's."""
    section, ev = params.field, params.evaluation
    save_path = save_path if section.training.save else None
    block, field = field_modulator_step(
        data, loaded.model, loaded.tokenizer, config=field_config(section, loaded.model),
        train_config=train_config(section.training, params, progress), seed=section.seed,
        n_simplices=ev.n_simplices, batch_size=params.data.batch_size, pairs=pairs,
        save_path=str(staged(save_path)) if save_path else None, n_boot=ev.n_boot,
        progress=progress)
    _saved_to(block, save_path)
    return block, field


def effects(data: ModulatorData, params: ModulatorParameters, procrustes: dict[str, Any],
            arrays: dict[str, Any]) -> dict[str, Any]:
    """The results' top-level `effects`: what B8 (`anchor_evaluation`) and B11
    (`pentachoron_pairing`) do to the §8 numbers, both ways in this run (`anchor_effect` on the
    `procrustes` block's modulated reps, `pairing_effect` on its pentachora); `taken` says which
    way this run's own numbers go."""
    ev = params.evaluation
    taken = "corrected" if params.eval_disjoint_from_anchors else "as_executed"
    anchors = anchor_effect(data, arrays["procrustes_reps"], arrays["anchor_idx"], taken=taken,
                            seed=ev.seed, n_rel=ev.n_rel, n_pairs=ev.n_pairs,
                            similarity=ev.similarity, n_boot=ev.n_boot)
    pairing = pairing_effect(procrustes["evaluation"]["pentachora"])
    return {"anchor_evaluation": anchors, "pentachoron_pairing": pairing}


def _fmt(value: Any) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:+.4f}"


# B8's Pearson effect = the token sets' own (unmodulated) part + the modulator's lift part
ANCHOR_ROWS = (("pearson", "Pearson: on the anchors (seed) vs held out"),
           ("original_pearson", "of which the token sets: the unmodulated encoder's Pearson"),
           ("delta_pearson", "of which the modulator: its lift r_mod − r_orig"),
           ("relative_lift_pearson", "relative lift (r_mod − r_orig) / r_orig"))


def effects_table(effects: dict[str, Any]) -> pd.DataFrame:
    """What B8 (`anchor_evaluation`) and B11 (`pentachoron_pairing`) do to the §8 numbers, both
    ways in this run (`effects` of the results), labelled by defect; B8's Pearson difference
    split into the token sets' own and the modulator's lift."""
    def ci(arm: dict[str, Any], key: str) -> str:
        lo_hi = arm.get(key)
        return "" if not lo_hi or None in lo_hi else f" [{lo_hi[0]:+.4f}, {lo_hi[1]:+.4f}]"

    rows = []
    anchors = effects.get("anchor_evaluation") or {}
    for key, label in ANCHOR_ROWS:
        if "as_executed" in anchors and key in anchors["as_executed"]:
            a, c = anchors["as_executed"], anchors["corrected"]
            rows.append(("B8", label,
                         _fmt(a.get(key)) + ci(a, key + "_ci"),
                         _fmt(c.get(key)) + ci(c, key + "_ci"),
                         _fmt(anchors["difference"].get(key))))
    pairing = effects.get("pentachoron_pairing") or {}
    if "as_executed" in pairing:
        rows.append(("B11", "modulated pentachoron CV: unpaired (seed) vs paired",
                     _fmt(pairing["as_executed"]["cv_modulated"]),
                     _fmt(pairing["corrected"]["cv_modulated"]),
                     _fmt(pairing["difference"]["cv_modulated"])))
    return pd.DataFrame(rows, columns=["defect", "number", "as executed", "corrected",
                                       "difference"]).set_index("defect")


# ------------------------------------------------------------------------ defects and claims


def defects(params: ModulatorParameters, init: dict[str, Any]) -> pd.DataFrame:
    """What the seed did for each defect that changes a modulator number, and what this run
    does (SPEC-terrain B7, B8, B9, B11, B12)."""
    faithful, disjoint = params.seed_faithful, params.eval_disjoint_from_anchors
    rows = [
        ("B7", "proj scaled by the final pooled norm, injected into every layer",
         "kept, documented"),
        ("B8", "unmatched vocabulary rows drawn unseeded",
         f"fresh seed {init['seed']} drawn and recorded" if init["drawn"]
         else f"seeded ({init['seed']})"),
        ("B8", "evaluation tokens = the Wu-Palmer anchors",
         "disjoint from the anchors" if disjoint else "the anchors (as executed)"),
        ("B9", "decoder fed unshifted labels; lm_head logits without d_model**-0.5",
         "as executed (t5-seed objective)" if faithful else "the model's own shifted-label loss"),
        ("B11", "original and modulated volumes from different simplices",
         "both: paired by index, and unpaired as executed"),
        ("B12", "field modulator faults (a)-(g); never trained on T5",
         "ported faithfully (c fixed), trained with §9's loop"),
    ]
    return pd.DataFrame(rows, columns=["defect", "seed", "this run"]).set_index("defect")


def claims_table(payload: dict[str, Any], published: Callable[[str], Any]) -> pd.DataFrame:
    """Each modulator claim of this run's kind (the `modulator.corrected.*` rows for a corrected
    run, the as-executed rows for a seed-faithful one): the published value (`published(id)`)
    next to this run's number at the claim's field (n/a where the run has no such section)."""
    corrected = not (payload.get("settings") or {}).get("seed_faithful", False)
    rows = []
    for claim in CLAIMS:
        if not claim.id.startswith(CLAIM_GROUP) or claim.field is None:
            continue
        if claim.id.startswith(CORRECTED_GROUP) != corrected:
            continue
        try:
            value = _round(lookup(payload, claim.field), 5)
        except KeyError:
            value = None
        rows.append((claim.id, claim.statement, published(claim.id),
                     "n/a" if value is None else value, "/".join(claim.field)))
    return pd.DataFrame(rows, columns=["claim", "statement", "published", "this run",
                                       "field"]).set_index("claim")


def headline(payload: dict[str, Any]) -> dict[str, Any]:
    """The few numbers a reader compares across runs (`layout.Headline`): the §8 Procrustes, §9
    trained and §12 field modulators' Pearson and lifts, and B8's effect (`anchors_*`: scored on
    the anchors as the seed did, `held_out_*`: on held-out lemmas)."""
    out: dict[str, Any] = {}
    procrustes = payload.get("procrustes")
    if procrustes:
        sets = procrustes["evaluation"]["relational"]["sets"]
        out.update(static_pearson=sets["Static"]["pearson"],
                   original_pearson=sets["Original"]["pearson"],
                   procrustes_pearson=sets["Procrustes"]["pearson"],
                   procrustes_pearson_ci=sets["Procrustes"].get("pearson_ci"),
                   procrustes_preservation=procrustes["evaluation"]["preservation"]["mean"],
                   leakage_fraction=procrustes["evaluation"]["relational"]["pairs"][
                       "leakage_fraction"])
    trained = payload.get("trained")
    if trained:
        measured = trained["evaluation"]["relational"]["sets"]["Trained"]
        out.update(trained_pearson=measured["pearson"],
                   trained_pearson_ci=measured.get("pearson_ci"),
                   trained_lift_pearson=measured["relative_lift_pearson"],
                   trained_lift_pearson_ci=measured.get("relative_lift_pearson_ci"),
                   trained_lift_spearman=measured["relative_lift_spearman"],
                   trained_alpha_mean=trained["train"]["final_alpha_mean"],
                   alpha_test=(trained["train"].get("alpha_test") or {}).get("verdict"),
                   alpha_monotonic=trained["train"]["alpha_monotonic_increasing_with_depth"])
    field = payload.get("field")
    if field and "relational" in field:
        measured = field["relational"]["sets"]["Field"]
        out.update(field_pearson=measured["pearson"],
                   field_lift_pearson=measured["relative_lift_pearson"],
                   field_lift_pearson_ci=measured.get("relative_lift_pearson_ci"),
                   field_parameters=field["params"],
                   field_preservation=field["preservation"]["mean"])
    anchors = (payload.get("effects") or {}).get("anchor_evaluation")
    if anchors:
        out.update(anchors_pearson=anchors["as_executed"]["pearson"],
                   held_out_pearson=anchors["corrected"]["pearson"],
                   anchors_minus_held_out_pearson=anchors["difference"]["pearson"],
                   anchors_minus_held_out_token_sets=anchors["difference"].get(
                       "original_pearson"),
                   anchors_minus_held_out_modulator=anchors["difference"].get("delta_pearson"))
    return out


# ------------------------------------------------------------------------------------ tables


def _round(value: Any, digits: int) -> Any:
    if isinstance(value, (float, np.floating)):
        return round(float(value), digits) if np.isfinite(value) else None
    return value


def _interval(ci: Any, digits: int = 4) -> str:
    """An interval cell: "[lo, hi]", or "undefined" where there is none."""
    if not ci or None in ci:
        return UNDEFINED
    return f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _cell(value: Any, digits: int) -> Any:
    """A table cell: rounded, or "undefined" where the number is None or not finite (e.g. a
    correlation with a constant similarity vector, `lib.stats.correlation`)."""
    rounded = _round(value, digits)
    return UNDEFINED if rounded is None else rounded


def relational_table(evaluation: dict[str, Any]) -> pd.DataFrame:
    """Pearson, Spearman, gradient, their deltas and relative lifts against the Original, with
    the intervals from resampling the evaluation lemmas (`lib.modulator.bootstrap`)."""
    cols = ("pearson", "spearman", "gradient", "delta_pearson", "delta_spearman",
            "relative_lift_pearson", "relative_lift_spearman")
    cis = ("pearson_ci", "relative_lift_pearson_ci")
    sets = evaluation["relational"]["sets"]
    level = next((row["level"] for row in sets.values() if "level" in row), None)
    names = [f"{c} {level:.0%} CI (lemmas resampled)" if level else c for c in cis]
    return pd.DataFrame([[_cell(row[c], 4) for c in cols] + [_interval(row.get(c)) for c in cis]
                         for row in sets.values()],
                        index=list(sets), columns=[*cols, *names])


def bands_table(evaluation: dict[str, Any]) -> pd.DataFrame:
    """Mean cosine per path-similarity band, each set a column."""
    bands = evaluation["relational"]["bands"]
    return pd.DataFrame([{k: _round(v, 4) for k, v in b.items()} for b in bands])


def pentachora_line(pent: dict[str, Any]) -> str:
    """D1 CV of the original and modulated reps, paired (B11 fixed) and unpaired as executed."""
    p, u = pent["paired"], pent["unpaired_as_executed"]
    def cv(x: dict[str, Any]) -> str:
        return "n/a" if x.get("cv") is None else f"{x['cv']:.3f}"
    return (f"pentachoron CV original {cv(p['original'])}, modulated {cv(p['modulated'])} "
            f"(paired, {p['n_both_valid']} simplices valid in both); unpaired as executed: "
            f"modulated {cv(u['modulated'])}")


def sweep_table(block: dict[str, Any]) -> pd.DataFrame:
    """§10 (`alpha_sweep`): preservation, Pearson, Spearman, gradient, lift and CV per static
    alpha."""
    cols = ("preservation", "pearson", "spearman", "gradient", "relative_lift_pearson",
            "cv_paired")
    return pd.DataFrame([[r["label"], *(_cell(r[c], 4) for c in cols)] for r in block["rows"]],
                        index=[r["alpha"] for r in block["rows"]],
                        columns=["label", *cols]).rename_axis("alpha")


def alpha_table(train: dict[str, Any]) -> pd.DataFrame:
    """§9: the final alpha per layer (rows) beside its start."""
    final = np.asarray(train["final_alpha"], dtype=float)
    first = np.asarray(train["alpha_history"][0], dtype=float) if train["alpha_history"] else None
    data = {"final alpha": np.round(final.reshape(len(final), -1).mean(axis=1), 4)}
    if first is not None:
        data["start"] = np.round(first.reshape(len(first), -1).mean(axis=1), 4)
    return pd.DataFrame(data).rename_axis("layer")


def distance_line(train: dict[str, Any]) -> str:
    """The final mean alpha against the seed's constants."""
    d = train["distance_to"]
    parts = ", ".join(f"|ᾱ − {k}| = {v:.4f}" for k, v in d.items())
    test = train.get("alpha_test") or {}
    depth = test.get("reason") or (f"increasing with depth: "
                                   f"{train['alpha_monotonic_increasing_with_depth']}")
    return (f"mean alpha {train['final_alpha_mean']:.4f} ± {train['final_alpha_std']:.4f}; "
            f"{parts}; {depth}")


def generation_table(block: dict[str, Any], width: int = 60) -> pd.DataFrame:
    """§11: each prompt's original and modulated text (shortened) and the token diff."""
    def short(text: str) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"
    return pd.DataFrame([(short(r["prompt"]), short(r["original"]), short(r["modulated"]),
                          f"{r['diffs']}/{r['max_len']}") for r in block["comparisons"]],
                        columns=["prompt", "original", "modulated", "token diff"])


def field_lines(block: dict[str, Any]) -> list[str]:
    """§12's health: parameters, alphas per layer and expert, validity, cv_check, preservation."""
    h, cv = block["health"], block["cv_check_seed"]
    cv_text = "n/a" if cv.get("cv") is None or not np.isfinite(cv["cv"]) else f"{cv['cv']:.3f}"
    return [
        f"{block['params']:,} parameters (d_model {block['config']['d_model']}, "
        f"{block['config']['n_layers']} layers, experts k = {list(block['config']['expert_ks'])})",
        f"alpha mean {h['alpha_mean']:.4f} (min {h['alpha_min']:.4f}, max {h['alpha_max']:.4f}; "
        f"clamped to [{block['config']['alpha_min']}, {block['config']['alpha_max']}], the "
        f"phase boundary is {PHASE_BOUNDARY})",
        f"validity (EMA of vol² > 0) {h.get('validity_mean', float('nan')):.3f}; seed's cv_check "
        f"CV {cv_text} (band {block['config']['cv_target']} ± {block['config']['cv_tolerance']}"
        f", in band: {cv.get('in_band', 'n/a')})",
        f"preservation {block['preservation']['mean']:.4f}",
    ]
