"""lib.terrain.cosine: cosine, digit, category and distance statistics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from lib.terrain import cosine


class WordTokenizer:
    """Single ids for known words and digits 0-7; '8' and '9' split into two ids."""

    def __init__(self, words: list[str]) -> None:
        self.ids = {w: i for i, w in enumerate(words)}

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        if text in ("8", "9"):
            return [99, int(text)]
        return [self.ids[text]] if text in self.ids else [98, 97]

    def decode(self, ids: list[int]) -> str:
        return str(ids)


def test_normalize_and_upper_triangle_against_loops() -> None:
    X = np.random.default_rng(0).standard_normal((6, 4))
    Xn = cosine.normalize_rows(X)
    np.testing.assert_allclose(np.linalg.norm(Xn, axis=1), 1.0, rtol=1e-7)
    expected = [X[i] @ X[j] / np.linalg.norm(X[i]) / np.linalg.norm(X[j])
                for i in range(6) for j in range(i + 1, 6)]
    np.testing.assert_allclose(cosine.upper_tri_cosines(X), expected, rtol=1e-6)


def test_sampled_cosines_use_the_callers_stream() -> None:
    E = np.random.default_rng(1).standard_normal((50, 8)).astype(np.float32)
    idx, cos = cosine.sampled_cosines(E, 10, np.random.default_rng(42))
    np.testing.assert_array_equal(idx, np.random.default_rng(42).choice(50, 10, replace=False))
    assert cos.size == 45
    with pytest.raises(ValueError, match="distinct rows"):
        cosine.sampled_cosines(E, 51, np.random.default_rng(0))


def test_near_value_fractions_by_hand() -> None:
    c = np.array([0.0, 0.005, 0.2, 0.29, 0.5])
    by_label = {r["label"]: r for r in cosine.near_value_fractions(c)}
    assert by_label["zero"]["fraction_within"] == pytest.approx(0.4)
    assert by_label["phil_constant"]["value"] == 0.29514  # B2: the executed cosine constant
    assert by_label["phil_constant"]["nearest_abs_diff"] == pytest.approx(0.00514)
    assert by_label["qwen_mean"]["closest_cosine"] == 0.2
    assert by_label["half"]["fraction_within"] == pytest.approx(0.2)


def test_digit_manifold_on_a_linear_profile() -> None:
    i, j = np.indices((10, 10))
    C = 1.0 - 0.05 * np.abs(i - j)
    result = cosine.digit_manifold(C)
    assert result["corr_abs_diff_cosine"] == pytest.approx(-1.0)
    assert result["adjacent_mean"] == pytest.approx(0.95)
    gaps = [abs(a - b) for a in range(10) for b in range(a + 1, 10) if abs(a - b) > 1]
    assert result["nonadjacent_mean"] == pytest.approx(1.0 - 0.05 * np.mean(gaps))
    assert len(result["pair_cosines"]) == 45
    with pytest.raises(ValueError, match=r"\[10, 10\]"):
        cosine.digit_manifold(np.eye(9))


def test_digit_token_ids_flag_split_digits() -> None:
    tok = WordTokenizer([str(d) for d in range(10)])
    ids, single = cosine.digit_token_ids(tok)
    assert ids[:8] == list(range(8)) and ids[8:] == [99, 99]  # the seed's ids[0] of a split
    assert single == [True] * 8 + [False, False]


def test_category_geometry_by_hand() -> None:
    words = ["a", "b", "c", "x", "y"]
    E = np.array([[1.0, 0], [1, 0], [0, 1], [1, 1], [1, -1]], dtype=np.float32)
    cats = {"abc": ["a", "b", "c", "zz"], "xy": ["x", "y"]}
    out = cosine.category_geometry(E, WordTokenizer(words), global_mean=0.1, categories=cats)
    abc = out["categories"]["abc"]
    assert abc["words"] == ["a", "b", "c"] and abc["intra"] == pytest.approx(1 / 3)
    assert abc["lift"] == pytest.approx(1 / 3 - 0.1)
    assert out["categories"]["xy"]["skipped"] and out["centroid_names"] == ["abc"]
    assert len(cosine.SEMANTIC_CATEGORIES["animals"]) == 18


def test_special_tokens_and_distances() -> None:
    E = np.array([[3.0, 4.0], [0.0, 2.0], [1.0, 0.0]])
    out = cosine.special_token_geometry(E, {"pad": 0, "eos": 1})
    assert out["tokens"][0]["norm"] == pytest.approx(5.0)
    assert out["pair_cosines"][0]["cosine"] == pytest.approx(0.8)
    with pytest.raises(ValueError, match="outside"):
        cosine.special_token_geometry(E, {"pad": 7})

    X = np.random.default_rng(3).standard_normal((40, 5))
    stats = cosine.distance_stats(X, 20, np.random.default_rng(9))
    ref = pdist(X[np.random.default_rng(9).choice(40, 20, replace=False)])
    assert stats["mean"] == pytest.approx(ref.mean()) and stats["n"] == 190
    assert stats["cv"] == pytest.approx(ref.std() / ref.mean())
    assert stats["percentiles"]["95"] == pytest.approx(np.percentile(ref, 95))


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError, match="2-D"):
        cosine.upper_tri_cosines(np.zeros(4))
    with pytest.raises(ValueError, match="at least 2"):
        cosine.upper_tri_cosines(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="equal"):
        cosine.row_cosine(np.zeros((2, 3)), np.zeros((3, 3)))
