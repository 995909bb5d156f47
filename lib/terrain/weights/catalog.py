"""Catalog of a checkpoint's weights by role, from keys, shapes and config only (seed 004 §4-§6).

One mechanism for every family: an ordered list of (regex, role) rules, the first match wins,
chosen from `config.json`'s `model_type` (open_clip checkpoints have none: they are recognized
by their fused `attn.in_proj_weight` keys). Roles: q, k, v, qkv (fused), o, mlp_up, mlp_gate,
mlp_down, norm, embedding, position_bias, projection, other. Each entry also carries its location
(encoder / decoder / vision / text / shared), attention kind (self / cross) and layer index (the
int after `block`, `layer`, `layers`, `resblocks` or Falcon's `h`, else -1).

Tied weights (T5's `encoder/decoder.embed_tokens`, a tied `lm_head`) are recorded as aliases and
left out, as `named_parameters()` de-duplicates them in the seed; non-float buffers (BERT's
`position_ids`) are listed apart. A key no rule explains becomes `other` and is listed in
`Catalog.unmatched` (`strict=True` raises instead).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from lib.models.checkpoint import layer_position

ROLES = ("q", "k", "v", "qkv", "o", "mlp_up", "mlp_gate", "mlp_down", "norm", "embedding",
         "position_bias", "projection", "other")
ATTENTION_ROLES = ("q", "k", "v", "qkv", "o")
LOCATIONS = ("encoder", "decoder", "vision", "text", "shared")
FLOAT_DTYPES = ("F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2")


class UnknownFamilyError(ValueError):
    """A checkpoint whose architecture has no rule list here."""


class TensorSource(Protocol):
    """What the catalog and the battery read: a `lib.models.checkpoint.Checkpoint` or alike."""

    name: str
    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]

    def keys(self) -> list[str]: ...
    def tensor(self, key: str, dtype: Any = None) -> Any: ...
    def config(self) -> dict: ...


@dataclass(frozen=True)
class Rule:
    """`pattern` (re.search on the key) -> role, with attention kind and why."""

    pattern: str
    role: str
    attention: str | None = None
    fused: str | None = None  # qkv layout ('contiguous', 'falcon-grouped', ...) or 'gate_up'
    note: str = ""


@dataclass(frozen=True)
class Family:
    """The rules of one architecture family."""

    name: str
    rules: tuple[Rule, ...]
    locations: tuple[tuple[str, str], ...]  # (pattern, location), first match; else 'shared'
    tied: tuple[tuple[str, str], ...] = ()  # (alias pattern, target key) when tying applies
    tie_default: bool = True  # config's tie_word_embeddings when it does not say
    norm_offset: float = 0.0  # Gemma's RMSNorm scales by (1 + weight)


@dataclass(frozen=True)
class AttentionHeads:
    """Head geometry needed to split fused QKV and to pair grouped K heads with Q heads."""

    n_heads: int
    n_kv: int
    head_dim: int


@dataclass(frozen=True)
class Entry:
    """One tensor of the checkpoint with its role."""

    key: str
    role: str
    location: str
    attention: str | None
    layer: int
    shape: tuple[int, ...]
    kind: str  # weight | bias
    fused: str | None = None
    note: str = ""

    @property
    def group(self) -> str:
        """The seed's type name: `self_attn_q`, `cross_attn_o`, `mlp_up`, `norm`, ..."""
        return f"{self.attention}_attn_{self.role}" if self.attention else self.role

    @property
    def numel(self) -> int:
        n = 1
        for size in self.shape:
            n *= size
        return n


