"""Benchmark of the weight battery: `python -m lib.terrain.weights.bench [--quick]`.

For MiniLM, SmolLM2-135M and Gemma-3-270m (`embedded/...`; quick: MiniLM only): the battery
streamed from the checkpoint vs the model loaded with transformers and the same metrics run on
its state dict. Each variant runs in a fresh subprocess (quick: in this process); its peak
memory is the RSS high-water mark minus the RSS after the interpreter and imports. Also SVDs
per second, and each variant's per-group mean singular-value metrics (`sv_mean`), which must
agree between the two.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

import torch

from lib.memory import PeakRSS
from lib.models import load_model
from lib.terrain.weights.battery import _warm_up, resolve_device, run_battery

MODELS = ("embedded/all-minilm-l6-v2", "embedded/smollm2-135m-instruct", "embedded/gemma-3-270m")
QUICK_MODELS = MODELS[:1]
VARIANTS = ("streamed", "loaded")
_DTYPE_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                torch.float64: "F64"}


class StateDictSource:
    """A loaded model's state dict behind the checkpoint interface (the 'loaded' variant)."""

    def __init__(self, name: str, model: torch.nn.Module) -> None:
        self.name = name
        self._state = model.state_dict()
        self._config = model.config.to_dict()
        self.shapes = {k: tuple(v.shape) for k, v in self._state.items()}
        self.dtypes = {k: _DTYPE_NAMES.get(v.dtype, str(v.dtype)) for k, v in self._state.items()}

    def keys(self) -> list[str]:
        return list(self._state)

    def tensor(self, key: str, dtype: torch.dtype | None = None) -> torch.Tensor:
        value = self._state[key].detach()
        return value if dtype is None else value.to(dtype)

    def config(self) -> dict:
        return self._config


def _load(name: str) -> torch.nn.Module:
    return load_model(name, dtype="float32", device="cpu").model


def measure_variant(variant: str, name: str) -> dict[str, Any]:
    """Run one variant here; peak RSS above the RSS after imports (exact via VmHWM reset)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; use one of {VARIANTS}")
    _warm_up(resolve_device(None))
    with PeakRSS() as peak:
        start = time.perf_counter()
        if variant == "streamed":
            result = run_battery(name)
        else:
            result = run_battery(StateDictSource(name, _load(name)))
        seconds = time.perf_counter() - start
    sv = result["sv"]
    return {"model": name, "variant": variant, "seconds": seconds, "peak_mb": peak.mb,
            "exact_peak": peak.exact, "n_svd": sv["n_svd"], "svd_seconds": sv["seconds"],
            "svd_per_s": sv["n_svd"] / sv["seconds"] if sv["seconds"] else None,
            "largest_tensor_mb": result["memory"]["largest_tensor_mb"],
            "battery_peak_mb": result["memory"]["peak_rss_mb"],
            "device": result["device"], "threads": result["threads"],
            "sv_mean": sv["mean"]}


def _subprocess(variant: str, name: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "lib.terrain.weights.bench", "--variant", variant, "--model", name]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench {variant} {name} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows (model, variant, seconds, peak_mb, svd_per_s, ...), each in a fresh subprocess;
    quick: MiniLM only, in this process."""
    if quick:
        return [measure_variant(variant, name) for name in QUICK_MODELS for variant in VARIANTS]
    return [_subprocess(variant, name) for name in MODELS for variant in VARIANTS]


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a text table."""
    lines = [f"{'model':34} {'variant':9} {'time s':>8} {'peak MB':>9} {'largest MB':>11} "
             f"{'SVDs':>5} {'SVD/s':>7}"]
    for r in rows:
        lines.append(f"{r['model']:34} {r['variant']:9} {r['seconds']:8.1f} {r['peak_mb']:9.1f} "
                     f"{r['largest_tensor_mb']:11.1f} {r['n_svd']:5d} {r['svd_per_s'] or 0:7.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="MiniLM only")
    parser.add_argument("--variant", choices=VARIANTS, help="(internal) run one variant here")
    parser.add_argument("--model", default=MODELS[0], help="(internal) with --variant")
    args = parser.parse_args(argv)
    if args.variant:
        print(json.dumps(measure_variant(args.variant, args.model)))
        return
    rows = run(args.quick)
    print(table(rows))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
