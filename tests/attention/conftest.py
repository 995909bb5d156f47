"""What several attention test files share: a measured tiny MQA pair, and E08 ladder rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lib.attention import study
from lib.attention.parameters import E11Parameters
from lib.attention.prompts import load_prompts
from lib.params import load_parameters

Pair = tuple[E11Parameters, study.ModelRun, study.ModelRun]


@pytest.fixture(scope="session")
def pair() -> Pair:
    """E11_tiny-mqa's parameters (200 resamples) and its base and instruct models, measured."""
    params = load_parameters("parameters/embedded/E11_tiny-mqa.yaml", "E11",
                             {"bootstrap": {"n": 200, "seed": 0, "ci": 0.95}})
    assert isinstance(params, E11Parameters)
    prompts = load_prompts()
    base = study.measure_model(params, params.base, prompts)
    instruct = study.measure_model(params, params.instruct, prompts)
    return params, base, instruct


def ladder_row(display: str, size_b: float, si: float | None, stand_in: bool = False,
               family: str | None = None, si_ci: list[float] | None = None) -> dict[str, Any]:
    """A row of an E08 ladder (`lib.attention.study.ladder_row`'s keys)."""
    return {"display": display, "size_b": size_b, "si": si, "si_ci": si_ci, "kind": "GQA",
            "rho_head": None, "rho_kv": None, "sanity": None, "reference": stand_in,
            "source": "x", "stand_in": stand_in, "family": family or display}


@pytest.fixture
def row() -> Callable[..., dict[str, Any]]:
    """`ladder_row`, to make rows of one's own."""
    return ladder_row


@pytest.fixture
def ladder() -> list[dict[str, Any]]:
    """Three real models of three families, one size each, and two random-init stand-ins."""
    return [ladder_row("MiniLM", 0.0227, 0.30), ladder_row("SmolLM2", 0.135, 0.34),
            ladder_row("Gemma", 0.268, 0.32), ladder_row("tiny Phi", 0.001, 0.95, stand_in=True),
            ladder_row("tiny Phi-3", 0.002, 0.99, stand_in=True)]


@pytest.fixture
def family(ladder: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Three sizes of one family, each with an interval, and `ladder`'s two stand-ins."""
    return [ladder_row(f"phi {size}", size, si, family="phi", si_ci=[si - 0.01, si + 0.01])
            for size, si in ((0.0227, 0.30), (0.135, 0.34), (0.268, 0.32))] + ladder[3:]
