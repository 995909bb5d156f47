"""Entropy kernel, per-prompt stacks and the streaming measurement (lib.attention.entropy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import entropy as scipy_entropy

import lib  # noqa: F401  (torchvision shim before transformers model imports)
import lib.attention.entropy as attention
from lib.attention.bench import toy_tokenizer
from lib.attention.entropy import (
    MODES,
    entropy_profiles,
    measure_attention,
    measure_entropies,
    normalized_entropy,
    prompt_entropies,
    sink_share,
)
from lib.attention.prompts import load_prompts

TOL = 1e-6


def loop_reference(patterns, masks, mode):
    """Plain loop over prompts, layers, heads with scipy (the seeds' computation)."""
    out = np.zeros((len(patterns), *patterns[0].shape[:2]))
    for p, attn in enumerate(patterns):
        mask = masks[p].bool() if mode == "masked" else None
        for layer in range(attn.shape[0]):
            for head in range(attn.shape[1]):
                a = attn[layer, head]
                if mask is not None:
                    idx = mask.nonzero().flatten()
                    if idx.numel() < 2:
                        continue
                    a = a[idx][:, idx]
                w = a.double().mean(dim=0).numpy()
                if w.sum() <= 0:
                    continue
                w = w / w.sum()
                w = w[w > 0]
                if len(w) > 1:
                    out[p, layer, head] = scipy_entropy(w, base=2) / np.log2(len(w))
    return out


def random_stack(layers, heads, tokens, valid, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(layers, heads, tokens, tokens, generator=g) * 3
    blocked = torch.ones(tokens, tokens, dtype=torch.bool).triu(1)
    blocked[:, valid:] = True
    blocked[valid:, :valid] = False
    attn = torch.softmax(logits.masked_fill(blocked, float("-inf")), dim=-1)
    mask = torch.zeros(tokens, dtype=torch.long)
    mask[:valid] = 1
    return attn, mask


# --------------------------------------------------------------------------- hand-made cases


def test_uniform_attention_has_entropy_one():
    attn = torch.full((2, 3, 5, 5), 0.2)
    assert torch.allclose(normalized_entropy(attn), torch.ones(2, 3, dtype=torch.float64))


def test_point_mass_has_entropy_zero():
    attn = torch.zeros(1, 1, 4, 4)
    attn[..., 2] = 1.0  # every row attends to token 2 only
    assert normalized_entropy(attn).item() == 0.0


def test_two_token_case_by_hand():
    attn = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    # column means 0.75 / 0.25 -> H2 = -(.75 log2 .75 + .25 log2 .25), log2(2) = 1
    expected = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
    assert normalized_entropy(attn).item() == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.8112781244591328)


def test_zero_columns_are_dropped_from_the_normalization():
    attn = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    w = np.array([2 / 3, 1 / 3])  # token 2 gets nothing: normalized by log2(2), not log2(3)
    expected = -(w * np.log2(w)).sum() / 1.0
    assert normalized_entropy(attn).item() == pytest.approx(expected, abs=1e-12)


def test_mask_keeps_rows_and_columns():
    attn = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    mask = torch.tensor([1, 1, 0])
    full = normalized_entropy(attn[:2, :2])
    assert normalized_entropy(attn, mask).item() == pytest.approx(full.item(), abs=1e-12)
    # a non-prefix mask (left padding) takes the general path
    left = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.5, 0.5]])
    assert normalized_entropy(left, torch.tensor([0, 1, 1])).item() == pytest.approx(
        normalized_entropy(left[1:, 1:]).item(), abs=1e-12
    )


@pytest.mark.parametrize("valid", [0, 1])
def test_kernel_gives_zero_below_two_valid_tokens(valid):
    attn, mask = random_stack(2, 3, 6, valid, seed=1)
    assert torch.all(normalized_entropy(attn, mask) == 0.0)  # the seeds' rule, kept in the kernel


@pytest.mark.parametrize("mode", MODES)
def test_short_prompt_is_an_error_naming_it_in_every_mode(mode, monkeypatch):
    good, good_mask = random_stack(2, 3, 6, 6, seed=1)
    short, short_mask = random_stack(2, 3, 6, 1, seed=2)
    computed = []
    monkeypatch.setattr(attention, "_entropy_inplace",
                        lambda *a: computed.append(1) or torch.zeros(2, 3))
    if mode == "unpadded":  # an unpadded one-token prompt is a 1 x 1 attention
        patterns, masks = [good, torch.ones(2, 3, 1, 1)], None
    else:
        patterns, masks = [good, short], [good_mask, short_mask]
    with pytest.raises(attention.PromptTooShortError, match=r"^prompt 1 has 1 token;"):
        prompt_entropies(patterns, masks, mode)
    assert computed == []  # raised before any entropy (prompt 0's included) was computed


