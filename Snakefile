# Regenerate every result: one papermill job per (notebook, parameter file).
#
#   snakemake --profile profiles/embedded     # the main job: CPU, offline (make reproduce)
#   snakemake --profile profiles/paper        # the published models: GPU + Hugging Face hub
#   snakemake --profile profiles/slurm        # the paper set on a SLURM cluster, a GPU per job
#
# Every parameter file is validated with lib.params before anything runs. A run that reads
# another run's results (a reference, `lib.params.reference_runs`) depends on it, so the graph
# runs in order. A job depends on its parameter file, its notebook and the lib files that
# notebook imports (lib.dependencies), so a second run redoes only what changed; a result that
# fails its check (lib.integrity) is made again. Each line of research adds its own rules from
# `lib/<line>/rules.smk` (what it derives from its runs' results: summaries, calibrations); this
# file names none. The report reads exactly its input files.
import os
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)
import lib  # noqa: E402  (points Jupyter, IPython, matplotlib and caches at .cache/)
from lib.dependencies import lib_dependencies  # noqa: E402
from lib.integrity import check_result  # noqa: E402
from lib.params import ParameterError, load_parameters, reference_runs  # noqa: E402

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


def make_again(paths):
    """A result the workflow's file and today's code did not make (swapped, hand-edited, made
    from a file edited since, or by other code: lib.integrity) is made again: dated back to the
    first second after the epoch (0 reads as "no date" to Snakemake), it is older than its
    inputs."""
    for path in paths:
        check = check_result(path)
        if not check.ok and check.problem != "missing":
            print(f"making again results/{check.path}: {check.problem}", file=sys.stderr)
            os.utime(path, (1, 1))


make_again(Path("results", PROFILE, f"{name}.json") for name in PARAMS)
NOTEBOOK_LIB = {e: [str(f) for f in lib_dependencies(f"notebooks/{e}.py")]
                for e in sorted({p.experiment for p in PARAMS.values()})}
REPORT_LIB = [str(f) for f in lib_dependencies("lib/report.py")]
# the report also shows the other profile's runs that exist and whose parameter file still does
OTHER_RESULTS = sorted(
    str(r) for p in Path("parameters", OTHER or PROFILE).glob("*.yaml")
    if OTHER and (r := Path("results", OTHER, f"{p.stem}.json")).is_file())
# GPU memory (GB) -> SLURM node feature, e.g. {80: "gpu80gb"} (profiles/slurm/config.yaml)
GPU_CONSTRAINTS = {int(k): v for k, v in config.get("gpu_constraints", {}).items()}

# what the lines' rules add: inputs of an experiment's notebook jobs, targets of `all`, and the
# files the report reads beside the runs' results
NOTEBOOK_INPUTS = {}  # experiment -> function(wildcards) -> list of files
TARGETS = []
REPORT_INPUTS = []


def runs_of(*experiments):
    """The runs (parameter file stems) of these experiments."""
    return [n for n, p in PARAMS.items() if p.experiment in experiments]


def report_input(name):
    """The report reads the embedded `results/embedded/<name>.json`: made here in the embedded
    profile, read where made in the other."""
    path = f"results/embedded/{name}.json"
    if PROFILE == "embedded" or Path(path).is_file():
        REPORT_INPUTS.append(path)


def references(wildcards):
    """Results files this run reads: the edges of the graph."""
    return [f"results/{PROFILE}/{run}.json" for run in reference_runs(PARAMS[wildcards.name])]


def extra_inputs(wildcards):
    """What the run's line adds to its notebook job (e.g. a seed null made by its own job)."""
    add = NOTEBOOK_INPUTS.get(PARAMS[wildcards.name].experiment)
    return add(wildcards) if add else []


def resource(key):
    """A job resource from its parameter file's `resources` (lib.params.Resources)."""
    return lambda wildcards: getattr(PARAMS[wildcards.name].resources, key)


def constraint(wildcards):
    gib = PARAMS[wildcards.name].resources.gpu_memory_gb
    return GPU_CONSTRAINTS.get(gib, "") if gib else ""


for _rules in sorted(Path(workflow.basedir, "lib").glob("*/rules.smk")):
    workflow.include(str(_rules))


rule all:
    default_target: True
    input:
        expand("results/{profile}/{name}.json", profile=PROFILE, name=PARAMS),
        TARGETS,
        "results/REPORT.md",


rule notebook:
    wildcard_constraints:
        name="|".join(PARAMS) or "none",
    input:
        params=f"parameters/{PROFILE}/{{name}}.yaml",
        notebook=lambda w: f"notebooks/{PARAMS[w.name].experiment}.py",
        lib=lambda w: NOTEBOOK_LIB[PARAMS[w.name].experiment],
        references=references,
        extra=extra_inputs,
    output:
        result=f"results/{PROFILE}/{{name}}.json",
        figure=f"figures/{PROFILE}/{{name}}.png",
        executed=f"results/{PROFILE}/executed/{{name}}.ipynb",
    log:
        f"results/{PROFILE}/logs/{{name}}.log",
    resources:
        gpu=resource("gpu"),
        gpu_memory_gb=resource("gpu_memory_gb"),
        mem_mb=resource("mem_mb"),
        runtime=resource("runtime"),
        constraint=constraint,
    shell:
        "{PYTHON} -m lib.runner {input.notebook} {input.params} --output {output.executed}"
        " --workflow > {log} 2>&1"


rule report:
    input:
        results=expand("results/{profile}/{name}.json", profile=PROFILE, name=PARAMS),
        other=OTHER_RESULTS,
        derived=REPORT_INPUTS,
        lib=REPORT_LIB,
    output:
        report="results/REPORT.md",
        machine="results/report.json",
    shell:
        "{WORKFLOW} {PYTHON} -m lib.report {input.results} {input.other} {input.derived}"
