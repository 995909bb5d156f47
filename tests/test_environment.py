"""The pinned packages agree across files; no entry point writes to the home directory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from browser import fresh_environment, running_lab
from hang import HANG_S

from lib.paths import ROOT


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pip_pins(*files: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for file in files:
        for line in (ROOT / "requirements" / file).read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                name, version = line.split("==")
                pins[_norm(name)] = version
    return pins


def _conda_pins() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                name, version = line.split("==")
                pins[_norm(name)] = version
        elif "=" in dep and not dep.startswith("python="):
            name, version = dep.split("=")
            pins[_norm(name)] = version
    return pins


def test_environment_yml_matches_pip_files() -> None:
    pip = _pip_pins("base.txt", "dev.txt")
    conda = _conda_pins()
    assert conda == pip, {
        "only in environment.yml": sorted(set(conda) - set(pip)),
        "only in requirements": sorted(set(pip) - set(conda)),
        "different versions": sorted(k for k in set(pip) & set(conda) if pip[k] != conda[k]),
    }


def test_constraints_pin_cpu_torch_and_match_base() -> None:
    constraints = _pip_pins("constraints.txt")
    assert constraints == {"torch": "2.13.0", "torchvision": "0.28.0"}
    base = _pip_pins("base.txt")
    assert all(base[k] == v for k, v in constraints.items())


def test_colab_requirements_are_a_subset_of_base() -> None:
    base, colab = _pip_pins("base.txt"), _pip_pins("colab.txt")
    assert colab and all(base.get(k) == v for k, v in colab.items()), colab
    assert "torch" not in colab  # Colab's CUDA torch must not be replaced


# --------------------------------------------------------------------------- nothing in HOME


def test_configure_sets_only_what_is_missing() -> None:
    from lib import env
    from lib.paths import CACHE

    environ = {"MPLCONFIGDIR": "/elsewhere/mpl", "IPYTHONDIR": ""}
    added = env.configure(environ)
    assert environ["MPLCONFIGDIR"] == "/elsewhere/mpl" and "MPLCONFIGDIR" not in added
    assert environ["IPYTHONDIR"] == str(CACHE / "ipython")  # empty counts as unset
    for key in ("IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                "XDG_CACHE_HOME", "HF_HOME", "npm_config_cache", "YARN_CACHE_FOLDER"):
        assert Path(environ[key]).is_relative_to(CACHE), key


@pytest.mark.integration
def test_the_tools_themselves_resolve_their_state_inside_the_repository(tmp_path: Path) -> None:
    """Ask matplotlib, IPython, Jupyter, platformdirs and Snakemake where they would write, in a
    fresh interpreter that imports lib under an empty HOME."""
    code = """
import lib, matplotlib, platformdirs
from IPython.paths import get_ipython_dir
from jupyter_core import paths
from snakemake.common import get_appdirs
for p in (matplotlib.get_configdir(), matplotlib.get_cachedir(), get_ipython_dir(),
          paths.jupyter_config_dir(), paths.jupyter_data_dir(), paths.jupyter_runtime_dir(),
          platformdirs.user_cache_dir("x"), platformdirs.user_state_dir("x"),
          get_appdirs().user_cache_dir):
    print(p)
"""
    home = tmp_path / "home"
    home.mkdir()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=fresh_environment(home),
                         capture_output=True, text=True, timeout=HANG_S)
    assert out.returncode == 0, out.stderr[-2000:]
    from lib.paths import CACHE

    for line in out.stdout.split():
        assert Path(line).is_relative_to(CACHE), line
    assert list(home.iterdir()) == []


@pytest.mark.integration
@pytest.mark.slow
def test_make_lab_starts_for_root_and_writes_nothing_in_home(tmp_path: Path) -> None:
    """`make lab` serves (as root too: containers run as root) and leaves an empty HOME empty."""
    home = tmp_path / "home"
    home.mkdir()
    with running_lab(home) as lab:
        # rooted at the repository: results/, figures/, parameters/ are browsable
        top = {item["name"] for item in lab.get("/api/contents/")["content"]}
        assert {"notebooks", "parameters", "lib"} <= top, top
        # a double-click opens a .py notebook as a notebook (the tracked labconfig)
        viewers = lab.get("/lab/api/settings/@jupyterlab/docmanager-extension:plugin")
        default = viewers["schema"]["properties"]["defaultViewers"]["default"]
        assert default.get("python") == "Jupytext Notebook", default
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []
