"""The results files of E11, E11-T and E08, typed (`lib.layout`): every key a reader outside the
notebook uses, with its type. The readers: the report's sections (`lib.attention.report`), the
pair summary (`lib.attention.summary`), the findings (`lib.attention.readings`), the claims of
`lib/claims.yaml` (their field, baseline and effect paths), and the reference readers of
`lib.attention.study` (`reference_pair`, `ladder_references`, `trained_seed_reference`).

A number is `Number`: JSON null where it is not finite (`lib.results.to_jsonable`). A key a
reader reads with a default is optional here; every other key is required, so a renamed key is
refused when the notebook saves (`lib.notebook.Run.save`), not when the report reads it.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from lib.layout import Layout

Number = float | None
"""A number of a results file: null where it is not finite."""
Interval = list[Number]
"""[low, high]."""


class Block(Layout):
    """A block of an attention results file: strict, so a number stored as a string or a flag
    as a word is refused, not converted (a reader would format it as a number)."""

    model_config = ConfigDict(strict=True)


class Estimate(Block):
    """A figure with its bootstrap interval; null point and interval, with `reason`, where the
    figure is undefined (`lib.attention.stats`)."""

    point: Number
    low: Number
    high: Number
    reason: str | None = None


class NullTest(Block):
    """A figure against its head-permutation null (`lib.attention.nulls`); `p_adjusted` once its
    run's family is adjusted (`lib.attention.multiplicity`)."""

    point: Number
    low: Number
    high: Number
    p: Number
    null_mean: Number
    null_std: Number
    reason: str | None = None
    p_adjusted: Number = None


class HeadPermutation(Block):
    """Each figure of `lib.attention.nulls.NULL_FIGURES` against its null, how the null was
    drawn, and the share of the entropy variance the layer means explain (`depth_share`)."""

    si: NullTest
    group_si: NullTest | None = None
    within_group_correlation: NullTest | None = None
    within_between_ratio: NullTest | None = None
    si_within_groups: NullTest | None = None
    within_group_correlation_across_groups: NullTest | None = None
    n_permutations: int | None = None
    seed: int | None = None
    ci: float | None = None
    depth_share: Number = None


class Specialization(Block):
    si: Estimate


class KvGroups(Block):
    group_si: Estimate
    within_group_correlation: Estimate


class ModelKvGroups(KvGroups):
    num_kv_heads: int
    group_size: int


class AttentionSink(Block):
    mean: Estimate


class Controls(Block):
    """The architecture controls (`lib.attention.stats.CONTROL_FIGURES`) and the
    head-permutation null."""

    specialization: Specialization
    kv_groups: KvGroups
    attention_sink: AttentionSink
    head_permutation: HeadPermutation


class ModelControls(Controls):
    kv_groups: ModelKvGroups


class Architecture(Block):
    attention_kind: str
    family: str
    num_layers: int
    num_heads: int
    num_kv_heads: int


class ModelRecord(Block):
    """What a result says about the model it measured (`lib.attention.study.model_record`)."""

    name: str
    source: str
    revision: str | None
    dtype: str
    quantization: str
    architecture: Architecture
    parameters: int
    rho_head: Number
    rho_kv: Number
    reduction: str | None


class SiAgainstInit(Block):
    """A trained SI against its own architecture's init seeds (`seednull.init_comparison`)."""

    point: Number
    reason: str | None
    n: int
    init_mean: Number
    init_sd: Number
    low: Number
    high: Number
    outside: bool | None
    excess_sd: Number


class InitSeeds(Block):
    """The architecture at random initialization from several seeds; `reason` where not
    measured."""

    architecture: str | None = None
    reduction: str | None = None
    si_against_init: SiAgainstInit | None = None
    reason: str | None = None


class NullModel(Controls):
    """The architecture at random initialization: its controls (the first seed), its record
    (None where not measured) and its init seeds (`lib.attention.study.null_model`)."""

    model: ModelRecord | None
    init_seeds: InitSeeds