@dataclass
class Catalog:
    """Every tensor of one checkpoint by role; `tied` and `buffers` account for the rest."""

    name: str
    family: str
    entries: list[Entry]
    tied: dict[str, str] = field(default_factory=dict)  # alias key -> the key it duplicates
    buffers: list[str] = field(default_factory=list)  # non-float tensors (position_ids, ...)
    unmatched: list[str] = field(default_factory=list)  # keys that fell through to 'other'
    heads: AttentionHeads | None = None
    norm_offset: float = 0.0

    def select(self, *, role: str | None = None, location: str | None = None,
               attention: str | None = None, kind: str | None = "weight",
               group: str | None = None) -> list[Entry]:
        """Entries matching every given field, ordered by (location, layer, key)."""
        found = [e for e in self.entries
                 if (role is None or e.role == role)
                 and (location is None or e.location == location)
                 and (attention is None or e.attention == attention)
                 and (kind is None or e.kind == kind) and (group is None or e.group == group)]
        return sorted(found, key=lambda e: (LOCATIONS.index(e.location), e.layer, e.key))

    def counts(self, kind: str | None = "weight") -> dict[str, int]:
        """Number of tensors per group (weights only by default), e.g. {'self_attn_q': 12}."""
        return dict(sorted(Counter(e.group for e in self.entries
                                   if kind is None or e.kind == kind).items()))

    def locations(self) -> list[str]:
        """Locations present, in LOCATIONS order."""
        present = {e.location for e in self.entries}
        return [loc for loc in LOCATIONS if loc in present]

    def restrict(self, locations: tuple[str, ...] | list[str]) -> Catalog:
        """The same catalog keeping only entries at `locations` (e.g. CLIP's vision tower)."""
        bad = sorted(set(locations) - set(LOCATIONS))
        if bad:
            raise ValueError(f"unknown location(s) {bad}; use some of {LOCATIONS}")
        kept = [e for e in self.entries if e.location in locations]
        if not kept:
            raise ValueError(f"{self.name}: no weights at {list(locations)}; "
                             f"present: {self.locations()}")
        return Catalog(self.name, self.family, kept, self.tied, self.buffers, self.unmatched,
                       self.heads, self.norm_offset)


def _qkvo(prefix: str, names: tuple[str, str, str, str], attention: str = "self",
          suffix: str = r"\.") -> tuple[Rule, ...]:
    return tuple(Rule(prefix + re.escape(n) + suffix, role, attention)
                 for n, role in zip(names, ("q", "k", "v", "o"), strict=True))


_T5 = Family(
    "t5",
    rules=(
        Rule(r"relative_attention_bias", "position_bias"),
        Rule(r"(^|\.)(shared|embed_tokens)\.", "embedding"),
        Rule(r"layer_norm", "norm"),
        *_qkvo(r"SelfAttention\.", ("q", "k", "v", "o")),
        *_qkvo(r"EncDecAttention\.", ("q", "k", "v", "o"), "cross"),
        Rule(r"DenseReluDense\.wi_0\.", "mlp_gate", note="gated T5 v1.1 (GeGLU gate)"),
        Rule(r"DenseReluDense\.wi_1\.", "mlp_up"),
        Rule(r"DenseReluDense\.wi\.", "mlp_up"),
        Rule(r"DenseReluDense\.wo\.", "mlp_down"),
        Rule(r"^lm_head\.", "other", note="untied output head: other, as the seed (§6)"),
    ),
    locations=((r"^encoder\.", "encoder"), (r"^decoder\.", "decoder")),
    tied=((r"^(encoder|decoder)\.embed_tokens\.weight$", "shared.weight"),
          (r"^lm_head\.weight$", "shared.weight")),
)

_BERT = Family(
    "bert",
    rules=(
        Rule(r"LayerNorm", "norm"),
        Rule(r"(^|\.)embeddings\.", "embedding"),
        Rule(r"attention\.self\.query\.", "q", "self"),
        Rule(r"attention\.self\.key\.", "k", "self"),
        Rule(r"attention\.self\.value\.", "v", "self"),
        Rule(r"attention\.output\.dense\.", "o", "self"),
        Rule(r"intermediate\.dense\.", "mlp_up"),
        Rule(r"output\.dense\.", "mlp_down"),
        Rule(r"(^|\.)pooler\.", "projection", note="the seed's 'pooler', skipped like projection"),
    ),
    locations=((r"(^|\.)encoder\.", "encoder"),),
)

_DINOV2 = Family(
    "dinov2",
    rules=(
        Rule(r"(^|\.)embeddings\.", "embedding", note="cls/mask tokens, positions, patch conv"),
        Rule(r"layer_scale", "other", note="LayerScale gains; the seed's classifier gives other"),
        Rule(r"norm", "norm"),
        Rule(r"attention\.attention\.query\.", "q", "self"),
        Rule(r"attention\.attention\.key\.", "k", "self"),
        Rule(r"attention\.attention\.value\.", "v", "self"),
        Rule(r"attention\.output\.dense\.", "o", "self"),
        Rule(r"mlp\.fc1\.", "mlp_up"),
        Rule(r"mlp\.fc2\.", "mlp_down"),
        Rule(r"mlp\.weights_in\.", "mlp_up", fused="gate_up", note="SwiGLU: [gate; up] fused"),
        Rule(r"mlp\.weights_out\.", "mlp_down"),
    ),
    locations=((r".", "vision"),),
)

