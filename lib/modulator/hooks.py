"""Attach a modulator to an encoder's blocks through forward pre-hooks (SPEC §7, replacing the
seed's hand-run copy of the T5 encoder).

    with attach(model, modulator) as hooks:        # all blocks; or layers=[0, 3]
        out = model.get_encoder()(input_ids=ids, attention_mask=mask)   # ids captured
        hooks.set_token_ids(ids)                    # or explicitly, e.g. before an embeds call

The hook on block i replaces the block's input `h` with `modulator(h, token_ids, i)` (LERP) or
`modulator(h, i).residual` (field). Token ids are captured from the `input_ids` of the model or
encoder call, or set with `set_token_ids` / `token_ids(...)`. Leaving the context (or `remove()`)
removes every hook, and the encoder computes exactly what it did before.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

BLOCK_PATHS = ("block", "layer", "layers", "encoder.block", "encoder.layer", "encoder.layers")


class BlockListNotFoundError(ValueError):
    """The model has no encoder block list this module knows how to hook."""


class LayerIndexError(ValueError):
    """A requested layer index does not exist in the encoder (or has no alpha)."""


def _model_type(model: nn.Module) -> str:
    config = getattr(model, "config", None)
    return f"{type(model).__name__} (model_type={getattr(config, 'model_type', None)!r})"


def encoder_of(model: nn.Module) -> nn.Module:
    """The encoder of a seq2seq model (`get_encoder()`), else the model itself."""
    config = getattr(model, "config", None)
    if getattr(config, "is_encoder_decoder", False) and hasattr(model, "get_encoder"):
        return model.get_encoder()
    return model


def encoder_blocks(model: nn.Module) -> nn.ModuleList:
    """The encoder's block list: T5 `encoder.block`, BERT-likes `encoder.layer`, or `layers`."""
    root = encoder_of(model)
    for path in BLOCK_PATHS:
        found: Any = root
        for part in path.split("."):
            found = getattr(found, part, None)
        if isinstance(found, nn.ModuleList) and len(found) > 0:
            return found
    raise BlockListNotFoundError(
        f"no encoder block list in {_model_type(model)}: looked for {', '.join(BLOCK_PATHS)}; "
        "pass a T5 or BERT-like text encoder"
    )


def hidden_size(model: nn.Module) -> int | None:
    """`config.d_model` or `config.hidden_size` of the model, None when neither is there."""
    config = getattr(model, "config", None)
    for key in ("d_model", "hidden_size"):
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    return None


def _takes_input_ids(module: nn.Module) -> bool:
    try:
        return "input_ids" in inspect.signature(module.forward).parameters
    except (TypeError, ValueError):
        return False


class ModulatorHooks:
    """Forward pre-hooks that run `modulator` on the input of the chosen encoder blocks."""

    def __init__(self, model: nn.Module, modulator: nn.Module,
                 layers: Iterable[int] | None = None) -> None:
        blocks = encoder_blocks(model)
        n_blocks = len(blocks)
        layers = list(range(n_blocks)) if layers is None else [int(i) for i in layers]
        bad = [i for i in layers if not 0 <= i < n_blocks]
        if bad:
            raise LayerIndexError(f"layer index {bad} does not exist: {_model_type(model)} has "
                                  f"{n_blocks} encoder blocks (0..{n_blocks - 1})")
        n_alpha = getattr(modulator, "n_layers", None)
        if n_alpha is not None and any(i >= n_alpha for i in layers):
            raise LayerIndexError(f"layers {layers} exceed the modulator's {n_alpha} layers; "
                                  f"build it with n_layers={n_blocks}")
        width, d_model = hidden_size(model), getattr(modulator, "d_model", None)
        if width is not None and d_model is not None and width != d_model:
            raise ValueError(f"the modulator has d_model={d_model} but {_model_type(model)} has "
                             f"hidden size {width}; build it with d_model={width}")
        self.model, self.modulator, self.layers = model, modulator, sorted(set(layers))
        self.needs_token_ids = bool(getattr(modulator, "needs_token_ids", False))
        self.validity_maps: dict[int, torch.Tensor] = {}
        self._token_ids: torch.Tensor | None = None
        self._handles = [
            blocks[i].register_forward_pre_hook(self._block_hook(i), with_kwargs=True)
            for i in self.layers
        ]
        owners = {id(m): m for m in (model, encoder_of(model)) if _takes_input_ids(m)}
        self._handles += [m.register_forward_pre_hook(self._capture, with_kwargs=True)
                          for m in owners.values()]

    def set_token_ids(self, token_ids: torch.Tensor | None) -> None:
        """The [batch, seq] ids the LERP modulator looks up on the next forward."""
        self._token_ids = token_ids

    @contextmanager
    def token_ids(self, token_ids: torch.Tensor) -> Iterator[ModulatorHooks]:
        """Set the token ids for the forwards inside the block, then clear them."""
        self.set_token_ids(token_ids)
        try:
            yield self
        finally:
            self._token_ids = None

    def _capture(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids")
        first = args[0] if args else None
        if ids is None and isinstance(first, torch.Tensor) and not first.is_floating_point():
            ids = first
        if ids is not None:
            self._token_ids = ids

    def _modulate(self, hidden: torch.Tensor, layer: int) -> torch.Tensor:
        if not self.needs_token_ids:
            out = self.modulator(hidden, layer)
        else:
            ids = self._token_ids
            if ids is None or tuple(ids.shape) != tuple(hidden.shape[:2]):
                got = None if ids is None else tuple(ids.shape)
                raise ValueError(f"the modulator needs token ids of shape "
                                 f"{tuple(hidden.shape[:2])}, got {got}: call the model with "
                                 "input_ids or use hooks.token_ids(ids)")
            out = self.modulator(hidden, ids.to(hidden.device), layer)
        residual = getattr(out, "residual", None)
        if residual is not None:  # FieldModulatorOutput
            self.validity_maps[layer] = out.validity_map.detach()
            return residual
        return out

    def _block_hook(self, layer: int):
        def hook(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            if args:
                return (self._modulate(args[0], layer), *args[1:]), kwargs
            kwargs = dict(kwargs)
            kwargs["hidden_states"] = self._modulate(kwargs["hidden_states"], layer)
            return args, kwargs

        return hook

    def remove(self) -> None:
        """Remove every hook; the model computes exactly what it did before attaching."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._token_ids = None

    def __enter__(self) -> ModulatorHooks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def attach(model: nn.Module, modulator: nn.Module,
           layers: Iterable[int] | None = None) -> ModulatorHooks:
    """Hook `modulator` into the encoder blocks `layers` (default: all); a context manager."""
    return ModulatorHooks(model, modulator, layers)
