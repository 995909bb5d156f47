"""lib.compat: torchvision-dependent imports work on CPU-only torch after `import lib`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hang import HANG_S

from lib.paths import ROOT


def run_fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=HANG_S
    )


@pytest.mark.integration
def test_vision_imports_work_after_import_lib() -> None:
    out = run_fresh(
        "import lib, torchvision, open_clip\n"
        "from transformers import CLIPModel, Dinov2Model\n"
        "print('ok', torchvision.__version__, CLIPModel.__name__, Dinov2Model.__name__)"
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("ok 0.28.0")


@pytest.mark.integration
def test_shim_is_idempotent() -> None:
    out = run_fresh(
        "import lib\n"
        "from lib.compat import ensure_torchvision_importable as ensure\n"
        "first = ensure(); second = ensure()\n"
        "assert first == second\n"
        "import torchvision\n"
        "print('ok')"
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "ok"
