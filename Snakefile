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
import sys
from pathlib import Path

sys.path.insert(0, workflow.basedir)
import lib  # noqa: E402  (points Jupyter, IPython, matplotlib and caches at .cache/)
from lib.params import ParameterError, load_parameters  # noqa: E402
from lib.workflow import lib_dependencies  # noqa: E402

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
ATTENTION = [n for n, p in PARAMS.items() if p["experiment"] in ("E11", "E11-T")]
NOTEBOOK_LIB = {e: [str(f) for f in lib_dependencies(f"notebooks/{e}.py")]
                for e in sorted({p["experiment"] for p in PARAMS.values()})}
TERRAIN = [n for n, p in PARAMS.items() if p["experiment"] == "terrain"]
TERRAIN_BATTERY = any(PARAMS[n].get("weights") for n in TERRAIN)
SUMMARY_LIB = [str(f) for f in lib_dependencies("lib/summary.py")]
TERRAIN_SUMMARY_LIB = [str(f) for f in lib_dependencies("lib/terrain/summary.py")]
REPORT_LIB = [str(f) for f in lib_dependencies("lib/report.py")]
# the report also shows the other profile's runs that exist and whose parameter file still does
OTHER_RESULTS = sorted(
    str(r) for p in Path("parameters", OTHER or PROFILE).glob("*.yaml")
    if OTHER and (r := Path("results", OTHER, f"{p.stem}.json")).is_file())
# the report shows the embedded summary: made here in the embedded profile, read if made in paper
REPORT_SUMMARY = [
    s for s in ["results/embedded/summary.json"] if PROFILE == "embedded" or Path(s).is_file()]
# GPU memory (GB) -> SLURM node feature, e.g. {80: "gpu80gb"} (profiles/slurm/config.yaml)
GPU_CONSTRAINTS = {int(k): v for k, v in config.get("gpu_constraints", {}).items()}


def references(wildcards):
    """Results files this run reads: the edges of the graph."""
    p = PARAMS[wildcards.name]
    runs = [p[k]["run"] for k in ("cross_scale", "mha_reference", "references") if p.get(k)]
    return [f"results/{PROFILE}/{run}.json" for run in runs]


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
        "results/REPORT.md",


rule notebook:
    wildcard_constraints:
        name="|".join(PARAMS) or "none",
    input:
        params=f"parameters/{PROFILE}/{{name}}.yaml",
        notebook=lambda w: f"notebooks/{PARAMS[w.name]['experiment']}.py",
        lib=lambda w: NOTEBOOK_LIB[PARAMS[w.name]["experiment"]],
        references=references,
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
        lib=REPORT_LIB,
    output:
        report="results/REPORT.md",
        machine="results/report.json",
    shell:
        "{WORKFLOW} {PYTHON} -m lib.report {input.results} {input.other} {input.summary}"
