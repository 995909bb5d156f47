"""Calibrate the collapse rules on null pairs and planted effects; the seed null of each pair run.

    python -m lib.attention.calibration seed-null parameters/embedded/E11_tiny-mqa.yaml
    python -m lib.attention.calibration merge embedded results/embedded/seed_null/*.json

`seed-null` measures a pair run's architecture at random initialization from the file's
`seed_null.n` seeds (`lib.attention.study.measure_init_seeds`, the run's protocol, every entropy
mode the pass gives), and writes `results/<profile>/seed_null/<run>.json`: the seed null of each
mode (what the run's verdict reads, `seed_null_for_run`) and the calibration of the three
collapse rules on this architecture (`calibrate`):

- **null pairs**: every pair (i, j) of the init seeds is a pair with no alignment at all; each is
  judged against the seed null of the *other* seeds (leave-two-out: a pair never sits in its own
  null), with the run's bootstrap. A rule's false-positive rate is the share of null pairs it
  reads as anything but NOT_RESOLVED (`collapse_rate`: the share read A_CONFIRMED / B_PARTIAL).
- **planted effects**: an "aligned" twin of each seed moves every head's entropy toward its
  layer's mean over heads by a known fraction (away from it for a negative fraction: the
  opposite sign) in every prompt (`plant`); the pair (seed, twin) is judged against the seed
  null of the other seeds. The detection rate per planted fraction is the share that reads the
  planted direction (A_CONFIRMED / B_PARTIAL toward the mean, C_REFUTED away).

The rules: `seed_null` (the corrected verdict: bootstrap interval excludes 0 and outside the
seed null, Holm over the two signs), `bootstrap_only` (the corrected rule before the seed null)
and `as_executed` (the seeds' three point signs, unchanged). `merge` gathers every run's
calibration into `results/<profile>/calibration.json` and `figures/<profile>/calibration.png`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lib.attention.parameters import PairParameters
from lib.attention.prompts import load_prompts
from lib.attention.seednull import METRICS, SCALES, init_architecture, on_scale, spread
from lib.attention.stats import resample_weights, resampled
from lib.attention.study import init_block, measure_init_seeds
from lib.attention.tables import calibration_table
from lib.attention.verdicts import (
    NOT_RESOLVED,
    SEED_NULL_ALPHA,
    territorial_collapse,
)
from lib.integrity import check_result, refusal_line
from lib.notebook import check_workflow_file
from lib.params import load_parameters, result_name
from lib.paths import RESULTS
from lib.results import (
    output_folder,
    pop_measurements,
    provenance,
    save_figure,
    to_jsonable,
    write_json,
)
from lib.stats.intervals import percentile_interval
from lib.threads import fix_threads

RULES = {  # key -> what it is
    "seed_null": "corrected: bootstrap interval excludes 0 and outside the seed null (Holm)",
    "bootstrap_only": "bootstrap interval excludes 0 (the corrected rule before the seed null)",
    "as_executed": "the seeds' rule as executed: three point signs",
}
PLANTED = (-2.0, -1.0, -0.5, -0.2, -0.05, 0.05, 0.2, 0.5, 0.7, 0.9)  # toward the layer mean
MAX_FPR = 0.05  # the most a rule may read anything but NOT_RESOLVED on null pairs
MIN_NULL_PAIRS = 40
TOWARD = ("A_CONFIRMED", "B_PARTIAL")
SEED_NULL_DIR = "seed_null"
ENTRY = "lib/attention/calibration.py"  # what makes a seed null (its provenance's code)


def plant(per_prompt: np.ndarray, fraction: float) -> np.ndarray:
    """Each head's entropy moved toward its layer's mean over heads by `fraction` (away from it
    when negative), in every prompt: [..., layers, heads] -> the same shape."""
    x = np.asarray(per_prompt, dtype=np.float64)
    return x - fraction * (x - x.mean(axis=-1, keepdims=True))


def _figures(per_prompt: np.ndarray, weights: np.ndarray) -> dict[str, tuple[float, np.ndarray]]:
    """(point, bootstrap samples) of each seed-null metric of per-prompt entropies [P, L, H]."""
    return {key: (float(metric(per_prompt.mean(axis=0))), resampled(per_prompt, weights, metric))
            for key, metric in METRICS.items()}


def _interval(samples: np.ndarray, ci: float) -> list[float]:
    """`lib.stats.intervals.percentile_interval`, [NaN, NaN] where it is undefined."""
    found = percentile_interval(samples, ci)
    return list(found) if found is not None else [float("nan"), float("nan")]


def _metrics(points: Mapping[str, float]) -> dict[str, float]:
    si = points["specialization_index"]
    return {"specialization_index": si, "mean_head_correlation": 1.0 - si,
            "mean_head_variance": points["mean_head_variance"]}


def judge(base: Mapping[str, tuple[float, np.ndarray]],
          instruct: Mapping[str, tuple[float, np.ndarray]],
          reference: Mapping[str, np.ndarray], ci: float, alpha: float) -> dict[str, str]:
    """The code each rule gives the pair (base, instruct) ({metric: (point, samples)}, the same
    bootstrap weights) against the seed null of `reference` ({metric: values over seeds})."""
    intervals = {key: _interval(instruct[key][1] - base[key][1], ci) for key in METRICS}
    null = {key: {"values": on_scale(values, SCALES[key]).tolist(), "scale": SCALES[key]}
            for key, values in reference.items()}
    verdict = territorial_collapse(
        _metrics({k: v[0] for k, v in base.items()}),
        _metrics({k: v[0] for k, v in instruct.items()}), intervals=intervals, seed_null=null,
        alpha=alpha)
    return {"seed_null": verdict.code, "bootstrap_only": verdict.values["bootstrap_only"],
            "as_executed": verdict.as_executed["code"]}


def _rates(codes: Sequence[str]) -> dict[str, Any]:
    n = len(codes)
    counts = {c: codes.count(c) for c in sorted(set(codes))}
    return {"n_null_pairs": n,
            "false_positive_rate": sum(c != NOT_RESOLVED for c in codes) / n if n else None,
            "collapse_rate": sum(c in TOWARD for c in codes) / n if n else None,
            "codes": counts}


def detected(code: str, fraction: float) -> bool:
    """Whether a verdict reads the planted direction: toward the layer mean (fraction > 0) is a
    collapse (A_CONFIRMED / B_PARTIAL), away from it C_REFUTED."""
    return code in TOWARD if fraction > 0 else code == "C_REFUTED"


def calibrate(per_prompt: np.ndarray, n_boot: int, seed: int, ci: float,
              alpha: float = SEED_NULL_ALPHA, fractions: Sequence[float] = PLANTED,
              ) -> dict[str, Any]:
    """The three rules on the null pairs and planted twins of init seeds' per-prompt entropies
    [seeds, prompts, layers, heads] (module docstring), with the run's bootstrap (`n_boot`,
    `seed`, `ci`) and the verdict's `alpha`. Returns {n_models, rules: {rule: {n_null_pairs,
    false_positive_rate, collapse_rate, codes, power: {fraction: detection rate}}},
    planted_dsi: {fraction: mean dSI of the twins}, fractions, alpha, ci}."""
    x = np.asarray(per_prompt, dtype=np.float64)
    m = x.shape[0]
    if m < 4:
        raise ValueError(f"calibration needs at least 4 init seeds (a pair and a null of two), "
                         f"got {m}")
    weights = resample_weights(x.shape[1], n_boot, seed)
    models = [_figures(x[k], weights) for k in range(m)]
    values = {key: np.array([f[key][0] for f in models]) for key in METRICS}
    codes: dict[str, list[str]] = {rule: [] for rule in RULES}
    for i in range(m):
        for j in range(i + 1, m):
            rest = np.delete(np.arange(m), [i, j])
            got = judge(models[i], models[j], {k: v[rest] for k, v in values.items()}, ci, alpha)
            for rule, code in got.items():
                codes[rule].append(code)
    out = {rule: _rates(codes[rule]) for rule in RULES}
    power: dict[str, dict[str, float]] = {rule: {} for rule in RULES}
    planted_dsi = {}
    for fraction in fractions:
        hits = {rule: 0 for rule in RULES}
        dsi = []
        for k in range(m):
            twin = _figures(plant(x[k], fraction), weights)
            dsi.append(twin["specialization_index"][0] - models[k]["specialization_index"][0])
            rest = np.delete(np.arange(m), k)
            got = judge(models[k], twin, {key: v[rest] for key, v in values.items()}, ci, alpha)
            for rule, code in got.items():
                hits[rule] += detected(code, fraction)
        for rule in RULES:
            power[rule][f"{fraction:g}"] = hits[rule] / m
        planted_dsi[f"{fraction:g}"] = float(np.mean(dsi))
    for rule in RULES:
        out[rule]["power"] = power[rule]
    return {"n_models": m, "rules": out, "planted_dsi": planted_dsi,
            "fractions": [float(f) for f in fractions], "alpha": alpha, "ci": ci,
            "seed_null_sd": {key: spread(on_scale(v, SCALES[key]))["sd"]
                             for key, v in values.items()},
            "scales": dict(SCALES),
            "bootstrap": {"n_boot": n_boot, "seed": seed, "ci": ci}}


# --------------------------------------------------------------------------- the run's seed null


def protocol(params: PairParameters) -> dict[str, Any]:
    """What a seed null depends on: the architecture and the run's measurement protocol."""
    return {"architecture": init_architecture(params.base),
            "entropy_mode": params.entropy_mode, "dtype": params.dtype,
            "max_length": params.max_length, "prompt_set": params.prompt_set,
            "use_chat_template": params.use_chat_template,
            "random_max_parameters": params.random_max_parameters,
            "seed_null": params.seed_null.model_dump(), "bootstrap": params.bootstrap.model_dump()}


