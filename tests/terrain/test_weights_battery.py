"""lib.terrain.weights: run_battery streams the checkpoint; baseline, summary, memory."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch

from lib.models.checkpoint import checkpoint
from lib.terrain.weights import run_battery, singular_value_metrics
from lib.terrain.weights.baseline import attach_init, compare_with_init, init_battery, init_folder
from lib.terrain.weights.summary import cross_architecture_table, percent_or_dash

from .test_weights_catalog import FakeSource, open_clip_shapes


class CountingSource:
    """A checkpoint that counts reads and how many read tensors are alive at once."""

    def __init__(self, ckpt) -> None:
        self.ckpt, self.name = ckpt, ckpt.name
        self.shapes, self.dtypes = ckpt.shapes, ckpt.dtypes
        self.reads: Counter = Counter()

    def keys(self) -> list[str]:
        return self.ckpt.keys()

    def tensor(self, key: str, dtype=None) -> torch.Tensor:
        self.reads[key] += 1
        return self.ckpt.tensor(key, dtype)

    def config(self) -> dict:
        return self.ckpt.config()


@pytest.fixture(scope="module")
def t5_run():
    source = CountingSource(checkpoint("tiny/t5"))
    return source, run_battery(source, device="cpu")


def test_battery_streams_without_building_the_model(t5_run, monkeypatch) -> None:
    import transformers

    source, result = t5_run
    # each tensor read once; q and k once more for the QK pass (12 self + 6 cross layers)
    twice = {k for k, n in source.reads.items() if n == 2}
    assert max(source.reads.values()) == 2
    assert len(twice) == 2 * 18 and all(".q." in k or ".k." in k for k in twice)
    assert result["memory"]["n_reads"] == sum(source.reads.values()) == 131 + 36

    def refuse(*args, **kwargs):
        raise AssertionError("the battery built a model")

    monkeypatch.setattr(transformers.PreTrainedModel, "__init__", refuse)
    assert run_battery("tiny/t5", device="cpu")["counts"] == result["counts"]


def test_battery_matches_plain_recomputation(t5_run) -> None:
    source, result = t5_run
    ckpt = source.ckpt
    q_keys = [k for k in ckpt.keys() if "SelfAttention.q." in k]
    pooled = torch.cat([ckpt.tensor(k).abs().flatten() for k in q_keys])
    assert result["sparsity"]["self_attn_q"]["<0.1"] == pytest.approx((pooled < 0.1).double()
                                                                     .mean().item())
    assert result["sparsity"]["self_attn_q"]["n_matrices"] == 12
    # SV mean of encoder+decoder self-attention k, against the metric called per matrix
    k_keys = [k for k in ckpt.keys() if "SelfAttention.k." in k]
    mean_sr = sum(singular_value_metrics(ckpt.tensor(k))["stable_rank"] for k in k_keys) / 12
    assert result["sv"]["mean"]["self_attn_k"]["stable_rank"] == pytest.approx(mean_sr, rel=1e-6)
    # adjacent cosine of encoder q, by hand
    enc_q = [ckpt.tensor(f"encoder.block.{i}.layer.0.SelfAttention.q.weight").flatten()
             for i in range(6)]
    cos = [torch.nn.functional.cosine_similarity(a, b, dim=0).item()
           for a, b in zip(enc_q, enc_q[1:], strict=False)]
    assert result["cross_layer"]["encoder/self_attn_q"]["values"] == pytest.approx(cos, abs=1e-6)


def test_battery_result_shape_and_json(t5_run) -> None:
    _, result = t5_run
    json.dumps(result, allow_nan=False)
    assert set(result["qk"]["summary"]) == {"encoder/self", "decoder/self", "decoder/cross"}
    layer = result["qk"]["layers"][0]
    assert layer["seed"]["dim"] == 128 and layer["bilinear"]["dim"] == 128
    pos = result["position_bias"]
    enc = next(v for v in pos.values() if v["location"] == "encoder")
    dec = next(v for v in pos.values() if v["location"] == "decoder")
    assert enc["bidirectional"] and set(enc["directions"]) == {"key<=query", "key>query"}
    assert enc["local"] + enc["global"] + enc["mixed"] == 2 * 8
    assert not dec["bidirectional"] and dec["local"] + dec["global"] + dec["mixed"] == 8
    assert result["dead_neurons"]["total"]["neurons"] == 12 * 256
    assert set(result["sparsity"]["self_attn_q"]) >= {"<1e-06", "<0.0001", "<0.1"}


def test_open_clip_fused_qkv_battery() -> None:
    g = torch.Generator().manual_seed(0)
    shapes = open_clip_shapes()
    tensors = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
    result = run_battery(FakeSource("open_clip-fake", shapes, {}, tensors), device="cpu",
                         locations=["vision"])
    assert result["locations"] == ["vision"]
    assert set(result["q_sparsity"]) == {"self_attn_qkv"}
    rows = result["qk"]["layers"]
    assert [r["layer"] for r in rows] == [0, 1] and rows[0]["seed"]["dim"] == 8
    W = tensors["visual.transformer.resblocks.0.attn.in_proj_weight"]
    QK = W[:8] @ W[8:16].T  # the seed's split W[:E], W[E:2E]
    sym = torch.linalg.matrix_norm(QK - QK.T) / torch.linalg.matrix_norm(QK)
    assert rows[0]["seed"]["sym_dev"] == pytest.approx(sym.item(), rel=1e-5)


def test_bad_battery_inputs() -> None:
    with pytest.raises(ValueError, match="threshold"):
        run_battery("tiny/t5", thresholds=[])
    with pytest.raises(ValueError, match="unknown location"):
        run_battery("tiny/t5", locations=["middle"])
    with pytest.raises(ValueError, match="threads"):
        run_battery("tiny/t5", threads=0)


SMALL_T5 = {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"], "d_model": 64,
            "d_kv": 16, "d_ff": 128, "num_heads": 4, "num_layers": 2, "num_decoder_layers": 2,
            "vocab_size": 64, "feed_forward_proj": "relu", "tie_word_embeddings": True}


def test_init_baseline_uses_transformers_initializer_and_is_reproducible() -> None:
    state = torch.random.get_rng_state()
    folder = init_folder(SMALL_T5, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is untouched
    assert init_folder(SMALL_T5, seed=5) == folder and init_folder(SMALL_T5, seed=6) != folder
    ckpt = checkpoint(str(folder))
    q = ckpt.tensor("encoder.block.0.layer.0.SelfAttention.q.weight")
    k = ckpt.tensor("encoder.block.0.layer.0.SelfAttention.k.weight")
    assert q.std().item() == pytest.approx((64 * 16) ** -0.5, rel=0.1)  # T5: (d_model·d_kv)^-½
    assert k.std().item() == pytest.approx(64**-0.5, rel=0.1)  # d_model^-½
    init = init_battery(SMALL_T5, seed=5, device="cpu")
    trained = run_battery(ckpt, device="cpu")
    rows = {r["group"]: r for r in compare_with_init(trained, init)}
    assert rows["self_attn_q"]["sparsity_0.1_delta"] == 0.0  # the same weights
    merged = attach_init(trained, init)
    frame = cross_architecture_table([merged])
    assert frame.loc[merged["model"], "init Q sparsity"] == percent_or_dash(
        init["q_sparsity"]["self_attn_q"])
    with pytest.raises(ValueError, match="unknown init source"):
        init_folder("init/t5-huge")
    with pytest.raises(ValueError, match="families differ"):
        compare_with_init(trained, {"family": "bert"})


def test_summary_prints_dash_for_zero_and_missing(t5_run) -> None:
    _, result = t5_run
    assert percent_or_dash(0.0) == "-" and percent_or_dash(None) == "-"
    assert percent_or_dash(0.912) == "91.2%"
    frame = cross_architecture_table([result])
    row = frame.loc["tiny/t5"]
    assert row["QKV sparsity"] == "-" and row["QK stack"] == "encoder/self"
    assert row["Q sparsity"] == percent_or_dash(result["q_sparsity"]["self_attn_q"])
    with pytest.raises(ValueError, match="no battery results"):
        cross_architecture_table([])


@pytest.mark.slow
def test_minilm_battery_memory_and_init_comparison() -> None:
    result = run_battery("embedded/all-minilm-l6-v2")
    memory = result["memory"]  # run_battery's return value; results files hold none of it
    assert memory["peak_exact"] and memory["peak_over_largest"] < 3.0
    assert result["counts"]["self_attn_q"] == 6 and result["unmatched"] == []
    init = init_battery("embedded/all-minilm-l6-v2")
    rows = {r["group"]: r for r in compare_with_init(result, init)}
    # BERT init is N(0, 0.02): every |w| < 0.1; training spreads Q/K/V out of that band
    assert rows["self_attn_q"]["sparsity_0.1_init"] == pytest.approx(1.0, abs=1e-5)
    assert rows["self_attn_q"]["sparsity_0.1_trained"] < 0.9


@pytest.mark.slow
def test_init_t5_small_real_size() -> None:
    result = init_battery("init/t5-small")
    assert result["n_params"] == 60_506_624  # the seed's de-duplicated census
    assert result["counts"]["self_attn_q"] == 12 and result["counts"]["norm"] == 32
    assert result["q_sparsity"]["self_attn_q"] == pytest.approx(1.0, abs=1e-6)
    assert result["memory"]["peak_over_largest"] < 3.0
