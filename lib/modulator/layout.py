"""The modulator results file, typed (`lib.layout`): the keys read outside the notebook.

Readers: the report's modulator section (`lib.modulator.report`), the findings
(`lib.modulator.findings`), the figure (`lib.modulator.plots`), the headline
(`lib.modulator.study.headline`), the claims of `lib/claims.yaml` (their fields and resolution
effects) and the notebook's own tables. Every other key of a results file is kept as it is
(`extra="allow"`). A key the notebook always writes is required (a section switched off is null,
not absent), a key only some runs have is optional, so a renamed key is refused when the
notebook saves (`lib.notebook.Run.save`) and a claim's path when the registry loads. A number is
`Number`: a quantity a run could not define is written as null (`lib.results.to_jsonable`). No
torch, no numpy: the claims registry imports this module when it loads.

The blocks are named after what they measure; the seed's section (seed 004 §8-§12) and defect
code (SPEC-terrain B2, B7, B8, B11, B12) of each are in its docstring (`lib.modulator.renames`
maps the old keys).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict

from lib.layout import Layout

Number = float | None
"""A number of a results file: null where it is not finite."""
Interval = list[Number] | None
"""A bootstrap interval [low, high], null where there is none."""


class Block(Layout):
    """A modulator results block: declared keys typed strictly (no '0.5' for 0.5)."""

    model_config = ConfigDict(strict=True)


# ------------------------------------------------------------------------------ measurements


class Resampled(Block):
    """The intervals of a Pearson and its lift from resampling the evaluation lemmas, with how
    they were drawn (`bootstrap.relational_evaluation`); absent where the run drew none."""

    pearson_ci: Interval = None
    relative_lift_pearson_ci: Interval = None
    n_boot: int | None = None
    level: float | None = None


class SetMeasures(Resampled):
    """One representation set's D10/D11 numbers against the unmodulated encoder ('Original'),
    with the intervals from resampling the evaluation lemmas (`bootstrap.relational_evaluation`)."""

    pearson: Number
    spearman: Number
    gradient: Number
    delta_pearson: Number
    delta_spearman: Number
    relative_lift_pearson: Number
    relative_lift_spearman: Number


class Pairs(Block):
    """The D10 pairs every set is measured on (`pipeline.evaluation_pairs`, arrays left out)."""

    seed: int
    n_rel: int
    n_pairs: int
    similarity: str
    eval_disjoint_from_anchors: bool
    leakage_fraction: Number


class Band(Block):
    """Mean cosine of each set (keyed by its name) in one path-similarity band [lo, hi)."""

    lo: float
    hi: float
    n: int


class Relational(Block):
    sets: dict[str, SetMeasures]
    pairs: Pairs
    bands: list[Band]
    reference: str


class Preservation(Block):
    """Mean cosine per definition between the unmodulated and the modulated pooled reps."""

    mean: Number
    min: Number
    std: Number


class Volumes(Block):
    """A D1 volume summary (`terrain.simplex.volume_summary`)."""

    cv: Number = None


class PairedVolumes(Block):
    original: Volumes
    modulated: Volumes
    n_both_valid: int


class UnpairedVolumes(Block):
    original: Volumes
    modulated: Volumes


class Pentachora(Block):
    """D1 CVs, paired by index (B11 fixed) and unpaired as executed (`pipeline.pentachora`)."""

    paired: PairedVolumes
    unpaired_as_executed: UnpairedVolumes
    n_simplices: int


class Evaluation(Block):
    """A modulator measured (`pipeline.evaluate_modulator`): preservation, relational, D1."""

    name: str
    preservation: Preservation
    relational: Relational
    pentachora: Pentachora


# --------------------------------------------------------------------- §8: Procrustes modulator


class UnmatchedRows(Block):
    """B8: the vocabulary rows no lemma matched, left at their N(0, 1) initialization."""

    unmatched_rows: int
    init_seed: int
    unmatched_row_norm_mean: Number
    matched_row_norm_mean: Number
    note: str


class Pipeline(Block):
    """§8 steps 1-4 (`pipeline.procrustes_modulator`): anchors, spectral G, k-NN fill, Procrustes;
    `injection_note` is B7, `unmatched` B8."""

    n_anchor: int
    wup_pairs: int
    n_geo: int
    recon_corr: Number
    alignment_cos_mean: Number
    alignment_cos_std: Number
    modulator_params: int
    injection_note: str
    unmatched: UnmatchedRows


class ProcrustesResult(Block):
    """§8: the untrained Procrustes modulator at its initial alpha (the seed's α = 0.01 row;
    `study.procrustes_section`)."""

    pipeline: Pipeline
    evaluation: Evaluation


# ----------------------------------------------------------------------------- §9: training


class AlphaTest(Block):
    """Whether training could test alpha with depth (`bootstrap.alpha_test`)."""

    verdict: str
    steps: int
    reason: str | None
    monotonic_increasing: bool | None


class TrainRun(Block):
    """One training run (`train.TrainRun.to_dict`) with its alpha test."""

    objective: str
    n_train: int
    n_val: int
    steps: int
    step_loss: list[Number]
    val_loss: list[Number]
    alpha_history: list[Any]
    alpha_steps: list[int]
    final_alpha: list[Any]
    config: dict[str, Any]
    encoder_unchanged: bool
    alpha_test: AlphaTest
    saved_to: str | None = None


class LerpTrainRun(TrainRun):
    """§9's run of the LERP modulator: its alphas against the seed's constants."""

    trainable_params: int
    frozen_params: int
    final_alpha_mean: Number
    final_alpha_std: Number
    distance_to: dict[str, Number]
    alpha_monotonic_increasing_with_depth: bool | None


class TrainedResult(Block):
    """§9: a copy of the §8 modulator trained on the frozen encoder, then measured
    (`study.trained_section`)."""

    train: LerpTrainRun
    evaluation: Evaluation


# -------------------------------------------------------------------------- §10: alpha sweep


class SweepRow(Block):
    """The untrained §8 modulator at one static alpha on every layer (`pipeline.alpha_sweep`)."""

    alpha: float
    label: str
    preservation: Number
    pearson: Number
    spearman: Number
    gradient: Number
    relative_lift_pearson: Number
    relative_lift_spearman: Number
    original_pearson: Number
    original_gradient: Number
    cv_paired: Number
    cv_original: Number
    pearson_ci: Interval = None
    relative_lift_pearson_ci: Interval = None


class AlphaSweepResult(Block):
    """§10: the rows by alpha (also keyed by `f"{alpha:g}"`), the seed's constants; B2's note
    in `constants_note` (`study.alpha_sweep_section`)."""

    rows: list[SweepRow]
    by_alpha: dict[str, SweepRow]
    pairs: Pairs
    phase_boundary: float
    cosine_constant: float
    constants_note: str
    modulator: str


# --------------------------------------------------------------------------- §11: generation


class Comparison(Block):
    """One prompt through the unmodulated and the modulated encoder (`generation`)."""

    prompt: str
    original: str
    modulated: str
    identical: bool
    diffs: int
    max_len: int


class SweepGeneration(Block):
    alpha: float
    modulated: str
    diffs: int
    max_len: int


class GenerationSweep(Block):
    applicable: bool
    rows: list[SweepGeneration] = []


class GenerationResult(Block):
    """§11 (`study.generation_section`): seq2seq models only; otherwise `applicable` false
    with its `reason`."""

    applicable: bool
    reason: str | None = None
    comparisons: list[Comparison] | None = None
    identical: int | None = None
    alpha_sweep: GenerationSweep | None = None


# ------------------------------------------------------------------------ §12: field modulator


class FieldConfig(Block):
    d_model: int
    n_layers: int
    expert_ks: list[int]
    alpha_min: float
    alpha_max: float
    cv_target: float
    cv_tolerance: float


class CvCheck(Block):
    """The seed's `cv_check` on the modulated reps."""

    cv: Number = None
    in_band: bool | None = None


