"""Tiny random-initialized models of every family the papers use, built offline in milliseconds.

Each `tiny/<family>` has an `-instruct` twin of identical architecture and a different init seed,
so base-vs-instruct code runs on two genuinely different models. Weights come from a seed derived
from the registry name (sha256), drawn in float32 on CPU and then cast, so they are bit-identical
across runs and processes. Tokenizers are byte-level (`tokenizers` library), built in code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

SPECIALS = ("<pad>", "</s>", "<s>", "<unk>")  # ids 0..3; the 256 bytes follow
PAD_ID, EOS_ID, BOS_ID = 0, 1, 2
VOCAB_SIZE = len(SPECIALS) + 256
INIT_RANGE = 0.1  # wider than the usual 0.02 so attention is not uniform
IMAGE_SIZE = 32
_LM = {
    "vocab_size": VOCAB_SIZE,
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 6,
    "num_attention_heads": 8,
    "max_position_embeddings": 512,
    "initializer_range": INIT_RANGE,
    "pad_token_id": PAD_ID,
    "bos_token_id": BOS_ID,
    "eos_token_id": EOS_ID,
    "tie_word_embeddings": False,
}
_VISION = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 6,
    "num_attention_heads": 8,
    "image_size": IMAGE_SIZE,
    "patch_size": 8,
    "initializer_range": INIT_RANGE,
}


@dataclass(frozen=True)
class TinySpec:
    """How to build one tiny family: config, model class, text template, image processor."""

    config: Callable[[], Any]
    auto_class: str  # AutoModelForCausalLM | AutoModelForSeq2SeqLM | AutoModel
    text: str | None  # tokenizer template: causal | t5 | bert | clip
    image: str | None = None  # clip | bit


def _falcon(**extra: Any) -> Any:
    from transformers import FalconConfig

    params = {k: v for k, v in _LM.items() if k != "intermediate_size"}
    return FalconConfig(**(params | {"bias": False, "alibi": False, "parallel_attn": True} | extra))


def _lm(class_name: str, **extra: Any) -> Callable[[], Any]:
    def make() -> Any:
        import transformers

        return getattr(transformers, class_name)(**(_LM | extra))

    return make


def _t5() -> Any:
    from transformers import T5Config

    sizes = {"d_model": 128, "d_kv": 16, "d_ff": 256, "num_layers": 6, "num_heads": 8}
    return T5Config(
        vocab_size=VOCAB_SIZE,
        num_decoder_layers=6,
        pad_token_id=PAD_ID,
        eos_token_id=EOS_ID,
        decoder_start_token_id=PAD_ID,
        initializer_factor=1.0,
        tie_word_embeddings=True,
        **sizes,
    )


def _bert() -> Any:
    from transformers import BertConfig

    params = {k: v for k, v in _LM.items() if k not in ("bos_token_id", "eos_token_id")}
    return BertConfig(**params)


def _clip() -> Any:
    from transformers import CLIPConfig

    text = _LM | {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 128,
    }
    text.pop("tie_word_embeddings")
    # CLIP scales its init by initializer_factor (not _range); 5 keeps attention from being uniform
    factor = {"initializer_factor": 5.0}
    return CLIPConfig(
        text_config=text | factor, vision_config=_VISION | factor, projection_dim=64, **factor
    )


def _dinov2() -> Any:
    from transformers import Dinov2Config

    params = {k: v for k, v in _VISION.items() if k != "intermediate_size"}
    return Dinov2Config(**params, mlp_ratio=2)


def _causal(config: Callable[[], Any]) -> TinySpec:
    return TinySpec(config, "AutoModelForCausalLM", "causal")


TINY_FAMILIES: dict[str, TinySpec] = {
    # Falcon-7B style: one shared kv head (MQA), old decoder block, parallel attention.
    "falcon-mqa": _causal(lambda: _falcon(multi_query=True, new_decoder_architecture=False)),
    # Falcon-40B style: new decoder architecture, grouped kv heads (40B: 128 q / 8 kv).
    "falcon-40b-style": _causal(
        lambda: _falcon(
            new_decoder_architecture=True, hidden_size=256, num_attention_heads=16, num_kv_heads=2
        )
    ),
    "llama-gqa": _causal(_lm("LlamaConfig", num_key_value_heads=2)),
    # The paper's MHA reference is Mistral: here with as many kv heads as query heads.
    "mistral-mha": _causal(_lm("MistralConfig", num_key_value_heads=8, sliding_window=None)),
    "phi": _causal(_lm("PhiConfig", partial_rotary_factor=0.5)),
    "phi3": _causal(_lm("Phi3Config", num_key_value_heads=8)),  # Phi-3-mini: MHA
    "qwen": _causal(_lm("Qwen3Config", num_key_value_heads=2, head_dim=16)),
    "t5": TinySpec(_t5, "AutoModelForSeq2SeqLM", "t5"),
    "bert": TinySpec(_bert, "AutoModel", "bert"),
    "clip": TinySpec(_clip, "AutoModel", "clip", "clip"),
    "dinov2": TinySpec(_dinov2, "AutoModel", None, "bit"),
}


def tiny_names() -> list[str]:
    """All tiny registry names: each family as base and as `-instruct`."""
    return [f"tiny/{f}{s}" for f in TINY_FAMILIES for s in ("", "-instruct")]


def _family(name: str) -> str:
    return name.removeprefix("tiny/").removesuffix("-instruct")


def seed_for(name: str) -> int:
    """The init seed of a tiny model: the first 8 hex digits of sha256(name)."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (what tokenizers' ByteLevel uses)."""
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    extra = [b for b in range(256) if b not in keep]
    table = {b: chr(b) for b in keep}
    table.update({b: chr(256 + i) for i, b in enumerate(extra)})
    return table