def seed_null_path(profile: str, name: str, root: Path | None = None) -> Path:
    """Where the workflow keeps run `name`'s seed null: results/<profile>/seed_null/<name>.json."""
    return (root or RESULTS) / profile / SEED_NULL_DIR / f"{name}.json"


def measure_seed_null(params: PairParameters, prompts: Sequence[str]) -> dict[str, Any]:
    """The seed null of a pair run (its base model's architecture, `protocol(params)`): per
    entropy mode the seed-null block, and the calibration of the protocol mode."""
    init = measure_init_seeds(params, params.base, prompts)
    boot = params.bootstrap
    start = time.perf_counter()
    calibration = calibrate(init.per_prompt[params.entropy_mode], boot.n, boot.seed, boot.ci,
                            params.seed_null.alpha)
    timings = {"measure_s": init.timings["measure_s"],
               "calibrate_s": time.perf_counter() - start}
    modes = {mode: {k: v for k, v in init_block(init, mode).items()
                    if k in METRICS} for mode in init.per_prompt}
    return {"run": result_name(params), "profile": params.profile,
            "protocol": protocol(params), "architecture": init.architecture,
            "seeds": init.seeds, "n_models": len(init.seeds),
            "reduction": init.record.get("reduction"), "model": init.record, "modes": modes,
            "calibration": calibration, "timings": timings}


