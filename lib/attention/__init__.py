"""Paper 4, Behavioral Sink Dynamics: attention entropy, head specialization and its verdicts.

`entropy` (kernel and streaming measurement), `specialization`, `verdicts`, `sanity`, `stats`,
`nulls` (the head-permutation null, KV-aware), `seednull` (the seed null: init seeds of an
architecture), `calibration` (the collapse rules on null pairs and planted effects; the
seed-null job), `multiplicity` (Holm, Benjamini-Hochberg), `readings` (the results in words),
`prompts`, `study` (the protocol's steps), `tables` (their pandas presentation), `plots`,
`layout` (the results files of E11, E11-T and E08, typed) and `bench`. The entropy API is
re-exported here: `from lib.attention import entropy_profiles`, `measure_attention` (entropies
and attention-sink shares in one pass).
"""

from lib.attention.entropy import (
    MODES,
    AttentionMeasurement,
    attention_modules,
    entropy_profiles,
    measure_attention,
    measure_entropies,
    normalized_entropy,
    prompt_entropies,
    sink_share,
)

__all__ = [
    "MODES",
    "AttentionMeasurement",
    "attention_modules",
    "entropy_profiles",
    "measure_attention",
    "measure_entropies",
    "normalized_entropy",
    "prompt_entropies",
    "sink_share",
]
