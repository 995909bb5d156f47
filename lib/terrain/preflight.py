"""The terrain runs' preflight, offline in seconds (`make preflight`).

Every weight the battery reads gets a role from the catalog (on the tensor names the meta
model's `save_pretrained` would write; open_clip's own CLIP for the two ViTs), with q/k (or a
fused qkv) and the MLP pair in every layer of every stack; the input embedding is found; the
encoder layers the sections hook (`lib.terrain.layers`) attach and fire in a meta forward
(BERT-likes without a mask: their mask code reads values). Memory: the model in float32 where a
section builds it (on the GPU when the file asks for one), else the tensors the streamed
sections hold at once, against the file's resources.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from lib.models.presets import OpenClipConfig
from lib.preflight import (
    META_TOKENS,
    Row,
    arch_text,
    config_of,
    describe_problem,
    meta_model_of,
    model_info_of,
    model_memory,
    preset_checks,
    unique_bytes,
)
from lib.terrain.embeddings import find_input_embedding_key
from lib.terrain.layers import capture, named_layers
from lib.terrain.parameters import TerrainParameters
from lib.terrain.weights.battery import qk_pairs
from lib.terrain.weights.catalog import build_catalog


class MetaSource:
    """A meta model's state dict behind the catalog's TensorSource interface (names and shapes,
    no data)."""

    def __init__(self, name: str, state: dict[str, torch.Tensor], config: dict[str, Any]) -> None:
        self.name = name
        self.shapes = {k: tuple(v.shape) for k, v in state.items()}
        self.dtypes = {k: "F32" if v.is_floating_point() else "I64" for k, v in state.items()}
        self._config = config

    def keys(self) -> list[str]:
        return list(self.shapes)

    def tensor(self, key: str, dtype: Any = None) -> Any:
        raise RuntimeError(f"{self.name}: a meta model holds no data (tensor {key!r})")

    def config(self) -> dict[str, Any]:
        return self._config


def meta_source(name: str) -> MetaSource:
    """The catalog's view of a name's meta model: the tensor names `save_pretrained` writes
    (transformers' reverse key conversion: a checkpoint's names, e.g. DINOv2's
    `attention.attention.query` for the class's `attention.q_proj`) and the config dict; an
    open_clip model: its own names and no config (recognized by its fused keys, as its checkpoint
    has no config.json)."""
    config, model = config_of(name), meta_model_of(name)
    if isinstance(config, OpenClipConfig):
        return MetaSource(name, model.state_dict(), {})
    # heavy: only a transformers model's names are converted
    from transformers.core_model_loading import revert_weight_conversion

    return MetaSource(name, revert_weight_conversion(model, model.state_dict()), config.to_dict())


def catalog_checks(row: Row, name: str) -> Any:
    """Every attention layer of every stack has q and k (or a fused qkv) and the MLP pair."""
    try:
        catalog = build_catalog(meta_source(name))
    except ValueError as exc:
        row.problems.append(f"{name}: the weight catalog cannot classify it: "
                            f"{describe_problem(exc)}")
        return None
    pairs = Counter((loc, att) for loc, att, *_ in qk_pairs(catalog))
    layers = {loc: len({e.layer for e in catalog.entries if e.location == loc and e.attention
                        and e.layer >= 0}) for loc in catalog.locations()}
    missing = [f"{loc}/{att}: q/k in {n} of {layers[loc]} layers" for (loc, att), n in pairs.items()
               if n != layers[loc]]
    for loc, n in layers.items():
        if not n:
            continue
        for role in ("mlp_up", "mlp_down"):
            found = len(catalog.select(role=role, location=loc))
            if found != n:
                missing.append(f"{loc}: {role} in {found} of {n} layers")
    if not pairs:
        missing.append("no attention layer found")
    if missing:
        row.problems.append(f"{name}: the battery would miss weights: {'; '.join(missing)}")
    else:
        stacks = ", ".join(f"{loc}/{att} {n}" for (loc, att), n in sorted(pairs.items()))
        row.checks.append(f"catalog {catalog.family} ({stacks})")
    if catalog.unmatched:
        row.notes.append(f"{len(catalog.unmatched)} tensors without a rule (kept as 'other'): "
                         f"{', '.join(catalog.unmatched[:3])}")
    return catalog


def embedding_checks(row: Row, name: str) -> float:
    """The input embedding the embedding sections read; returns its float32 bytes."""
    source = meta_source(name)
    try:
        key = find_input_embedding_key(source.keys(), source.shapes)
    except ValueError as exc:
        row.problems.append(f"{name}: {describe_problem(exc)}")
        return 0.0
    row.checks.append(f"embedding {list(source.shapes[key])}")
    return math.prod(source.shapes[key]) * 4


def encoder_checks(row: Row, name: str, stacks: Sequence[str]) -> None:
    """The named encoder (and decoder) layers attach hooks, and each fires in a meta forward."""
    model = meta_model_of(name)
    ids = torch.ones(1, META_TOKENS, dtype=torch.long, device="meta")
    for stack in stacks:
        try:
            names = [n for n, _ in named_layers(model, stack)]
            with capture(model, stack=stack) as seen, torch.no_grad():
                base = getattr(model, "base_model", model)
                if stack == "decoder":
                    hidden = torch.zeros(1, META_TOKENS, base.config.d_model, device="meta")
                    base.decoder(input_ids=ids, encoder_hidden_states=hidden)
                elif hasattr(base, "encoder") and hasattr(base.encoder, "block"):
                    base.encoder(input_ids=ids)
                else:  # no mask: an all-ones mask is what the runs pass, and on meta
                    base(input_ids=ids)  # BERT's mask code calls .item() on it (mask.all())
        except Exception as exc:
            row.problems.append(f"{name}: the {stack} hooks do not attach: "
                                f"{describe_problem(exc)}")
            continue
        silent = [n for n in names if n not in seen]
        if silent:
            row.problems.append(f"{name}: {stack} hooks on {', '.join(silent)} never fired")
        else:
            row.checks.append(f"{stack} hooks {len(names)}")


def terrain_rows(params: TerrainParameters, folder: Path | None = None) -> list[Row]:
    """The checks of one terrain run (`folder`: its parameter file's, unused)."""
    run = Path(params.parameter_file).stem
    name = params.model
    row = Row(run, name)
    rows = [row]
    if name.startswith("init/"):
        row.notes.append("an initialization from lib/terrain/weights/baseline.py: not a preset")
        return rows
    try:
        row.arch = arch_text(model_info_of(name))
        preset_checks(row, name)
    except Exception as exc:
        row.problems.append(describe_problem(exc))
        return rows
    streamed = 0.0
    if params.embedding is not None:
        streamed = max(streamed, 3 * embedding_checks(row, name))
    if params.layers is not None:
        stacks = ("encoder", "decoder") if model_info_of(name).family == "t5" \
            and params.layers.encoder_decoder else ("encoder",)
        encoder_checks(row, name, stacks)
    elif params.wordnet is not None:
        encoder_checks(row, name, ("encoder",))
    if params.weights is not None:
        catalog = catalog_checks(row, name)
        if catalog is not None:
            largest = max(e.numel for e in catalog.entries) * 4
            streamed = max(streamed, 4 * largest)
            if params.weights.init_baseline:  # the initialized twin is built whole
                streamed = max(streamed, unique_bytes(meta_model_of(name), 4) + 4 * largest)
    if params.projection is not None:
        source = params.projection.source
        extra = Row(run, source, resource="host")
        rows.append(extra)
        try:
            extra.arch = arch_text(model_info_of(source))
            preset_checks(extra, source)
            together = embedding_checks(row, name) + embedding_checks(extra, source)
            streamed = max(streamed, 2 * together)
        except Exception as exc:
            extra.problems.append(describe_problem(exc))
    model_memory(row, name, params, streamed,
                 built=params.layers is not None or params.wordnet is not None)
    return rows
