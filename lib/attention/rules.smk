# The attention line's rules (included by the Snakefile, whose names they use): each pair run's
# seed null, the calibration of the collapse rules over them, and the summary of the pairs.
PAIRS = runs_of("E11", "E11-T")
CALIBRATION_LIB = [str(f) for f in lib_dependencies("lib/attention/calibration.py")]
SUMMARY_LIB = [str(f) for f in lib_dependencies("lib/attention/summary.py")]
make_again(Path("results", PROFILE, "seed_null", f"{name}.json") for name in PAIRS)


def seed_null_input(wildcards):
    """A pair run's verdict reads its seed null, made by its own job (rule seed_null)."""
    return [f"results/{PROFILE}/seed_null/{wildcards.name}.json"]


NOTEBOOK_INPUTS.update({"E11": seed_null_input, "E11-T": seed_null_input})
if PAIRS:
    TARGETS += [f"results/{PROFILE}/summary.json", f"results/{PROFILE}/calibration.json"]
    report_input("summary")
    report_input("calibration")


# The seed null of a pair run: its base architecture at random initialization, several seeds,
# measured by the run's protocol, with the calibration of the collapse rules on that architecture
# (lib.attention.calibration). Its own job: it runs beside the others and is made once.
rule seed_null:
    wildcard_constraints:
        name="|".join(PAIRS) or "none",
    input:
        params=f"parameters/{PROFILE}/{{name}}.yaml",
        lib=CALIBRATION_LIB,
    output:
        f"results/{PROFILE}/seed_null/{{name}}.json",
    log:
        f"results/{PROFILE}/logs/seed_null_{{name}}.log",
    resources:
        gpu=resource("gpu"),
        gpu_memory_gb=resource("gpu_memory_gb"),
        mem_mb=resource("mem_mb"),
        runtime=resource("runtime"),
        constraint=constraint,
    shell:
        "{WORKFLOW} {PYTHON} -m lib.attention.calibration seed-null {input.params} > {log} 2>&1"


# Every pair run's calibration together: false-positive rates on null pairs, power on planted
# effects (results/<profile>/calibration.json, figures/<profile>/calibration.png).
rule calibration:
    input:
        seed_nulls=expand("results/{profile}/seed_null/{name}.json", profile=PROFILE,
                          name=PAIRS),
        lib=CALIBRATION_LIB,
    output:
        calibration=f"results/{PROFILE}/calibration.json",
        figure=f"figures/{PROFILE}/calibration.png",
    shell:
        "{WORKFLOW} {PYTHON} -m lib.attention.calibration merge {PROFILE} {input.seed_nulls}"


rule summary:
    input:
        results=expand("results/{profile}/{name}.json", profile=PROFILE, name=PAIRS),
        lib=SUMMARY_LIB,
    output:
        summary=f"results/{PROFILE}/summary.json",
        table=f"results/{PROFILE}/summary.md",
        figure=f"figures/{PROFILE}/summary.png",
    shell:
        "{WORKFLOW} {PYTHON} -m lib.attention.summary {PROFILE} {input.results}"
