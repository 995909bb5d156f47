"""lib.dependencies: the lib files a notebook runs, from its source."""

from __future__ import annotations

from lib.dependencies import hooked_modules
from lib.lines import RUN_TIME_HOOKS

LINE = '''
register(Line(name="x", experiments=("x",),
              preflight="lib.x.preflight:rows",
              bench={"area": "lib.x.bench:rows"},
              run_findings="lib.x.findings:run_findings",
              layouts={"x": "lib.x.layout:XResult"},
              details="lib.x.report:details"))
'''


def test_only_the_hooks_a_notebook_run_asks_for_count_as_its_imports() -> None:
    assert set(RUN_TIME_HOOKS) == {"layouts", "run_findings"}
    assert hooked_modules(LINE) == {"lib.x.findings", "lib.x.layout"}
    assert hooked_modules('NOTE = "lib.x.bench:rows"') == set()  # a hook string alone is not one