# --------------------------------------------------------------------------- against the loop


@pytest.mark.parametrize("mode", ["masked", "padded"])
def test_matches_scipy_loop_with_different_padding(mode):
    stacks = [random_stack(3, 4, 16, valid, seed) for seed, valid in enumerate([16, 9, 2, 3, 5])]
    patterns, masks = [s[0] for s in stacks], [s[1] for s in stacks]
    got = prompt_entropies(patterns, masks, mode)
    assert got.shape == (5, 3, 4)
    np.testing.assert_allclose(got, loop_reference(patterns, masks, mode), rtol=0, atol=TOL)
    np.testing.assert_allclose(entropy_profiles(patterns, masks, mode), got.mean(axis=0))


def test_unpadded_matches_loop_with_varying_lengths():
    patterns = [random_stack(3, 4, t, t, seed)[0] for seed, t in enumerate([7, 12, 2, 30])]
    got = prompt_entropies(patterns, None, "unpadded")
    np.testing.assert_allclose(got, loop_reference(patterns, None, "unpadded"), atol=TOL, rtol=0)


def test_masked_and_padded_differ_when_padding_rows_attend():
    attn, mask = random_stack(2, 2, 10, 4, seed=3)
    assert not np.allclose(
        prompt_entropies([attn], [mask], "masked"), prompt_entropies([attn], [mask], "padded")
    )


def test_numpy_and_bf16_inputs():
    attn, mask = random_stack(2, 3, 8, 6, seed=4)
    ref = prompt_entropies([attn], [mask])
    np.testing.assert_allclose(prompt_entropies([attn.numpy()], [mask.numpy()]), ref, atol=TOL)
    np.testing.assert_allclose(prompt_entropies([attn.bfloat16()], [mask]), ref, atol=1e-2)


# --------------------------------------------------------------------------- bad input


def test_bad_inputs_raise_useful_errors():
    attn, mask = random_stack(2, 3, 6, 4, seed=5)
    with pytest.raises(ValueError, match="masked, padded, unpadded"):
        prompt_entropies([attn], [mask], "valid")
    with pytest.raises(ValueError, match="needs the attention masks"):
        prompt_entropies([attn], None, "masked")
    with pytest.raises(ValueError, match="length 5 but its attention has T=6"):
        prompt_entropies([attn], [mask[:5]], "masked")
    with pytest.raises(ValueError, match="not square"):
        prompt_entropies([attn[..., :5]], None, "padded")
    with pytest.raises(ValueError, match="empty"):
        prompt_entropies([], [], "masked")
    with pytest.raises(ValueError, match="same model"):
        prompt_entropies([attn, attn[:, :2]], None, "padded")
    with pytest.raises(ValueError, match=r"\[layers, heads, T, T\]"):
        prompt_entropies([attn[0]], None, "padded")
    with pytest.raises(ValueError, match="has padding"):
        prompt_entropies([attn], [mask], "unpadded")
    with pytest.raises(ValueError, match="2 masks for 1"):
        prompt_entropies([attn], [mask, mask], "masked")


def test_nan_names_prompt_and_layer_and_suggests_fp32_eager():
    good, mask = random_stack(3, 2, 6, 6, seed=6)
    bad = good.clone()
    bad[2, 1, 3, 0] = float("nan")
    with pytest.raises(ValueError, match=r"prompt 1 .*layer\(s\) 2.*float32.*eager"):
        prompt_entropies([good, bad], [mask, mask], "masked")
    bad = good.clone()
    bad[0, 0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match=r"prompt 0 .*layer\(s\) 0"):
        prompt_entropies([bad], None, "padded")
    with pytest.raises(ValueError, match="NaN/Inf"):
        normalized_entropy(bad)


# --------------------------------------------------------------------------- models


@pytest.fixture(scope="module")
def tokenizer():
    return toy_tokenizer()


