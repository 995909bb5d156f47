"""Architecture facts read from a transformers config: layers, heads, kv heads, attention kind."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# Encoder-only families that transformers also lists as causal-LM capable (e.g. BertLMHeadModel).
_ENCODER_FAMILIES = frozenset(
    {"bert", "roberta", "xlm-roberta", "electra", "ernie", "camembert", "megatron-bert", "rembert"}
)
_VISION_FIRST = frozenset({"clip", "siglip", "clip_vision_model"})
_FALCON_FAMILIES = frozenset({"falcon", "RefinedWeb", "RefinedWebModel"})


@dataclass(frozen=True)
class ArchitectureInfo:
    """What the attention experiments need to know about a model's shape."""

    family: str
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    hidden_size: int
    attention_kind: str
    is_decoder: bool

    def as_dict(self) -> dict:
        """The fields as a plain dict (JSON-ready)."""
        return asdict(self)


def attention_kind(num_heads: int, num_kv_heads: int) -> str:
    """'MHA' (a kv head per query head), 'MQA' (one kv head for all), else 'GQA'."""
    if num_kv_heads == num_heads:
        return "MHA"
    return "MQA" if num_kv_heads == 1 else "GQA"


def _first(config: Any, names: tuple[str, ...], default: Any = None) -> Any:
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return default


def _attention_config(config: Any) -> Any:
    """The sub-config holding the attention stack (CLIP: vision tower; VLMs: text model)."""
    if _first(config, ("num_hidden_layers", "n_layer", "num_layers", "n_layers")) is not None:
        return config
    order = ("vision_config", "text_config")
    if getattr(config, "model_type", "") not in _VISION_FIRST:
        order = order[::-1]
    for name in order:
        sub = getattr(config, name, None)
        if sub is not None:
            return sub
    return config


def _kv_heads(config: Any, family: str, num_heads: int) -> int:
    if family in _FALCON_FAMILIES:
        # transformers reports num_kv_heads == heads for multi_query=True; the truth is 1.
        if getattr(config, "new_decoder_architecture", False) or family == "RefinedWeb":
            return int(_first(config, ("num_kv_heads", "n_head_kv"), num_heads))
        return 1 if getattr(config, "multi_query", False) else num_heads
    return int(_first(config, ("num_key_value_heads", "num_kv_heads", "n_head_kv"), num_heads))


def _is_decoder(config: Any) -> bool:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if getattr(config, "is_encoder_decoder", False):
        return False
    if getattr(config, "is_decoder", False):
        return True
    family = getattr(config, "model_type", "")
    if family in _ENCODER_FAMILIES:
        return False
    architectures = getattr(config, "architectures", None) or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        return True
    return family in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or family in _FALCON_FAMILIES


def architecture_info(config: Any) -> ArchitectureInfo:
    """Read layers, heads, kv heads, head_dim and hidden size from a (possibly composite) config.

    Falcon's `multi_query` / `new_decoder_architecture` are interpreted here (transformers reports
    kv heads == query heads for multi-query Falcon). For CLIP the vision tower is described; for T5
    the encoder stack.
    """
    family = str(getattr(config, "model_type", "") or type(config).__name__)
    sub = _attention_config(config)
    num_layers = int(_first(sub, ("num_hidden_layers", "n_layer", "num_layers", "n_layers")))
    num_heads = int(_first(sub, ("num_attention_heads", "n_head", "num_heads", "n_heads")))
    hidden = int(_first(sub, ("hidden_size", "d_model", "n_embd", "hidden_dim")))
    head_dim = int(_first(sub, ("head_dim", "d_kv"), hidden // num_heads))
    kv = _kv_heads(sub, family, num_heads)
    return ArchitectureInfo(
        family=family,
        num_layers=num_layers,
        num_heads=num_heads,
        num_kv_heads=kv,
        head_dim=head_dim,
        hidden_size=hidden,
        attention_kind=attention_kind(num_heads, kv),
        is_decoder=_is_decoder(config),
    )


def check_fused_qkv(model: Any, info: ArchitectureInfo) -> ArchitectureInfo:
    """Cross-check kv heads against a fused `query_key_value` projection (Falcon) and fix them.

    The projection has (heads + 2 * kv_heads) * head_dim outputs; `out_features` survives 8/4-bit
    quantization, unlike the packed weight shape. Models without such a layer pass unchanged.
    """
    for name, module in model.named_modules():
        if name.endswith("query_key_value") and hasattr(module, "out_features"):
            kv = (int(module.out_features) // info.head_dim - info.num_heads) // 2
            if kv > 0 and kv != info.num_kv_heads:
                fields = info.as_dict() | {
                    "num_kv_heads": kv,
                    "attention_kind": attention_kind(info.num_heads, kv),
                }
                return ArchitectureInfo(**fields)
            return info
    return info
