"""Loading from the Hugging Face hub (or a local folder): offline first, quantization, fallback.

A model in the local hub cache loads without network. One that is not cached is fetched only when
the hub answers a short probe; otherwise ModelNotAvailableError names the offline alternative.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from lib.models.architecture import ArchitectureInfo, architecture_info, check_fused_qkv
from lib.models.base import (
    QUANTIZATION_LABELS,
    LoadedModel,
    ModelNotAvailableError,
    set_pad_token,
    torch_dtype,
)
from lib.paths import CACHE

PROBE_TIMEOUT_S = 3.0
_VISION_FAMILIES = frozenset({"clip", "siglip", "dinov2", "vit", "dinov3_vit", "clip_vision_model"})

# Offline stand-ins, most specific first: (substring of the hub id, attention kind, registry names).
ALTERNATIVES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("falcon-40b", "GQA", ("tiny/falcon-40b-style", "embedded/smollm2-135m-instruct")),
    ("falcon-180b", "GQA", ("tiny/falcon-40b-style", "embedded/smollm2-135m-instruct")),
    ("falcon", "MQA", ("tiny/falcon-mqa", "embedded/gemma-3-270m")),
    ("gemma", "MQA", ("embedded/gemma-3-270m",)),
    ("smollm", "GQA", ("embedded/smollm2-135m-instruct",)),
    ("llama", "GQA", ("tiny/llama-gqa", "embedded/smollm2-135m-instruct")),
    # The paper's MHA reference; note the real Mistral-7B-v0.3 has 8 kv heads (GQA).
    ("mistral", "MHA, the paper's label", ("tiny/mistral-mha",)),
    ("phi-3", "MHA", ("tiny/phi3",)),
    ("phi3", "MHA", ("tiny/phi3",)),
    ("phi", "MHA", ("tiny/phi",)),
    ("qwen", "GQA", ("tiny/qwen", "embedded/smollm2-135m-instruct")),
    ("minilm", "MHA", ("embedded/all-minilm-l6-v2",)),
    ("bert", "MHA", ("embedded/all-minilm-l6-v2", "tiny/bert")),
    ("t5", "MHA", ("tiny/t5",)),
    ("clip", "MHA", ("tiny/clip",)),
    ("dinov2", "MHA", ("tiny/dinov2",)),
)


def hub_cache_dir() -> Path:
    """The hub cache in use: $HF_HUB_CACHE, else $HF_HOME/hub, else <CACHE>/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return CACHE / "huggingface" / "hub"


def repo_cache_folder(repo_id: str) -> Path:
    """The hub-cache folder of one model repository (models--org--name)."""
    return hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def delete_repo_cache(repo_id: str) -> bool:
    """Remove a model's folder from the hub cache; True when something was deleted."""
    folder = repo_cache_folder(repo_id)
    if folder.is_dir():
        shutil.rmtree(folder)
        return True
    return False


def alternatives(repo_id: str) -> tuple[str, tuple[str, ...]] | None:
    """(attention kind, offline registry names) standing in for a hub id, or None."""
    lowered = repo_id.lower()
    for key, kind, names in ALTERNATIVES:
        if key in lowered:
            return kind, names
    return None


def download_command(repo_id: str) -> str:
    """The command that puts `repo_id` in this repository's hub cache (run where the hub is
    reachable; `lib.workflow exec` gives it lib.env's locations, so nothing goes to HOME)."""
    return f".venv/bin/python -m lib.workflow exec .venv/bin/hf download {repo_id}"


def not_available_message(repo_id: str, reason: str) -> str:
    """The error text for a model that cannot be had: what, why, how to fetch it, and what to
    use instead."""
    text = f"model {repo_id!r} is not available: {reason}."
    if "/" in repo_id and not Path(repo_id).exists():
        text += f" Fetch it where the hub is reachable: {download_command(repo_id)}."
    found = alternatives(repo_id)
    if found:
        kind, names = found
        text += f" Offline alternative with the same attention kind ({kind}): {', '.join(names)}."
    else:
        text += " Offline models: see lib.models.known_models()."
    return text


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """False when HF_HUB_OFFLINE is set or a TCP connection to the hub endpoint fails in time."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=probe, daemon=True)  # DNS look-ups ignore socket timeouts
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


def quantization_config(kind: str) -> Any:
    """BitsAndBytesConfig for '8bit' or '4bit' (NF4, double quant, bf16 compute), else None."""
    from transformers import BitsAndBytesConfig

    if kind == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    if kind == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_use_double_quant=True,
        )
    return None


def is_out_of_memory(exc: BaseException) -> bool:
    """torch.OutOfMemoryError, or a RuntimeError whose message says out of memory."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def model_class(info: ArchitectureInfo, config: Any) -> Any:
    """AutoModelForCausalLM (decoders), AutoModelForSeq2SeqLM (encoder-decoders), else AutoModel."""
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSeq2SeqLM

    if info.is_decoder:
        return AutoModelForCausalLM
    if getattr(config, "is_encoder_decoder", False):
        return AutoModelForSeq2SeqLM
    return AutoModel


@contextmanager
def falcon_linear_as_linear() -> Iterator[None]:
    """Build Falcon's projections as plain nn.Linear while loading quantized.

    transformers 5 swaps in bitsandbytes layers only for modules whose type *is* nn.Linear, so
    the FalconLinear subclass (same maths) would silently stay unquantized.
    """
    from transformers.models.falcon import modeling_falcon

    original = modeling_falcon.FalconLinear
    modeling_falcon.FalconLinear = torch.nn.Linear
    try:
        yield
    finally:
        modeling_falcon.FalconLinear = original