def _tiny(kind: str):
    from transformers import (
        BertConfig,
        BertModel,
        FalconConfig,
        FalconForCausalLM,
        LlamaConfig,
        LlamaForCausalLM,
    )

    torch.manual_seed(0)
    if kind == "llama":
        config = LlamaConfig(
            vocab_size=300,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=4,
            num_attention_heads=8,
            num_key_value_heads=2,
            attn_implementation="eager",
        )
        return LlamaForCausalLM(config).eval()
    if kind == "falcon":
        config = FalconConfig(
            vocab_size=300,
            hidden_size=64,
            num_hidden_layers=3,
            num_attention_heads=8,
            multi_query=True,
            new_decoder_architecture=False,
            alibi=False,
            attn_implementation="eager",
        )
        return FalconForCausalLM(config).eval()
    config = BertConfig(
        vocab_size=300,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        attn_implementation="eager",
    )
    return BertModel(config).eval()


@pytest.fixture(scope="module", params=["llama", "falcon", "bert"])
def model(request):
    return _tiny(request.param)


PROMPTS = [*load_prompts()[:3], "ab", "Hi there"]  # 57..123 bytes, 2 bytes, 8 bytes


def _list_path(model, tokenizer, prompts, mode, max_length):
    """The seeds' way: one prompt at a time, output_attentions=True, then prompt_entropies."""
    patterns, masks = [], []
    tokenizer.padding_side = "right"
    padding = False if mode == "unpadded" else "max_length"
    for prompt in prompts:
        inputs = tokenizer(
            prompt, return_tensors="pt", max_length=max_length, truncation=True, padding=padding
        )
        with torch.no_grad():
            out = model(**inputs, output_attentions=True)
        patterns.append(torch.stack([a[0] for a in out.attentions]))
        masks.append(inputs["attention_mask"][0])
    return prompt_entropies(patterns, masks, mode)


@pytest.mark.parametrize("mode", MODES)
def test_streaming_matches_list_path_and_batches(model, tokenizer, mode):
    max_length = 64  # the long prompts are truncated, the short ones padded
    streamed = measure_entropies(
        model, tokenizer, PROMPTS, mode=mode, max_length=max_length, progress=False
    )
    n_layers = model.config.num_hidden_layers
    assert streamed.shape == (len(PROMPTS), n_layers, model.config.num_attention_heads)
    reference = _list_path(model, tokenizer, PROMPTS, mode, max_length)
    np.testing.assert_allclose(streamed, reference, atol=TOL, rtol=0)
    for batch_size in (1, 2):
        batched = measure_entropies(
            model,
            tokenizer,
            PROMPTS,
            mode=mode,
            max_length=max_length,
            batch_size=batch_size,
            progress=False,
        )
        np.testing.assert_allclose(batched, streamed, atol=TOL, rtol=0)
    assert np.all((streamed >= 0) & (streamed <= 1))


@pytest.mark.parametrize(("mode", "other"), [("masked", "padded"), ("padded", "masked")])
def test_one_padded_pass_gives_the_other_mode_too(model, tokenizer, mode, other, monkeypatch):
    both = attention.measure_attention(model, tokenizer, PROMPTS, mode=mode, max_length=64,
                                       other_modes=(other,), progress=False)
    alone = measure_entropies(model, tokenizer, PROMPTS, mode=other, max_length=64,
                              progress=False)
    np.testing.assert_allclose(both.other_modes[other], alone, atol=TOL, rtol=0)
    assert not np.allclose(both.entropies, alone)  # the short prompts are padded: modes differ
    monkeypatch.setattr(attention, "attention_modules", lambda m: [])  # the fallback path too
    with pytest.warns(RuntimeWarning, match="output_attentions=True"):
        fallback = attention.measure_attention(model, tokenizer, PROMPTS, mode=mode,
                                               max_length=64, other_modes=(other,),
                                               progress=False)
    np.testing.assert_allclose(fallback.other_modes[other], alone, atol=TOL, rtol=0)
    with pytest.raises(ValueError, match="the unpadded pass cannot also give"):
        attention.measure_attention(model, tokenizer, PROMPTS, mode="unpadded",
                                    other_modes=("masked",), progress=False)


def test_streaming_uses_hooks_not_output_attentions(tokenizer, monkeypatch):
    model = _tiny("llama")
    seen = []
    original = model.model.forward

    def spy(*args, **kwargs):
        seen.append(kwargs.get("output_attentions"))
        return original(*args, **kwargs)

    monkeypatch.setattr(model.model, "forward", spy)
    measure_entropies(model, tokenizer, PROMPTS, progress=True)
    assert seen == [None]  # one batched call of the backbone, no attentions requested