def seed_null_for_run(params: PairParameters, prompts: Sequence[str]) -> dict[str, Any]:
    """The seed null a pair run's verdict reads: the workflow's file
    (results/<profile>/seed_null/<run>.json, made by `seed-null`, its own job) when its
    protocol is this run's; else measured here, the same way (an interactive run, one with
    overrides, or a workflow without that job: the same numbers, at the cost of the
    measurement). `source` says which."""
    path = seed_null_path(params.profile, result_name(params))
    where = f"results/{params.profile}/{SEED_NULL_DIR}/{path.name}"
    check = check_result(path)
    if check.ok:
        stored = json.loads(path.read_text())
        if stored.get("protocol") == json.loads(json.dumps(protocol(params))):
            return {**stored, "source": where}
        why = f"{where} was made with another protocol"
    elif check.problem == "missing":
        why = f"{where} has not been made"
    else:  # swapped, edited or stale (lib.integrity): never read
        why = f"{where} is refused: {check.problem}"
    block = json.loads(json.dumps(to_jsonable(measure_seed_null(params, prompts))))
    block.pop("timings", None)
    return {**block, "source": f"measured in this run ({why})"}


def write_seed_null(parameter_file: str) -> Path:
    """The `seed-null` command: measure and write a pair run's seed null and calibration."""
    params = load_parameters(parameter_file)
    check_workflow_file(params)
    if not isinstance(params, PairParameters):
        raise ValueError(f"{parameter_file}: a seed null belongs to a pair run (E11, E11-T), "
                         f"not {params.experiment}")
    fix_threads(params.threads)
    block = measure_seed_null(params, load_prompts(params.prompt_set))
    timings = pop_measurements(block, ("timings",))
    block["provenance"] = provenance(params, {"init": block["model"]}, entry=ENTRY)
    path = output_folder(RESULTS, params.profile) / SEED_NULL_DIR / \
        f"{result_name(params)}.json"
    write_json(path, block)
    print(f"{path}: {block['n_models']} init seeds of {block['architecture']} "
          f"({json.dumps(timings)})")
    return path


