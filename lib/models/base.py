"""The loaded-model record, the loader errors and the steps every loader shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from lib.models.architecture import ArchitectureInfo

QUANTIZATIONS = ("none", "8bit", "4bit", "8bit-fallback-4bit")
QUANTIZATION_LABELS = {"none": "none", "8bit": "8-bit", "4bit": "4-bit NF4"}


class UnknownModelError(KeyError):
    """A registry name (embedded/..., tiny/..., random/...) or preset that does not exist."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else ""


class ModelNotAvailableError(RuntimeError):
    """A model that cannot be had here: not cached and no way to fetch or build it."""


@dataclass
class LoadedModel:
    """A model ready for attention experiments, with where it came from."""

    name: str
    model: torch.nn.Module
    tokenizer: Any
    info: ArchitectureInfo
    source: str
    dtype: str
    quantization: str
    revision: str | None
    device: str
    reduction: str | None = None  # random/ models: what was reduced to fit ("none" if nothing)

    @classmethod
    def ready(cls, name: str, model: torch.nn.Module, tokenizer: Any, info: ArchitectureInfo,
              source: str, quantization: str, revision: str | None,
              reduction: str | None = None) -> LoadedModel:
        """Wrap a loaded model in eval mode, reading its dtype and device off the weights."""
        return cls(name=name, model=model.eval(), tokenizer=tokenizer, info=info, source=source,
                   dtype=dtype_name(model), quantization=quantization, revision=revision,
                   device=model_device(model), reduction=reduction)


def torch_dtype(name: str) -> torch.dtype:
    """'bfloat16' -> torch.bfloat16; raises ValueError for anything that is not a float dtype."""
    value = getattr(torch, str(name).removeprefix("torch."), None)
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise ValueError(f"unknown dtype {name!r}; use e.g. 'bfloat16', 'float16', 'float32'")
    return value


def check_quantization(quantization: str) -> str:
    """The request for `quantization`, or ValueError.

    A reported label ('8-bit', '4-bit NF4') is accepted too, so the second model of a pair loads
    like the first: `load_model(instruct, quantization=base.quantization)`.
    """
    requests = {label: request for request, label in QUANTIZATION_LABELS.items()}
    quantization = requests.get(quantization, quantization)
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}; use one of {QUANTIZATIONS}")
    return quantization


def default_device(device: str | None) -> str:
    """The device asked for, else 'cuda' when available, else 'cpu'."""
    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def set_pad_token(tokenizer: Any) -> None:
    """pad_token = eos_token where a tokenizer (or a processor's tokenizer) has none."""
    text = getattr(tokenizer, "tokenizer", tokenizer)
    if getattr(text, "pad_token", "x") is None and getattr(text, "eos_token", None) is not None:
        text.pad_token = text.eos_token


def model_device(model: torch.nn.Module) -> str:
    """Where the model's first parameter lives ('cpu', 'cuda:0', ...)."""
    try:
        return str(next(model.parameters()).device)
    except StopIteration:
        return "cpu"


def dtype_name(model: torch.nn.Module) -> str:
    """The model's floating-point dtype as a plain string, e.g. 'bfloat16'."""
    return str(getattr(model, "dtype", torch.float32)).removeprefix("torch.")
