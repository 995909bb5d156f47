# Regenerate every result: one papermill job per (notebook, parameter file).
#
#   snakemake --profile profiles/embedded     # the main job: CPU, offline (make reproduce)
#   snakemake --profile profiles/paper        # the published models: GPU + Hugging Face hub
#   snakemake --profile profiles/slurm        # the paper set on a SLURM cluster, a GPU per job
#
# Every parameter file is validated with lib.params before anything runs. A run that reads
# another run's results (E11-T reads the MHA reference, Falcon-40B reads Falcon-7B, the Phi
# ladder reads the Phi-3 references) depends on it, so the graph runs in order. A job depends on
# its parameter file, its notebook and the lib files that notebook imports (lib.workflow), so a
# second run redoes only what changed. Summary and report read exactly their input files.
import os
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)
import lib  # noqa: E402  (points Jupyter, IPython, matplotlib and caches at .cache/)
from lib.integrity import check_result  # noqa: E402
from lib.params import ParameterError, load_parameters  # noqa: E402
from lib.dependencies import lib_dependencies  # noqa: E402

PROFILE = config.get("profile", "embedded")
OTHER = {"embedded": "paper", "paper": "embedded"}.get(PROFILE)
PYTHON = config.get("python", sys.executable)
# workflow jobs write results/<profile>/; anything else writes results/scratch/ (lib.results)
WORKFLOW = "BSD_WORKFLOW_RUN=1"
FILES = sorted(Path("parameters", PROFILE).glob("*.yaml"))
if not FILES:
    raise ValueError(f"no parameter files in parameters/{PROFILE}/ (profile={PROFILE!r})")
try:
    PARAMS = {p.stem: load_parameters(p) for p in FILES}
except ParameterError as exc:
    sys.exit(f"error: {exc}")
# A result the workflow's file and today's code did not make (swapped, hand-edited, made from a
# file edited since, or by other code: lib.integrity) is made again: dated back to the first
# second after the epoch (0 reads as "no date" to Snakemake), it is older than its inputs.
for _path in [Path("results", PROFILE, f"{n}.json") for n in PARAMS] + [
        Path("results", PROFILE, "seed_null", f"{n}.json") for n in PARAMS]:
    _check = check_result(_path)
    if not _check.ok and _check.problem != "missing":
        print(f"making again results/{_check.path}: {_check.problem}", file=sys.stderr)
        os.utime(_path, (1, 1))
ATTENTION = [n for n, p in PARAMS.items() if p["experiment"] in ("E11", "E11-T")]
NOTEBOOK_LIB = {e: [str(f) for f in lib_dependencies(f"notebooks/{e}.py")]
                for e in sorted({p["experiment"] for p in PARAMS.values()})}
TERRAIN = [n for n, p in PARAMS.items() if p["experiment"] == "terrain"]
TERRAIN_BATTERY = any(PARAMS[n].get("weights") for n in TERRAIN)
SUMMARY_LIB = [str(f) for f in lib_dependencies("lib/summary.py")]
TERRAIN_SUMMARY_LIB = [str(f) for f in lib_dependencies("lib/terrain/summary.py")]
REPORT_LIB = [str(f) for f in lib_dependencies("lib/report.py")]
CALIBRATION_LIB = [str(f) for f in lib_dependencies("lib/attention/calibration.py")]
CALIBRATION = [f"results/{PROFILE}/calibration.json"] if ATTENTION else []
# the report also shows the other profile's runs that exist and whose parameter file still does
OTHER_RESULTS = sorted(
    str(r) for p in Path("parameters", OTHER or PROFILE).glob("*.yaml")
    if OTHER and (r := Path("results", OTHER, f"{p.stem}.json")).is_file())
# the report shows the embedded summary: made here in the embedded profile, read if made in paper
REPORT_SUMMARY = [
    s for s in ["results/embedded/summary.json"] if PROFILE == "embedded" or Path(s).is_file()]
# the report shows the embedded calibration of the collapse rules, as it shows the summary
REPORT_CALIBRATION = [
    s for s in ["results/embedded/calibration.json"] if PROFILE == "embedded" or Path(s).is_file()]
# GPU memory (GB) -> SLURM node feature, e.g. {80: "gpu80gb"} (profiles/slurm/config.yaml)
GPU_CONSTRAINTS = {int(k): v for k, v in config.get("gpu_constraints", {}).items()}


def references(wildcards):
    """Results files this run reads: the edges of the graph."""
    p = PARAMS[wildcards.name]
    runs = [p[k]["run"] for k in ("cross_scale", "mha_reference", "references",
                                  "trained_seed_reference") if p.get(k)]
    return [f"results/{PROFILE}/{run}.json" for run in runs]


def seed_null(wildcards):
    """A pair run's verdict reads its seed null, made by its own job (rule seed_null)."""
    return [f"results/{PROFILE}/seed_null/{wildcards.name}.json"] if wildcards.name in ATTENTION \
        else []