_CLIP = Family(
    "clip",
    rules=(
        Rule(r"(^|\.)logit_scale$", "other", note="CLIP temperature, other as in the seed"),
        Rule(r"(token|position|patch|class)_embedding", "embedding"),
        Rule(r"(layer_norm|layrnorm|layernorm)", "norm"),
        *_qkvo(r"self_attn\.", ("q_proj", "k_proj", "v_proj", "out_proj")),
        Rule(r"mlp\.fc1\.", "mlp_up"),
        Rule(r"mlp\.fc2\.", "mlp_down"),
        Rule(r"(visual|text)_projection\.", "projection"),
    ),
    locations=((r"(^|\.)(vision_model|visual_projection)", "vision"),
               (r"(^|\.)(text_model|text_projection)", "text")),
)

_OPEN_CLIP = Family(
    "open_clip",
    rules=(
        Rule(r"(^|\.)logit_(scale|bias)$", "other", note="CLIP temperature, other as in the seed"),
        Rule(r"(^|\.)(token_embedding|positional_embedding|class_embedding|conv1)(\.|$)",
             "embedding"),
        Rule(r"(^|\.)ln_|norm", "norm"),
        Rule(r"attn\.in_proj_(weight|bias)$", "qkv", "self", fused="contiguous",
             note="fused [3E, E]: W[:E] = q, W[E:2E] = k"),
        Rule(r"attn\.out_proj\.", "o", "self"),
        Rule(r"mlp\.c_fc\.", "mlp_up"),
        Rule(r"mlp\.c_proj\.", "mlp_down"),
        Rule(r"(^|\.)ls_\d\.gamma$", "other", note="LayerScale gains, as DINOv2's"),
        Rule(r"(^|\.)(proj|text_projection)$", "projection"),
    ),
    locations=((r"^visual\.", "vision"), (r"^logit_", "shared"), (r".", "text")),
)

_DECODER_COMMON = (
    Rule(r"(^|\.)(embed_tokens|word_embeddings)\.", "embedding"),
    Rule(r"(norm|layernorm|ln_attn|ln_mlp|ln_f)(\.|$)", "norm",
         note="RMS/LayerNorm gains incl. per-head q_norm/k_norm"),
    *_qkvo(r"self_attn\.", ("q_proj", "k_proj", "v_proj", "o_proj")),
    Rule(r"mlp\.gate_proj\.", "mlp_gate"),
    Rule(r"mlp\.up_proj\.", "mlp_up"),
    Rule(r"mlp\.down_proj\.", "mlp_down"),
    Rule(r"^lm_head\.", "other", note="untied output head: other, as the seed's T5 lm_head"),
)
_DECODER_LOCATIONS = ((r"(^|\.)(layers|h)\.\d+\.", "decoder"),)
_DECODER_TIED = ((r"^lm_head\.weight$", "model.embed_tokens.weight"),)


def _decoder(name: str, *extra: Rule, norm_offset: float = 0.0, tie_default: bool = False,
             tied: tuple[tuple[str, str], ...] = _DECODER_TIED) -> Family:
    return Family(name, rules=(*extra, *_DECODER_COMMON), locations=_DECODER_LOCATIONS,
                  tied=tied, tie_default=tie_default, norm_offset=norm_offset)


_LLAMA = _decoder("llama")
_GEMMA = _decoder("gemma", norm_offset=1.0, tie_default=True)
_PHI = _decoder("phi", Rule(r"self_attn\.dense\.", "o", "self"), Rule(r"mlp\.fc1\.", "mlp_up"),
                Rule(r"mlp\.fc2\.", "mlp_down"))
_PHI3 = _decoder(
    "phi3",
    Rule(r"self_attn\.qkv_proj\.", "qkv", "self", fused="contiguous", note="[q; k; v] rows"),
    Rule(r"mlp\.gate_up_proj\.", "mlp_up", fused="gate_up", note="[gate; up] rows, fused"),
)
_FALCON = _decoder(
    "falcon",
    Rule(r"self_attention\.query_key_value\.", "qkv", "self", fused="falcon",
         note="fused; layout from the config (grouped / interleaved)"),
    Rule(r"self_attention\.dense\.", "o", "self"),
    Rule(r"mlp\.dense_h_to_4h\.", "mlp_up"),
    Rule(r"mlp\.dense_4h_to_h\.", "mlp_down"),
    tied=((r"^lm_head\.weight$", "transformer.word_embeddings.weight"),),
)

FAMILIES: dict[str, Family] = {f.name: f for f in (
    _T5, _BERT, _DINOV2, _CLIP, _OPEN_CLIP, _LLAMA, _GEMMA, _PHI, _PHI3, _FALCON)}
