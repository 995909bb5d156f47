"""Frozen-weight battery across architectures, streamed from the checkpoint (seed 004 §4-§6).

`catalog` (weights by role), `battery` (D3-D7 metrics and `run_battery`), `baseline` (the same
architecture freshly initialized), `summary` (§5 table and figure), `bench` (streamed vs loaded).
"""

from lib.terrain.weights.battery import (
    CROSS_MODEL_THRESHOLDS,
    THRESHOLDS,
    cross_layer_cosine,
    dead_neurons,
    expand_kv_heads,
    neuron_contributions,
    norm_scale_stats,
    position_bias_topology,
    qk_manifold,
    run_battery,
    singular_value_metrics,
    sparsity,
    split_fused_qkv,
)
from lib.terrain.weights.catalog import (
    AttentionHeads,
    Catalog,
    Entry,
    UnknownFamilyError,
    build_catalog,
)

__all__ = [
    "CROSS_MODEL_THRESHOLDS",
    "THRESHOLDS",
    "AttentionHeads",
    "Catalog",
    "Entry",
    "UnknownFamilyError",
    "build_catalog",
    "cross_layer_cosine",
    "dead_neurons",
    "expand_kv_heads",
    "neuron_contributions",
    "norm_scale_stats",
    "position_bias_topology",
    "qk_manifold",
    "run_battery",
    "singular_value_metrics",
    "sparsity",
    "split_fused_qkv",
]
