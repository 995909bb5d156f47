"""Normalized attention entropy per head (SPEC §1), vectorized, and streamed from a model.

For one attention matrix A (T x T) of a head: w = mean of A over the kept rows, restricted to the
kept columns; w = w / sum(w) (sum <= 0 gives 0); zeros dropped; h = H_2(w) / log2(#nonzero) if
more than one entry remains, else 0. Modes pick the kept tokens:

- ``masked``: rows and columns where the attention mask is 1;
- ``padded``: all T rows and columns, padding included;
- ``unpadded``: the prompt was tokenized without padding, so the tensor is already L x L.

The kernel gives 0 where fewer than 2 tokens are kept (the seeds' rule); the per-prompt functions
refuse such a prompt instead (`PromptTooShortError`, naming it), in every mode, before any
entropy is computed: its 0 (or, padded, the entropy of its padding) would enter the means.

`normalized_entropy` is the kernel (any leading dims), `prompt_entropies` / `entropy_profiles`
work on per-prompt stacks [layers, heads, T, T] like the seeds kept them, and `measure_attention`
runs a model and reduces each layer's attention to entropies as it is produced (forward hooks),
so the [prompts, layers, heads, T, T] stack is never held; `measure_entropies` returns only the
entropies.

The same pass measures the attention-sink share (`sink_share`): per head, the mean over the
prompt's real query positions of the weight on key position 0 (the first token). Pad queries are
left out in every entropy mode, padded included (their rows are not the prompt's attention);
key position 0 is the first real token, since padding is on the right.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

MODES: tuple[str, ...] = ("masked", "padded", "unpadded")
MAX_LENGTH = 128  # the E11-v3 protocol's tokenization length (truncation, padding)
MIN_PROMPT_TOKENS = 2  # an entropy over fewer tokens is undefined (log2(1) = 0)
EAGER_HINT = 'load the model with attn_implementation="eager"'
NAN_HINT = 'load the model in float32 (dtype=torch.float32) with attn_implementation="eager"'

TensorLike = torch.Tensor | np.ndarray


class NonFiniteAttentionError(ValueError):
    """Attention weights hold NaN/Inf (typically half precision; float32 and eager fix it)."""


class PromptTooShortError(ValueError):
    """A prompt with fewer than `MIN_PROMPT_TOKENS` tokens: its entropy is undefined."""


# --------------------------------------------------------------------------- kernel


def column_sums(attn: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Sum of `attn` [..., T, T] over the kept rows -> float64 [..., T] (all columns, a new
    tensor).

    Rows where `mask` [..., T] is 0 are dropped exactly (values there, even NaN, never enter).
    A NaN/Inf in a kept row makes its column sum non-finite, which the callers check. A plain
    reduction (not a matmul) so that identical heads give bit-identical sums.
    """
    if attn.ndim < 2 or attn.shape[-1] != attn.shape[-2]:
        raise ValueError(f"attention must be [..., T, T] (square), got shape {tuple(attn.shape)}")
    if mask is None:
        return _float(attn).sum(dim=-2).to(torch.float64, copy=True)
    if mask.shape[-1] != attn.shape[-1]:
        raise ValueError(f"mask length {mask.shape[-1]} != attention size T={attn.shape[-1]}")
    keep = mask != 0
    lengths = _prefix_lengths(keep)
    if lengths is not None and keep.ndim == 1:  # right padding: the first n rows, a view
        w = _float(attn[..., : lengths[0], :]).sum(dim=-2)
    elif lengths is not None and keep.shape[0] == attn.shape[0] == keep[..., 0].numel():
        # a batch [B, 1, .., T] of right-padded masks: one view per prompt, no masked copy
        w = torch.stack([_float(attn[b, ..., :n, :]).sum(dim=-2) for b, n in enumerate(lengths)])
    else:
        w = torch.where(keep.unsqueeze(-1), _float(attn), 0).sum(dim=-2)
    return w.to(torch.float64, copy=True)