class Sanity(Block):
    """E08: the dtype variant that passed its sanity check (`lib.attention.sanity`)."""

    label: str


class ModelBlock(Block):
    """One measured model (`lib.attention.study.ModelRun.block`)."""

    specialization_index: Number
    mean_head_correlation: Number
    mean_head_variance: Number
    si_ci: Interval
    model: ModelRecord
    controls: ModelControls
    sanity: dict[str, Any] | None  # E11 / E11-T: `sanity_check`'s, where the file asks for it


class Bootstrap(Block):
    """The parameter file's bootstrap."""

    n: int
    seed: int
    ci: float


class Methodology(Block):
    """The E11-v3 methodology as the run applied it (`lib.attention.study.methodology`)."""

    entropy_mode: str
    num_prompts: int
    bootstrap: Bootstrap


class Family(Block):
    """A family of tests corrected together (`lib.attention.multiplicity.adjust_family`)."""

    what: str
    size: int
    method_name: str
    alpha: float
    rejected: list[str]


class AsExecuted(Block):
    """The seeds' rule as executed, beside the rule that corrects it."""

    code: str
    criteria: dict[str, Any] | None = None
    values: dict[str, Any] | None = None


class Verdict(Block):
    """A verdict (`lib.attention.verdicts.Verdict`): the corrected rule, with the seeds' rule as
    executed in `as_executed` where it is corrected."""

    code: str
    criteria: dict[str, Any]
    values: dict[str, Any]
    reason: str
    as_executed: AsExecuted | None


class SeedNullInterval(Block):
    interval: Interval | None = None


class PairSeedNull(Block):
    """The seed null a pair's verdict read (`lib.attention.study.seed_null_summary`); `reason`
    where there is none."""

    specialization_index: SeedNullInterval | None = None
    alpha: float
    reason: str | None


class ModeDelta(Block):
    """dSI and its collapse verdict in one entropy mode."""

    specialization_index: Number
    si_ci: Interval
    protocol: bool
    verdict: str


class PairBootstrap(Block):
    """How a pair's intervals were made (`lib.attention.study.bootstrap_settings`)."""

    n_prompts: int
    n_boot: int
    seed: int
    ci: float


class Delta(Block):
    """Instruct - base (`lib.attention.study.compare_pair`)."""

    specialization_index: Number
    mean_head_correlation: Number
    specialization_index_relative: Number
    si_ci: Interval
    si_ci_excludes_zero: bool
    bootstrap: PairBootstrap
    seed_null: PairSeedNull
    controls: Controls
    entropy_modes: dict[str, ModeDelta]
    multiplicity: Family


class Comparison(Block):
    """A comparison with another pair run (E11's `cross_scale`, E11-T's `mha_comparison`)."""

    mode_mismatch: dict[str, str] | None


class RunResult(Block):
    """What every attention results file has."""

    experiment: str
    run: str
    profile: str
    description: str
    methodology: Methodology
    verdict: Verdict
    provenance: dict[str, Any]


class PairResult(RunResult):
    """E11 and E11-T: a base/instruct pair."""

    base: ModelBlock
    instruct: ModelBlock
    delta: Delta
    null_model: NullModel


class E11Result(PairResult):
    """E11: `pre_collapsed` (seed 002's pattern) and the `cross_scale` comparison."""

    pre_collapsed: Verdict
    cross_scale: Comparison | None


class E11TResult(PairResult):
    """E11-T: the comparison with its MHA reference."""

    mha_comparison: Comparison | None


class LadderModelBlock(ModelBlock):
    """One model of an E08 ladder: its label, size and null model beside its block."""

    display: str
    size_b: Number
    null_model: NullModel
    sanity: Sanity | None


class E08Result(RunResult):
    """E08: the ladder's models by name, the heritage verdict, the family of its tests."""

    models: dict[str, LadderModelBlock]
    multiplicity: Family