class FaultDecision(Block):
    """B12: one fault of the seed's field modulator (its letter in `id`) and its treatment."""

    id: str
    fault: str
    decision: str


class FieldResult(Block):
    """§12: the field modulator trained with §9's loop, measured with §10's protocol; its B12
    faults in `fault_decisions` (`study.field_section`)."""

    params: int
    config: FieldConfig
    train: TrainRun
    health: dict[str, Number]
    cv_check_seed: CvCheck
    preservation: Preservation
    pentachora: Pentachora
    fault_decisions: list[FaultDecision]
    relational: Relational | None = None
    saved_to: str | None = None


# ---------------------------------------------------------------------------------- effects


class AnchorArm(Resampled):
    """The §8 modulator's D10 numbers on one token set."""

    pearson: Number
    original_pearson: Number
    delta_pearson: Number
    relative_lift_pearson: Number


class AnchorEvaluation(Block):
    """B8: the §8 modulator scored on its own Wu-Palmer anchors (as executed) and on held-out
    lemmas (corrected), the same reps (`pipeline.anchor_effect`)."""

    number: str
    what: str
    taken: str
    as_executed: AnchorArm
    corrected: AnchorArm
    difference: dict[str, Number]


class PairingArm(Block):
    cv_original: Number
    cv_modulated: Number
    cv_change: Number


