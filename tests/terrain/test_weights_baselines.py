"""Issue 16 baselines in the weight battery: QK min/max over layers, T5's cross-attention Q
sparsity, the cross-layer summary over all matrix types, the init battery of decoder-only
architectures (Llama-style SmolLM2, Gemma-3) and the headline / §5 columns built from them."""

from __future__ import annotations

import json

import pytest

from lib.models.checkpoint import checkpoint
from lib.terrain import study
from lib.terrain.summary import batteries
from lib.terrain.weights import run_battery
from lib.terrain.weights.baseline import attach_init, init_battery
from lib.terrain.weights.battery import cross_layer_summary
from lib.terrain.weights.summary import table_rows

# Gemma-3-270m's config (embedded) at toy size: 3 layers, MQA, the (1 + w) RMSNorm
SMALL_GEMMA3 = {
    "model_type": "gemma3_text", "architectures": ["Gemma3ForCausalLM"], "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 3, "num_attention_heads": 4,
    "num_key_value_heads": 1, "head_dim": 16, "vocab_size": 256, "query_pre_attn_scalar": 16,
    "layer_types": ["sliding_attention", "sliding_attention", "full_attention"],
    "sliding_window": 8, "hidden_activation": "gelu_pytorch_tanh", "tie_word_embeddings": True,
    "initializer_range": 0.02,
}


@pytest.fixture(scope="module")
def t5() -> dict:
    return run_battery("tiny/t5", device="cpu")


def test_qk_summary_min_mean_max_over_layers(t5: dict) -> None:
    layers = t5["qk"]["layers"]
    for stack, by_convention in t5["qk"]["summary"].items():
        rows = [r for r in layers if f"{r['location']}/{r['attention']}" == stack]
        for c, s in by_convention.items():
            pos = [r[c]["pos_frac"] for r in rows]
            neg = [r[c]["neg_frac"] for r in rows]
            assert s["min_pos_frac"] == min(pos) and s["max_pos_frac"] == max(pos)
            assert s["min_neg_frac"] == min(neg) and s["max_neg_frac"] == max(neg)
            assert s["min_pos_frac"] <= s["mean_pos_frac"] <= s["max_pos_frac"]
            assert s["min_neg_frac"] <= s["mean_neg_frac"] <= s["max_neg_frac"]
    assert "decoder/cross" in t5["qk"]["summary"]


def test_cross_attention_q_sparsity_only_where_there_is_cross_attention(t5: dict) -> None:
    assert t5["q_sparsity"]["cross_attn_q"] == t5["sparsity"]["cross_attn_q"]["<0.1"]
    assert t5["q_sparsity"]["self_attn_q"] == t5["sparsity"]["self_attn_q"]["<0.1"]
    bert = run_battery("tiny/bert", device="cpu")
    assert "self_attn_q" in bert["q_sparsity"] and "cross_attn_q" not in bert["q_sparsity"]


def test_cross_layer_summary_is_the_max_over_types(t5: dict) -> None:
    s, chains = t5["cross_layer_summary"], t5["cross_layer"]
    means = {t: c["mean"] for t, c in chains.items() if c["n_pairs"]}
    worst = max(means, key=lambda t: abs(means[t]))
    assert s["max_abs_mean"] == abs(means[worst]) and s["worst_type"] == worst
    assert s["n_types"] == len(means) > 4  # q, k, v, o, mlp of encoder, decoder, cross
    assert s["mean_abs"] == pytest.approx(sum(abs(m) for m in means.values()) / len(means))
    assert s["mean_abs"] <= s["max_abs_mean"] <= s["max_abs_pair"]
    by_hand = cross_layer_summary({
        "a": {"n_pairs": 2, "mean": 0.1, "values": [0.3, -0.1]},
        "b": {"n_pairs": 1, "mean": -0.4, "values": [-0.4]},
        "c": {"n_pairs": 0, "mean": None, "values": []}})
    assert by_hand == {"max_abs_mean": 0.4, "mean_abs": pytest.approx(0.25), "max_abs_pair": 0.4,
                       "n_types": 2, "n_pairs": 3, "worst_type": "b"}
    assert cross_layer_summary({})["max_abs_mean"] is None


@pytest.mark.parametrize("source", ["tiny/llama-gqa", SMALL_GEMMA3],
                         ids=["llama", "gemma3"])
def test_init_battery_of_decoder_only_architectures(source: str | dict) -> None:
    init = init_battery(source, seed=1, device="cpu")
    assert init["unmatched"] == [] and init["init_seed"] == 1
    assert list(init["qk"]["summary"]) == ["decoder/self"]
    assert "cross_attn_q" not in init["q_sparsity"]
    assert init["cross_layer_summary"]["n_types"] == 7  # q, k, v, o, gate, up, down
    if isinstance(source, dict):
        assert init["family"] == "gemma" and init["norms"]["offset"] == 1.0
        # N(0, 0.02) at init: every weight of Q lies within 0.1
        assert init["q_sparsity"]["self_attn_q"] == pytest.approx(1.0, abs=1e-6)
    else:
        trained = run_battery(checkpoint(source), device="cpu")
        merged = attach_init(trained, init)
        assert merged["init"]["qk_summary"] == init["qk"]["summary"]
        assert merged["init"]["cross_layer_summary"] == init["cross_layer_summary"]


def test_headline_and_table_carry_the_init_beside_the_trained(t5: dict) -> None:
    init = init_battery("tiny/t5", seed=2, device="cpu")
    trained = attach_init(t5, init)
    embedding = {"cosine": {"mean": 0.0}, "spectrum": {"pr_over_dim": 0.5},
                 "pentachora": {"cv": 0.3, "reference_cv": 0.2, "ratio_embed_random": 1.0},
                 "digits": {"manifold": {"corr_abs_diff_cosine": None}}}
    payload = {"run": "x", "model": {"name": "tiny/t5"}, "embedding": embedding,
               "weights": {"trained": trained, "init": init}}
    h = study.headline(payload)
    assert h["volume_cv_reference"] == 0.2 and h["weights_measured"] == "trained"
    assert h["qk_stack"] == "decoder/cross"
    assert h["qk_pos_frac"] == t5["qk"]["summary"]["decoder/cross"]["seed"]["mean_pos_frac"]
    assert h["init_qk_pos_frac"] == init["qk"]["summary"]["decoder/cross"]["seed"][
        "mean_pos_frac"]
    assert h["cross_layer_max_abs_mean"] == t5["cross_layer_summary"]["max_abs_mean"]
    assert h["init_cross_layer_max_abs_mean"] == init["cross_layer_summary"]["max_abs_mean"]
    assert h["init_q_sparsity"] == init["q_sparsity"]
    alone = study.headline({"weights": {"trained": None, "init": init}})
    assert alone["weights_measured"] == "initialization"
    assert alone["qk_pos_frac"] == alone["init_qk_pos_frac"] == h["init_qk_pos_frac"]
    row = table_rows(batteries([payload]))[0]
    assert (row["volume CV"], row["volume CV Gaussian"]) == (0.3, 0.2)
    assert row["init QK+ mean"] == init["qk"]["summary"]["encoder/self"]["seed"]["mean_pos_frac"]
    assert row["init cross-layer max|mean|"] == h["init_cross_layer_max_abs_mean"]
    assert row["cross-layer max|mean|"] == h["cross_layer_max_abs_mean"]
    json.dumps(h)
