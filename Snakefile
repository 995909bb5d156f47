# Regenerate every result: one papermill job per (notebook, parameter file).
#
#   snakemake --profile profiles/embedded     # the main job: CPU, offline (make reproduce)
#   snakemake --profile profiles/paper        # the published models: GPU + Hugging Face hub
#   snakemake --profile profiles/slurm        # the paper set on a SLURM cluster, a GPU per job
#
# A run that reads another run's results (E11-T reads the MHA reference, Falcon-40B reads
# Falcon-7B, the Phi ladder reads the Phi-3 references) depends on it, so the graph runs in
# order, and a second run redoes only what changed (parameters, notebook or lib).
import sys
from pathlib import Path

import yaml

PROFILE = config.get("profile", "embedded")
PYTHON = config.get("python", sys.executable)
PARAMS = {p.stem: yaml.safe_load(p.read_text()) for p in sorted(Path("parameters", PROFILE).glob("*.yaml"))}
LIB = sorted(str(p) for p in Path("lib").glob("**/*.py"))
ATTENTION = [n for n, p in PARAMS.items() if p["experiment"] in ("E11", "E11-T")]
# GPU memory (GB) -> SLURM node feature, e.g. {80: "gpu80gb"} (profiles/slurm/config.yaml)
GPU_CONSTRAINTS = {int(k): v for k, v in config.get("gpu_constraints", {}).items()}

if not PARAMS:
    raise ValueError(f"no parameter files in parameters/{PROFILE}/ (profile={PROFILE!r})")


def references(wildcards):
    """Results files this run reads: the edges of the graph."""
    p = PARAMS[wildcards.name]
    runs = [p[k]["run"] for k in ("cross_scale", "mha_reference", "references") if p.get(k)]
    return [f"results/{PROFILE}/{run}.json" for run in runs]


def resource(key, default):
    return lambda wildcards: (PARAMS[wildcards.name].get("resources") or {}).get(key, default)


def constraint(wildcards):
    gib = (PARAMS[wildcards.name].get("resources") or {}).get("gpu_memory_gb")
    return GPU_CONSTRAINTS.get(gib, "") if gib else ""


rule all:
    input:
        expand("results/{profile}/{name}.json", profile=PROFILE, name=PARAMS),
        f"results/{PROFILE}/summary.json",
        "results/REPORT.md",


rule notebook:
    wildcard_constraints:
        name="|".join(PARAMS) or "none",
    input:
        params=f"parameters/{PROFILE}/{{name}}.yaml",
        notebook=lambda w: f"notebooks/{PARAMS[w.name]['experiment']}.py",
        lib=LIB,
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
        " > {log} 2>&1"


rule summary:
    input:
        results=expand("results/{profile}/{name}.json", profile=PROFILE, name=ATTENTION),
        lib=LIB,
    output:
        summary=f"results/{PROFILE}/summary.json",
        table=f"results/{PROFILE}/summary.md",
        figure=f"figures/{PROFILE}/summary.png",
    shell:
        "{PYTHON} -m lib.summary {PROFILE}"


rule report:
    input:
        results=expand("results/{profile}/{name}.json", profile=PROFILE, name=PARAMS),
        summary=f"results/{PROFILE}/summary.json",
        lib=LIB,
    output:
        report="results/REPORT.md",
        machine="results/report.json",
    shell:
        "{PYTHON} -m lib.report"