class PentachoronPairing(Block):
    """B11: the modulated pentachoron CV from other simplices (as executed) and paired by index
    (corrected) (`pipeline.pairing_effect`)."""

    number: str
    what: str
    taken: str
    as_executed: PairingArm
    corrected: PairingArm
    difference: dict[str, Number]


class Effects(Block):
    anchor_evaluation: AnchorEvaluation
    pentachoron_pairing: PentachoronPairing


# ------------------------------------------------------------------------------------ the file


class ModelRecord(Block):
    name: str
    family: str
    encoder_blocks: int
    hidden_size: int
    layers: list[int]
    objective: str
    seq2seq: bool


class RowsSeed(Block):
    seed: int
    drawn: bool


class Settings(Block):
    """The run's defect switches (B8, B9) and sizes."""

    seed_faithful: bool
    eval_disjoint_from_anchors: bool
    unmatched_rows_seed: int | None
    unmatched_rows_seed_used: RowsSeed
    max_items: int | None
    layers: list[int] | None


class Data(Block):
    matched: int
    used: int
    template: str
    pos_mix: dict[str, Any]


class Headline(Block):
    """The few numbers compared across runs (`study.headline`), each present where its section
    ran; the `anchors_*`/`held_out_*` ones are B8's effect."""

    static_pearson: Number = None
    original_pearson: Number = None
    procrustes_pearson: Number = None
    procrustes_pearson_ci: Interval = None
    procrustes_preservation: Number = None
    leakage_fraction: Number = None
    trained_pearson: Number = None
    trained_pearson_ci: Interval = None
    trained_lift_pearson: Number = None
    trained_lift_pearson_ci: Interval = None
    trained_lift_spearman: Number = None
    trained_alpha_mean: Number = None
    alpha_test: str | None = None
    alpha_monotonic: bool | None = None
    field_pearson: Number = None
    field_lift_pearson: Number = None
    field_lift_pearson_ci: Interval = None
    field_parameters: int | None = None
    field_preservation: Number = None
    anchors_pearson: Number = None
    held_out_pearson: Number = None
    anchors_minus_held_out_pearson: Number = None
    anchors_minus_held_out_token_sets: Number = None
    anchors_minus_held_out_modulator: Number = None


class ModulatorResult(Block):
    """`results/<profile>/modulator_<run>.json`: one encoder, the sections its parameter file ran
    (null where off), the defects' effects, the headline and the provenance."""

    experiment: Literal["modulator"]
    run: str
    profile: str
    description: str
    model: ModelRecord
    settings: Settings
    data: Data
    procrustes: ProcrustesResult
    effects: Effects
    trained: TrainedResult | None
    alpha_sweep: AlphaSweepResult | None
    generation: GenerationResult | None
    field: FieldResult | None
    headline: Headline
    provenance: dict[str, Any]