def resource(key, default):
    def value(wildcards):
        given = (PARAMS[wildcards.name].get("resources") or {}).get(key)
        return default if given is None else given
    return value


def constraint(wildcards):
    gib = (PARAMS[wildcards.name].get("resources") or {}).get("gpu_memory_gb")
    return GPU_CONSTRAINTS.get(gib, "") if gib else ""


rule all:
    input:
        expand("results/{profile}/{name}.json", profile=PROFILE, name=PARAMS),
        f"results/{PROFILE}/summary.json",
        [f"results/{PROFILE}/terrain_summary.json"] if TERRAIN else [],
        CALIBRATION,
        "results/REPORT.md",


rule notebook:
    wildcard_constraints:
        name="|".join(PARAMS) or "none",
    input:
        params=f"parameters/{PROFILE}/{{name}}.yaml",
        notebook=lambda w: f"notebooks/{PARAMS[w.name]['experiment']}.py",
        lib=lambda w: NOTEBOOK_LIB[PARAMS[w.name]["experiment"]],
        references=references,
        seed_null=seed_null,
    output:
        result=f"results/{PROFILE}/{{name}}.json",
        figure=f"figures/{PROFILE}/{{name}}.png",
        executed=f"results/{PROFILE}/executed/{{name}}.ipynb",
    log:
        f"results/{PROFILE}/logs/{{name}}.log",
    resources:
        gpu=resource("gpu", 0),
        gpu_memory_gb=resource("gpu_memory_gb", 0),
        mem_mb=resource("mem_mb", 8000),
        runtime=resource("runtime", 30),
        constraint=constraint,
    shell:
        "{PYTHON} -m lib.runner {input.notebook} {input.params} --output {output.executed}"
        " --workflow > {log} 2>&1"


# The seed null of a pair run: its base architecture at random initialization, several seeds,
# measured by the run's protocol, with the calibration of the collapse rules on that architecture
# (lib.attention.calibration). Its own job: it runs beside the others and is made once.
rule seed_null:
    wildcard_constraints:
        name="|".join(ATTENTION) or "none",
    input:
        params=f"parameters/{PROFILE}/{{name}}.yaml",
        lib=CALIBRATION_LIB,
    output:
        f"results/{PROFILE}/seed_null/{{name}}.json",
    log:
        f"results/{PROFILE}/logs/seed_null_{{name}}.log",
    resources:
        gpu=resource("gpu", 0),
        gpu_memory_gb=resource("gpu_memory_gb", 0),
        mem_mb=resource("mem_mb", 8000),
        runtime=resource("runtime", 30),
        constraint=constraint,
    shell:
        "{WORKFLOW} {PYTHON} -m lib.attention.calibration seed-null {input.params} > {log} 2>&1"


# Every pair run's calibration together: false-positive rates on null pairs, power on planted
# effects (results/<profile>/calibration.json, figures/<profile>/calibration.png).
rule calibration:
    input:
        seed_nulls=expand("results/{profile}/seed_null/{name}.json", profile=PROFILE,
                          name=ATTENTION),
        lib=CALIBRATION_LIB,
    output:
        calibration=f"results/{PROFILE}/calibration.json",
        figure=f"figures/{PROFILE}/calibration.png",
    shell:
        "{WORKFLOW} {PYTHON} -m lib.attention.calibration merge {PROFILE} {input.seed_nulls}"


rule summary:
    input:
        results=expand("results/{profile}/{name}.json", profile=PROFILE, name=ATTENTION),
        lib=SUMMARY_LIB,
    output:
        summary=f"results/{PROFILE}/summary.json",
        table=f"results/{PROFILE}/summary.md",
        figure=f"figures/{PROFILE}/summary.png",
    shell:
        "{WORKFLOW} {PYTHON} -m lib.summary {PROFILE} {input.results}"


rule terrain_summary:
    input:
        results=expand("results/{profile}/{name}.json", profile=PROFILE, name=TERRAIN),
        lib=TERRAIN_SUMMARY_LIB,
    output:
        summary=f"results/{PROFILE}/terrain_summary.json",
        table=f"results/{PROFILE}/terrain_summary.md",
        figure=[f"figures/{PROFILE}/terrain_summary.png"] if TERRAIN_BATTERY else [],
    shell:
        "{WORKFLOW} {PYTHON} -m lib.terrain.summary {PROFILE} {input.results}"


rule report:
    input:
        results=expand("results/{profile}/{name}.json", profile=PROFILE, name=PARAMS),
        other=OTHER_RESULTS,
        summary=REPORT_SUMMARY,
        calibration=REPORT_CALIBRATION,
        lib=REPORT_LIB,
    output:
        report="results/REPORT.md",
        machine="results/report.json",
    shell:
        "{WORKFLOW} {PYTHON} -m lib.report {input.results} {input.other} {input.summary}"
        " {input.calibration}"
