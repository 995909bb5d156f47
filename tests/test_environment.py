"""The conda file, the pip files and the Colab subset name the same pinned packages."""

from __future__ import annotations

import re

import yaml

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
