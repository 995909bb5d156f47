"""The parameter models of the attention experiments (E11, E11-T, E08): the E11-v3 protocol.

Defaults and choices come from the modules that own them: entropy modes from
`lib.attention.entropy`, quantizations from `lib.models.base`, the prompt sets from
`lib.attention.prompts`, seeds and bootstrap settings from `lib.attention.stats`, the
head-permutation null's from `lib.attention.nulls`, the seed null's from
`lib.attention.seednull` and `lib.attention.verdicts`, the sanity
dtypes and threshold from `lib.attention.sanity`, the heritage band from
`lib.attention.verdicts`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from lib.attention.entropy import MAX_LENGTH, MIN_PROMPT_TOKENS, MODES
from lib.attention.nulls import NULL_CI, NULL_N, NULL_SEED
from lib.attention.prompts import PROMPT_SET, PROMPT_SETS
from lib.attention.sanity import DTYPE_LABELS, SI_THRESHOLD
from lib.attention.seednull import SEED_NULL_N
from lib.attention.stats import BOOTSTRAP_CI, BOOTSTRAP_N, BOOTSTRAP_SEED, SEEDS
from lib.attention.verdicts import (
    HERITAGE_TARGET,
    HERITAGE_TOLERANCE,
    SEED_NULL_ALPHA,
    SEED_NULL_MIN,
)
from lib.models.base import QUANTIZATIONS, torch_dtype
from lib.params import (
    ClaimGroup,
    ClaimId,
    Distinct,
    ModelName,
    NonNegativeInt,
    PositiveInt,
    ReferenceRun,
    RunParameters,
    SparseModel,
    StrictModel,
    register,
)

EntropyMode = Literal[MODES]  # type: ignore[valid-type]
Quantization = Literal[QUANTIZATIONS]  # type: ignore[valid-type]
SanityDtype = Literal[tuple(DTYPE_LABELS)]  # type: ignore[valid-type]
PromptSet = Literal[tuple(PROMPT_SETS)]  # type: ignore[valid-type]
Fraction = Annotated[float, Field(gt=0, lt=1)]


class Bootstrap(StrictModel):
    """Resampling of the prompts; each key defaults on its own."""

    n: PositiveInt = BOOTSTRAP_N
    seed: NonNegativeInt = BOOTSTRAP_SEED
    ci: Fraction = BOOTSTRAP_CI


class PermutationNull(StrictModel):
    """The head-permutation null of the SI (heads shuffled within each layer); each key
    defaults on its own."""

    n: PositiveInt = NULL_N
    seed: NonNegativeInt = NULL_SEED
    ci: Fraction = NULL_CI


class SeedNull(StrictModel):
    """The seed null: the architecture at random initialization from `n` seeds (the collapse
    verdict's null and the init baseline of a real model); `alpha`: the family-wise error of
    the two collapse signs (Holm)."""

    n: Annotated[int, Field(ge=SEED_NULL_MIN)] = SEED_NULL_N
    alpha: Fraction = SEED_NULL_ALPHA


class SeedReference(StrictModel):
    """A run over trained checkpoints that differ only in training seed (an E08 run of one
    architecture): how SI varies between trained seeds, shown beside the init seed null."""

    run: ReferenceRun


class MaxMemory(StrictModel):
    """accelerate's max_memory: GPU total minus `gpu_headroom_gib`, `cpu` of CPU offload."""

    gpu_headroom_gib: Annotated[float, Field(ge=0)] = 2.0
    cpu: Annotated[str, Field(pattern=r"^\d+(\.\d+)?\s*[KMGT]i?B$")] = "50GiB"


class PairReference(StrictModel):
    """Another pair run to compare with; `claim` (a claim group) backs it while not yet run."""

    run: ReferenceRun
    claim: ClaimGroup | None = None


class PublishedModel(StrictModel):
    """A reference model's published SI, used only while its reference run is not made."""

    claim: ClaimId
    display: str
    size_b: Annotated[float, Field(gt=0)]
    kind: str  # the attention kind shown in the plot, e.g. MHA
    family: str | None = None  # the family whose sizes E08 compares (default: its display)


class LadderReferences(StrictModel):
    """E08: reference models measured by another run."""

    run: ReferenceRun
    published: list[PublishedModel] | None = None


class LadderModel(SparseModel):
    """An E08 model: registry name or hub id; label and size default to the measured ones."""

    name: ModelName
    display: str | None = None
    size_b: Annotated[float, Field(gt=0)] | None = None
    family: str | None = None  # the family whose sizes E08 compares (default: its model type)


class AttentionParameters(RunParameters):
    """The E11-v3 protocol shared by E11, E11-T and E08."""

    prompt_set: PromptSet = PROMPT_SET
    max_length: Annotated[int, Field(ge=MIN_PROMPT_TOKENS)] = MAX_LENGTH  # >= 2 tokens a prompt
    dtype: str = "bfloat16"
    quantization: Quantization = "none"
    trust_remote_code: bool = False
    use_chat_template: bool = False
    seeds: Annotated[list[NonNegativeInt], Field(min_length=1), Distinct] = list(SEEDS)
    bootstrap: Bootstrap = Bootstrap()
    permutation_null: PermutationNull = PermutationNull()
    seed_null: SeedNull = SeedNull()
    free_hub_cache: bool = False
    max_memory: MaxMemory | None = None
    null_model: bool = True  # also measure each architecture at random init (random/<model>)
    # parameter budget of random/ models (the null models, rehearsal runs): widths shrink until
    # the model fits (lib.models.random_init); None: its CPU-sized default
    random_max_parameters: PositiveInt | None = None

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str) -> str:
        torch_dtype(value)  # the loader's own check: ValueError names the choices
        return value


@register
class E11Parameters(AttentionParameters):
    """E11: territorial collapse on one base/instruct pair (Falcon-40B: cross-scale check)."""

    experiment: Literal["E11"]
    base: ModelName
    instruct: ModelName
    entropy_mode: EntropyMode = "masked"
    sanity_check: bool = False
    cross_scale: PairReference | None = None
    trained_seed_reference: SeedReference | None = None


@register
class E11TParameters(AttentionParameters):
    """E11-T: a GQA pair against the MHA reference run."""

    experiment: Literal["E11-T"]
    base: ModelName
    instruct: ModelName
    entropy_mode: EntropyMode = "padded"
    sanity_check: bool = False
    mha_reference: PairReference
    trained_seed_reference: SeedReference | None = None


@register
class E08Parameters(AttentionParameters):
    """E08: SI across a size ladder, against reference models (heritage or size?)."""

    experiment: Literal["E08"]
    entropy_mode: EntropyMode = "unpadded"
    models: Annotated[list[LadderModel], Field(min_length=1)]
    sanity_variants: Annotated[list[SanityDtype], Field(min_length=1)] = list(DTYPE_LABELS)
    sanity_threshold: Annotated[float, Field(ge=0)] = SI_THRESHOLD
    references: LadderReferences | None = None
    si_target: Fraction = HERITAGE_TARGET
    si_tolerance: Fraction = HERITAGE_TOLERANCE


PairParameters = E11Parameters | E11TParameters
"""A base/instruct pair run (E11, E11-T): `base`, `instruct`, `sanity_check`,
`trained_seed_reference`."""
