"""Preflight of the paper runs, offline in seconds: `python -m lib.preflight [files...]`.

Every paper run needs a GPU and the hub; this finds the run that cannot work before it starts.
For each parameter file (default: every `parameters/paper/*.yaml`) and each model it names, the
model is built from its architecture preset (lib/models/presets.yaml; registry names from their
own config) on the meta device, and:

- attention runs (E11, E11-T, E08): the preset's layers / query / kv heads are what the loader
  reads (`architecture_info`, Falcon's fused qkv); the streaming measurement finds one attention
  module per layer (`lib.attention.entropy.attention_modules`), whose projections give the kv
  heads and whose hooks, in a forward pass on the meta device, each fire once with [batch,
  query heads, T, T] weights; the kv heads divide the query heads; the numbers and the attention
  kind the file's description states hold (E11-T: a GQA pair; its MHA reference's kind is
  noted); the entropy mode is known; base and instruct share an architecture. The requested
  quantization constructs as far as it can without weights: `quantization_config`, transformers'
  bitsandbytes quantizer (its environment check, then its layer replacement on the meta model
  built the way the loader builds it, which must quantize every linear layer of every block).
  Not checked here: quantizing real weights (the CUDA kernels), real checkpoint shards, the
  out-of-memory fallback itself.
- peak GPU memory, estimated: weights at the requested precision (bf16 2 B a parameter; 8-bit
  1 B + a float32 scale a row; NF4 0.5 B + double-quantized scales; layers bitsandbytes leaves,
  such as embeddings and lm_head, at the dtype) plus the largest layer's attention for the
  protocol's batch (padded/masked: all prompts at max_length in one batch; unpadded: one prompt)
  and its activations, plus CUDA's own overhead, against `resources.gpu_memory_gb` (less the
  file's `max_memory.gpu_headroom_gib`). E08's float32 sanity fallback is noted where it would
  not fit.
- terrain and modulator runs: every weight the battery reads gets a role from the catalog (on
  the tensor names the meta model's `save_pretrained` would write; open_clip's own CLIP for the
  two ViTs), with q/k (or a fused
  qkv) and the MLP pair in every layer of every stack; the input embedding is found; the encoder
  layers the sections hook (`lib.terrain.layers`, the modulator's block list) attach and fire in
  a meta forward (BERT-likes without a mask: their mask code reads values); a modulator passes
  its notebook's model check (`lib.modulator.study.check_model`: the file's `layers` exist).
  Memory: the model in float32 where a section builds it (on the GPU when the file asks for one),
  else the tensors the streamed sections hold at once, against the file's resources.

Prints a table, one line per (run, model), then one line per failing run; exits 1 if any fails,
2 with one error line if a file named does not exist.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import torch

from lib.paths import PARAMETERS, shown

GIB = 2**30
CUDA_OVERHEAD_GIB = 1.0  # CUDA context and allocator reserve, on top of every GPU estimate
META_TOKENS = 8  # sequence length of the meta forward passes
QUANTIZED_LINEARS = ("Linear8bitLt", "Linear4bit")
NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)  # 4-bit codes, 8-bit absmax per 64, fp32 per 256 blocks
ATTENTION_EXPERIMENTS = ("E11", "E11-T", "E08")
KINDS = ("MHA", "GQA", "MQA")


@dataclass
class Row:
    """One (run, model) line of the table."""

    run: str
    model: str
    arch: str = "-"
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    need_gib: float | None = None
    budget_gib: float | None = None
    resource: str = "GPU"
    memory_hint: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------- models on meta


@cache
def _config(name: str) -> Any:
    """The transformers config (OpenClipConfig) of a preset, registry or random/ name."""
    from lib.models.presets import has_preset, preset_config, unknown_preset

    if has_preset(name):
        return preset_config(name)
    if name.startswith("random/"):
        from lib.models.random_init import random_config

        return random_config(name)[0]
    if name.startswith("tiny/"):
        from lib.models.tiny import tiny_config

        return tiny_config(name)
    if name.startswith("embedded/"):
        from transformers import AutoConfig

        from lib.models.embedded import is_built, model_dir

        if not is_built(name):
            raise FileNotFoundError(f"{name} is not built yet; run `make setup`")
        return AutoConfig.from_pretrained(model_dir(name))
    raise unknown_preset(name)


@cache
def _meta(name: str) -> torch.nn.Module:
    from lib.models.presets import meta_model

    return meta_model(_config(name))


def _arch(info: Any) -> str:
    return (f"{info.family} {info.num_layers}L {info.num_heads}q/{info.num_kv_heads}kv "
            f"{info.attention_kind}")


def _intermediate(config: Any) -> int:
    for key in ("intermediate_size", "ffn_hidden_size", "d_ff"):
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    return 4 * int(getattr(config, "hidden_size", 0) or getattr(config, "d_model", 0))


def _describe_problem(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# --------------------------------------------------------------------------- attention checks


def _projection_kv_heads(module: torch.nn.Module, head_dim: int, heads: int) -> int | None:
    """kv heads read off an attention module's k (or fused qkv) projection width."""
    for name in ("k_proj", "key"):  # key: BERT-style encoders
        k = getattr(getattr(module, name, None), "out_features", None)
        if k:
            return k // head_dim
    for fused in ("query_key_value", "qkv_proj"):
        width = getattr(getattr(module, fused, None), "out_features", None)
        if width:
            return (width // head_dim - heads) // 2
    return None


def _meta_forward_heads(model: torch.nn.Module, modules: list, batch: int = 2) -> list[Any]:
    """Hooks on the attention modules, one meta forward: per module, the shapes its weights had
    each time it fired (a list per module)."""
    from lib.attention.entropy import backbone_of, forward_kwargs

    fired: list[list[Any]] = [[] for _ in modules]

    def hook(i: int, index: int):
        def record(_module, _args, output) -> None:
            weights = output[index] if isinstance(output, tuple | list) else None
            fired[i].append(None if weights is None else tuple(weights.shape))
        return record

    handles = [m.register_forward_hook(hook(i, index)) for i, (_, m, index) in enumerate(modules)]
    ids = torch.ones(batch, META_TOKENS, dtype=torch.long, device="meta")
    try:
        backbone = backbone_of(model)
        with torch.no_grad():
            try:
                backbone(input_ids=ids, attention_mask=torch.ones_like(ids),
                         **forward_kwargs(backbone))
            except RuntimeError as exc:  # an encoder's bidirectional mask asks the meta mask
                if "meta tensors" not in str(exc):  # whether it is all ones: no mask instead
                    raise
                for calls in fired:
                    calls.clear()
                backbone(input_ids=ids, **forward_kwargs(backbone))
    finally:
        for handle in handles:
            handle.remove()
    return fired


def preset_checks(row: Row, name: str) -> None:
    """A preset's model, as the loader reads it, has the layers and heads the preset expects."""
    from lib.models.presets import expected_mismatches, has_preset

    if not has_preset(name):
        return
    wrong = expected_mismatches(name, _meta(name))
    if wrong:
        row.problems.append(f"{name}: the preset disagrees with its expected facts: "
                            f"{', '.join(wrong)}")
    else:
        row.checks.append("preset")


def attention_checks(row: Row, name: str, params: dict[str, Any]) -> Any:
    """The architecture and streaming-measurement checks of one model; returns its info."""
    from lib.attention.entropy import attention_modules
    from lib.models.presets import has_preset, model_info, preset

    config, model = _config(name), _meta(name)
    info = model_info(config, model)
    row.arch = _arch(info)
    preset_checks(row, name)
    expected_layers = (preset(name)["expect"].get("attention_layers", info.num_layers)
                       if has_preset(name) else info.num_layers)
    modules = attention_modules(model)
    if len(modules) != expected_layers:
        row.problems.append(f"{name}: the streaming measurement finds {len(modules)} attention "
                            f"modules for {expected_layers} attention layers")
        return info
    kv = {_projection_kv_heads(m, info.head_dim, info.num_heads) for _, m, _ in modules}
    if kv != {info.num_kv_heads}:
        row.problems.append(f"{name}: the attention projections give {sorted(kv, key=str)} kv "
                            f"heads, the config {info.num_kv_heads}")
    fired = _meta_forward_heads(model, modules)
    shapes = {s for calls in fired for s in calls}
    if any(len(calls) != 1 for calls in fired):
        row.problems.append(f"{name}: attention hooks fired {[len(c) for c in fired]} times "
                            "in one forward (one per layer expected)")
    elif shapes != {(2, info.num_heads, META_TOKENS, META_TOKENS)}:
        row.problems.append(f"{name}: attention weights of shapes {sorted(shapes, key=str)}, "
                            f"expected [batch, {info.num_heads}, T, T]")
    else:
        row.checks.append(f"{len(modules)} hooks")
    if info.num_heads % info.num_kv_heads:
        row.problems.append(f"{name}: {info.num_kv_heads} kv heads do not divide "
                            f"{info.num_heads} query heads into groups")
    return info


def description_claims(text: str) -> dict[str, Any]:
    """What a pair's description states: layers, query heads, kv heads, attention kinds."""
    claims: dict[str, Any] = {}
    for key, pattern in (("num_layers", r"(\d+) layers"), ("num_heads", r"(\d+) query"),
                         ("num_kv_heads", r"(\d+) kv head")):
        found = re.search(pattern, text)
        if found:
            claims[key] = int(found.group(1))
    kinds = [k for k in KINDS if re.search(rf"\b{k}\b", text)]
    if kinds:
        claims["attention_kind"] = kinds
    return claims


def pair_checks(rows: list[Row], infos: list[Any], params: dict[str, Any],
                folder: Path) -> None:
    """E11/E11-T: the pair shares an architecture, which is what the description states."""
    base, instruct = infos
    if base is None or instruct is None:
        return
    if (base.num_layers, base.num_heads, base.num_kv_heads) != (
            instruct.num_layers, instruct.num_heads, instruct.num_kv_heads):
        rows[1].problems.append(f"{params['instruct']}: architecture {_arch(instruct)} differs "
                                f"from the base model's {_arch(base)}")
    claims = description_claims(params.get("description", ""))
    for row, info in zip(rows, infos, strict=True):
        wrong = [f"{key} {getattr(info, key)} (description: {value})"
                 for key, value in claims.items() if key != "attention_kind"
                 and getattr(info, key) != value]
        if "attention_kind" in claims and info.attention_kind not in claims["attention_kind"]:
            wrong.append(f"attention kind {info.attention_kind} (description: "
                         f"{'/'.join(claims['attention_kind'])})")
        if wrong:
            row.problems.append(f"{row.model}: {', '.join(wrong)}")
        elif claims:
            row.checks.append("description")
    if params["experiment"] == "E11-T":
        for row, info in zip(rows, infos, strict=True):
            if info.attention_kind != "GQA":
                row.problems.append(f"{row.model} is {info.attention_kind}: E11-T measures a GQA "
                                    "pair")
        reference = params["mha_reference"]["run"]
        ref_file = folder / f"{reference}.yaml"
        try:
            from lib.params import load_parameters

            ref = load_parameters(ref_file)
            ref_info = model_info_of(ref["base"])
            if ref_info.attention_kind != "MHA":
                rows[0].notes.append(f"its MHA reference {reference} ({ref['base']}) is "
                                     f"{ref_info.attention_kind} ({ref_info.num_heads} q / "
                                     f"{ref_info.num_kv_heads} kv): the seeds' label")
        except Exception as exc:  # a reference without a preset: its own run reports it
            rows[0].notes.append(f"MHA reference {reference} not checked: "
                                 f"{_describe_problem(exc)}")


def model_info_of(name: str) -> Any:
    """`architecture_info` of a name's meta model (fused-qkv checked)."""
    from lib.models.presets import model_info

    return model_info(_config(name), _meta(name))


# --------------------------------------------------------------------------- quantization


def quantization_requests(quantization: str) -> tuple[str, ...]:
    """The bitsandbytes kinds a run may load with: '8bit-fallback-4bit' may use both."""
    if quantization == "8bit-fallback-4bit":
        return ("8bit", "4bit")
    return () if quantization == "none" else (quantization,)


def quantized_model(name: str, kind: str, dtype: torch.dtype) -> torch.nn.Module:
    """The meta model built as the loader builds it for `kind` (Falcon's projections as
    nn.Linear), with transformers' bitsandbytes quantizer's layers swapped in."""
    from transformers.quantizers import AutoHfQuantizer

    from lib.models.hub import falcon_linear_as_linear, quantization_config
    from lib.models.presets import meta_model

    quantizer = AutoHfQuantizer.from_config(quantization_config(kind), pre_quantized=False)
    quantizer.validate_environment(device_map={"": "cuda:0"}, dtype=dtype)
    with falcon_linear_as_linear():
        model = meta_model(_config(name))
    quantizer.preprocess_model(model, device_map={"": "cuda:0"}, dtype=dtype)
    return model


def quantization_checks(row: Row, name: str, kind: str, dtype: torch.dtype) -> Any:
    """Build the quantized meta model; every projection of every block must be quantized."""
    from lib.models.hub import quantized_layers

    try:
        model = quantized_model(name, kind, dtype)
    except Exception as exc:
        row.problems.append(f"{name}: the {kind} bitsandbytes path does not construct: "
                            f"{_describe_problem(exc)}")
        return None
    layers = model_info_of(name).num_layers
    linear_in_blocks = sum(isinstance(m, torch.nn.Linear) and re.search(r"\.\d+\.", n) is not None
                           for n, m in model.named_modules())
    done = quantized_layers(model)
    if done == 0 or done != linear_in_blocks:
        row.problems.append(f"{name}: {kind} quantizes {done} of the {linear_in_blocks} linear "
                            f"layers of its {layers} blocks")
    else:
        row.checks.append(f"{kind} {done} linears")
    return model


# --------------------------------------------------------------------------- memory


def _dtype_bytes(dtype: str) -> int:
    from lib.models.base import torch_dtype

    return torch_dtype(dtype).itemsize


def weight_bytes(model: torch.nn.Module, dtype_bytes: int) -> float:
    """Bytes of the weights as loaded: bitsandbytes layers at their packed size, the rest at the
    dtype (tied weights counted once)."""
    total, seen = 0.0, set()
    for module in model.modules():
        packed = type(module).__name__
        for pname, param in module.named_parameters(recurse=False):
            if id(param) in seen:  # a tied weight, already counted
                continue
            seen.add(id(param))
            n = param.numel()
            if pname == "weight" and packed == "Linear8bitLt":
                total += module.in_features * module.out_features + 4 * module.out_features
            elif pname == "weight" and packed == "Linear4bit":
                total += module.in_features * module.out_features * NF4_BYTES
            else:
                total += n * dtype_bytes
    return total


def _unique_bytes(model: torch.nn.Module, dtype_bytes: int) -> float:
    return sum(p.numel() for p in model.parameters()) * dtype_bytes  # parameters() dedups ties


def activation_bytes(info: Any, config: Any, batch: int, tokens: int, dtype_bytes: int) -> float:
    """The largest layer's transient memory: eager attention scores (dtype), their float32
    softmax and the weights (dtype), the entropy hook's float32 copy, and the hidden and MLP
    activations of the batch."""
    attention = batch * info.num_heads * tokens * tokens * (2 * dtype_bytes + 8)
    hidden = batch * tokens * (4 * info.hidden_size + 2 * _intermediate(config)) * dtype_bytes
    return attention + hidden


def gpu_budget(params: dict[str, Any]) -> float | None:
    """resources.gpu_memory_gb less max_memory's headroom (GiB); None when the run asks for no
    GPU."""
    resources = params.get("resources") or {}
    if not resources.get("gpu"):
        return None
    headroom = (params.get("max_memory") or {}).get("gpu_headroom_gib", 0.0)
    return float(resources.get("gpu_memory_gb", 0)) - float(headroom)


def attention_memory(row: Row, name: str, params: dict[str, Any], info: Any,
                     quantized: dict[str, Any]) -> None:
    """Peak GPU memory of an attention run's model against the file's GPU."""
    from lib.attention.prompts import load_prompts

    config, model = _config(name), _meta(name)
    dtype = params["sanity_variants"][0] if params["experiment"] == "E08" else params["dtype"]
    nbytes = _dtype_bytes(dtype)
    unpadded = params["entropy_mode"] == "unpadded"
    batch = 1 if unpadded else len(load_prompts(params["prompt_set"]))
    transient = activation_bytes(info, config, batch, params["max_length"], nbytes)
    first = quantization_requests(params["quantization"])
    weights = weight_bytes(quantized[first[0]], nbytes) if first and first[0] in quantized \
        else weight_bytes(model, nbytes)
    precision = {"8bit": "8-bit", "4bit": "4-bit NF4"}.get(first[0], dtype) if first else dtype
    row.memory_hint = f"at {precision}"
    row.budget_gib = gpu_budget(params)
    overhead = CUDA_OVERHEAD_GIB
    if row.budget_gib is None:
        if params["profile"] == "paper":
            row.problems.append(f"{name} needs a GPU (~{(weights + transient) / GIB + overhead:.1f}"
                                f" GiB at {precision}); the file's resources ask for none: set "
                                "resources.gpu and gpu_memory_gb")
            return
        row.resource, row.budget_gib, overhead = "host", host_budget(params), 0.0  # CPU run
    row.need_gib = (weights + transient) / GIB + overhead
    if row.need_gib > row.budget_gib:
        fallback = ""
        if params["quantization"] == "8bit-fallback-4bit" and "4bit" in quantized:
            nf4 = (weight_bytes(quantized["4bit"], nbytes) + transient) / GIB + overhead
            if nf4 <= row.budget_gib:
                row.notes.append(f"8-bit needs ~{row.need_gib:.1f} GiB: the NF4 fallback "
                                 f"(~{nf4:.1f} GiB) is what will run")
                row.need_gib, row.memory_hint = nf4, "at 4-bit NF4"
                return
            fallback = f" (NF4 fallback ~{nf4:.1f} GiB)"
        advice = "use quantization 8bit or raise it" if not first else "raise it"
        given = (f"resources.mem_mb is {params['resources']['mem_mb']}" if row.resource == "host"
                 else f"resources.gpu_memory_gb is {params['resources']['gpu_memory_gb']}"
                 + (f" less {params['max_memory']['gpu_headroom_gib']:g} GiB headroom"
                    if params.get("max_memory") else ""))
        row.problems.append(f"{name} needs ~{row.need_gib:.1f} GiB at {precision}{fallback}, "
                            f"{given}: {advice}")
    if params["experiment"] == "E08":
        worst = max(params["sanity_variants"], key=_dtype_bytes)
        if worst != dtype:
            need = (_unique_bytes(model, _dtype_bytes(worst)) + activation_bytes(
                info, config, batch, params["max_length"], _dtype_bytes(worst))) / GIB + overhead
            if need > row.budget_gib:
                row.notes.append(f"its {worst} sanity fallback would need ~{need:.1f} GiB (only "
                                 f"if {', '.join(params['sanity_variants'][:-1])} fail)")


# --------------------------------------------------------------------------- terrain, modulator


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
    from lib.models.presets import OpenClipConfig

    config, model = _config(name), _meta(name)
    if isinstance(config, OpenClipConfig):
        return MetaSource(name, model.state_dict(), {})
    from transformers.core_model_loading import revert_weight_conversion

    return MetaSource(name, revert_weight_conversion(model, model.state_dict()), config.to_dict())


def catalog_checks(row: Row, name: str) -> Any:
    """Every attention layer of every stack has q and k (or a fused qkv) and the MLP pair."""
    from lib.terrain.weights.battery import _qk_pairs
    from lib.terrain.weights.catalog import build_catalog

    try:
        catalog = build_catalog(meta_source(name))
    except ValueError as exc:
        row.problems.append(f"{name}: the weight catalog cannot classify it: "
                            f"{_describe_problem(exc)}")
        return None
    pairs = Counter((loc, att) for loc, att, *_ in _qk_pairs(catalog))
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
    from lib.terrain.embeddings import find_input_embedding_key

    source = meta_source(name)
    try:
        key = find_input_embedding_key(source.keys(), source.shapes)
    except ValueError as exc:
        row.problems.append(f"{name}: {_describe_problem(exc)}")
        return 0.0
    row.checks.append(f"embedding {list(source.shapes[key])}")
    return math.prod(source.shapes[key]) * 4


def encoder_checks(row: Row, name: str, stacks: Sequence[str]) -> None:
    """The named encoder (and decoder) layers attach hooks, and each fires in a meta forward."""
    from lib.terrain.layers import capture, named_layers

    model = _meta(name)
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
                                f"{_describe_problem(exc)}")
            continue
        silent = [n for n in names if n not in seen]
        if silent:
            row.problems.append(f"{name}: {stack} hooks on {', '.join(silent)} never fired")
        else:
            row.checks.append(f"{stack} hooks {len(names)}")