def byte_tokenizer(template: str) -> Any:
    """A byte-level tokenizer with <pad>, </s>, <s>, <unk>; causal ones have no pad token.

    `template` is causal, t5, bert or clip (how special tokens wrap a text), or plain: one
    token per byte and nothing added, with a pad token (exact token counts, for tests).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    vocab.update({ch: len(SPECIALS) + b for b, ch in sorted(bytes_to_unicode().items())})
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    single = {"causal": "<s> $A", "t5": "$A </s>", "bert": "<s> $A </s>", "clip": "<s> $A </s>"}
    if template != "plain":
        core.post_processor = processors.TemplateProcessing(
            single=single[template], special_tokens=[("<s>", BOS_ID), ("</s>", EOS_ID)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token=None if template == "causal" else "<pad>",
        model_max_length=512,
    )


def _image_processor(kind: str) -> Any:
    from transformers import BitImageProcessor, CLIPImageProcessor

    cls = CLIPImageProcessor if kind == "clip" else BitImageProcessor
    return cls(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )


def tiny_processor(name: str) -> Any:
    """The tokenizer (text), image processor (DINOv2) or CLIPProcessor (both) of a tiny model."""
    spec = TINY_FAMILIES[_family(name)]
    if spec.image == "clip":
        from transformers import CLIPProcessor

        image, text = _image_processor("clip"), byte_tokenizer("clip")
        return CLIPProcessor(image_processor=image, tokenizer=text)
    if spec.image:
        return _image_processor(spec.image)
    return byte_tokenizer(spec.text or "causal")


def tiny_config(name: str) -> Any:
    """The transformers config of a tiny model (eager attention)."""
    config = TINY_FAMILIES[_family(name)].config()
    config._attn_implementation = "eager"
    return config


def config_hash(name: str) -> str:
    """'config-<12 hex>': sha256 of the full config JSON and the init seed."""
    text = tiny_config(name).to_json_string(use_diff=False) + f"|seed={seed_for(name)}"
    return "config-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def build_tiny(name: str) -> torch.nn.Module:
    """The float32 model, initialized from `seed_for(name)` without touching the global RNG."""
    import transformers

    spec = TINY_FAMILIES[_family(name)]
    auto = getattr(transformers, spec.auto_class)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed_for(name))
        config = tiny_config(name)
        model = auto.from_config(config, attn_implementation="eager", dtype=torch.float32)
    return model.eval()
