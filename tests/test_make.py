"""Makefile targets that guard the machine: `make clean-cache` removes only a cache folder inside
the repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lib.paths import CACHE, ROOT

pytestmark = pytest.mark.integration


def _clean_cache(folder: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, BSD_CACHE_DIR=folder)
    return subprocess.run(["make", "-s", "clean-cache"], cwd=ROOT, env=environ,
                          capture_output=True, text=True)


@pytest.mark.parametrize("where", ["outside", "space", "root", "tracked"])
def test_clean_cache_refuses_a_folder_it_must_not_remove(tmp_path: Path, where: str) -> None:
    folder = {"outside": tmp_path / "cache", "space": tmp_path / "a b",
              "root": ROOT, "tracked": ROOT / "lib"}[where]
    folder.mkdir(exist_ok=True)
    (folder / "keep").touch() if where in ("outside", "space") else None
    out = _clean_cache(str(folder))
    assert out.returncode != 0
    assert out.stderr.startswith("error: ") and out.stderr.count("error: ") == 1, out.stderr
    assert folder.is_dir()
    if where in ("outside", "space"):
        assert (folder / "keep").is_file()


def test_clean_cache_removes_a_cache_folder_inside_the_repository() -> None:
    folder = CACHE / "tmp" / f"clean-cache-test-{os.getpid()}"
    (folder / "models").mkdir(parents=True)
    out = _clean_cache(str(folder.relative_to(ROOT)))
    assert out.returncode == 0, out.stderr
    assert not folder.exists() and CACHE.is_dir()