def modulator_checks(row: Row, name: str, params: dict[str, Any]) -> None:
    """The notebook's own model check (an encoder, the file's `layers` among its blocks,
    `seed_faithful` on T5 only); the modulator's hooks find one encoder block per layer, and the
    width it modulates."""
    from types import SimpleNamespace

    from lib.modulator.hooks import encoder_blocks, hidden_size
    from lib.modulator.study import check_model

    model, info = _meta(name), model_info_of(name)
    try:
        checked = check_model(SimpleNamespace(model=model, name=name, info=info),
                              params["layers"], params["seed_faithful"])
        blocks = len(encoder_blocks(model))
    except ValueError as exc:
        problem = _describe_problem(exc)
        row.problems.append(problem if name in problem else f"{name}: {problem}")
        return
    if params["layers"]:
        row.checks.append(f"layers {checked['layers']}")
    if blocks != info.num_layers or hidden_size(model) != info.hidden_size:
        row.problems.append(f"{name}: the modulator finds {blocks} blocks of width "
                            f"{hidden_size(model)}, the config {info.num_layers} of "
                            f"{info.hidden_size}")
    else:
        row.checks.append(f"modulator blocks {blocks}")


def host_budget(params: dict[str, Any]) -> float:
    """resources.mem_mb in GiB."""
    return float((params.get("resources") or {}).get("mem_mb", 0)) / 1024


