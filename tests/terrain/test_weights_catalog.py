"""lib.terrain.weights.catalog: every weight of every family gets a role, from keys and shapes."""

from __future__ import annotations

import re

import pytest
import torch

from lib.models import known_models
from lib.models.checkpoint import checkpoint
from lib.terrain.weights import UnknownFamilyError, build_catalog
from lib.terrain.weights.catalog import ROLES, layer_index

# the only keys allowed the role 'other': what the seed also called other
OTHER_ALLOWED = re.compile(r"(^lm_head\.|logit_scale$|logit_bias$|layer_scale|ls_\d\.gamma$)")
TINY = [n for n in known_models() if n.startswith("tiny/") and not n.endswith("-instruct")]


class FakeSource:
    """Keys, shapes and config, with tensors only where given (the catalog never reads data)."""

    def __init__(self, name: str, shapes: dict, config: dict, tensors: dict | None = None):
        self.name, self.shapes, self._config = name, dict(shapes), config
        self.dtypes = {k: "F32" for k in shapes}
        self._tensors = tensors or {}

    def keys(self) -> list[str]:
        return list(self.shapes)

    def tensor(self, key: str, dtype=None) -> torch.Tensor:
        return self._tensors[key]

    def config(self) -> dict:
        return self._config


def _meta_source(config, **raw) -> FakeSource:
    """A transformers model built on the meta device: its state_dict keys (tied ones included).

    `raw` overrides config.json values (transformers 5 forces T5's tie_word_embeddings to True
    in the config object; a v1.1 checkpoint's config.json says false).
    """
    from transformers import AutoModelForSeq2SeqLM

    with torch.device("meta"):
        model = AutoModelForSeq2SeqLM.from_config(config)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    return FakeSource(config.model_type, shapes, config.to_dict() | raw)


@pytest.mark.parametrize("name", TINY)
def test_every_tiny_weight_has_a_role(name: str) -> None:
    ckpt = checkpoint(name)
    catalog = build_catalog(ckpt, strict=True)
    assert catalog.unmatched == []
    explained = {e.key for e in catalog.entries} | set(catalog.tied) | set(catalog.buffers)
    assert explained == set(ckpt.keys())
    assert {e.role for e in catalog.entries} <= set(ROLES)
    others = [e.key for e in catalog.entries if e.role == "other"]
    assert all(OTHER_ALLOWED.search(k) for k in others), others
    # every attention block is found, per layer, with a q (or fused qkv) and an o
    layers = {e.layer for e in catalog.entries if e.role in ("q", "qkv")}
    assert layers and min(layers) == 0 and -1 not in layers


def test_t5_small_shaped_counts_match_the_seed() -> None:
    from transformers import T5Config

    config = T5Config(d_model=32, d_kv=8, d_ff=64, num_heads=4, num_layers=6,
                      num_decoder_layers=6, vocab_size=100, tie_word_embeddings=True)
    catalog = build_catalog(_meta_source(config), strict=True)
    assert catalog.counts() == {
        "self_attn_q": 12, "self_attn_k": 12, "self_attn_v": 12, "self_attn_o": 12,
        "cross_attn_q": 6, "cross_attn_k": 6, "cross_attn_v": 6, "cross_attn_o": 6,
        "mlp_up": 12, "mlp_down": 12, "position_bias": 2, "norm": 32, "embedding": 1,
    }
    assert set(catalog.tied) == {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
                                 "lm_head.weight"}
    q = catalog.select(group="self_attn_q", location="decoder")
    assert [e.layer for e in q] == list(range(6))


