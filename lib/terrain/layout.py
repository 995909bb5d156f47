"""The terrain results file, typed (`lib.layout`): the keys read outside the notebook.

Readers: the report's terrain section (`lib.terrain.report`), the cross-run summary
(`lib.terrain.summary` with `weights.summary` and `plots.cross_architecture_figure`), the claims
of `lib/claims.yaml` (their fields, baselines and resolution effects) and the baseline check
(`lib.checks`: a spread's `low`/`high`, a reference's `distinguishable`). Every other key of a
results file is kept as it is (`extra="allow"`). A key the notebook always writes is required
(a section switched off is null, not absent), a key only some runs have is optional, so a
renamed key is refused when the notebook saves (`lib.notebook.Run.save`) and a claim's path
when the registry loads. A number is `Number`: a quantity a run could not define is written as
null (`lib.results.to_jsonable`). No torch, no numpy: the claims registry imports this module
when it loads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict

from lib.layout import Layout

Number = float | None
"""A number of a results file: null where it is not finite."""


class Block(Layout):
    """A terrain results block: declared keys typed strictly (no '0.5' for 0.5, no true for 1)."""

    model_config = ConfigDict(strict=True)


# ------------------------------------------------------------------------ baselines (nulls.py)


class SeedSpread(Block):
    """A quantity over initialization seeds (`nulls.seed_spread`): the rule's interval."""

    source: Literal["initialization seeds"]
    k: int
    seeds: list[int]
    values: list[float]
    mean: Number
    sd: Number
    level: float
    low: Number
    high: Number
    reason: str | None = None


class AnalyticNull(Block):
    """An interval the initializer makes known (`nulls.cross_layer_null`, `position_bias_null`)."""

    source: Literal["analytic"]
    level: float
    low: Number
    high: Number
    mean: Number


class FalsePositive(Block):
    """The rule's leave-one-seed-out false-positive rate (`nulls.false_positive_rate`)."""

    trials: int
    outside: int
    rate: Number


class InitSpread(Block):
    """What random weights give: each quantity's spread over the seeds (`quantities`, keyed
    `<block>/<key>/...` as `weights.baseline.battery_quantities` names them)."""

    seeds: list[int]
    quantities: dict[str, SeedSpread]
    false_positive: FalsePositive


# ----------------------------------------------------------------------------- embedding (§1/§13a)


class CvVersusReference(Block):
    """The volume CV beside its Gaussian reference's, with bootstrap intervals
    (`simplex.cv_versus_reference`)."""

    cv: Number
    reference_cv: Number
    difference_ci: list[float] | None
    distinguishable: bool | None
    n_boot: int
    level: float


class EmbeddingPentachora(Block):
    cv: Number
    reference: str
    reference_cv: Number
    ratio_embed_random: Number
    cv_vs_reference: CvVersusReference


class Mean(Block):
    mean: Number


class Spectrum(Block):
    pr_over_dim: Number


class DigitManifold(Block):
    corr_abs_diff_cosine: Number


class Digits(Block):
    manifold: DigitManifold


class EmbeddingResult(Block):
    """§1 / §13a on the input-embedding matrix (`study.embedding_section`)."""

    vocab: int
    cosine: Mean
    spectrum: Spectrum
    pentachora: EmbeddingPentachora
    digits: Digits
    init_spread: InitSpread | None = None


# ------------------------------------------------------------------------------- WordNet (§2/§3)


class Effect(Block):
    """One defect's number as executed and as taken (`alignment.effect`)."""

    number: str
    as_executed: Number
    taken: Number
    difference: Number
    what: str


class FakeRootEffect(Effect):
    fake_root_share: Number


class Effects(Block):
    """Five defects' numbers both ways (`alignment.defect_effects`; their codes in
    `alignment.EFFECT_DEFECTS`: B3, B10, B11, B16, B17)."""

    hypernym_walk: Effect
    fake_root: FakeRootEffect
    volume_pairing: Effect
    band_edges: Effect
    hypernym_order: Effect


class BaselineAlignment(Block):
    """A baseline of the alignment on the same pairs (`alignment.baseline_alignment`)."""

    pearson: Number
    spearman: Number
    n_pairs: int


class BootstrapInterval(Block):
    ci: list[Number] | None


class SynsetBootstrap(Block):
    """The percentile bootstrap over synsets of the correlations (`stability.synset_bootstrap`)."""

    enc_pearson: BootstrapInterval
    n_boot: int
    level: float


