"""The seed null (lib.attention.seednull): its seeds, a trained value against them, and the
random initializations it measures."""

from __future__ import annotations

import pytest

from lib.attention import seednull
from lib.models.random_init import build_random, random_config
from lib.models.tiny import seed_for


def test_seeds_are_stable_and_never_a_models_own() -> None:
    seeds = seednull.seeds_for("random/tiny/falcon-mqa", 5)
    assert seeds == seednull.seeds_for("random/tiny/falcon-mqa", 5) and len(set(seeds)) == 5
    assert seed_for("tiny/falcon-mqa") not in seeds
    assert seednull.init_architecture("tiny/falcon-mqa") == "random/tiny/falcon-mqa"
    assert seednull.init_architecture("random/tiiuae/falcon-7b") == "random/tiiuae/falcon-7b"


def test_init_comparison_reads_a_trained_value_against_its_init_seeds() -> None:
    out = seednull.init_comparison(0.7, [0.9, 1.0, 1.1])
    assert (out["low"], out["high"], out["outside"]) == (0.9, 1.1, True)
    assert out["excess"] == pytest.approx(-0.3) and out["excess_sd"] == pytest.approx(-3.0)
    assert out["chance_outside"] == pytest.approx(0.5)
    assert seednull.init_comparison(1.0, [0.9, 1.0, 1.1])["outside"] is False
    assert seednull.init_comparison(1.0, [0.9])["reason"].startswith("1 finite init seeds")


def test_random_init_takes_a_seed_and_keeps_the_vocabulary() -> None:
    a = build_random("random/tiny/falcon-mqa", seed=1)
    b = build_random("random/tiny/falcon-mqa", seed=1)
    c = build_random("random/tiny/falcon-mqa", seed=2)
    weights = [dict(m.model.named_parameters())["transformer.h.0.mlp.dense_h_to_4h.weight"]
               for m in (a, b, c)]
    assert a.seed == 1 and bool((weights[0] == weights[1]).all())
    assert not bool((weights[0] == weights[2]).all())
    name = "random/embedded/all-minilm-l6-v2"
    kept, reduction, kind = random_config(name, 15_000_000, keep_vocabulary=True)
    cut, _, cut_kind = random_config(name, 15_000_000)
    assert (kept.vocab_size, kind) == (30522, "embedded") and "vocab_size" not in reduction
    assert kept.hidden_size < 384  # the widths shrink instead
    assert (cut.vocab_size, cut_kind) == (260, "bert")