def model_memory(row: Row, name: str, params: dict[str, Any], streamed_bytes: float) -> None:
    """The model in float32 (on the GPU when the run asks for one) where a section builds it;
    else what the streamed sections hold, against host memory."""
    built = params["experiment"] == "modulator" or params.get("layers") or params.get("wordnet")
    if built:
        nbytes = _dtype_bytes(params.get("dtype", "float32"))
        weights = _unique_bytes(_meta(name), nbytes)
        if params["experiment"] == "modulator":
            weights *= 2  # the frozen encoder's activations and gradients through it
        budget = gpu_budget(params)
        row.resource = "GPU" if budget is not None else "host"
        row.need_gib = weights / GIB + (CUDA_OVERHEAD_GIB if budget is not None else 0)
        row.budget_gib = budget if budget is not None else host_budget(params)
        row.memory_hint = "model built, float32"
    else:
        row.resource, row.memory_hint = "host", "streamed"
        row.need_gib = streamed_bytes / GIB
        row.budget_gib = host_budget(params)
    if row.need_gib > row.budget_gib:
        what = "resources.gpu_memory_gb" if row.resource == "GPU" else "resources.mem_mb"
        row.problems.append(f"{name} needs ~{row.need_gib:.1f} GiB of {row.resource} memory "
                            f"({row.memory_hint}), {what} gives {row.budget_gib:.1f} GiB: "
                            "raise it")


