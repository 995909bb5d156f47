"""The terrain line (Geometric Terrain Analysis, seed 004 §1-§6, §13) in the shared machinery
(`lib.lines`)."""

from __future__ import annotations

from lib.lines import Line, register

LINE = register(Line(
    name="terrain",
    experiments=("terrain",),
    cannot_show="lib.terrain.report:cannot_show",
    preflight="lib.terrain.preflight:terrain_rows",
    claims_notes="lib.terrain.report:claims_notes",
    details="lib.terrain.report:details",
    prepare="lib.terrain.wordnet:prepare",
    bench={"terrain WordNet": "lib.terrain.bench:wordnet_rows",
           "pentachora": "lib.terrain.bench:pentachoron_rows",
           "weight battery": "lib.terrain.bench:weight_rows"},
    layouts={"terrain": "lib.terrain.layout:TerrainResult"},
    renames="lib.terrain.renames:RENAMES",
))
