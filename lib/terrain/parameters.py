"""The parameter model of the terrain notebook: one model (or an initialization) per run, and the
sections of seed 004 it measures, each switched on by giving its block (absent = off).

Sections: `embedding` (§1 or §13a protocol on the input-embedding matrix), `layers` (§1 encoder
layer by layer, encoder vs decoder, position bias; needs the model built), `wordnet` (§2, and §3's
50-seed stability as its `stability` block), `weights` (the §4-§6 battery, streamed; optionally
beside the architecture's initialization), `projection` (§13b: another model's embeddings
projected onto this one's). Sizes default to the seed's.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from lib.params import ModelName, NonNegativeInt, PositiveInt, RunParameters, StrictModel, register
from lib.terrain.weights.baseline import CONFIGS as INIT_CONFIGS
from lib.terrain.weights.battery import THRESHOLDS

Seed = NonNegativeInt
SECTIONS = ("embedding", "layers", "wordnet", "weights", "projection")


class EmbeddingSection(StrictModel):
    """§1 (isotropic Gaussian reference, cov/N) or §13a (per-dimension reference, 10k PR sample)."""

    protocol: Literal["section1", "section13a"] = "section1"
    seed: Seed = 42
    n_cosine: PositiveInt = 5000
    n_simplices: PositiveInt = 1000
    n_distances: PositiveInt = 2000
    n_pca: PositiveInt = 10000  # §13a only


class LayersSection(StrictModel):
    """§1: encoder layer-by-layer geometry (hooks), encoder vs decoder and position bias (T5)."""

    encoder_decoder: bool = True  # T5-style models only
    position_bias: bool = True  # models with a relative position bias only


class StabilitySection(StrictModel):
    """§3: the WordNet alignment over seeds 0..n_seeds-1 at smaller samples."""

    n_seeds: Annotated[int, Field(ge=2)] = 50
    n_rel: PositiveInt = 2000
    n_pairs: PositiveInt = 200_000
    n_simplices: PositiveInt = 500
    n_chains: PositiveInt = 1000


class WordNetSection(StrictModel):
    """§2: single-token lemmas, pooled definitions, relational alignment static vs encoder."""

    template: str | None = None  # None: the family's ("summarize: {definition}" for T5)
    slow_tokenizer: bool = False  # D8/D12: the seed matched with T5Tokenizer(legacy=True)
    batch_size: PositiveInt = 64
    max_length: Annotated[int, Field(ge=2)] = 128
    seed: Seed = 42
    n_rel: PositiveInt = 3000
    n_pairs: PositiveInt = 500_000
    n_simplices: PositiveInt = 1000
    exact_edges: bool = False  # False: the seed's band edges (B16), as executed
    stability: StabilitySection | None = None


class WeightsSection(StrictModel):
    """§4-§6: the weight battery streamed from the checkpoint, and its initialization baseline."""

    thresholds: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)] = list(
        THRESHOLDS)
    trained: bool = True  # False: only the initialization (e.g. init/t5-small at real size)
    init_baseline: bool = False
    init_seed: Seed = 0


class ProjectionSection(StrictModel):
    """§13b: the larger model's embeddings projected (PCA + Procrustes) onto this model's."""

    source: ModelName
    seed: Seed = 42
    n_pca: PositiveInt = 50_000
    n_anchor: PositiveInt = 10_000
    n_test: PositiveInt = 5_000


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
        return model

    @model_validator(mode="after")
    def _some_section(self) -> TerrainParameters:
        if not any(getattr(self, s) is not None for s in SECTIONS):
            raise ValueError(f"give at least one section: {', '.join(SECTIONS)}")
        from lib.models.registry import text_encoder

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