MODEL_TYPES: dict[str, str] = {
    "t5": "t5", "mt5": "t5", "umt5": "t5",
    "bert": "bert", "roberta": "bert", "xlm-roberta": "bert",
    "dinov2": "dinov2",
    "clip": "clip", "clip_vision_model": "clip", "clip_text_model": "clip",
    "llama": "llama", "mistral": "llama", "qwen2": "llama", "qwen3": "llama", "olmo2": "llama",
    "smollm3": "llama",
    "gemma": "gemma", "gemma2": "gemma", "gemma3_text": "gemma",
    "phi": "phi", "phi3": "phi3", "falcon": "falcon",
}


def family_of(config: dict, keys: list[str]) -> Family:
    """The rule family of a checkpoint: config `model_type`, else open_clip by its fused keys."""
    model_type = config.get("model_type")
    if model_type in MODEL_TYPES:
        return FAMILIES[MODEL_TYPES[model_type]]
    if not model_type and any(k.endswith("attn.in_proj_weight") for k in keys):
        return FAMILIES["open_clip"]
    raise UnknownFamilyError(
        f"no weight-role rules for model_type {model_type!r}; known model types: "
        f"{', '.join(sorted(MODEL_TYPES))} (and open_clip checkpoints); add a Family in "
        "lib/terrain/weights/catalog.py")


def _first(config: dict, *names: str) -> Any:
    for name in names:
        if config.get(name) is not None:
            return config[name]
    return None


def attention_heads(config: dict) -> AttentionHeads | None:
    """Head counts and size from a transformers config dict (None when it does not say)."""
    n_heads = _first(config, "num_attention_heads", "num_heads", "n_head")
    if not n_heads:
        return None
    if config.get("model_type") == "falcon":
        n_kv = (config.get("num_kv_heads") or n_heads) if config.get("new_decoder_architecture") \
            else (1 if config.get("multi_query", True) else n_heads)
    else:
        n_kv = _first(config, "num_key_value_heads", "num_kv_heads") or n_heads
    width = _first(config, "hidden_size", "d_model", "n_embd")
    head_dim = _first(config, "head_dim", "d_kv") or (width // n_heads if width else None)
    return AttentionHeads(int(n_heads), int(n_kv), int(head_dim)) if head_dim else None


def _falcon_layout(config: dict) -> str:
    if config.get("new_decoder_architecture") or config.get("multi_query", True):
        return "falcon-grouped"
    return "falcon-interleaved"


def _location(family: Family, key: str) -> str:
    for pattern, location in family.locations:
        if re.search(pattern, key):
            return location
    return "shared"


def layer_index(key: str) -> int:
    """The int after the first `block`/`layer`/`layers`/`resblocks`/`h` part, else -1."""
    found = layer_position(key)
    return found[1] if found else -1


def _kind(key: str) -> str:
    return "bias" if key.endswith((".bias", "in_proj_bias")) else "weight"


def build_catalog(source: TensorSource, *, strict: bool = False) -> Catalog:
    """Classify every tensor of `source` from its keys, shapes and config; no data is read."""
    keys = source.keys()
    if not keys:
        raise ValueError(f"{source.name}: the checkpoint holds no tensors")
    config = source.config()
    family = family_of(config, keys)
    present = set(keys)
    tie = config.get("tie_word_embeddings", family.tie_default)
    catalog = Catalog(source.name, family.name, [], heads=attention_heads(config),
                      norm_offset=family.norm_offset)
    for key in keys:
        if source.dtypes.get(key, "F32") not in FLOAT_DTYPES:
            catalog.buffers.append(key)
            continue
        alias = next((target for pattern, target in family.tied
                      if re.search(pattern, key) and target in present and target != key
                      and (tie or "lm_head" not in key)
                      and source.shapes[target] == source.shapes[key]), None)
        if alias:
            catalog.tied[key] = alias
            continue
        rule = next((r for r in family.rules if re.search(r.pattern, key)), None)
        if rule is None:
            if strict:
                raise ValueError(f"{source.name}: no {family.name} rule explains {key!r}; add one "
                                 "in lib/terrain/weights/catalog.py")
            catalog.unmatched.append(key)
            rule = Rule("", "other", note="no rule matched")
        fused = _falcon_layout(config) if rule.fused == "falcon" else rule.fused
        catalog.entries.append(Entry(
            key, rule.role, _location(family, key), rule.attention, layer_index(key),
            tuple(source.shapes[key]), _kind(key), fused, rule.note))
    return catalog
