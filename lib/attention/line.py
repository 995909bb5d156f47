"""The attention line (Paper 4, Behavioral Sink Dynamics) in the shared machinery (`lib.lines`)."""

from __future__ import annotations

from lib.lines import Line, register

LINE = register(Line(
    name="attention",
    experiments=("E08", "E11", "E11-T"),
    findings="lib.attention.findings:findings",
    run_findings="lib.attention.findings:run_findings",
    cannot_show="lib.attention.findings:cannot_show",
    preflight="lib.attention.preflight:attention_rows",
    overview="lib.attention.report:overview",
    details="lib.attention.report:details",
    report_json="lib.attention.report:report_json",
    bench={"attention": "lib.attention.bench:attention_rows"},
    derived=("summary", "calibration"),
    layouts={"E08": "lib.attention.layout:E08Result", "E11": "lib.attention.layout:E11Result",
             "E11-T": "lib.attention.layout:E11TResult"},
))