def test_fallback_to_output_attentions_warns_and_agrees(tokenizer, monkeypatch):
    model = _tiny("falcon")
    hooked = measure_entropies(model, tokenizer, PROMPTS, max_length=32, progress=False)
    monkeypatch.setattr(attention, "attention_modules", lambda m: [])
    with pytest.warns(RuntimeWarning, match="output_attentions=True"):
        fallback = measure_entropies(model, tokenizer, PROMPTS, max_length=32, progress=False)
    np.testing.assert_allclose(fallback, hooked, atol=TOL, rtol=0)


def test_attention_modules_found_in_layer_order():
    names = [name for name, _, _ in attention.attention_modules(_tiny("falcon"))]
    assert names == [f"transformer.h.{i}.self_attention" for i in range(3)]
    bert = [name for name, _, _ in attention.attention_modules(_tiny("bert"))]
    assert bert == [f"encoder.layer.{i}.attention.self" for i in range(2)]


def test_state_restored_and_pad_token_from_eos(tokenizer):
    model = _tiny("llama").train()
    tok = toy_tokenizer()
    tok.pad_token = None
    tok.padding_side = "left"
    out = measure_entropies(model, tok, PROMPTS[:2], max_length=16, progress=False)
    assert out.shape == (2, 4, 8)
    assert model.training and tok.padding_side == "left" and tok.pad_token is None


def test_sdpa_model_is_rejected(tokenizer):
    model = _tiny("llama")
    model.config._attn_implementation = "sdpa"
    with pytest.raises(ValueError, match='attn_implementation="eager"'):
        measure_entropies(model, tokenizer, PROMPTS, progress=False)


def test_nan_in_model_attention_is_reported(tokenizer):
    model = _tiny("llama")
    with torch.no_grad():
        model.model.layers[2].self_attn.q_proj.weight.fill_(float("nan"))
    with pytest.raises(ValueError, match=r"prompt 0 .*layer\(s\) 2"):
        measure_entropies(model, tokenizer, PROMPTS, progress=False)


def test_bad_arguments(tokenizer):
    model = _tiny("llama")
    with pytest.raises(ValueError, match="masked, padded, unpadded"):
        measure_entropies(model, tokenizer, PROMPTS, mode="full", progress=False)
    with pytest.raises(ValueError, match="non-empty"):
        measure_entropies(model, tokenizer, [], progress=False)
    with pytest.raises(ValueError, match="non-empty"):
        measure_entropies(model, tokenizer, "one string", progress=False)


class _NoWeightsAttention(torch.nn.Module):
    """An attention module that, like sdpa, returns (output, None)."""

    def forward(self, x):
        return x, None


class _NoWeightsModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(300, 4)
        self.layers = torch.nn.ModuleList([_NoWeightsAttention() for _ in range(2)])

    def forward(self, input_ids, attention_mask=None):
        x = self.embed(input_ids)
        for layer in self.layers:
            x, _ = layer(x)
        return x


def test_missing_weights_in_hook_say_eager(tokenizer):
    with pytest.raises(ValueError, match=r"layer 0 .*are None.*eager"):
        measure_entropies(_NoWeightsModel(), tokenizer, PROMPTS, progress=False)


@pytest.mark.parametrize("mode", MODES)
def test_short_prompt_in_a_model_run_names_index_and_text(tokenizer, mode, monkeypatch):
    model = _tiny("llama")
    calls = []
    monkeypatch.setattr(model.model, "forward", lambda *a, **k: calls.append(1))
    with pytest.raises(attention.PromptTooShortError, match=r"prompt 1 'a' has 1 token"):
        measure_entropies(model, tokenizer, ["Hi there", "a"], mode=mode, progress=False)
    # truncation to one token makes every prompt too short, named in order
    with pytest.raises(attention.PromptTooShortError, match=r"^prompt 0 'Hi there' has 1 token; "
                       r"prompt 1 'a' has 1 token;.*max_length"):
        measure_entropies(model, tokenizer, ["Hi there", "a"], mode=mode, max_length=1,
                          progress=False)
    assert calls == []  # refused before the model ran


# --------------------------------------------------------------------------- sink share


def uniform_causal(tokens: int) -> torch.Tensor:
    """Row q spreads its weight evenly over keys 0..q."""
    ones = torch.ones(tokens, tokens, dtype=torch.float64)
    return ones.tril() / torch.arange(1, tokens + 1, dtype=torch.float64)[:, None]


