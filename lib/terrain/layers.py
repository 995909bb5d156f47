"""Encoder layer-by-layer geometry through forward hooks, with explicitly named layers (§1, B5).

HF's `hidden_states` index changed meaning between transformers 4.x and 5.x (4.x T5: hs[0] =
embeddings, hs[1..n-1] = blocks 0..n-2, hs[n] = the final-norm output; the raw last-block output
never appears). Here every layer is named: "embeddings", "block 0" ... "block n-1", and
"final norm" where the stack has one, and its output is captured by a forward hook.
Supported: T5 (`encoder.embed_tokens`, `encoder.block`, `encoder.final_layer_norm`, and the same
for the decoder) and BERT-likes (`embeddings`, `encoder.layer[i]`, an optional final `layernorm`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from lib.models.checkpoint import checkpoint
from lib.terrain.cosine import upper_tri_cosines

RPB_KEY = "{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"


class LayerNotFoundError(ValueError):
    """A requested layer name is not in the model's named layers."""


def _stack(model: Any, which: str) -> Any:
    base = getattr(model, "base_model", model)
    if which == "decoder":
        stack = getattr(base, "decoder", None)
        if stack is None or not hasattr(stack, "block"):
            raise ValueError(f"{type(model).__name__} has no T5-style decoder (decoder.block)")
        return stack
    return base


def named_layers(model: Any, stack: str = "encoder") -> list[tuple[str, torch.nn.Module]]:
    """[(name, module)] in forward order for a T5 encoder/decoder or a BERT-like encoder."""
    if stack not in ("encoder", "decoder"):
        raise ValueError(f"stack must be 'encoder' or 'decoder'; got {stack!r}")
    base = _stack(model, stack)
    t5 = base if stack == "decoder" else getattr(base, "encoder", None)
    if t5 is not None and hasattr(t5, "block") and hasattr(t5, "embed_tokens"):
        layers = [("embeddings", t5.embed_tokens)]
        layers += [(f"block {i}", b) for i, b in enumerate(t5.block)]
        return layers + [("final norm", t5.final_layer_norm)]
    encoder = getattr(base, "encoder", None)
    if hasattr(base, "embeddings") and encoder is not None and hasattr(encoder, "layer"):
        layers = [("embeddings", base.embeddings)]
        layers += [(f"block {i}", b) for i, b in enumerate(encoder.layer)]
        norm = getattr(base, "layernorm", None)  # DINOv2-style final norm
        return layers + ([("final norm", norm)] if isinstance(norm, torch.nn.Module) else [])
    raise ValueError(f"{type(model).__name__} has no encoder this module knows (T5: "
                     "encoder.block + final_layer_norm; BERT-like: embeddings + encoder.layer); "
                     "decoder-only models have no encoder")


def hf4_hidden_state_names(n_blocks: int) -> list[str]:
    """Names of HF 4.x T5 `hidden_states[0..n]` (what the seed's layer table printed)."""
    return ["embeddings", *(f"block {i}" for i in range(n_blocks - 1)), "final norm"]


def _select(layers: list[tuple[str, Any]], wanted: Sequence[str] | None) -> list[tuple[str, Any]]:
    if wanted is None:
        return layers
    names = [n for n, _ in layers]
    missing = [w for w in wanted if w not in names]
    if missing:
        raise LayerNotFoundError(f"no layer {', '.join(map(repr, missing))}; this model has "
                                 f"{', '.join(names)}")
    return [layers[names.index(w)] for w in wanted]


@contextmanager
def capture(model: Any, layers: Sequence[str] | None = None, stack: str = "encoder"):
    """Context manager: {layer name: output tensor} filled by forward hooks while active."""
    chosen = _select(named_layers(model, stack), layers)
    seen: dict[str, torch.Tensor] = {}

    def hook(name: str):
        def record(_module, _inputs, output):
            seen[name] = (output[0] if isinstance(output, tuple) else output).detach()
        return record

    handles = [module.register_forward_hook(hook(name)) for name, module in chosen]
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


def encoder_forward(model: Any, input_ids: torch.Tensor) -> Any:
    """Run only the encoder: T5's `encoder(...)`, else the model itself (BERT-likes)."""
    base = getattr(model, "base_model", model)
    with torch.no_grad():
        if hasattr(base, "encoder") and hasattr(base.encoder, "block"):
            return base.encoder(input_ids=input_ids)
        return base(input_ids=input_ids, attention_mask=torch.ones_like(input_ids))


