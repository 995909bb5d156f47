"""The multiplicity corrections (lib.attention.multiplicity): Holm and Benjamini-Hochberg, and a
family of tests adjusted together."""

from __future__ import annotations

import pytest

from lib.attention.multiplicity import adjust_family, benjamini_hochberg, holm


def test_holm_and_benjamini_hochberg_on_a_known_example() -> None:
    p = [0.01, 0.04, 0.03, 0.005, None]
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02, None])
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02, None])
    tests = {"a": {"p": 0.01}, "b": {"p": 0.06}, "c": {"p": None}}
    family = adjust_family(tests, "three tests")
    assert family["size"] == 2 and family["rejected"] == ["a"]  # 0.02 and 0.06
    assert tests["a"]["p_adjusted"] == pytest.approx(0.02) and tests["c"]["p_adjusted"] is None
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        holm([1.5])