def test_gated_t5_v1_1_roles_and_untied_head() -> None:
    from transformers import T5Config

    config = T5Config(d_model=32, d_kv=8, d_ff=64, num_heads=4, num_layers=2,
                      num_decoder_layers=2, vocab_size=100, feed_forward_proj="gated-gelu")
    catalog = build_catalog(_meta_source(config, tie_word_embeddings=False), strict=True)
    counts = catalog.counts()
    assert (counts["mlp_gate"], counts["mlp_up"], counts["mlp_down"]) == (4, 4, 4)
    assert [e.key for e in catalog.select(role="other")] == ["lm_head.weight"]
    gate = catalog.select(role="mlp_gate")[0]
    assert "wi_0" in gate.key and "wi_1" in catalog.select(role="mlp_up")[0].key


def open_clip_shapes(width: int = 8, layers: int = 2) -> dict[str, tuple[int, ...]]:
    """open_clip key names (ViT visual tower + text tower) with small shapes."""
    shapes: dict[str, tuple[int, ...]] = {
        "positional_embedding": (5, width), "text_projection": (width, 4), "logit_scale": (),
        "token_embedding.weight": (50, width), "ln_final.weight": (width,),
        "ln_final.bias": (width,), "visual.class_embedding": (width,),
        "visual.positional_embedding": (5, width), "visual.proj": (width, 4),
        "visual.conv1.weight": (width, 3, 4, 4), "visual.ln_pre.weight": (width,),
        "visual.ln_pre.bias": (width,), "visual.ln_post.weight": (width,),
        "visual.ln_post.bias": (width,),
    }
    for prefix in ("", "visual."):
        for i in range(layers):
            b = f"{prefix}transformer.resblocks.{i}."
            shapes |= {b + "ln_1.weight": (width,), b + "ln_1.bias": (width,),
                       b + "attn.in_proj_weight": (3 * width, width),
                       b + "attn.in_proj_bias": (3 * width,),
                       b + "attn.out_proj.weight": (width, width),
                       b + "attn.out_proj.bias": (width,), b + "ln_2.weight": (width,),
                       b + "ln_2.bias": (width,), b + "mlp.c_fc.weight": (4 * width, width),
                       b + "mlp.c_fc.bias": (4 * width,),
                       b + "mlp.c_proj.weight": (width, 4 * width),
                       b + "mlp.c_proj.bias": (width,)}
    return shapes


def test_open_clip_is_recognized_by_its_fused_keys() -> None:
    catalog = build_catalog(FakeSource("open_clip", open_clip_shapes(), {}), strict=True)
    assert catalog.family == "open_clip"
    qkv = catalog.select(role="qkv")
    assert [(e.location, e.layer) for e in qkv] == [("vision", 0), ("vision", 1), ("text", 0),
                                                    ("text", 1)]
    assert all(e.fused == "contiguous" and e.attention == "self" for e in qkv)
    assert [e.key for e in catalog.select(role="other")] == ["logit_scale"]
    assert {e.key for e in catalog.select(role="projection")} == {"visual.proj", "text_projection"}


def test_unknown_family_and_empty_checkpoint_raise() -> None:
    with pytest.raises(UnknownFamilyError, match="mamba"):
        build_catalog(FakeSource("x", {"a.weight": (2, 2)}, {"model_type": "mamba"}))
    with pytest.raises(ValueError, match="no tensors"):
        build_catalog(FakeSource("x", {}, {"model_type": "bert"}))
    with pytest.raises(ValueError, match="no bert rule"):
        build_catalog(FakeSource("x", {"mystery.weight": (2, 2)}, {"model_type": "bert"}),
                      strict=True)
    lenient = build_catalog(FakeSource("x", {"mystery.weight": (2, 2)}, {"model_type": "bert"}))
    assert lenient.unmatched == ["mystery.weight"]


def test_layer_index() -> None:
    assert layer_index("encoder.block.3.layer.1.DenseReluDense.wi.weight") == 3
    assert layer_index("visual.transformer.resblocks.11.attn.in_proj_weight") == 11
    assert layer_index("transformer.h.7.mlp.dense_h_to_4h.weight") == 7
    assert layer_index("shared.weight") == -1