def terrain_rows(params: dict[str, Any]) -> list[Row]:
    """The terrain / modulator checks of one run."""
    run = Path(params["parameter_file"]).stem
    name = params["model"]
    row = Row(run, name)
    rows = [row]
    if name.startswith("init/"):
        row.notes.append("an initialization from lib/terrain/weights/baseline.py: not a preset")
        return rows
    try:
        row.arch = _arch(model_info_of(name))
        preset_checks(row, name)
    except Exception as exc:
        row.problems.append(_describe_problem(exc))
        return rows
    streamed = 0.0
    if params["experiment"] == "modulator":
        encoder_checks(row, name, ("encoder",))
        modulator_checks(row, name, params)
    if params.get("embedding"):
        streamed = max(streamed, 3 * embedding_checks(row, name))
    if params["experiment"] == "terrain" and params.get("layers"):  # a modulator's: block indices
        stacks = ("encoder", "decoder") if model_info_of(name).family == "t5" \
            and params["layers"]["encoder_decoder"] else ("encoder",)
        encoder_checks(row, name, stacks)
    elif params.get("wordnet"):
        encoder_checks(row, name, ("encoder",))
    if params.get("weights"):
        catalog = catalog_checks(row, name)
        if catalog is not None:
            largest = max(e.numel for e in catalog.entries) * 4
            streamed = max(streamed, 4 * largest)
            if params["weights"]["init_baseline"]:  # the initialized twin is built whole
                streamed = max(streamed, _unique_bytes(_meta(name), 4) + 4 * largest)
    if params.get("projection"):
        source = params["projection"]["source"]
        extra = Row(run, source, resource="host")
        rows.append(extra)
        try:
            extra.arch = _arch(model_info_of(source))
            preset_checks(extra, source)
            together = embedding_checks(row, name) + embedding_checks(extra, source)
            streamed = max(streamed, 2 * together)
        except Exception as exc:
            extra.problems.append(_describe_problem(exc))
    model_memory(row, name, params, streamed)
    return rows


