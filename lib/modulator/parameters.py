"""The parameter model of the modulator notebook (seed 004 §7-§12): one model, its sections.

Sections take the seed's values by default: `data` (D12 matching, D8 encoding), `pipeline` (§8:
Wu-Palmer anchors, spectral G, k-NN fill, Procrustes), `evaluation` (the D10 pairs every section
is measured on), `training` (§9), `sweep` (§10), `generation` (§11) and `field` (§12, trained with
§9's loop and measured with §10's protocol). `training`, `sweep`, `generation` and `field` can be
switched off with `null`. The seed's defects that change numbers have a switch each, at the top:
`seed_faithful` (B9: unshifted decoder labels and unscaled logits), `eval_disjoint_from_anchors`
(B8: the seed evaluated on its Wu-Palmer anchors) and `unmatched_rows_seed` (B8: `null` draws the
unmatched vocabulary rows from a fresh, recorded seed, as the seed drew them unseeded).
Defaults come from the modules that own them (`lib.modulator.train`, `.field`, `.generation`);
the §8/§10 sizes are the keyword defaults of `lib.modulator.pipeline` (a test keeps them equal:
importing the pipeline here would slow every parameter check).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from lib.models.base import torch_dtype
from lib.modulator.field import FieldModulatorConfig
from lib.modulator.generation import (
    MAX_NEW_TOKENS,
    PROMPTS,
    SWEEP_ALPHAS,
    SWEEP_MAX_NEW_TOKENS,
    SWEEP_PROMPT,
)
from lib.modulator.train import TrainConfig
from lib.params import (
    MIN_REL,
    WORDNET_LEMMAS,
    Distinct,
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

Seed = NonNegativeInt
Alpha = Annotated[float, Field(gt=0, lt=1)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
MAX_LR = 1.0  # AdamW moves each weight by about lr per step: above 1 the loss diverges
LearningRate = Annotated[float, Field(gt=0, le=MAX_LR)]
WeightDecay = Annotated[float, Field(ge=0, le=1)]  # AdamW scales weights by 1 - lr·weight_decay
LemmaCount = capped(WORDNET_LEMMAS, "the distinct lemma names of WordNet 3.0")
# §8's target norm in units of the encoder's mean representation norm (the seed's 0.1): at 100 the
# initial alpha 0.01 already injects a target as large as the representation itself (tiny T5's
# preservation: 0.94 at 10, 0.21 at 1,000); 1e30 overflows float32 and the first loss is NaN
MAX_SCALE_FACTOR = 100.0


def _scale_factor(value: float) -> float:
    if value > MAX_SCALE_FACTOR:
        raise ValueError(f"{value:g} is above the maximum {MAX_SCALE_FACTOR:g} (the §8 target's "
                         "norm in units of the encoder's mean representation norm, the seed's "
                         "0.1: at 100 the initial alpha 0.01 already injects a target as large as "
                         "the representation)")
    return value
_TRAIN = TrainConfig()
_FIELD = FieldModulatorConfig()
OPTIONAL_SECTIONS = ("training", "sweep", "generation", "field")


class DataSection(StrictModel):
    """D12 single-token WordNet lemmas and D8 mean-pooled definitions."""

    template: str | None = None  # None: the family's ("summarize: {definition}" for T5)
    seed: Seed = 42  # the `max_items` draw
    batch_size: PositiveInt = 64
    max_length: Annotated[int, Field(ge=2)] = 128


class PipelineSection(StrictModel):
    """§8 steps 1-4: anchors, spectral embedding, k-NN softmax fill, Procrustes projection."""

    n_anchor: LemmaCount = 3000
    n_geo: PositiveInt = 64
    seed: Seed = 42
    k_neighbors: PositiveInt = 10
    temperature: Positive = 10.0
    scale_factor: Annotated[float, Field(gt=0), AfterValidator(_scale_factor)] = 0.1
    initial_alpha: Alpha = 0.01

    @model_validator(mode="after")
    def _geo_below_anchors(self) -> PipelineSection:
        if self.n_geo >= self.n_anchor:
            raise ValueError(f"n_geo ({self.n_geo}) must be smaller than n_anchor "
                             f"({self.n_anchor})")
        if self.k_neighbors > self.n_anchor:
            raise ValueError(f"k_neighbors ({self.k_neighbors}) exceeds n_anchor "
                             f"({self.n_anchor}): the k-NN fill takes its neighbours among "
                             "the anchors")
        return self


class EvaluationSection(StrictModel):
    """D10 pairs (the same for every set measured), D11 gradient, D1 pentachora."""

    seed: Seed = 42
    n_rel: RelCount = 3000
    n_pairs: PairCount = 50_000
    similarity: Literal["path", "wup"] = "path"
    n_simplices: SimplexCount = 500
    n_boot: PositiveInt = 200  # bootstrap resamples of the evaluation lemmas (intervals)


class TrainingSection(StrictModel):
    """§9's hyperparameters (TrainConfig's defaults); `max_steps` caps a short run."""

    epochs: PositiveInt = _TRAIN.epochs
    batch_size: PositiveInt = _TRAIN.batch_size
    lr: LearningRate = _TRAIN.lr
    weight_decay: WeightDecay = _TRAIN.weight_decay
    clip: Positive = _TRAIN.clip
    max_input_len: Annotated[int, Field(ge=2)] = _TRAIN.max_input_len
    max_target_len: Annotated[int, Field(ge=2)] = _TRAIN.max_target_len
    val_fraction: Alpha = _TRAIN.val_fraction
    alpha_every: PositiveInt = _TRAIN.alpha_every
    seed: Seed = _TRAIN.seed
    max_steps: PositiveInt | None = _TRAIN.max_steps
    reset_alpha: Alpha = 0.01  # §9 resets every alpha logit to logit(0.01) before training
    save: bool = True  # the trained modulator as safetensors beside the results


class SweepSection(StrictModel):
    """§10: the §8 modulator at a static alpha on every layer, and the 0.29154 constant."""

    alphas: Annotated[list[Alpha], Field(min_length=1)] = list(SWEEP_ALPHAS)
    include_phase_boundary: bool = True


class GenerationSection(StrictModel):
    """§11: the trained modulator's generations against the unmodulated model (seq2seq only)."""

    prompts: Annotated[list[str], Field(min_length=1)] = list(PROMPTS)
    max_new_tokens: PositiveInt = MAX_NEW_TOKENS
    temperature: NonNegative = 0.0  # 0: greedy, the seed's talk()
    top_p: Alpha = 0.9
    seed: Seed = 0  # torch's generator before each sampled generation
    sweep_prompt: str = SWEEP_PROMPT
    sweep_alphas: list[Alpha] = list(SWEEP_ALPHAS)  # empty: no sweep
    sweep_max_new_tokens: PositiveInt = SWEEP_MAX_NEW_TOKENS


