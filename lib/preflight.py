"""Preflight of the paper runs, offline in seconds: `python -m lib.preflight [files...]`.

Every paper run needs a GPU and the hub; this finds the run that cannot work before it starts.
For each parameter file (default: every `parameters/paper/*.yaml`), the line of research that
owns its experiment (`lib.lines`) checks each model it names, built from its architecture
preset (lib/models/presets.yaml; registry names from their own config) on the meta device, and
estimates the memory it needs against the file's `resources`: what each line checks is in its
`lib/<line>/preflight.py`. This module holds what they share: the table's rows, the models on
the meta device, the preset check, the bytes of weights and the memory budgets.

Prints a table, one line per (run, model), then one line per failing run; exits 1 if any fails,
2 with one error line if a file named does not exist.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import torch

from lib.lines import hook, line_of
from lib.models.base import torch_dtype
from lib.models.embedded import is_built, model_dir
from lib.models.presets import (
    expected_mismatches,
    has_preset,
    meta_model,
    model_info,
    preset_config,
    unknown_preset,
)
from lib.models.random_init import random_config
from lib.models.tiny import tiny_config
from lib.params import ParameterError, RunParameters, load_parameters, resolve_path
from lib.paths import PARAMETERS, shown

GIB = 2**30
CUDA_OVERHEAD_GIB = 1.0  # CUDA context and allocator reserve, on top of every GPU estimate
META_TOKENS = 8  # sequence length of the meta forward passes
NF4_BYTES = 0.5 + 1 / 64 + 4 / (64 * 256)  # 4-bit codes, 8-bit absmax per 64, fp32 per 256 blocks


@dataclass
class Row:
    """One (run, model) line of the table."""

    run: str
    model: str
    arch: str = "-"
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    need_gib: float | None = None
    budget_gib: float | None = None
    resource: str = "GPU"
    memory_hint: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------- models on meta


@cache
def config_of(name: str) -> Any:
    """The transformers config (OpenClipConfig) of a preset, registry or random/ name."""

    if has_preset(name):
        return preset_config(name)
    if name.startswith("random/"):

        return random_config(name)[0]
    if name.startswith("tiny/"):

        return tiny_config(name)
    if name.startswith("embedded/"):
        from transformers import AutoConfig


        if not is_built(name):
            raise FileNotFoundError(f"{name} is not built yet; run `make setup`")
        return AutoConfig.from_pretrained(model_dir(name))
    raise unknown_preset(name)


@cache
def meta_model_of(name: str) -> torch.nn.Module:

    return meta_model(config_of(name))


def arch_text(info: Any) -> str:
    return (f"{info.family} {info.num_layers}L {info.num_heads}q/{info.num_kv_heads}kv "
            f"{info.attention_kind}")


def intermediate_size_of(config: Any) -> int:
    for key in ("intermediate_size", "ffn_hidden_size", "d_ff"):
        value = getattr(config, key, None)
        if isinstance(value, int):
            return value
    return 4 * int(getattr(config, "hidden_size", 0) or getattr(config, "d_model", 0))


def describe_problem(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# --------------------------------------------------------------------------- attention checks


def preset_checks(row: Row, name: str) -> None:
    """A preset's model, as the loader reads it, has the layers and heads the preset expects."""

    if not has_preset(name):
        return
    wrong = expected_mismatches(name, meta_model_of(name))
    if wrong:
        row.problems.append(f"{name}: the preset disagrees with its expected facts: "
                            f"{', '.join(wrong)}")
    else:
        row.checks.append("preset")


def model_info_of(name: str) -> Any:
    """`architecture_info` of a name's meta model (fused-qkv checked)."""

    return model_info(config_of(name), meta_model_of(name))


# --------------------------------------------------------------------------- quantization


# --------------------------------------------------------------------------- memory


def dtype_bytes(dtype: str) -> int:

    return torch_dtype(dtype).itemsize


def weight_bytes(model: torch.nn.Module, nbytes: int) -> float:
    """Bytes of the weights as loaded: bitsandbytes layers at their packed size, the rest at the
    dtype (tied weights counted once)."""
    total, seen = 0.0, set()
    for module in model.modules():
        packed = type(module).__name__
        for pname, param in module.named_parameters(recurse=False):
            if id(param) in seen:  # a tied weight, already counted
                continue
            seen.add(id(param))
            n = param.numel()
            if pname == "weight" and packed == "Linear8bitLt":
                total += module.in_features * module.out_features + 4 * module.out_features
            elif pname == "weight" and packed == "Linear4bit":
                total += module.in_features * module.out_features * NF4_BYTES
            else:
                total += n * nbytes
    return total