def _float(x: torch.Tensor) -> torch.Tensor:
    """float32/float64 as they are; bf16/fp16 (and ints) upcast to float32 (a copy)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _prefix_lengths(keep: torch.Tensor) -> list[int] | None:
    """Per-mask number of kept tokens if every mask in `keep` [..., T] is a prefix, else None."""
    n = keep.sum(dim=-1, keepdim=True)
    positions = torch.arange(keep.shape[-1], device=keep.device)
    return n.flatten().tolist() if bool(((positions < n) == keep).all()) else None


def entropy_from_sums(w: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Normalized entropy (float64 [...]) of column weights `w` [..., T] over the kept columns.

    The seeds: w /= w.sum() (sum <= 0 -> 0); w = w[w > 0]; scipy's entropy renormalizes what is
    left; h = H_2 / log2(count) (the base cancels). `w` is not modified.
    """
    return _entropy_inplace(w.to(torch.float64, copy=True), mask)


def _entropy_inplace(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """`entropy_from_sums` overwriting the float64 buffer `x` (fewer large allocations)."""
    if mask is not None:
        x.mul_((mask != 0).to(x.dtype))
    total = x.sum(dim=-1)
    x.clamp_(min=0)
    count = (x > 0).sum(dim=-1)
    x.div_(x.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny))
    x.xlogy_(x)
    h = x.sum(dim=-1).neg_().div_(torch.log(count.clamp_min(2).to(x.dtype)))
    return torch.where((count > 1) & (total > 0), h, 0)


