"""lib.terrain.layers: hooked, explicitly named encoder layers (B5) on tiny T5 and BERT."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lib.models import load_model
from lib.terrain import layers


@pytest.fixture(scope="module")
def t5():
    return load_model("tiny/t5", dtype="float32")


@pytest.fixture(scope="module")
def bert():
    return load_model("tiny/bert", dtype="float32")


def _hidden_states(model, ids):
    with torch.no_grad():
        if hasattr(model, "encoder") and hasattr(model.encoder, "block"):
            return model.encoder(input_ids=ids, output_hidden_states=True)
        return model(input_ids=ids, attention_mask=torch.ones_like(ids), output_hidden_states=True)


def test_t5_hooks_match_the_models_own_outputs(t5) -> None:
    names = [n for n, _ in layers.named_layers(t5.model)]
    assert names == ["embeddings", *(f"block {i}" for i in range(6)), "final norm"]
    ids = t5.tokenizer("The cat sat on the mat.", return_tensors="pt").input_ids
    with layers.capture(t5.model) as seen:
        layers.encoder_forward(t5.model, ids)
    out = _hidden_states(t5.model, ids)
    torch.testing.assert_close(seen["final norm"], out.last_hidden_state, rtol=0, atol=0)
    # transformers' T5 hidden_states: embeddings, blocks 0..n-2, final norm (HF 4.x meaning)
    for name, hs in zip(layers.hf4_hidden_state_names(6), out.hidden_states, strict=True):
        torch.testing.assert_close(seen[name], hs)
    assert not torch.allclose(seen["block 5"], seen["final norm"])  # the raw last block


def test_bert_hooks_match_the_models_own_outputs(bert) -> None:
    names = [n for n, _ in layers.named_layers(bert.model)]
    assert names == ["embeddings", *(f"block {i}" for i in range(6))]
    ids = bert.tokenizer("Three plus four equals seven.", return_tensors="pt").input_ids
    with layers.capture(bert.model, ["embeddings", "block 2", "block 5"]) as seen:
        layers.encoder_forward(bert.model, ids)
    out = _hidden_states(bert.model, ids)
    torch.testing.assert_close(seen["block 5"], out.last_hidden_state, rtol=0, atol=0)
    torch.testing.assert_close(seen["embeddings"], out.hidden_states[0])
    torch.testing.assert_close(seen["block 2"], out.hidden_states[3])


def test_layer_geometry_matches_a_direct_computation(t5) -> None:
    sentences = ["The cat sat.", "Love is patient, love is kind."]
    out = layers.encoder_layer_geometry(t5.model, t5.tokenizer, sentences, ["final norm"])
    norms, coss = [], []
    for text in sentences:
        ids = t5.tokenizer(text, return_tensors="pt").input_ids
        h = _hidden_states(t5.model, ids).last_hidden_state[0].numpy()
        hn = h / (np.linalg.norm(h, axis=1, keepdims=True) + 1e-8)
        norms.append(np.linalg.norm(h, axis=1).mean())
        coss.append((hn @ hn.T)[np.triu_indices(len(h), 1)].mean())
    row = out["per_layer"]["final norm"]
    assert row["mean_norm"] == pytest.approx(np.mean(norms), rel=1e-5)
    assert row["mean_cos"] == pytest.approx(np.mean(coss), rel=1e-5)
    assert out["layers"] == ["final norm"] and out["n_sentences"] == 2


def test_encoder_decoder_position_cosine(t5) -> None:
    out = layers.encoder_decoder_position_cosine(
        t5.model, t5.tokenizer, "translate English to German: The house is big.",
        "Das Haus ist groß.")
    assert list(out["per_layer"]) == ["embeddings", "block 2", "final norm"]  # seed's [0, 3, 6]
    assert out["positions"] == 5 and "B5" in out["label"]
    # at the embedding layer the cosine is that of the two tokens' shared embedding rows
    E = t5.model.shared.weight.detach()
    a, b = E[out["encoder_ids"][0]], E[out["decoder_ids"][0]]
    expected = float(a @ b / (a.norm() * b.norm() + 1e-8))
    assert out["per_layer"]["embeddings"][0] == pytest.approx(expected, rel=1e-5)


def test_position_bias_statistics() -> None:
    rpb = layers.read_position_bias("tiny/t5")
    assert tuple(rpb.shape) == (32, 8)
    stats = layers.position_bias_stats(rpb)
    w = rpb.numpy()
    assert stats["std"] == pytest.approx(w.std()) and stats["range"] == pytest.approx(np.ptp(w))
    assert stats["per_head"][3]["mean"] == pytest.approx(w[:, 3].mean())
    with pytest.raises(ValueError, match="relative position bias"):
        layers.read_position_bias("tiny/bert")


def test_clear_errors(t5, bert) -> None:
    qwen = load_model("tiny/qwen", dtype="float32")
    with pytest.raises(ValueError, match="no encoder"):
        layers.named_layers(qwen.model)
    with pytest.raises(layers.LayerNotFoundError, match="block 9"):
        layers.encoder_layer_geometry(t5.model, t5.tokenizer, ["hi"], ["block 9"])
    with pytest.raises(ValueError, match="decoder"):
        layers.encoder_decoder_position_cosine(bert.model, bert.tokenizer, "a", "b")
    with pytest.raises(ValueError, match="no sentences"):
        layers.encoder_layer_geometry(t5.model, t5.tokenizer, [])
