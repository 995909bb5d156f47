"""Seed 002's sanity check and E08's dtype fallback (lib.attention.sanity)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

import lib  # noqa: F401
from lib.attention.bench import toy_tokenizer
from lib.attention.entropy import PromptTooShortError
from lib.attention.sanity import SANITY_VARIANTS, SanityError, first_passing_variant, sanity_check
from lib.models import ModelNotAvailableError, UnknownModelError

PROMPT = "What is the capital of France and what is its population?"


def tiny_llama(seed: int = 0) -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=300,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=8,
        num_key_value_heads=2,
        attn_implementation="eager",
    )
    return LlamaForCausalLM(config).eval()


class FixedAttention(nn.Module):
    """A stand-in model whose every layer returns `kind` attention: identical heads or NaN."""

    def __init__(self, kind: str, layers: int = 3, heads: int = 6):
        super().__init__()
        self.kind, self.layers, self.heads = kind, layers, heads
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask=None, output_attentions=False, use_cache=None):
        t = input_ids.shape[1]
        causal = torch.tril(torch.ones(t, t))
        attn = (causal / causal.sum(-1, keepdim=True)).expand(1, self.heads, t, t).clone()
        if self.kind == "nan":
            attn[:, :, -1, 0] = float("nan")
        return SimpleNamespace(attentions=tuple(attn for _ in range(self.layers)))


@pytest.fixture(scope="module")
def tokenizer():
    return toy_tokenizer()


def test_random_model_passes(tokenizer):
    result = sanity_check(tiny_llama(), tokenizer)
    assert result["ok"], result
    assert result["num_heads"] == 8 and not result["heads_identical"]
    assert result["attn_abs_mean"] > 0.001 and result["attn_std"] > 0.01
    lo, hi = result["entropy_range"]
    assert 0 < lo <= hi <= 1
    assert 0 < result["baseline_si"] < 2


def test_identical_heads_fail(tokenizer):
    model = tiny_llama()
    attn = model.model.layers[0].self_attn
    with torch.no_grad():  # every q head and kv head the same -> identical attention
        q = attn.q_proj.weight.view(8, 8, 64)
        q[:] = q[0].clone()
        for proj in (attn.k_proj, attn.v_proj):
            w = proj.weight.view(2, 8, 64)
            w[:] = w[0].clone()
    result = sanity_check(model, tokenizer)
    assert result["heads_identical"] and not result["ok"]
    assert "heads_differ" in result["reason"]
    fake = sanity_check(FixedAttention("identical"), tokenizer)
    assert fake["heads_identical"] and not fake["ok"]


def test_nan_attention_fails_clearly(tokenizer):
    result = sanity_check(FixedAttention("nan"), tokenizer)
    assert not result["ok"] and not result["checks"]["finite"]
    assert "NaN/Inf" in result["reason"] and "float32" in result["reason"]


def test_variants_order_and_labels():
    assert [v["label"] for v in SANITY_VARIANTS] == ["raw+bf16", "raw+fp16", "raw+fp32"]
    assert [v["dtype"] for v in SANITY_VARIANTS] == ["bfloat16", "float16", "float32"]


def test_first_passing_variant_falls_back(tokenizer):
    calls = []

    def load(dtype):
        calls.append(dtype)
        if dtype == "bfloat16":
            return FixedAttention("nan"), tokenizer
        if dtype == "float16":
            return FixedAttention("identical"), tokenizer
        return tiny_llama(), tokenizer

    with pytest.warns(RuntimeWarning, match="output_attentions"):  # the stand-ins have no hooks
        result = first_passing_variant(load, PROMPT)
    assert calls == ["bfloat16", "float16", "float32"]
    assert result["label"] == "raw+fp32" and result["ok"] and result["baseline_si"] >= 0.05
    reasons = [a["reason"] for a in result["attempts"]]
    # identical heads in every layer: no head has a profile, so the SI is undefined (NaN)
    assert "NaN/Inf" in reasons[0] and "baseline SI nan < 0.05" in reasons[1]
    assert result["valid_len"] == len(PROMPT)  # one byte per token


def test_first_passing_variant_stops_at_first_pass(tokenizer):
    calls = []

    def load(dtype):
        calls.append(dtype)
        return tiny_llama(), tokenizer

    result = first_passing_variant(load, PROMPT, variants=["float32", "bfloat16"])
    assert calls == ["float32"] and result["label"] == "raw+fp32"
    assert len(result["attempts"]) == 1


def test_no_variant_passes(tokenizer):
    def load(dtype):
        if dtype == "float32":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return FixedAttention("identical"), tokenizer

    with (
        pytest.warns(RuntimeWarning),
        pytest.raises(SanityError, match=r"raw\+bf16: baseline SI .*raw\+fp32: load failed: "
                      r"out of memory \(OutOfMemoryError"),
    ):
        first_passing_variant(load, PROMPT)


def test_too_short_prompt_fails_at_once_naming_it(tokenizer):
    calls = []

    def load(dtype):
        calls.append(dtype)
        return tiny_llama(), tokenizer

    with pytest.raises(PromptTooShortError, match=r"sanity prompt 'Hi' has 2 tokens.*more than 5"):
        first_passing_variant(load, "Hi")
    assert calls == ["bfloat16"]  # the same for every dtype: not retried


@pytest.mark.parametrize(
    "error",
    [UnknownModelError("unknown model 'tiny/lama'; known models: tiny/llama-gqa"),
     ModelNotAvailableError("microsoft/phi-2 is not cached and the hub is unreachable"),
     OSError("no such model")],
)
def test_unknown_or_unavailable_model_fails_at_once_with_its_message(error):
    calls = []

    def load(dtype):
        calls.append(dtype)
        raise error

    with pytest.raises(type(error)) as raised:
        first_passing_variant(load, PROMPT)
    assert calls == ["bfloat16"] and str(raised.value) == str(error)
    assert not isinstance(raised.value, SanityError)


def test_out_of_memory_while_measuring_moves_on(tokenizer, monkeypatch):
    import lib.attention.sanity as sanity

    real = sanity.measure_entropies

    def measure(model, *args, **kwargs):
        if model.config.torch_dtype == torch.float16:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return real(model, *args, **kwargs)

    def load(dtype):
        model = tiny_llama()
        model.config.torch_dtype = getattr(torch, dtype)
        return model, tokenizer

    monkeypatch.setattr(sanity, "measure_entropies", measure)
    result = first_passing_variant(load, PROMPT, variants=["float16", "float32"])
    assert [a["ok"] for a in result["attempts"]] == [False, True]
    assert result["attempts"][0]["reason"].startswith("out of memory")