class FieldSection(StrictModel):
    """§12: the multi-expert field modulator (FieldModulatorConfig's defaults; d_model and
    n_layers come from the model), trained with §9's loop and `training`'s keys."""

    seed: Seed = 0  # the Linear layers' init (the seed used torch's unseeded default)
    expert_ks: Annotated[list[PositiveInt], Field(min_length=1), Distinct] = list(
        _FIELD.expert_ks)  # one expert per k
    expert_edim: PositiveInt = _FIELD.expert_edim
    initial_alpha: Alpha = _FIELD.initial_alpha
    alpha_max: Alpha = _FIELD.alpha_max
    alpha_min: Alpha = _FIELD.alpha_min
    null_space_fraction: Annotated[float, Field(ge=0, lt=1)] = _FIELD.null_space_fraction
    null_space_position: Literal["tail", "random"] = "tail"
    gradient_scale: Positive = _FIELD.gradient_scale
    cv_target: Positive = _FIELD.cv_target
    cv_tolerance: Positive = _FIELD.cv_tolerance
    deform_scale: Positive = _FIELD.deform_scale
    training: TrainingSection = TrainingSection()

    @model_validator(mode="after")
    def _consistent(self) -> FieldSection:
        if self.alpha_min > self.alpha_max:
            raise ValueError(f"alpha_min ({self.alpha_min}) exceeds alpha_max ({self.alpha_max})")
        if self.expert_edim < max(self.expert_ks):
            raise ValueError(f"expert_edim ({self.expert_edim}) must be >= the largest expert k "
                             f"({max(self.expert_ks)})")
        if self.training.lr * self.gradient_scale > MAX_LR:
            raise ValueError(f"training.lr x gradient_scale ({self.training.lr:g} x "
                             f"{self.gradient_scale:g}) is the experts' learning rate and exceeds "
                             f"{MAX_LR:g}: lower gradient_scale")
        return self


@register
class ModulatorParameters(RunParameters):
    """One modulator run: an encoder (T5 or a BERT-like), the §8-§12 sections, the B8/B9
    switches."""

    experiment: Literal["modulator"]
    model: ModelName
    dtype: str = "float32"
    max_items: Annotated[int, Field(ge=5)] | None = None  # cap on the matched lemmas (embedded)
    layers: Annotated[list[NonNegativeInt], Field(min_length=1)] | None = None  # None: all
    seed_faithful: bool = False  # B9 as executed: unshifted labels, unscaled lm_head logits
    eval_disjoint_from_anchors: bool = True  # B8 fixed; false: evaluate on the anchors
    unmatched_rows_seed: Seed | None = 0  # B8: None draws a fresh seed (recorded), as unseeded
    data: DataSection = DataSection()
    pipeline: PipelineSection = PipelineSection()
    evaluation: EvaluationSection = EvaluationSection()
    training: TrainingSection | None = TrainingSection()
    sweep: SweepSection | None = SweepSection()
    generation: GenerationSection | None = GenerationSection()
    field: FieldSection | None = FieldSection()

    @field_validator("model")
    @classmethod
    def _has_an_encoder(cls, model: str) -> str:
        from lib.models.registry import text_encoder  # hub ids: their preset, if they have one

        if text_encoder(model) is False:
            raise ValueError(f"{model} has no text encoder to modulate; use an encoder such as "
                             "embedded/all-minilm-l6-v2, tiny/t5 or google-t5/t5-small")
        return model

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str) -> str:
        torch_dtype(value)  # the loader's own check: ValueError names the choices
        return value

    @model_validator(mode="after")
    def _sizes_fit(self) -> ModulatorParameters:
        if self.max_items is not None and self.pipeline.n_anchor > self.max_items:
            raise ValueError(f"pipeline.n_anchor ({self.pipeline.n_anchor}) exceeds max_items "
                             f"({self.max_items})")
        if (self.max_items is not None and self.eval_disjoint_from_anchors
                and self.max_items - self.pipeline.n_anchor < MIN_REL):
            raise ValueError(f"max_items ({self.max_items}) leaves "
                             f"{self.max_items - self.pipeline.n_anchor} lemmas beyond "
                             f"pipeline.n_anchor ({self.pipeline.n_anchor}) to evaluate on, and "
                             "eval_disjoint_from_anchors needs at least "
                             f"{MIN_REL}: raise max_items or lower pipeline.n_anchor")
        return self