# --------------------------------------------------------------------------- runs


def attention_rows(params: dict[str, Any], folder: Path) -> list[Row]:
    """The checks of an E11 / E11-T / E08 run: one row per model."""
    from lib.attention.entropy import check_mode
    from lib.models.base import torch_dtype

    run = Path(params["parameter_file"]).stem
    names = ([params["base"], params["instruct"]] if "base" in params
             else [m["name"] for m in params["models"]])
    rows, infos = [], []
    for name in names:
        row = Row(run, name)
        rows.append(row)
        try:
            check_mode(params["entropy_mode"])
            info = attention_checks(row, name, params)
            quantized = {}
            for kind in quantization_requests(params["quantization"]):
                model = quantization_checks(row, name, kind, torch_dtype(params["dtype"]))
                if model is not None:
                    quantized[kind] = model
            attention_memory(row, name, params, info, quantized)
            if params["null_model"] and not name.startswith("random/"):
                null_checks(row, name, params)
        except Exception as exc:
            row.problems.append(_describe_problem(exc))
            info = None
        infos.append(info)
    if "base" in params:
        pair_checks(rows, infos, params, folder)
    return rows


def null_checks(row: Row, name: str, params: dict[str, Any]) -> None:
    """The null model (`random/<name>`) builds under the file's `random_max_parameters` with the
    model's layers and heads, and fits the GPU alone (it is measured after the pair is freed)."""
    from lib.attention.prompts import load_prompts
    from lib.models.architecture import architecture_info
    from lib.models.presets import meta_model
    from lib.models.random_init import DEFAULT_MAX_PARAMETERS, random_config

    budget = params["random_max_parameters"] or DEFAULT_MAX_PARAMETERS
    config, reduction, _ = random_config(f"random/{name}", budget, keep_vocabulary=True)
    info, real = architecture_info(config), model_info_of(name)
    shape = (info.num_layers, info.num_heads, info.num_kv_heads)
    if shape != (real.num_layers, real.num_heads, real.num_kv_heads):
        row.problems.append(f"null model random/{name} has {_arch(info)}, not {_arch(real)}")
        return
    nbytes = _dtype_bytes(params["dtype"])
    batch = 1 if params["entropy_mode"] == "unpadded" else len(load_prompts(params["prompt_set"]))
    need = (_unique_bytes(meta_model(config), nbytes) + activation_bytes(
        info, config, batch, params["max_length"], nbytes)) / GIB + CUDA_OVERHEAD_GIB
    row.checks.append("null model builds")
    row.notes.append(f"null model random/{name}: ~{need:.1f} GiB; reduced: {reduction}")
    if row.budget_gib is not None and need > row.budget_gib:
        row.problems.append(f"null model random/{name} needs ~{need:.1f} GiB at {params['dtype']}"
                            f", more than {row.budget_gib:.1f}: lower random_max_parameters "
                            f"(now {budget:,})")