# --------------------------------------------------------------------------- all runs together


def merge(profile: str, files: Sequence[str | Path]) -> dict[str, Any]:
    """calibration.json of a profile from its runs' seed-null files: per run the architecture,
    entropy mode and calibration; per rule the pooled counts, the worst false-positive rate over
    the architectures, and whether every architecture meets the target (at least
    `MIN_NULL_PAIRS` null pairs, at most `MAX_FPR` read anything but NOT_RESOLVED)."""
    runs = {}
    for path in sorted(Path(f) for f in files):
        check = check_result(path)
        if not check.ok:  # a seed null the workflow's file and today's code did not make
            raise ValueError(refusal_line(check))
        block = json.loads(Path(path).read_text())
        runs[block["run"]] = {"architecture": block["architecture"],
                              "entropy_mode": block["protocol"]["entropy_mode"],
                              "n_models": block["n_models"], "reduction": block["reduction"],
                              **block["calibration"]}
    rules = {}
    for rule, what in RULES.items():
        per = {run: c["rules"][rule] for run, c in runs.items()}
        pairs = sum(r["n_null_pairs"] for r in per.values())
        positives = sum(r["false_positive_rate"] * r["n_null_pairs"] for r in per.values())
        fractions = sorted({f for r in per.values() for f in r["power"]}, key=float)
        rules[rule] = {
            "what": what, "n_null_pairs": pairs,
            "false_positive_rate": positives / pairs if pairs else None,
            "worst_false_positive_rate": max((r["false_positive_rate"] for r in per.values()),
                                             default=None),
            "power": {f: float(np.mean([r["power"][f] for r in per.values() if f in r["power"]]))
                      for f in fractions},
            "meets_target": bool(per) and all(
                r["n_null_pairs"] >= MIN_NULL_PAIRS and r["false_positive_rate"] <= MAX_FPR
                for r in per.values())}
    return {"profile": profile, "target": {"max_false_positive_rate": MAX_FPR,
                                           "min_null_pairs": MIN_NULL_PAIRS},
            "rules": rules, "runs": runs}


def write_merged(profile: str, files: Sequence[str | Path]) -> Path:
    """The `merge` command: results/<profile>/calibration.json and its figure."""
    from lib.attention.plots import calibration_figure  # matplotlib: only for this figure

    payload = merge(profile, files)
    path = write_json(output_folder(RESULTS, profile) / "calibration.json", payload)
    save_figure(calibration_figure(f"Collapse rules calibrated on null pairs ({profile})",
                                   payload), profile, "calibration")
    print(f"{path}: {len(payload['runs'])} architectures")
    return path


def report_lines(payload: Mapping[str, Any]) -> list[str]:
    """calibration.json as Markdown for the report: the rules, their false-positive rates on
    null pairs and their power on planted effects (`lib.attention.tables.calibration_table`)."""
    target = payload["target"]
    lines = ["", "## Calibration of the collapse rules on null pairs", "",
             "Every pair of init seeds of an architecture is a pair with no alignment at all; "
             "each is judged against the seed null of the other seeds, with the run's bootstrap. "
             "A rule may read anything but NOT_RESOLVED on at most "
             f"{target['max_false_positive_rate']:.0%} of them (at least "
             f"{target['min_null_pairs']} null pairs per architecture). Power: "
             "each seed's twin with every head's entropy moved toward its layer's mean by the "
             "planted fraction (away from it when negative), the share read in that direction.",
             "", calibration_table(payload).reset_index().to_markdown(index=False), ""]
    for rule, block in payload["rules"].items():
        lines.append(f"- `{rule}` ({block['what']}): {block['n_null_pairs']} null pairs, "
                     f"false-positive rate {block['false_positive_rate']:.3f} (worst architecture "
                     f"{block['worst_false_positive_rate']:.3f}); "
                     + ("meets" if block["meets_target"] else "does not meet") + " the target.")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.attention.calibration",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("seed-null", help="measure a pair run's seed null and calibration")
    one.add_argument("parameter_file")
    every = commands.add_parser("merge", help="gather the runs' calibrations")
    every.add_argument("profile")
    every.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.command == "seed-null":
            write_seed_null(args.parameter_file)
        else:
            write_merged(args.profile, args.files)
    except (ValueError, RuntimeError) as exc:  # a bad file, a refused seed null: one line
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
