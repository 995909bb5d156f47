"""The modulator line (geometric residual modulators, seed 004 §7-§12) in the shared machinery
(`lib.lines`)."""

from __future__ import annotations

from lib.lines import Line, register

LINE = register(Line(
    name="modulator",
    experiments=("modulator",),
    findings="lib.modulator.findings:findings",
    run_findings="lib.modulator.findings:run_findings",
    preflight="lib.modulator.preflight:modulator_rows",
    details="lib.modulator.report:details",
    layouts={"modulator": "lib.modulator.layout:ModulatorResult"},
    renames="lib.modulator.renames:RENAMES",
))
