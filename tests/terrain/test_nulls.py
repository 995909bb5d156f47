"""What random weights give (issue 24): the seeds' prediction-interval rule and its measured
false-positive rate, the analytic nulls against initializations, the partial initialization
against transformers' full one, and the weights / embedding spreads a run stores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from lib.terrain import nulls
from lib.terrain.weights.baseline import (
    InMemorySource,
    battery_quantities,
    embedding_spread,
    init_checkpoint,
    init_model,
    init_source,
    init_spread,
)
from lib.terrain.weights.battery import run_battery

TINY = "tiny/t5"  # encoder-decoder: sparsity, self and cross QK, position bias, cross-layer
LIGHT = {"thresholds": (0.1,), "svd": False, "conventions": ("seed",)}


def test_the_prediction_interval_by_hand() -> None:
    low, high = nulls.prediction_interval([1.0, 2.0, 3.0])
    half = stats.t.ppf(0.995, 2) * 1.0 * math.sqrt(1 + 1 / 3)
    assert (low, high) == pytest.approx((2 - half, 2 + half))
    # K identical values keep one step of the grid either side, never a zero-width interval
    assert nulls.prediction_interval([0.5] * 5, resolution=1 / 512) == (0.5 - 1 / 512,
                                                                        0.5 + 1 / 512)
    assert nulls.prediction_interval([0.5, 0.6]) is None
    block = nulls.seed_spread([0.5, 0.6], [0, 1])
    assert block["low"] is None and "at least 3" in block["reason"]
    with pytest.raises(ValueError, match="not finite"):
        nulls.seed_spread([0.5, float("nan"), 0.4], [0, 1, 2])
    assert nulls.inside(nulls.seed_spread([1.0, 2.0, 3.0], [0, 1, 2]), 2.0) is True
    assert nulls.inside(block, 0.5) is None


def test_the_rule_false_positive_rate_on_normal_null_data() -> None:
    # 2,000 sets of K = 5 draws: each draw judged against the other four, and a sixth draw
    rng = np.random.default_rng(0)
    draws = rng.normal(size=(2000, 6))
    loo = [nulls.leave_one_out(row[:5].tolist()) for row in draws]
    rate = sum(x["outside"] for x in loo) / sum(x["trials"] for x in loo)
    fresh = np.mean([not nulls.inside(nulls.seed_spread(row[:5].tolist(), range(5)), row[5])
                     for row in draws])
    assert 0.004 < rate < 0.02 and 0.003 < fresh < 0.02  # nominal 1%
    # and it decides: a value 10 sd away is called distinguishable nearly always
    shifted = np.mean([not nulls.inside(nulls.seed_spread(row[:5].tolist(), range(5)),
                                        row[5] + 10) for row in draws])
    assert shifted > 0.9


@pytest.fixture(scope="module")
def tiny_seeds() -> list[dict]:
    """The quantities of 15 initializations of the tiny T5, built as the spread builds them."""
    return [battery_quantities(run_battery(init_source(TINY, s), **LIGHT)) for s in range(15)]


def test_the_rule_false_positive_rate_on_initializations(tiny_seeds: list[dict]) -> None:
    # spreads of 5 seeds judged against the 10 other initializations, every quantity
    trials = outside = 0
    for start in range(0, 15, 5):
        window = tiny_seeds[start:start + 5]
        for q, (_, resolution) in window[0].items():
            block = nulls.seed_spread([w[q][0] for w in window], range(5), resolution)
            for j, other in enumerate(tiny_seeds):
                if not start <= j < start + 5:
                    trials += 1
                    outside += not nulls.inside(block, other[q][0])
    assert trials > 1000 and outside / trials < 0.03  # measured 0.8% (40 seeds, 10,920 trials)


def test_the_analytic_nulls_hold_the_initializations(tiny_seeds: list[dict]) -> None:
    init = run_battery(init_source(TINY, 0), **LIGHT)
    analytic = nulls.analytic_nulls(init)
    cross = analytic["cross_layer_summary/max_abs_mean"]
    values = [s["cross_layer_summary/max_abs_mean"][0] for s in tiny_seeds]
    assert sum(not nulls.inside(cross, v) for v in values) <= 2  # 1% expected of 15
    assert cross["median"] == pytest.approx(np.median(values), rel=0.5)
    (key,) = [k for k in analytic if k.startswith("position_bias/")]
    assert "decoder" in key and analytic[key]["low"] <= analytic[key]["mean"]
    mixed = [s[key][0] for s in tiny_seeds]
    heads = init["position_bias"][key.split("/")[1]]["n_heads"]
    assert analytic[key]["mean"] == pytest.approx(heads * 26 / 32)
    assert sum(not nulls.inside(analytic[key], v) for v in mixed) <= 2
    # the binomial's spread is the seeds' (15 draws of Binomial(H, 26/32))
    assert np.std(mixed) == pytest.approx(math.sqrt(heads * 26 / 32 * 6 / 32), rel=0.6)
    by_hand = nulls.cross_layer_null({"a": {"numel": 10_000, "n_pairs": 4}})
    assert by_hand["high"] == pytest.approx(stats.norm.ppf(0.995) / math.sqrt(40_000))


def test_the_partial_initialization_draws_what_transformers_draws() -> None:
    full = init_checkpoint(TINY, seed=3)
    part = init_model(TINY, seed=3, part="weights")
    built = dict(part.named_parameters())
    compared = 0
    for key in full.keys():
        if key not in built or built[key].is_meta:
            assert "embed" in key or key == "shared.weight" or key.startswith("lm_head"), key
            continue
        a, b = full.tensor(key).float(), built[key].detach().float()
        assert a.shape == b.shape, key
        if a.std() == 0:  # a constant (norm gains, zero biases): the same constant
            assert torch.equal(a, b), key
        elif a.numel() >= 1000:
            assert b.std().item() == pytest.approx(a.std().item(), rel=0.1), key
            compared += 1
    assert compared > 10
    emb = init_model(TINY, seed=3, part="embedding").get_input_embeddings().weight
    reference = full.tensor("shared.weight")
    assert emb.shape == reference.shape  # the full vocabulary
    assert emb.std().item() == pytest.approx(reference.std().item(), rel=0.05)
    # the same seed, the same tensors; another seed, others
    again = dict(init_model(TINY, seed=3).named_parameters())
    other = dict(init_model(TINY, seed=4).named_parameters())
    key = "encoder.block.0.layer.0.SelfAttention.q.weight"
    assert torch.equal(again[key], built[key]) and not torch.equal(other[key], built[key])


def test_an_in_memory_source_measures_what_its_checkpoint_holds() -> None:
    model = init_model(TINY, seed=1)
    source = InMemorySource(model, "x")
    assert not any("embed" in k or k == "shared.weight" for k in source.keys())
    a = run_battery(source, **LIGHT)
    # the same tensors saved and streamed back give the same battery
    from safetensors.torch import save_file

    from lib.models.checkpoint import Checkpoint

    class Saved(Checkpoint):
        def config(self) -> dict:
            return source.config()

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.safetensors"
        save_file({k: source.tensor(k).contiguous() for k in source.keys()}, str(path))
        saved = Saved("x", Path(tmp), {k: path for k in source.keys()},
                      dict(source.shapes), dict(source.dtypes))
        b = run_battery(saved, **LIGHT)
    assert battery_quantities(a) == battery_quantities(b)


def test_the_weights_spread_a_run_stores(tiny_seeds: list[dict]) -> None:
    first = run_battery(init_source(TINY, 0), **LIGHT)
    spread = init_spread(TINY, first, [0, 1, 2, 3])
    q = spread["quantities"]["q_sparsity/self_attn_q"]
    assert q["k"] == 4 and q["seeds"] == [0, 1, 2, 3]
    assert q["values"] == [s["q_sparsity/self_attn_q"][0] for s in tiny_seeds[:4]]
    assert q["low"] <= q["mean"] <= q["high"]
    assert "qk/decoder/cross/seed/min_pos_frac" in spread["quantities"]
    fp = spread["false_positive"]
    assert fp["trials"] == 4 * len(spread["quantities"]) and 0 <= fp["rate"] < 0.1
    # without the QK pass: the same quantities but the QK signs
    bare = init_spread(TINY, None, [0, 1, 2, 3], qk=False)["quantities"]
    assert bare == {k: v for k, v in spread["quantities"].items() if not k.startswith("qk/")}
    with pytest.raises(ValueError, match="distinct"):
        init_spread(TINY, None, [1, 1])


def test_the_embedding_spread_a_run_stores() -> None:
    from lib.terrain.embeddings import load_tokenizer

    sizes = {"n_cosine": 100, "n_simplices": 50}
    tokenizer = load_tokenizer(TINY)
    spread = embedding_spread(TINY, [0, 1, 2], "all_rows_isotropic", sizes, tokenizer)
    pr = spread["quantities"]["spectrum/pr_over_dim"]
    vocab, dim = init_model(TINY, 0, "embedding").get_input_embeddings().weight.shape
    # i.i.d. rows: the Marchenko-Pastur participation ratio 1 / (1 + d/N)
    assert pr["mean"] == pytest.approx(1 / (1 + dim / vocab), abs=0.03)
    assert spread == embedding_spread(TINY, [0, 1, 2], "all_rows_isotropic", sizes, tokenizer)
    assert set(spread["quantities"]) <= {"spectrum/pr_over_dim", "cosine/mean", "pentachora/cv",
                                         "pentachora/ratio_embed_random",
                                         "digits/manifold/corr_abs_diff_cosine"}
