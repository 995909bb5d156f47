"""The modulator runs' preflight, offline in seconds (`make preflight`): the encoder layers the
modulator hooks attach and fire in a meta forward, and the run passes its notebook's own model
check (`lib.modulator.study.check_model`: an encoder, the file's `layers` among its blocks,
`seed_faithful` on T5 only) with one block per layer of the width it modulates."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from lib.modulator.hooks import encoder_blocks, hidden_size
from lib.modulator.parameters import ModulatorParameters
from lib.modulator.study import check_model
from lib.preflight import (
    Row,
    arch_text,
    describe_problem,
    meta_model_of,
    model_info_of,
    model_memory,
    preset_checks,
)
from lib.terrain.preflight import encoder_checks


def modulator_checks(row: Row, name: str, params: ModulatorParameters) -> None:
    """The notebook's own model check (an encoder, the file's `layers` among its blocks,
    `seed_faithful` on T5 only); the modulator's hooks find one encoder block per layer, and the
    width it modulates."""
    model, info = meta_model_of(name), model_info_of(name)
    try:
        checked = check_model(SimpleNamespace(model=model, name=name, info=info),
                              params.layers, params.seed_faithful)
        blocks = len(encoder_blocks(model))
    except ValueError as exc:
        problem = describe_problem(exc)
        row.problems.append(problem if name in problem else f"{name}: {problem}")
        return
    if params.layers:
        row.checks.append(f"layers {checked['layers']}")
    if blocks != info.num_layers or hidden_size(model) != info.hidden_size:
        row.problems.append(f"{name}: the modulator finds {blocks} blocks of width "
                            f"{hidden_size(model)}, the config {info.num_layers} of "
                            f"{info.hidden_size}")
    else:
        row.checks.append(f"modulator blocks {blocks}")


def modulator_rows(params: ModulatorParameters, folder: Path | None = None) -> list[Row]:
    """The checks of one modulator run: its encoder's hooks, the notebook's model check, the
    memory of the model in float32 (`folder`: its parameter file's, unused)."""
    name = params.model
    row = Row(Path(params.parameter_file).stem, name)
    try:
        row.arch = arch_text(model_info_of(name))
        preset_checks(row, name)
    except Exception as exc:
        row.problems.append(describe_problem(exc))
        return [row]
    encoder_checks(row, name, ("encoder",))
    modulator_checks(row, name, params)
    # the frozen encoder's activations and gradients through it: twice the weights
    model_memory(row, name, params, 0.0, built=True, factor=2.0)
    return [row]