def unique_bytes(model: torch.nn.Module, nbytes: int) -> float:
    return sum(p.numel() for p in model.parameters()) * nbytes  # parameters() dedups ties


def host_budget(params: RunParameters) -> float:
    """resources.mem_mb in GiB."""
    return params.resources.mem_mb / 1024


def model_memory(row: Row, name: str, params: RunParameters, streamed_bytes: float,
                 built: bool, factor: float = 1.0) -> None:
    """The model at the run's dtype times `factor` (activations and gradients through it), on
    the GPU when the run asks for one, where the run builds it (`built`); else what its streamed
    sections hold, against host memory."""
    if built:
        nbytes = dtype_bytes(getattr(params, "dtype", None) or "float32")  # not every line's
        weights = unique_bytes(meta_model_of(name), nbytes) * factor
        budget = gpu_budget(params)
        row.resource = "GPU" if budget is not None else "host"
        row.need_gib = weights / GIB + (CUDA_OVERHEAD_GIB if budget is not None else 0)
        row.budget_gib = budget if budget is not None else host_budget(params)
        row.memory_hint = "model built, float32"
    else:
        row.resource, row.memory_hint = "host", "streamed"
        row.need_gib = streamed_bytes / GIB
        row.budget_gib = host_budget(params)
    if row.need_gib > row.budget_gib:
        what = "resources.gpu_memory_gb" if row.resource == "GPU" else "resources.mem_mb"
        row.problems.append(f"{name} needs ~{row.need_gib:.1f} GiB of {row.resource} memory "
                            f"({row.memory_hint}), {what} gives {row.budget_gib:.1f} GiB: "
                            "raise it")


# --------------------------------------------------------------------------- runs


def check_file(path: str | Path) -> list[Row]:
    """Every check of one parameter file: its rows (a file that does not validate: one row)."""

    file = resolve_path(path)
    try:
        params = load_parameters(file)
    except ParameterError as exc:
        return [Row(file.stem, "-", problems=[str(exc)])]
    check = line_of(params.experiment).preflight
    if check is None:
        return [Row(file.stem, "-", notes=["its line of research has no preflight"])]
    return hook(check)(params, file.parent)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def table(rows: Sequence[Row]) -> str:
    """The table: run, model, architecture, what passed, memory need / budget, status."""
    lines = [f"{'run':<34} {'model':<42} {'architecture':<26} {'need GiB':>9} "
             f"{'budget':>7} {'on':4} {'status':<6} checks"]
    for r in rows:
        status = "ok" if r.ok else "FAIL"
        lines.append(f"{r.run:<34} {r.model:<42} {r.arch:<26} {_number(r.need_gib):>9} "
                     f"{_number(r.budget_gib):>7} {r.resource:4} {status:<6} "
                     f"{'; '.join(r.checks)}" + (f" [{r.memory_hint}]" if r.memory_hint else ""))
        lines += [f"{'':34}   note: {n}" for n in r.notes]
    return "\n".join(lines)


def failures(rows: Sequence[Row]) -> list[str]:
    """One line per failing run: its problems."""
    by_run: dict[str, list[str]] = {}
    for r in rows:
        if r.problems:
            by_run.setdefault(r.run, []).extend(r.problems)
    return [f"{run}: {'; '.join(problems)}" for run, problems in by_run.items()]


def default_files() -> list[Path]:
    """Every paper parameter file."""
    return sorted((PARAMETERS / "paper").glob("*.yaml"))


def main(argv: Sequence[str] | None = None) -> int:
    """Check the files (default: every paper file), print the table; 1 if any run fails, 2 (one
    error line) if a file does not exist."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="parameter files (default: parameters/paper/)")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    try:
        files = [resolve_path(f) for f in args.files] or default_files()
    except ParameterError as exc:  # a file that does not exist: nothing to check
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = [row for f in files for row in check_file(f)]
    print(table(rows))
    failed = failures(rows)
    seconds = time.perf_counter() - start
    where = ", ".join(shown(f) for f in files) if args.files else "parameters/paper/"
    if failed:
        print(f"\npreflight FAILED for {len(failed)} of {len(files)} runs ({where}, "
              f"{seconds:.0f} s):", file=sys.stderr)
        for line in failed:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"\npreflight ok: {len(files)} runs, {len(rows)} models ({where}, {seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def gpu_budget(params: RunParameters) -> float | None:
    """resources.gpu_memory_gb less max_memory's headroom (GiB, where the line has max_memory);
    None when the run asks for no GPU."""
    if not params.resources.gpu:
        return None
    max_memory = getattr(params, "max_memory", None)
    headroom = max_memory.gpu_headroom_gib if max_memory is not None else 0.0
    return float(params.resources.gpu_memory_gb) - headroom