def sink_share(attn: torch.Tensor, query_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Attention-sink share of `attn` [..., T, T]: the mean over the kept query rows of the
    weight on key 0 -> float64 [...].

    `query_mask` [..., T] (0/1, broadcastable to the leading dims) keeps the rows where it is 1
    (values in dropped rows, even NaN, never enter); None keeps every row.
    """
    first = attn[..., 0].to(torch.float64)  # [..., T]: each query's weight on key 0
    if query_mask is None:
        return first.mean(dim=-1)
    if query_mask.shape[-1] != first.shape[-1]:
        raise ValueError(f"query mask length {query_mask.shape[-1]} != attention size "
                         f"T={first.shape[-1]}")
    keep = query_mask != 0
    return torch.where(keep, first, 0).sum(dim=-1) / keep.sum(dim=-1).clamp_min(1)


def normalized_entropy(attn: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Normalized entropy of the column means of `attn` [..., T, T] -> float64 [...].

    `mask` [..., T] (0/1, broadcastable to the leading dims) keeps rows and columns where it is
    1; with fewer than 2 kept tokens the entropy is 0. `mask=None` keeps everything. Raises a
    ValueError if a kept row holds NaN/Inf.
    """
    w = column_sums(attn, mask)
    if not bool(torch.isfinite(w).all()):
        raise NonFiniteAttentionError(f"attention contains NaN/Inf; {NAN_HINT}")
    return _entropy_inplace(w, mask)


# --------------------------------------------------------------------------- validation


def check_mode(mode: str) -> str:
    """Return `mode` or raise a ValueError listing the known modes."""
    if mode not in MODES:
        raise ValueError(f"unknown entropy mode {mode!r}; choose one of {', '.join(MODES)}")
    return mode


def check_finite(w: torch.Tensor, prompt: int | str, layer_offset: int = 0) -> None:
    """Raise a NonFiniteAttentionError naming the prompt and layers if `w` [layers, ...] is
    not finite.

    `w` is the attention itself or its column sums (a non-finite value propagates to them).
    """
    finite = torch.isfinite(w).flatten(1).all(dim=1)
    if bool(finite.all()):
        return
    bad = (~finite).nonzero().flatten().tolist()
    layers = ", ".join(str(layer_offset + b) for b in bad[:5]) + (" ..." if len(bad) > 5 else "")
    raise NonFiniteAttentionError(
        f"attention of prompt {prompt} contains NaN/Inf in layer(s) {layers}; {NAN_HINT}"
    )


def check_prompt_tokens(counts: Sequence[int], prompts: Sequence[str] | None = None) -> None:
    """Raise a PromptTooShortError naming each prompt (index, text) with < 2 tokens."""
    short = [p for p, n in enumerate(counts) if n < MIN_PROMPT_TOKENS]
    if not short:
        return
    named = "; ".join(
        f"prompt {p}" + (f" {prompts[p]!r}" if prompts is not None else "")
        + f" has {counts[p]} token{'s' if counts[p] != 1 else ''}"
        for p in short[:5]
    ) + (" ..." if len(short) > 5 else "")
    raise PromptTooShortError(
        f"{named}; the entropy needs at least {MIN_PROMPT_TOKENS} tokens per prompt: use a "
        "longer prompt (or a larger max_length)"
    )


def prompt_token_counts(
    tokenizer, prompts: Sequence[str], max_length: int = MAX_LENGTH
) -> list[int]:
    """Tokens of each prompt as measured (special tokens included, truncated to max_length)."""
    ids = tokenizer(list(prompts), max_length=max_length, truncation=True, padding=False)
    return [len(x) for x in ids["input_ids"]]


def _as_tensor(x: TensorLike, what: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach()
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    raise TypeError(f"{what} must be a torch.Tensor or numpy array, got {type(x).__name__}")


def _check_pattern(attn: torch.Tensor, p: int, first: tuple[int, int] | None) -> None:
    if attn.ndim != 4:
        raise ValueError(
            f"attention of prompt {p} must be [layers, heads, T, T], got shape {tuple(attn.shape)}"
        )
    if attn.shape[-1] != attn.shape[-2]:
        raise ValueError(f"attention of prompt {p} is not square: shape {tuple(attn.shape)}")
    if first is not None and tuple(attn.shape[:2]) != first:
        raise ValueError(
            f"prompt {p} has [layers, heads] = {list(attn.shape[:2])}, prompt 0 has {list(first)}; "
            "all prompts must come from the same model"
        )


# --------------------------------------------------------------------------- stacks


def prompt_entropies(
    patterns: Sequence[TensorLike],
    masks: Sequence[TensorLike | None] | None = None,
    mode: str = "masked",
) -> np.ndarray:
    """Normalized entropy per prompt, layer and head -> float64 [prompts, layers, heads].

    `patterns`: per-prompt attention [layers, heads, T, T] (T may differ per prompt in unpadded
    mode). `masks`: per-prompt [T] 0/1 attention masks, required for mode="masked"; for "padded"
    they only count each prompt's tokens; for "unpadded" they may be given only if all ones (the
    tensor must be unpadded). A prompt with fewer than 2 tokens (by its mask where given, else T)
    raises a PromptTooShortError naming it, before any entropy is computed.
    """
    check_mode(mode)
    if len(patterns) == 0:
        raise ValueError("no attention patterns given (empty list of prompts)")
    if mode == "masked":
        if masks is None:
            raise ValueError('mode="masked" needs the attention masks (masks=None given)')
        if len(masks) != len(patterns):
            raise ValueError(f"{len(masks)} masks for {len(patterns)} attention patterns")
    checked: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    counts: list[int] = []
    first: tuple[int, int] | None = None
    for p, raw in enumerate(patterns):  # every prompt checked before any entropy is computed
        attn = _as_tensor(raw, f"attention of prompt {p}")
        _check_pattern(attn, p, first)
        first = first or tuple(attn.shape[:2])
        given = None if masks is None or masks[p] is None else _as_tensor(
            masks[p], f"mask of prompt {p}").flatten()
        if given is not None and given.numel() != attn.shape[-1]:
            raise ValueError(
                f"mask of prompt {p} has length {given.numel()} but its attention has "
                f"T={attn.shape[-1]}"
            )
        if mode == "unpadded" and given is not None and not bool((given != 0).all()):
            raise ValueError(
                f'mode="unpadded" expects unpadded attention, but the mask of prompt {p} '
                'has padding; use mode="masked" (or "padded")'
            )
        counts.append(int((given != 0).sum()) if given is not None else attn.shape[-1])
        checked.append((attn, given if mode == "masked" else None))
    check_prompt_tokens(counts)
    out = []
    for p, (attn, mask) in enumerate(checked):
        w = column_sums(attn, mask)
        check_finite(w, p)
        out.append(_entropy_inplace(w, mask))
    return torch.stack(out).numpy()


def entropy_profiles(
    patterns: Sequence[TensorLike],
    masks: Sequence[TensorLike | None] | None = None,
    mode: str = "masked",
) -> np.ndarray:
    """Mean over prompts of `prompt_entropies` -> E [layers, heads] (float64)."""
    return prompt_entropies(patterns, masks, mode).mean(axis=0)


# --------------------------------------------------------------------------- models


def _recorder_specs(model: nn.Module) -> list[tuple[type | None, str | None, str | None, int]]:
    """(target_class, class_name, layer_name, index) of the 'attentions' recorders of `model`."""
    specs = []
    for module in model.modules():
        declared = getattr(type(module), "_can_record_outputs", None)
        if not isinstance(declared, dict) or "attentions" not in declared:
            continue
        entries = declared["attentions"]
        for spec in entries if isinstance(entries, list | tuple) else [entries]:
            if isinstance(spec, str):
                specs.append((None, spec, None, 1))
            elif isinstance(spec, type):
                specs.append((spec, None, None, 1))
            else:  # transformers.utils.output_capturing.OutputRecorder
                specs.append(
                    (
                        getattr(spec, "target_class", None),
                        getattr(spec, "class_name", None),
                        getattr(spec, "layer_name", None),
                        int(getattr(spec, "index", 1)),
                    )
                )
    return specs


def attention_modules(model: nn.Module) -> list[tuple[str, nn.Module, int]]:
    """The modules returning attention weights, in layer order: (name, module, output index).

    Uses the model's declared `_can_record_outputs["attentions"]` (transformers 5); models that
    declare none (e.g. Falcon) fall back to the innermost submodules whose class name ends in
    "Attention", output index 1.
    """
    found: dict[int, tuple[str, nn.Module, int]] = {}
    for target, class_name, layer_name, index in _recorder_specs(model):
        for name, module in model.named_modules():
            hit = (target is not None and isinstance(module, target)) or (
                class_name is not None and name.endswith(class_name)
            )
            if hit and (layer_name is None or f".{layer_name.strip('.')}." in f"{name}."):
                found.setdefault(id(module), (name, module, index))
    if not found:
        named = [
            (n, m) for n, m in model.named_modules() if n and type(m).__name__.endswith("Attention")
        ]
        for name, module in named:
            inner = any(o is not module and o_name.startswith(f"{name}.") for o_name, o in named)
            if not inner:
                found[id(module)] = (name, module, 1)
    order = {id(m): i for i, (_, m) in enumerate(model.named_modules())}
    return sorted(found.values(), key=lambda item: order[id(item[1])])


def _attn_implementation(model: nn.Module) -> str | None:
    config = getattr(model, "config", None)
    return getattr(config, "_attn_implementation", None) if config is not None else None


def forward_kwargs(model: nn.Module) -> dict:
    """{"use_cache": False} where the model's forward accepts it (causal LMs), else {}."""
    params = inspect.signature(model.forward).parameters
    return {"use_cache": False} if "use_cache" in params else {}


def backbone_of(model: nn.Module) -> nn.Module:
    """The model without its task head (no logits needed); the model itself if none."""
    base = getattr(model, "base_model", None)
    return base if isinstance(base, nn.Module) and base is not model else model


class _StreamingEntropy:
    """Forward hooks reducing each attention module's weights to [batch, heads] entropies and
    sink shares."""

    def __init__(self, modules: list[tuple[str, nn.Module, int]]):
        self.modules = modules
        self.mask: torch.Tensor | None = None  # the entropy's mask (masked mode only)
        self.query_mask: torch.Tensor | None = None  # the real queries (every mode)
        self.other_masks: dict[str, torch.Tensor | None] = {}  # other modes in the same pass
        self.others: dict[str, list[torch.Tensor | None]] = {}
        self.first_prompt = 0
        self.results: list[torch.Tensor | None] = []
        self.sinks: list[torch.Tensor | None] = []
        self.calls: list[int] = []
        self.handles: list = []

    def _hook(self, layer: int, index: int):
        def hook(module: nn.Module, args, output) -> None:
            self.calls[layer] += 1
            indexable = isinstance(output, tuple | list) and len(output) > index
            weights = output[index] if indexable else None
            if weights is None:
                raise ValueError(
                    f"attention weights of layer {layer} ({type(module).__name__}) are None: the "
                    f"model does not return them; {EAGER_HINT}"
                )
            self._reduce(layer, weights)

        return hook

    def _reduce(self, layer: int, weights: torch.Tensor) -> None:
        if weights.ndim != 4:
            raise ValueError(
                f"attention weights of layer {layer} must be [batch, heads, T, T], "
                f"got {tuple(weights.shape)}"
            )
        mask = None if self.mask is None else self.mask[:, None, :]
        w = column_sums(weights.detach(), mask)
        if not bool(torch.isfinite(w).all()):
            for b in range(w.shape[0]):
                check_finite(w[b : b + 1], self.first_prompt + b, layer_offset=layer)
        self.results[layer] = _entropy_inplace(w, mask).cpu()
        for mode, other in self.other_masks.items():
            other = None if other is None else other[:, None, :]
            self.others[mode][layer] = _entropy_inplace(column_sums(weights.detach(), other),
                                                         other).cpu()
        queries = None if self.query_mask is None else (
            self.query_mask.to(weights.device)[:, None, :])  # an offloaded layer's device
        self.sinks[layer] = sink_share(weights.detach(), queries).cpu()

    def start(self, mask: torch.Tensor | None, first_prompt: int,
              query_mask: torch.Tensor | None = None,
              other_masks: dict[str, torch.Tensor | None] | None = None) -> None:
        self.mask, self.first_prompt = mask, first_prompt
        self.query_mask = query_mask
        self.other_masks = dict(other_masks or {})
        self.others = {mode: [None] * len(self.modules) for mode in self.other_masks}
        self.results = [None] * len(self.modules)
        self.sinks = [None] * len(self.modules)
        self.calls = [0] * len(self.modules)

    def __enter__(self) -> _StreamingEntropy:
        self.handles = [
            module.register_forward_hook(self._hook(layer, index))
            for layer, (_, module, index) in enumerate(self.modules)
        ]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []


@contextmanager
def padding_state(tokenizer, padding_side: str) -> Iterator:
    """Set the padding side and a pad token (eos when missing, as the protocol does); restore."""
    old_side, old_pad = tokenizer.padding_side, tokenizer.pad_token
    tokenizer.padding_side = padding_side
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError("tokenizer has neither a pad token nor an eos token to pad with")
        tokenizer.pad_token = tokenizer.eos_token
    try:
        yield tokenizer
    finally:
        tokenizer.padding_side = old_side
        if old_pad is None:
            tokenizer.pad_token = None


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put `model` in eval mode for the block; restore its training flag after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _batches(
    prompts: Sequence[str], mode: str, batch_size: int | None
) -> list[tuple[int, list[str]]]:
    size = 1 if mode == "unpadded" else (batch_size or len(prompts))
    if size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return [(i, list(prompts[i : i + size])) for i in range(0, len(prompts), size)]


@dataclass(frozen=True)
class AttentionMeasurement:
    """What one streaming pass measures, each [prompts, layers, heads] float64."""

    entropies: np.ndarray  # normalized entropy (the entropy mode's tokens)
    sink_share: np.ndarray  # mean weight on key 0 over the real (unpadded) query positions
    # the entropies in other modes of the same padded pass (`OTHER_MODES`), by mode
    other_modes: dict[str, np.ndarray] = field(default_factory=dict)


# the modes one padded pass can also give: masked and padded read the same attention
OTHER_MODES = {"masked": ("padded",), "padded": ("masked",), "unpadded": ()}


def measure_attention(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    *,
    mode: str = "masked",
    max_length: int = MAX_LENGTH,
    batch_size: int | None = None,
    progress: bool = True,
    other_modes: Sequence[str] = (),
) -> AttentionMeasurement:
    """Run `model` on `prompts`: normalized entropies and sink shares [prompts, layers, heads].

    `other_modes` (each in `OTHER_MODES[mode]`) adds the entropies of another mode from the same
    pass: masked and padded read the same padded attention, with or without the pad tokens.

    masked/padded: prompts tokenized with padding="max_length", truncation at `max_length`, right
    padding, in batches of `batch_size` (all at once by default). unpadded: one prompt at a time,
    padding=False. Each layer's attention is reduced by a forward hook as it is produced and then
    dropped; the model runs without its task head (no logits) under torch.no_grad(), in eval
    mode, with use_cache=False where accepted. The sink share leaves out pad queries in every
    mode. A prompt of fewer than 2 tokens (after truncation) raises a PromptTooShortError naming
    it before the model runs.
    """
    check_mode(mode)
    if isinstance(prompts, str) or len(prompts) == 0:
        raise ValueError("prompts must be a non-empty sequence of strings")
    if bad := [m for m in other_modes if m not in OTHER_MODES[mode]]:
        raise ValueError(f"the {mode} pass cannot also give {bad}: it gives "
                         f"{list(OTHER_MODES[mode]) or 'no other mode'}")
    impl = _attn_implementation(model)
    if impl not in (None, "eager"):
        raise ValueError(
            f"model uses attn_implementation={impl!r}, which returns no weights; {EAGER_HINT}"
        )
    with padding_state(tokenizer, "right"):
        check_prompt_tokens(prompt_token_counts(tokenizer, prompts, max_length), prompts)
    modules = attention_modules(model)
    device = getattr(model, "device", None) or next(model.parameters()).device
    backbone = backbone_of(model)
    kwargs = forward_kwargs(backbone)
    padding = {"padding": False} if mode == "unpadded" else {"padding": "max_length"}
    rows: list[torch.Tensor] = []
    sinks: list[torch.Tensor] = []
    others: dict[str, list[torch.Tensor]] = {m: [] for m in other_modes}
    fell_back = False
    with padding_state(tokenizer, "right"), eval_mode(model), torch.no_grad():
        stream = _StreamingEntropy(modules)
        batches = _batches(prompts, mode, batch_size)
        with stream:
            bar = tqdm(batches, disable=not progress, desc=f"entropy ({mode})", leave=False)
            for start, batch in bar:
                inputs = tokenizer(
                    batch, return_tensors="pt", max_length=max_length, truncation=True, **padding
                ).to(device)
                queries = inputs["attention_mask"]
                mask = queries if mode == "masked" else None
                other_masks = {m: queries if m == "masked" else None for m in other_modes}
                stream.start(mask, start, queries, other_masks)
                if not fell_back and modules:
                    backbone(**inputs, **kwargs)
                    if all(c == 1 for c in stream.calls):
                        rows.append(torch.stack(stream.results, dim=1))
                        sinks.append(torch.stack(stream.sinks, dim=1))
                        for m in other_modes:
                            others[m].append(torch.stack(stream.others[m], dim=1))
                        continue
                    if any(stream.calls):
                        raise RuntimeError(
                            f"attention hooks fired {stream.calls} times (one per layer expected); "
                            "cannot stream this model's attention"
                        )
                fell_back = True
                entropies, sink, extra = _reduce_output_attentions(
                    backbone, inputs, kwargs, mask, queries, start, other_masks)
                rows.append(entropies)
                sinks.append(sink)
                for m in other_modes:
                    others[m].append(extra[m])
    if fell_back:
        warnings.warn(
            "no attention-module hook fired; fell back to output_attentions=True (all layers' "
            "attention held at once per batch)",
            RuntimeWarning,
            stacklevel=2,
        )
    return AttentionMeasurement(torch.cat(rows).numpy(), torch.cat(sinks).numpy(),
                                {m: torch.cat(others[m]).numpy() for m in other_modes})


def measure_entropies(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    *,
    mode: str = "masked",
    max_length: int = MAX_LENGTH,
    batch_size: int | None = None,
    progress: bool = True,
) -> np.ndarray:
    """The normalized entropies [prompts, layers, heads] of `measure_attention`."""
    return measure_attention(model, tokenizer, prompts, mode=mode, max_length=max_length,
                             batch_size=batch_size, progress=progress).entropies


def _reduce_output_attentions(
    model: nn.Module, inputs, kwargs: dict, mask: torch.Tensor | None, queries: torch.Tensor,
    start: int, other_masks: dict[str, torch.Tensor | None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    attentions = model(**inputs, **kwargs, output_attentions=True).attentions
    if not attentions or any(a is None for a in attentions):
        raise ValueError(f"the model returned no attention weights; {EAGER_HINT}")
    stack = torch.stack([a.detach() for a in attentions], dim=1)  # [batch, layers, heads, T, T]
    mask = None if mask is None else mask[:, None, None, :]
    w = column_sums(stack, mask)
    for b in range(w.shape[0]):
        check_finite(w[b], start + b)
    extra = {}
    for mode, other in (other_masks or {}).items():
        other = None if other is None else other[:, None, None, :]
        extra[mode] = _entropy_inplace(column_sums(stack, other), other).cpu()
    return (_entropy_inplace(w, mask).cpu(), sink_share(stack, queries[:, None, None, :]).cpu(),
            extra)