def encoder_states(model: Any, tokenizer: Any, text: str,
                   layers: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """{layer name: [seq, dim]} hooked outputs for one unpadded sentence."""
    ids = tokenizer(text, return_tensors="pt").input_ids.to(_device(model))
    with capture(model, layers) as seen:
        encoder_forward(model, ids)
    return {name: h[0] for name, h in seen.items()}


def state_geometry(h: Any) -> dict[str, float]:
    """Token-norm mean/std and pairwise position-cosine mean/std (0.0 for one token, as seed)."""
    x = h.detach().float().cpu().numpy() if isinstance(h, torch.Tensor) else np.asarray(h)
    norms = np.linalg.norm(x, axis=1)
    cos = upper_tri_cosines(x) if x.shape[0] > 1 else np.array([0.0])
    return {"mean_norm": float(norms.mean()), "std_norm": float(norms.std()),
            "mean_cos": float(cos.mean()), "std_cos": float(cos.std())}


def encoder_layer_geometry(model: Any, tokenizer: Any, sentences: Sequence[str],
                           layers: Sequence[str] | None = None) -> dict[str, Any]:
    """Per named layer, the §1 statistics averaged over unpadded sentences."""
    if not sentences:
        raise ValueError("no sentences given")
    chosen = [n for n, _ in _select(named_layers(model), layers)]
    rows = {name: [] for name in chosen}
    lengths = []
    for text in sentences:
        states = encoder_states(model, tokenizer, text, chosen)
        lengths.append(int(next(iter(states.values())).shape[0]))
        for name in chosen:
            rows[name].append(state_geometry(states[name]))
    per_layer = {name: {key: float(np.mean([r[key] for r in rows[name]])) for key in rows[name][0]}
                 for name in chosen}
    return {"layers": chosen, "per_layer": per_layer, "n_sentences": len(sentences),
            "seq_lengths": lengths}


def encoder_decoder_position_cosine(model: Any, tokenizer: Any, source: str, target: str,
                                    layers: Sequence[str] | None = None,
                                    max_positions: int = 5) -> dict[str, Any]:
    """§1's encoder-vs-decoder per-position cosine, as executed (T5).

    The encoder reads `source`; the decoder reads the tokenization of `target` (no shift) with
    the encoder's last hidden state. B5: the seed called these "same embeddings", but position t
    holds a different token in each, so this compares different tokens; `same_token` says where
    they coincide. Default layers are the seed's HF-4.x indices [0, n/2, n].
    """
    enc_layers = named_layers(model, "encoder")
    named_layers(model, "decoder")  # clear error for models without a T5 decoder
    n = len(enc_layers) - 2
    if layers is None:
        layers = [hf4_hidden_state_names(n)[i] for i in (0, n // 2, n)]
    device = _device(model)
    src = tokenizer(source, return_tensors="pt").input_ids.to(device)
    tgt = tokenizer(target, return_tensors="pt").input_ids.to(device)
    base = getattr(model, "base_model", model)
    with torch.no_grad():
        with capture(model, layers, "encoder") as enc:
            enc_out = base.encoder(input_ids=src)
        with capture(model, layers, "decoder") as dec:
            base.decoder(input_ids=tgt, encoder_hidden_states=enc_out.last_hidden_state)
    t = min(src.shape[1], tgt.shape[1], max_positions)
    per_layer = {}
    for name in layers:
        a, b = enc[name][0, :t].float(), dec[name][0, :t].float()
        cos = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1) + 1e-8)
        per_layer[name] = cos.cpu().tolist()
    return {
        "label": "as executed (B5): position t holds different tokens in encoder and decoder",
        "encoder_ids": src[0].tolist(), "decoder_ids": tgt[0].tolist(), "positions": t,
        "same_token": (src[0, :t] == tgt[0, :t]).cpu().tolist(), "per_layer": per_layer,
    }


def position_bias_stats(rpb: Any) -> dict[str, Any]:
    """Global and per-head mean/std (ddof 0)/min/max/range of a relative position bias [B, H]."""
    w = rpb.detach().float().cpu().numpy() if isinstance(rpb, torch.Tensor) else np.asarray(rpb)
    if w.ndim != 2 or w.size == 0:
        raise ValueError(f"position bias must be [buckets, heads]; got shape {w.shape}")
    heads = [{"head": h, "mean": float(c.mean()), "std": float(c.std()), "min": float(c.min()),
              "max": float(c.max()), "range": float(c.max() - c.min())}
             for h, c in enumerate(w.T)]
    return {"buckets": int(w.shape[0]), "heads": int(w.shape[1]), "mean": float(w.mean()),
            "std": float(w.std()), "min": float(w.min()), "max": float(w.max()),
            "range": float(w.max() - w.min()), "per_head": heads}


def read_position_bias(name: str, stack: str = "encoder") -> torch.Tensor:
    """Block 0's relative_attention_bias [32, H] of a T5 checkpoint, read alone."""
    ckpt = checkpoint(name)
    key = RPB_KEY.format(stack=stack)
    if key not in ckpt.shapes:
        raise ValueError(f"{name} has no {key} (only T5-style models carry a relative position "
                         "bias)")
    return ckpt.tensor(key, torch.float32)