def check_file(path: str | Path) -> list[Row]:
    """Every check of one parameter file: its rows (a file that does not validate: one row)."""
    from lib.params import ParameterError, load_parameters, resolve_path

    file = resolve_path(path)
    try:
        params = load_parameters(file)
    except ParameterError as exc:
        return [Row(file.stem, "-", problems=[str(exc)])]
    if params["experiment"] in ATTENTION_EXPERIMENTS:
        return attention_rows(params, file.parent)
    return terrain_rows(params)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def table(rows: Sequence[Row]) -> str:
    """The table: run, model, architecture, what passed, memory need / budget, status."""
    lines = [f"{'run':<34} {'model':<42} {'architecture':<26} {'need GiB':>9} "
             f"{'budget':>7} {'on':4} {'status':<6} checks"]
    for r in rows:
        status = "ok" if r.ok else "FAIL"
        lines.append(f"{r.run:<34} {r.model:<42} {r.arch:<26} {_number(r.need_gib):>9} "
                     f"{_number(r.budget_gib):>7} {r.resource:4} {status:<6} "
                     f"{'; '.join(r.checks)}" + (f" [{r.memory_hint}]" if r.memory_hint else ""))
        lines += [f"{'':34}   note: {n}" for n in r.notes]
    return "\n".join(lines)


