"""The attention runs' preflight (E11, E11-T, E08), offline in seconds (`make preflight`).

Each model a file names is built from its architecture preset on the meta device: the preset's
layers / query / kv heads are what the loader reads (`architecture_info`, Falcon's fused qkv);
the streaming measurement finds one attention module per layer
(`lib.attention.entropy.attention_modules`), whose projections give the kv heads and whose
hooks, in a forward pass on the meta device, each fire once with [batch, query heads, T, T]
weights; the kv heads divide the query heads; the numbers and the attention kind the file's
description states hold (E11-T: a GQA pair; its MHA reference's kind is noted); the entropy mode
is known; base and instruct share an architecture. The requested quantization constructs as far
as it can without weights: `quantization_config`, transformers' bitsandbytes quantizer (its
environment check, then its layer replacement on the meta model built the way the loader builds
it, which must quantize every linear layer of every block). Not checked here: quantizing real
weights (the CUDA kernels), real checkpoint shards, the out-of-memory fallback itself.

Peak GPU memory, estimated: weights at the requested precision (bf16 2 B a parameter; 8-bit 1 B
+ a float32 scale a row; NF4 0.5 B + double-quantized scales; layers bitsandbytes leaves, such
as embeddings and lm_head, at the dtype) plus the largest layer's attention for the protocol's
batch (padded/masked: all prompts at max_length in one batch; unpadded: one prompt) and its
activations, plus CUDA's own overhead, against `resources.gpu_memory_gb` (less the file's
`max_memory.gpu_headroom_gib`). E08's float32 sanity fallback is noted where it would not fit.
The null model of each model builds under the file's `random_max_parameters` and fits alone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from lib.attention.entropy import attention_modules, backbone_of, check_mode, forward_kwargs
from lib.attention.parameters import (
    AttentionParameters,
    E08Parameters,
    E11TParameters,
    PairParameters,
)
from lib.attention.prompts import load_prompts
from lib.models.architecture import architecture_info
from lib.models.base import torch_dtype
from lib.models.hub import falcon_linear_as_linear, quantization_config, quantized_layers
from lib.models.presets import has_preset, meta_model, model_info, preset
from lib.models.random_init import DEFAULT_MAX_PARAMETERS, random_config
from lib.params import load_parameters
from lib.preflight import (
    CUDA_OVERHEAD_GIB,
    GIB,
    META_TOKENS,
    Row,
    arch_text,
    config_of,
    describe_problem,
    dtype_bytes,
    gpu_budget,
    host_budget,
    intermediate_size_of,
    meta_model_of,
    model_info_of,
    preset_checks,
    unique_bytes,
    weight_bytes,
)

QUANTIZED_LINEARS = ("Linear8bitLt", "Linear4bit")
ATTENTION_EXPERIMENTS = ("E11", "E11-T", "E08")
KINDS = ("MHA", "GQA", "MQA")


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


def attention_checks(row: Row, name: str) -> Any:
    """The architecture and streaming-measurement checks of one model; returns its info."""
    config, model = config_of(name), meta_model_of(name)
    info = model_info(config, model)
    row.arch = arch_text(info)
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


def pair_checks(rows: list[Row], infos: list[Any], params: PairParameters,
                folder: Path) -> None:
    """E11/E11-T: the pair shares an architecture, which is what the description states."""
    base, instruct = infos
    if base is None or instruct is None:
        return
    if (base.num_layers, base.num_heads, base.num_kv_heads) != (
            instruct.num_layers, instruct.num_heads, instruct.num_kv_heads):
        rows[1].problems.append(f"{params.instruct}: architecture {arch_text(instruct)} differs "
                                f"from the base model's {arch_text(base)}")
    claims = description_claims(params.description)
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
    if isinstance(params, E11TParameters):
        for row, info in zip(rows, infos, strict=True):
            if info.attention_kind != "GQA":
                row.problems.append(f"{row.model} is {info.attention_kind}: E11-T measures a GQA "
                                    "pair")
        reference = params.mha_reference.run
        ref_file = folder / f"{reference}.yaml"
        try:
            ref = load_parameters(ref_file)
            if not isinstance(ref, PairParameters):
                raise TypeError(f"{reference} is an {ref.experiment} run, not a pair run")
            ref_info = model_info_of(ref.base)
            if ref_info.attention_kind != "MHA":
                rows[0].notes.append(f"its MHA reference {reference} ({ref.base}) is "
                                     f"{ref_info.attention_kind} ({ref_info.num_heads} q / "
                                     f"{ref_info.num_kv_heads} kv): the seeds' label")
        except Exception as exc:  # a reference without a preset: its own run reports it
            rows[0].notes.append(f"MHA reference {reference} not checked: "
                                 f"{describe_problem(exc)}")


def quantization_requests(quantization: str) -> tuple[str, ...]:
    """The bitsandbytes kinds a run may load with: '8bit-fallback-4bit' may use both."""
    if quantization == "8bit-fallback-4bit":
        return ("8bit", "4bit")
    return () if quantization == "none" else (quantization,)


def quantized_model(name: str, kind: str, dtype: torch.dtype) -> torch.nn.Module:
    """The meta model built as the loader builds it for `kind` (Falcon's projections as
    nn.Linear), with transformers' bitsandbytes quantizer's layers swapped in."""
    from transformers.quantizers import AutoHfQuantizer  # transformers: only when quantizing

    quantizer = AutoHfQuantizer.from_config(quantization_config(kind), pre_quantized=False)
    quantizer.validate_environment(device_map={"": "cuda:0"}, dtype=dtype)
    with falcon_linear_as_linear():
        model = meta_model(config_of(name))
    quantizer.preprocess_model(model, device_map={"": "cuda:0"}, dtype=dtype)
    return model


def quantization_checks(row: Row, name: str, kind: str, dtype: torch.dtype) -> Any:
    """Build the quantized meta model; every projection of every block must be quantized."""
    try:
        model = quantized_model(name, kind, dtype)
    except Exception as exc:
        row.problems.append(f"{name}: the {kind} bitsandbytes path does not construct: "
                            f"{describe_problem(exc)}")
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


def activation_bytes(info: Any, config: Any, batch: int, tokens: int, nbytes: int) -> float:
    """The largest layer's transient memory: eager attention scores (dtype), their float32
    softmax and the weights (dtype), the entropy hook's float32 copy, and the hidden and MLP
    activations of the batch."""
    attention = batch * info.num_heads * tokens * tokens * (2 * nbytes + 8)
    hidden = batch * tokens * (4 * info.hidden_size + 2 * intermediate_size_of(config)) * nbytes
    return attention + hidden


def attention_memory(row: Row, name: str, params: AttentionParameters, info: Any,
                     quantized: dict[str, Any]) -> None:
    """Peak GPU memory of an attention run's model against the file's GPU."""
    config, model = config_of(name), meta_model_of(name)
    dtype = params.sanity_variants[0] if isinstance(params, E08Parameters) else params.dtype
    nbytes = dtype_bytes(dtype)
    batch = _batch(params)
    transient = activation_bytes(info, config, batch, params.max_length, nbytes)
    first = quantization_requests(params.quantization)
    weights = weight_bytes(quantized[first[0]], nbytes) if first and first[0] in quantized \
        else weight_bytes(model, nbytes)
    precision = {"8bit": "8-bit", "4bit": "4-bit NF4"}.get(first[0], dtype) if first else dtype
    row.memory_hint = f"at {precision}"
    row.budget_gib = gpu_budget(params)
    overhead = CUDA_OVERHEAD_GIB
    if row.budget_gib is None:
        if params.profile == "paper":
            row.problems.append(f"{name} needs a GPU (~{(weights + transient) / GIB + overhead:.1f}"
                                f" GiB at {precision}); the file's resources ask for none: set "
                                "resources.gpu and gpu_memory_gb")
            return
        row.resource, row.budget_gib, overhead = "host", host_budget(params), 0.0  # CPU run
    row.need_gib = (weights + transient) / GIB + overhead
    if row.need_gib > row.budget_gib:
        fallback = ""
        if params.quantization == "8bit-fallback-4bit" and "4bit" in quantized:
            nf4 = (weight_bytes(quantized["4bit"], nbytes) + transient) / GIB + overhead
            if nf4 <= row.budget_gib:
                row.notes.append(f"8-bit needs ~{row.need_gib:.1f} GiB: the NF4 fallback "
                                 f"(~{nf4:.1f} GiB) is what will run")
                row.need_gib, row.memory_hint = nf4, "at 4-bit NF4"
                return
            fallback = f" (NF4 fallback ~{nf4:.1f} GiB)"
        advice = "use quantization 8bit or raise it" if not first else "raise it"
        given = (f"resources.mem_mb is {params.resources.mem_mb}" if row.resource == "host"
                 else f"resources.gpu_memory_gb is {params.resources.gpu_memory_gb}"
                 + (f" less {params.max_memory.gpu_headroom_gib:g} GiB headroom"
                    if params.max_memory is not None else ""))
        row.problems.append(f"{name} needs ~{row.need_gib:.1f} GiB at {precision}{fallback}, "
                            f"{given}: {advice}")
    if isinstance(params, E08Parameters):
        worst = max(params.sanity_variants, key=dtype_bytes)
        if worst != dtype:
            need = (unique_bytes(model, dtype_bytes(worst)) + activation_bytes(
                info, config, batch, params.max_length, dtype_bytes(worst))) / GIB + overhead
            if need > row.budget_gib:
                row.notes.append(f"its {worst} sanity fallback would need ~{need:.1f} GiB (only "
                                 f"if {', '.join(params.sanity_variants[:-1])} fail)")


def _batch(params: AttentionParameters) -> int:
    """Prompts in one forward pass: one (unpadded), else the whole prompt set."""
    return 1 if params.entropy_mode == "unpadded" else len(load_prompts(params.prompt_set))


def attention_rows(params: AttentionParameters, folder: Path) -> list[Row]:
    """The checks of an E11 / E11-T / E08 run: one row per model."""
    run = Path(params.parameter_file).stem
    names = ([params.base, params.instruct] if isinstance(params, PairParameters)
             else [m.name for m in params.models])
    rows, infos = [], []
    for name in names:
        row = Row(run, name)
        rows.append(row)
        try:
            check_mode(params.entropy_mode)
            info = attention_checks(row, name)
            quantized = {}
            for kind in quantization_requests(params.quantization):
                model = quantization_checks(row, name, kind, torch_dtype(params.dtype))
                if model is not None:
                    quantized[kind] = model
            attention_memory(row, name, params, info, quantized)
            if params.null_model and not name.startswith("random/"):
                null_checks(row, name, params)
        except Exception as exc:
            row.problems.append(describe_problem(exc))
            info = None
        infos.append(info)
    if isinstance(params, PairParameters):
        pair_checks(rows, infos, params, folder)
    return rows


def null_checks(row: Row, name: str, params: AttentionParameters) -> None:
    """The null model (`random/<name>`) builds under the file's `random_max_parameters` with the
    model's layers and heads, and fits the GPU alone (it is measured after the pair is freed)."""
    budget = params.random_max_parameters or DEFAULT_MAX_PARAMETERS
    config, reduction, _ = random_config(f"random/{name}", budget, keep_vocabulary=True)
    info, real = architecture_info(config), model_info_of(name)
    shape = (info.num_layers, info.num_heads, info.num_kv_heads)
    if shape != (real.num_layers, real.num_heads, real.num_kv_heads):
        row.problems.append(f"null model random/{name} has {arch_text(info)}, not "
                            f"{arch_text(real)}")
        return
    nbytes = dtype_bytes(params.dtype)
    need = (unique_bytes(meta_model(config), nbytes) + activation_bytes(
        info, config, _batch(params), params.max_length, nbytes)) / GIB + CUDA_OVERHEAD_GIB
    row.checks.append("null model builds")
    row.notes.append(f"null model random/{name}: ~{need:.1f} GiB; reduced: {reduction}")
    if row.budget_gib is not None and need > row.budget_gib:
        row.problems.append(f"null model random/{name} needs ~{need:.1f} GiB at {params.dtype}"
                            f", more than {row.budget_gib:.1f}: lower random_max_parameters "
                            f"(now {budget:,})")
