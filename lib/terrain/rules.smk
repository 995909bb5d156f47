# The terrain line's rules (included by the Snakefile, whose names they use): the cross-
# architecture summary of the weight battery (§5).
TERRAIN = runs_of("terrain")
TERRAIN_SUMMARY_LIB = [str(f) for f in lib_dependencies("lib/terrain/summary.py")]
TERRAIN_BATTERY = any(PARAMS[n].weights for n in TERRAIN)
if TERRAIN:
    TARGETS.append(f"results/{PROFILE}/terrain_summary.json")


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