def failures(rows: Sequence[Row]) -> list[str]:
    """One line per failing run: its problems."""
    by_run: dict[str, list[str]] = {}
    for r in rows:
        if r.problems:
            by_run.setdefault(r.run, []).extend(r.problems)
    return [f"{run}: {'; '.join(problems)}" for run, problems in by_run.items()]


def default_files() -> list[Path]:
    """Every paper parameter file."""
    return sorted((PARAMETERS / "paper").glob("*.yaml"))


def main(argv: Sequence[str] | None = None) -> int:
    """Check the files (default: every paper file), print the table; 1 if any run fails, 2 (one
    error line) if a file does not exist."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="parameter files (default: parameters/paper/)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    from lib.params import ParameterError, resolve_path

    try:
        files = [resolve_path(f) for f in args.files] or default_files()
    except ParameterError as exc:  # a file that does not exist: nothing to check
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = [row for f in files for row in check_file(f)]
    print(table(rows))
    failed = failures(rows)
    seconds = time.perf_counter() - start
    where = ", ".join(shown(f) for f in files) if args.files else "parameters/paper/"
    if failed:
        print(f"\npreflight FAILED for {len(failed)} of {len(files)} runs ({where}, "
              f"{seconds:.0f} s):", file=sys.stderr)
        for line in failed:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"\npreflight ok: {len(files)} runs, {len(rows)} models ({where}, {seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