class Stability(Block):
    synset_bootstrap: SynsetBootstrap | None = None


class WordNetResult(Block):
    """§2 and §3 (`study.wordnet_section`)."""

    matched: int
    baselines: dict[str, BaselineAlignment]
    effects: Effects
    stability: Stability | None = None


# ------------------------------------------------------------------------------ weights (§4-§6)


class QkStack(Block):
    """One stack's QK positive fractions over its layers, in one convention."""

    mean_pos_frac: Number
    min_pos_frac: Number
    max_pos_frac: Number
    mean_neg_frac: Number
    first_pos_frac: Number
    last_pos_frac: Number
    trend: Number


QkSummary = dict[str, dict[str, QkStack]]  # "<location>/<attention>" -> convention -> stats


class Qk(Block):
    summary: QkSummary
    layers: list[dict[str, Any]]


class StableRank(Block):
    stable_rank: Number


class SingularValues(Block):
    mean: dict[str, StableRank]  # role -> its matrices' mean metrics


class AdjacentCosines(Block):
    mean: Number
    n_pairs: int


class CrossLayerSummary(Block):
    max_abs_mean: Number


class DeadTotal(Block):
    dead_frac: Number
    weak_frac: Number


class DeadNeurons(Block):
    total: DeadTotal


class PositionBias(Block):
    """A relative position bias's heads by §6's rule (`battery.position_bias_topology`)."""

    mixed: int


class InitBeside(Block):
    """The initialization beside the trained battery (`weights.baseline.attach_init`)."""

    q_sparsity: dict[str, Number]
    sv_mean: dict[str, StableRank]
    qk_summary: QkSummary
    cross_layer_summary: CrossLayerSummary


class Battery(Block):
    """One model's weight battery (`battery.run_battery`), trained or initialized."""

    model: str
    family: str
    q_sparsity: dict[str, Number]
    sv: SingularValues
    qk: Qk
    cross_layer: dict[str, AdjacentCosines]  # "<location>/<role>" -> adjacent-layer cosines
    cross_layer_summary: CrossLayerSummary
    dead_neurons: DeadNeurons
    position_bias: dict[str, PositionBias]  # tensor name -> topology
    init: InitBeside | None = None


class WeightsResult(Block):
    """§4-§6 (`study.weights_section`)."""

    trained: Battery | None
    init: Battery | None
    init_spread: InitSpread | None
    analytic_null: dict[str, AnalyticNull]


# --------------------------------------------------------------------------------- projection


class Relational(Block):
    pearson: Number


class ProjectionResult(Block):
    """§13b (`study.projection_section`)."""

    relational: Relational
    raw_relational: Relational


# ------------------------------------------------------------------------------------ the file


class ModelRecord(Block):
    name: str
    source: str
    revision: str | None


class Headline(Block):
    """The few numbers compared across runs (`study.headline`; the summary's rows), each present
    where its section ran."""

    mean_cosine: Number = None
    pr_over_dim: Number = None
    volume_cv: Number = None
    volume_cv_reference: Number = None
    volume_ratio: Number = None
    digit_corr: Number = None
    matched: int | None = None
    static_pearson: Number = None
    encoder_pearson: Number = None
    static_spearman: Number = None
    encoder_spearman: Number = None
    lift_pearson: Number = None
    lift_spearman: Number = None
    gradient_static: Number = None
    gradient_encoder: Number = None
    stability_ci: dict[str, list[Number] | None] | None = None
    stability_bootstrap_ci: list[Number] | None = None
    baseline_tfidf_pearson: Number = None
    baseline_random_pearson: Number = None
    weights_measured: Literal["trained", "initialization"] | None = None
    q_sparsity: dict[str, Number] | None = None
    qk_stack: str | None = None
    qk_pos_frac: Number = None
    cross_layer_max_abs_mean: Number = None
    init_q_sparsity: dict[str, Number] | None = None
    init_qk_pos_frac: Number = None
    init_cross_layer_max_abs_mean: Number = None
    projection_token_cosine: Number = None


class TerrainResult(Block):
    """`results/<profile>/terrain_<run>.json`: one model, the sections its parameter file ran
    (null where off), the headline and the provenance."""

    experiment: Literal["terrain"]
    run: str
    profile: str
    description: str
    model: ModelRecord
    embedding: EmbeddingResult | None
    layers: dict[str, Any] | None
    wordnet: WordNetResult | None
    weights: WeightsResult | None
    projection: ProjectionResult | None
    headline: Headline
    provenance: dict[str, Any]