def test_sink_share_of_constructed_attention():
    on_first = torch.zeros(2, 3, 6, 6)
    on_first[..., 0] = 1.0  # all mass on token 0
    assert torch.equal(sink_share(on_first), torch.ones(2, 3, dtype=torch.float64))
    attn = uniform_causal(8)
    expected = np.mean([1 / (q + 1) for q in range(8)])
    assert float(sink_share(attn)) == pytest.approx(expected, abs=1e-12)
    # 5 real queries; pad rows hold garbage (NaN, or all mass on key 0): left out
    padded = attn.clone()
    padded[5:] = float("nan")
    mask = torch.tensor([1, 1, 1, 1, 1, 0, 0, 0])
    expected = np.mean([1 / (q + 1) for q in range(5)])
    assert float(sink_share(padded, mask)) == pytest.approx(expected, abs=1e-12)
    padded[5:] = 0.0
    padded[5:, 0] = 1.0
    assert float(sink_share(padded, mask)) == pytest.approx(expected, abs=1e-12)
    assert float(sink_share(padded)) > expected  # without the mask the pad rows count
    # a mask per batch entry broadcasts over heads: [batch, 1, T] for [batch, heads, T, T]
    batch = torch.stack([attn, attn]).unsqueeze(1).expand(2, 3, 8, 8)
    masks = torch.tensor([[1] * 8, [1] * 2 + [0] * 6])[:, None, :]
    got = sink_share(batch, masks)
    assert got.shape == (2, 3)
    assert got[0].tolist() == pytest.approx([np.mean(1 / np.arange(1, 9))] * 3, abs=1e-12)
    assert got[1].tolist() == pytest.approx([0.75] * 3, abs=1e-12)  # (1 + 1/2) / 2
    with pytest.raises(ValueError, match="query mask length 3 != attention size T=8"):
        sink_share(attn, torch.ones(3))


def _sink_reference(model, tokenizer, prompts, mode, max_length):
    """From output_attentions, one prompt at a time: weight on key 0, mean over real queries."""
    tokenizer.padding_side = "right"
    padding = False if mode == "unpadded" else "max_length"
    out = []
    for prompt in prompts:
        inputs = tokenizer(prompt, return_tensors="pt", max_length=max_length, truncation=True,
                           padding=padding)
        with torch.no_grad():
            attn = torch.stack([a[0] for a in model(**inputs, output_attentions=True).attentions])
        real = inputs["attention_mask"][0].bool()
        out.append(attn[:, :, real, 0].double().mean(dim=-1).numpy())  # [layers, heads]
    return np.stack(out)


@pytest.mark.parametrize("mode", MODES)
def test_sink_share_streamed_in_the_entropy_pass(model, tokenizer, mode, monkeypatch):
    max_length = 48  # long prompts truncated, short ones padded
    measured = measure_attention(model, tokenizer, PROMPTS, mode=mode, max_length=max_length,
                                 batch_size=2, progress=False)
    entropies = measure_entropies(model, tokenizer, PROMPTS, mode=mode, max_length=max_length,
                                  batch_size=2, progress=False)
    assert np.array_equal(measured.entropies, entropies)
    reference = _sink_reference(model, tokenizer, PROMPTS, mode, max_length)
    assert measured.sink_share.shape == entropies.shape
    np.testing.assert_allclose(measured.sink_share, reference, atol=TOL, rtol=0)
    assert np.all((measured.sink_share > 0) & (measured.sink_share <= 1 + TOL))
    monkeypatch.setattr(attention, "attention_modules", lambda m: [])
    with pytest.warns(RuntimeWarning, match="output_attentions=True"):
        fallback = measure_attention(model, tokenizer, PROMPTS, mode=mode,
                                     max_length=max_length, batch_size=2, progress=False)
    np.testing.assert_allclose(fallback.sink_share, measured.sink_share, atol=TOL, rtol=0)
    np.testing.assert_allclose(fallback.entropies, measured.entropies, atol=TOL, rtol=0)


def test_padded_mode_sink_share_leaves_out_pad_queries(tokenizer):
    model = _tiny("llama")
    short = ["Hi there"]  # 8 tokens, padded to 32
    padded = measure_attention(model, tokenizer, short, mode="padded", max_length=32,
                               progress=False)
    unpadded = measure_attention(model, tokenizer, short, mode="unpadded", max_length=32,
                                 progress=False)
    # the entropy differs (padding in or out), the sink share does not: same real queries
    assert not np.allclose(padded.entropies, unpadded.entropies, atol=1e-3)
    np.testing.assert_allclose(padded.sink_share, unpadded.sink_share, atol=TOL, rtol=0)
