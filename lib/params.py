"""Parameter files: protocol defaults per experiment, layered with a YAML file, validated.

A parameter file names one run: `experiment` (the notebook), `run` (the results name) and
`profile` (`embedded`: CPU, offline; `paper`: the published models on a GPU with a network).
Keys it omits take the E11-v3 protocol defaults below; a key that is missing with no default,
or a key the experiment does not know, is an error that says what to write.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import yaml

from lib.paths import PARAMETERS, ROOT

PROFILES = ("embedded", "paper")
ENTROPY_MODES = ("masked", "padded", "unpadded")
DTYPES = ("bfloat16", "float16", "float32")
QUANTIZATIONS = ("none", "8bit", "4bit", "8bit-fallback-4bit")

REQUIRED = object()  # marks a key every parameter file must give

_PROTOCOL: dict[str, Any] = {
    "experiment": REQUIRED,
    "run": REQUIRED,
    "profile": REQUIRED,
    "description": "",
    "prompt_set": "standard-10-v3",
    "max_length": 128,
    "dtype": "bfloat16",
    "quantization": "none",
    "trust_remote_code": False,
    "use_chat_template": False,
    "seeds": [42, 123, 456],
    "bootstrap": {"n": 1000, "seed": 0, "ci": 0.95},
    "free_hub_cache": False,
    # {gpu_headroom_gib: 2, cpu: "50GiB"}: GPU total minus headroom, the rest offloaded to CPU
    "max_memory": None,
    # what the job needs on a cluster (read by the Snakefile, not by the notebooks):
    # {gpu: 1, gpu_memory_gb: 80, mem_mb: 64000, runtime: 240}
    "resources": {},
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "E11": {
        **_PROTOCOL,
        "base": REQUIRED,
        "instruct": REQUIRED,
        "entropy_mode": "masked",
        "sanity_check": False,
        # Falcon-40B: compare with the Falcon-7B run; {"run": ..., "claim": ...} or None
        "cross_scale": None,
    },
    "E11-T": {
        **_PROTOCOL,
        "base": REQUIRED,
        "instruct": REQUIRED,
        "entropy_mode": "padded",
        "sanity_check": False,
        # the MHA side of the comparison: {"run": ..., "claim": ...}
        "mha_reference": REQUIRED,
    },
    "E08": {
        **_PROTOCOL,
        "entropy_mode": "unpadded",
        # [{"name": registry name, "display": label, "size_b": billions of parameters}]
        "models": REQUIRED,
        "sanity_variants": ["bfloat16", "float16", "float32"],
        "sanity_threshold": 0.05,
        # reference models measured by another run: {"run": ..., "claims": [...]} or None
        "references": None,
        "si_target": 0.33,
        "si_tolerance": 0.05,
    },
}

_CHOICES = {
    "profile": PROFILES,
    "entropy_mode": ENTROPY_MODES,
    "dtype": DTYPES,
    "quantization": QUANTIZATIONS,
}


class ParameterError(ValueError):
    """A parameter file that is missing, malformed, or has missing or unknown keys."""


def resolve_path(path: str | Path) -> Path:
    """A parameter file path as given, else relative to the repository root or parameters/."""
    p = Path(path)
    for candidate in (p, ROOT / p, PARAMETERS / p):
        if candidate.is_file():
            return candidate.resolve()
    raise ParameterError(
        f"parameter file {str(path)!r} not found (looked relative to the working directory, "
        f"the repository root and parameters/). Available: {', '.join(available())}"
    )


def available() -> list[str]:
    """Parameter files in the repository, relative to its root."""
    return sorted(str(p.relative_to(ROOT)) for p in PARAMETERS.glob("*/*.yaml"))


def load_parameters(
    path: str | Path, experiment: str | None = None, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Read, layer on the protocol defaults, and validate a parameter file.

    `experiment` is the notebook asking (a file for another notebook is refused); `overrides`
    are applied last (for interactive tweaks). Adds `parameter_file` (relative to the repository
    when inside it) and `parameter_sha256`.
    """
    file = resolve_path(path)
    raw_text = file.read_text()
    try:
        given = yaml.safe_load(raw_text) or {}
    except yaml.YAMLError as exc:
        raise ParameterError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(given, dict):
        raise ParameterError(f"{file}: expected a mapping of keys to values")
    given = {**given, **(overrides or {})}
    name = given.get("experiment")
    if name not in SCHEMAS:
        raise ParameterError(
            f"{file}: 'experiment' must be one of {sorted(SCHEMAS)}, got {name!r}"
        )
    if experiment is not None and name != experiment:
        raise ParameterError(
            f"{file} is a parameter file for {name}, not {experiment}: pick one of "
            f"{[a for a in available() if Path(a).name.startswith(experiment + '_')]}"
        )
    schema = SCHEMAS[name]
    unknown = sorted(set(given) - set(schema))
    if unknown:
        raise ParameterError(
            f"{file}: unknown key(s) {unknown} for {name}; known keys: {sorted(schema)}"
        )
    params = {k: v if v is REQUIRED else copy.deepcopy(v) for k, v in schema.items()}
    params.update(given)
    missing = sorted(k for k, v in params.items() if v is REQUIRED)
    if missing:
        raise ParameterError(f"{file}: missing required key(s) {missing} for {name}")
    for key, choices in _CHOICES.items():
        if params[key] not in choices:
            raise ParameterError(f"{file}: {key}={params[key]!r} is not one of {list(choices)}")
    if not str(params["run"]).replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise ParameterError(f"{file}: run {params['run']!r} must be letters, digits, '-_.'")
    _check_models(file, params)
    try:
        params["parameter_file"] = str(file.relative_to(ROOT))
    except ValueError:
        params["parameter_file"] = str(file)
    params["parameter_sha256"] = hashlib.sha256(raw_text.encode()).hexdigest()
    return params


def _check_models(file: Path, params: dict[str, Any]) -> None:
    if params["experiment"] == "E08":
        models = params["models"]
        if not isinstance(models, list) or not models:
            raise ParameterError(f"{file}: 'models' must be a non-empty list")
        for entry in models:
            if not isinstance(entry, dict) or set(entry) - {"name", "display", "size_b"} or (
                "name" not in entry
            ):
                raise ParameterError(
                    f"{file}: each model needs 'name' (and optional 'display', 'size_b'), "
                    f"got {entry!r}"
                )
    memory = params.get("max_memory")
    if memory is not None and (not isinstance(memory, dict)
                               or set(memory) - {"gpu_headroom_gib", "cpu"}):
        raise ParameterError(
            f"{file}: 'max_memory' must be a mapping with keys gpu_headroom_gib and/or cpu, "
            f"e.g. {{gpu_headroom_gib: 2, cpu: 50GiB}}; got {memory!r}"
        )
    for key in ("cross_scale", "mha_reference", "references"):
        ref = params.get(key)
        if ref is not None and (not isinstance(ref, dict) or "run" not in ref):
            raise ParameterError(f"{file}: '{key}' must be a mapping with a 'run' key")


def result_name(params: dict[str, Any]) -> str:
    """The deterministic results stem of a run: `<experiment>_<run>`."""
    return f"{params['experiment']}_{params['run']}"
