"""What the attention runs show, in words (`lib.attention.readings`): the head-permutation
tests of real models that survive Holm (first), every model's SI against its permutation null,
and each real model's SI against its own architecture's init seeds, model by model. The
report's opening (`findings`) and each notebook's closing lines (`run_findings`), through
`lib.lines`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.attention import readings


def findings(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """The lines of the embedded runs (keys "embedded/...")."""
    embedded = {k: p for k, p in results.items() if k.startswith("embedded/")}
    return [*readings.beyond_null_lines(embedded), *readings.null_lines(embedded),
            *readings.init_lines(embedded)]


def run_findings(payload: dict[str, Any]) -> list[str]:
    """One E08 / E11 / E11-T run's lines (its notebook prints them)."""
    one = {"this run": payload}
    return [*readings.beyond_null_lines(one), *readings.null_lines(one),
            *readings.init_lines(one)]


def cannot_show() -> list[str]:
    """What no embedded attention run can show."""
    return ["- The paper-scale attention claims (Mistral, Falcon, Phi-3, Llama) need the GPU "
            "runs of `parameters/paper/`: until they are made the claims read 'not yet run'."]
