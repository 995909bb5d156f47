"""The parameter model of the terrain notebook: one model (or an initialization) per run, and the
sections of seed 004 it measures, each switched on by giving its block (absent = off).

Sections: `embedding` (§1's or §13a's protocol on the input-embedding matrix), `layers` (§1 encoder
layer by layer, encoder vs decoder, position bias; needs the model built), `wordnet` (§2, and §3's
50-seed stability as its `stability` block), `weights` (the §4-§6 battery, streamed; optionally
beside the architecture's initialization), `projection` (§13b: another model's embeddings
projected onto this one's). Sizes default to the seed's.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from lib.models.registry import text_encoder
from lib.params import (
    RANDOM_PREFIX,
    ModelName,
    NonNegativeInt,
    PairCount,
    PositiveInt,
    RelCount,
    RunParameters,
    SimplexCount,
    StrictModel,
    capped,
    register,
)
from lib.terrain.alignment import BASELINES
from lib.terrain.embeddings import SPREAD_QUANTITIES
from lib.terrain.weights.baseline import CONFIGS as INIT_CONFIGS
from lib.terrain.weights.battery import Q_THRESHOLD, THRESHOLDS

Seed = NonNegativeInt
SECTIONS = ("embedding", "layers", "wordnet", "weights", "projection")
WORDNET_SYNSETS = 117_659  # WordNet 3.0: a hypernym chain starts at each matched synset at most
MAX_VOCAB_ROWS = 1_000_000  # above every model's vocabulary (Gemma 3: 262,144 rows)
MAX_PAIRWISE_ROWS = 20_000  # all n(n-1)/2 cosines or distances of the sample sit in memory at once
MAX_SEEDS = 1_000  # 20x the seed's 50 stability seeds
VocabRows = capped(MAX_VOCAB_ROWS, "more rows than any model's vocabulary; the run also checks "
                   "the model's own")
PairwiseRows = capped(MAX_PAIRWISE_ROWS, "all n(n-1)/2 pairwise values of the sample are held in "
                      "memory at once; the seed sampled 5,000")
SplitRows = capped(MAX_VOCAB_ROWS, "more rows than any model's vocabulary", minimum=2)
SeedCount = capped(MAX_SEEDS, "one full alignment per seed; the seed ran 50", minimum=2)
ChainCount = capped(WORDNET_SYNSETS, "the synsets of WordNet 3.0, one chain each at most")
BootCount = capped(10_000, "each resample reweights every pair; 200-2,000 are usual", minimum=2)
# issue 24: initializations measured for the spread of what random weights give (nulls.py);
# each costs a build and a measurement (seconds for the embedded models)
InitSeeds = capped(100, "each seed builds and measures the architecture once; 5 give the "
                   "spread the report reads", minimum=0)


def _not_random(model: str) -> str:
    """Terrain reads real checkpoints: a `random/` architecture has none to measure."""
    if model.startswith(RANDOM_PREFIX):
        inner = model.removeprefix(RANDOM_PREFIX)
        raise ValueError(f"{model} is an architecture at random initialization, which terrain "
                         f"does not measure (it reads real weights): use {inner} itself, a tiny/ "
                         "model, or weights: {init_baseline: true} for the initialization beside "
                         f"the trained weights ({', '.join(INIT_CONFIGS)} for it alone)")
    return model


class EmbeddingSection(StrictModel):
    """The embedding protocol: `all_rows_isotropic` (seed 004 §1: spectrum over all rows, cov/N,
    isotropic Gaussian reference) or `sampled_per_dimension` (§13a: spectrum over an `n_pca`-row
    sample, per-dimension Gaussian reference)."""

    protocol: Literal["all_rows_isotropic", "sampled_per_dimension"] = "all_rows_isotropic"
    seed: Seed = 42
    n_cosine: PairwiseRows = 5000
    n_simplices: SimplexCount = 1000
    n_distances: PairwiseRows = 2000
    n_pca: VocabRows = 10000  # sampled_per_dimension only
    # issue 24: the claimed quantities (PR/dim, mean cosine, volume CV and ratio, digit
    # correlation) on the input embedding at initialization, seeds 0..init_seeds-1 (0: none);
    # `init_quantities` keeps those a run's claims read (each costs per seed)
    init_seeds: InitSeeds = 0
    init_quantities: list[str] = list(SPREAD_QUANTITIES)

    @field_validator("init_quantities")
    @classmethod
    def _known_quantities(cls, quantities: list[str]) -> list[str]:
        unknown = [q for q in quantities if q not in SPREAD_QUANTITIES]
        if unknown or not quantities or len(set(quantities)) != len(quantities):
            raise ValueError(f"{', '.join(map(repr, unknown)) or 'empty or repeated'}: list "
                             f"some of {', '.join(SPREAD_QUANTITIES)}, each once")
        return quantities


class LayersSection(StrictModel):
    """§1: encoder layer-by-layer geometry (hooks), encoder vs decoder and position bias (T5)."""

    encoder_decoder: bool = True  # T5-style models only
    position_bias: bool = True  # models with a relative position bias only


class StabilitySection(StrictModel):
    """§3: the WordNet alignment over seeds 0..n_seeds-1 at smaller samples."""

    n_seeds: SeedCount = 50
    n_rel: RelCount = 2000
    n_pairs: PairCount = 200_000
    n_simplices: SimplexCount = 500
    n_chains: ChainCount = 1000


class WordNetSection(StrictModel):
    """§2: single-token lemmas, pooled definitions, relational alignment static vs encoder."""

    template: str | None = None  # None: the family's ("summarize: {definition}" for T5)
    slow_tokenizer: bool = False  # D8/D12: the seed matched with T5Tokenizer(legacy=True)
    batch_size: PositiveInt = 64
    max_length: Annotated[int, Field(ge=2)] = 128
    seed: Seed = 42
    n_rel: RelCount = 3000
    n_pairs: PairCount = 500_000
    n_simplices: SimplexCount = 1000
    exact_edges: bool = False  # False: the seed's band edges (B16), as executed
    stability: StabilitySection | None = None
    # issue 16: the alignment beside its baselines (lib.terrain.alignment.BASELINES) on the same
    # pairs, and, with `stability`, the percentile bootstrap over synsets of the correlations
    baselines: list[str] = list(BASELINES)
    n_boot: BootCount = 200
    boot_seed: Seed = 0

    @field_validator("baselines")
    @classmethod
    def _known_baselines(cls, baselines: list[str]) -> list[str]:
        unknown = [b for b in baselines if b not in BASELINES]
        if unknown or len(set(baselines)) != len(baselines):
            raise ValueError(f"{', '.join(map(repr, unknown)) or 'a repeated entry'}: list "
                             f"each of {', '.join(BASELINES)} at most once ([] for none)")
        return baselines


class WeightsSection(StrictModel):
    """§4-§6: the weight battery streamed from the checkpoint, and its initialization baseline."""

    thresholds: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)] = list(
        THRESHOLDS)
    trained: bool = True  # False: only the initialization (e.g. init/t5-small at real size)
    init_baseline: bool = False
    init_seed: Seed = 0
    # issue 24: initializations init_seed, init_seed + 1, ... whose spread is the baseline
    # (the first is the full init battery; 1 = that one alone, no spread)
    init_seeds: InitSeeds = 1
    init_spread_qk: bool = True  # False: the spread without QK signs (its eigvalsh, most of a
    # seed's cost, where no claim reads them)

    @field_validator("thresholds")
    @classmethod
    def _has_q_threshold(cls, thresholds: list[float]) -> list[float]:
        if Q_THRESHOLD not in thresholds:
            raise ValueError(f"must include {Q_THRESHOLD} (the \"Q sparsity\" share of |w| < "
                             f"{Q_THRESHOLD} the tables and the summary read), e.g. "
                             f"{list(THRESHOLDS)}")
        return thresholds

    @model_validator(mode="after")
    def _measures_something(self) -> WeightsSection:
        if not self.trained and not self.init_baseline:
            raise ValueError("trained: false with init_baseline: false measures nothing: set "
                             "init_baseline: true (the initialization alone) or trained: true")
        if self.init_seeds > 1 and not self.init_baseline:
            raise ValueError(f"init_seeds: {self.init_seeds} spreads the initialization "
                             "baseline: set init_baseline: true, or init_seeds: 1")
        if self.init_seeds < 1:
            raise ValueError("init_seeds counts the initializations measured, the first being "
                             "the init battery: give 1 or more")
        return self


class ProjectionSection(StrictModel):
    """§13b: the larger model's embeddings projected (PCA + Procrustes) onto this model's."""

    source: ModelName
    seed: Seed = 42
    n_pca: VocabRows = 50_000
    n_anchor: SplitRows = 10_000
    n_test: SplitRows = 5_000

    @field_validator("source")
    @classmethod
    def _real_source(cls, source: str) -> str:
        return _not_random(source)


@register
class TerrainParameters(RunParameters):
    """One terrain run: a model and the sections measured on it."""

    experiment: Literal["terrain"]
    model: ModelName  # a registry name, hub id, or init/<config> for an initialization only
    embedding: EmbeddingSection | None = None
    layers: LayersSection | None = None
    wordnet: WordNetSection | None = None
    weights: WeightsSection | None = None
    projection: ProjectionSection | None = None

    @field_validator("model")
    @classmethod
    def _known_init(cls, model: str) -> str:
        if model.startswith("init/") and model not in INIT_CONFIGS:
            raise ValueError(f"unknown initialization {model!r}; known: {', '.join(INIT_CONFIGS)}")
        return _not_random(model)

    @model_validator(mode="after")
    def _some_section(self) -> TerrainParameters:
        if not any(getattr(self, s) is not None for s in SECTIONS):
            raise ValueError(f"give at least one section: {', '.join(SECTIONS)}")
        for section in ("layers", "wordnet"):
            if getattr(self, section) is not None and text_encoder(self.model) is False:
                raise ValueError(f"{section}: {self.model} has no text encoder to run; switch the "
                                 "section off or use an encoder (e.g. embedded/all-minilm-l6-v2)")
        if self.model.startswith("init/") and (self.weights is None or self.weights.trained
                                                or any(getattr(self, s) is not None
                                                       for s in SECTIONS if s != "weights")):
            raise ValueError(f"{self.model} is an initialization only: give just "
                             "`weights: {trained: false, init_baseline: true}`")
        return self