def quantized_layers(model: torch.nn.Module) -> int:
    """How many bitsandbytes 8-bit / 4-bit linear layers the model holds."""
    names = {"Linear8bitLt", "Linear4bit"}
    return sum(type(module).__name__ in names for module in model.modules())


def _from_pretrained(cls: Any, source: str, quantization: str, **kwargs: Any) -> torch.nn.Module:
    """One from_pretrained attempt (the seam the fallback tests replace)."""
    config = quantization_config(quantization)
    if config is None:
        return cls.from_pretrained(source, **kwargs)
    with falcon_linear_as_linear():
        return cls.from_pretrained(source, quantization_config=config, **kwargs)


def load_weights(
    cls: Any, source: str, quantization: str, **kwargs: Any
) -> tuple[torch.nn.Module, str]:
    """Load with the requested quantization; '8bit-fallback-4bit' retries 4-bit NF4 on OOM.

    Returns the model and the quantization actually used ('none', '8-bit', '4-bit NF4').
    """
    attempt = "8bit" if quantization == "8bit-fallback-4bit" else quantization
    try:
        model = _from_pretrained(cls, source, attempt, **kwargs)
    except Exception as exc:  # only out-of-memory falls back
        if quantization != "8bit-fallback-4bit" or not is_out_of_memory(exc):
            raise
        print(f"[lib.models] 8-bit load of {source} ran out of memory; retrying 4-bit NF4")
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        attempt = "4bit"
        model = _from_pretrained(cls, source, attempt, **kwargs)
    if attempt != "none" and quantized_layers(model) == 0:
        print(f"[lib.models] warning: {source} has no layer bitsandbytes could quantize")
        attempt = "none"
    return model, QUANTIZATION_LABELS[attempt]


def load_processor(source: str, info: ArchitectureInfo, config: Any, **kwargs: Any) -> Any:
    """The tokenizer, or for vision models the processor (image processor when there is no text)."""
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer

    if info.family in _VISION_FAMILIES or hasattr(config, "vision_config"):
        try:
            return AutoProcessor.from_pretrained(source, **kwargs)
        except (OSError, ValueError, TypeError):
            return AutoImageProcessor.from_pretrained(source, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    set_pad_token(tokenizer)
    return tokenizer


def placement_kwargs(repo_id: str, device: str | None, max_memory: dict | None) -> dict[str, Any]:
    """device_map / max_memory / offload_folder for from_pretrained."""
    kwargs: dict[str, Any] = {}
    if max_memory is not None:
        folder = CACHE / "offload" / re.sub(r"[^A-Za-z0-9_.-]+", "--", repo_id)
        folder.mkdir(parents=True, exist_ok=True)
        kwargs.update(device_map="auto", max_memory=max_memory, offload_folder=str(folder))
    elif device and device != "auto":
        kwargs["device_map"] = {"": device}
    elif torch.cuda.is_available():
        kwargs["device_map"] = "auto"
    return kwargs


def _revision(repo_id: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    if Path(repo_id).exists():
        return None
    try:
        found = try_to_load_from_cache(repo_id, "config.json", cache_dir=str(hub_cache_dir()))
    except ValueError:
        return None
    match = re.search(r"snapshots/([0-9a-f]{40})/", str(found)) if isinstance(found, str) else None
    return match.group(1) if match else None


def _load_config(repo_id: str, trust_remote_code: bool) -> tuple[Any, bool]:
    """(config, local_only): the cached config, else the hub's when the hub answers."""
    from transformers import AutoConfig

    common = {"trust_remote_code": trust_remote_code, "cache_dir": str(hub_cache_dir())}
    try:
        return AutoConfig.from_pretrained(repo_id, local_files_only=True, **common), True
    except (OSError, ValueError) as exc:
        if Path(repo_id).exists():
            raise ModelNotAvailableError(f"cannot read the local model {repo_id!r}: {exc}") from exc
    if not hub_reachable():
        raise ModelNotAvailableError(
            not_available_message(
                repo_id,
                f"it is not in the local hub cache ({hub_cache_dir()}) and the Hugging Face hub "
                "cannot be reached (offline, or HF_HUB_OFFLINE is set)",
            )
        )
    try:
        return AutoConfig.from_pretrained(repo_id, local_files_only=False, **common), False
    except (OSError, ValueError) as exc:
        raise ModelNotAvailableError(not_available_message(repo_id, str(exc))) from exc


def load_hub(
    repo_id: str,
    *,
    dtype: str,
    quantization: str,
    trust_remote_code: bool,
    device: str | None,
    max_memory: dict | None,
) -> LoadedModel:
    """Load a hub id or a local model folder (eval mode, eager attention, pad token set)."""
    config, local_only = _load_config(repo_id, trust_remote_code)
    info = architecture_info(config)
    common = {
        "trust_remote_code": trust_remote_code,
        "cache_dir": str(hub_cache_dir()),
        "local_files_only": local_only,
    }
    kwargs = dict(common, dtype=torch_dtype(dtype), attn_implementation="eager")
    kwargs.update(placement_kwargs(repo_id, device, max_memory))
    try:
        model, used = load_weights(model_class(info, config), repo_id, quantization, **kwargs)
        tokenizer = load_processor(repo_id, info, config, **common)
    except OSError as exc:  # e.g. a partial cache while offline, or a gated repository
        raise ModelNotAvailableError(not_available_message(repo_id, str(exc))) from exc
    model.eval()
    return LoadedModel.ready(repo_id, model, tokenizer, check_fused_qkv(model, info), "hub",
                             used, _revision(repo_id))
