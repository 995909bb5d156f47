# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # E11-T — Is territorial collapse architecture-invariant? GQA vs MHA
#
# *Paper 4: Behavioral Sink Dynamics.*
#
# **Question.** Grouped-query attention (GQA) shares each key/value head among a group of query
# heads. Does alignment move head specialization in the same direction for a GQA pair as for the
# MHA reference pair (Mistral-7B-v0.3)? We run the E11 territorial-collapse test on the GQA pair,
# measure how heads differ *within* a KV group versus *between* groups, and compare the signs of
# dSI and d correlation with the MHA run.
#
# **Verdicts.** Territorial collapse as in E11: corrected (two independent signs, SI down /
# correlation up and head variance down, each counted only when its paired 95% bootstrap interval
# over prompts excludes 0, else *not resolved*: `A_CONFIRMED` / `B_PARTIAL` / `C_REFUTED` /
# `NOT_RESOLVED`) with the seed rule as executed beside it (three point signs, dSI and d correlation
# counted as two: `A_CONFIRMED` / `B_PARTIAL` / `C_REFUTED`, the rule of the published verdicts);
# a random-initialized (stand-in) pair tests the pipeline and says nothing about alignment;
# *architecture-invariant* when dSI and d correlation have the same signs for GQA as for MHA; a
# metric that is not finite makes a verdict `UNDEFINED`, with the reason. The MHA side is read
# from the MHA run's results file: in the embedded profile that run must have been made first;
# only the paper profile falls back to the published claims (labelled "published"). An MHA run
# measured with another entropy mode is flagged and recorded as `mode_mismatch`; a parameter
# file without `mha_reference` skips the comparison.

# %% tags=["parameters"]
PARAMETERS = "parameters/embedded/E11-T_tiny-gqa.yaml"  # a file under parameters/ for E11-T
OVERRIDES: dict = {}

# %% [markdown]
# ## Setup
# On Colab this cell clones the repository (set `REPOSITORY_URL`; a runtime restart reuses the
# clone) and installs what the default parameters need (`lib.colab`, which also says where
# results go and how to keep them); elsewhere it only makes `lib` importable.

# %%
import os
import subprocess
import sys
from pathlib import Path

REPOSITORY_URL = os.environ.get("BSD_REPOSITORY_URL", "")
if "google.colab" in sys.modules and not Path("lib").is_dir():
    if not Path("repo/lib").is_dir():
        if not REPOSITORY_URL:
            raise RuntimeError("Set REPOSITORY_URL (or BSD_REPOSITORY_URL) to this repository's "
                               "URL")
        subprocess.run(["git", "clone", "--depth", "1", REPOSITORY_URL, "repo"], check=True)
    os.chdir("repo")
    subprocess.run([sys.executable, "-m", "lib.colab"], check=True)
ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "lib" / "__init__.py").is_file())
sys.path.insert(0, str(ROOT))

# %%
from lib.attention import plots, study, tables, verdicts
from lib.attention.prompts import load_prompts, prompt_md5
from lib.attention.specialization import gqa_group_metrics
from lib.findings import findings_for
from lib.params import load_parameters, result_name
from lib.paths import shown
from lib.results import provenance, results_path, save_figure, write_json
from lib.show import show_table

params = load_parameters(PARAMETERS, "E11-T", OVERRIDES)
NAME = result_name(params)
PROFILE = params["profile"]
print(f"{params['parameter_file']}: {params['description']}")
MHA_REFERENCE = params.get("mha_reference")
# checked before anything is measured; an interactive run makes a missing reference first
REFERENCE_SOURCE = study.ensure_reference(PROFILE, MHA_REFERENCE)
print(f"base {params['base']} | instruct {params['instruct']} | entropy {params['entropy_mode']}"
      f" | dtype {params['dtype']} | MHA reference: "
      f"{MHA_REFERENCE['run'] + ' from ' + REFERENCE_SOURCE if MHA_REFERENCE else 'none'}")

# %%
# NBVAL_CHECK_OUTPUT
prompts = load_prompts(params["prompt_set"])
print(f"{len(prompts)} prompts, MD5 {prompt_md5(prompts)} (verified)")

# %% [markdown]
# ## Measure the GQA pair

# %%
base = study.measure_model(params, params["base"], prompts)
instruct = study.measure_model(study.matching_quantization(params, base), params["instruct"],
                               prompts)
for run in (base, instruct):
    print(tables.describe_run(run))

# %% [markdown]
# ## Territorial collapse on the GQA pair

# %%
# NBVAL_CHECK_OUTPUT
delta = study.compare_pair(params, base, instruct)
verdict = study.collapse_verdict(base, instruct, delta)
print(tables.pair_heading(base, instruct))
show_table(tables.pair_table(base, instruct, delta))
print("\nVERDICT " + tables.describe_collapse(verdict))
print(f"dSI 95% CI [{tables.number(delta['si_ci'][0], '+.4f')}, "
      f"{tables.number(delta['si_ci'][1], '+.4f')}] "
      f"{'excludes' if delta['si_ci_excludes_zero'] else 'includes'} 0")
print(tables.bootstrap_note(delta["bootstrap"]))

# %% [markdown]
# ## Architecture controls
# Is a low SI learned, or built into the attention layout? In MQA every query head shares one
# key/value head, in GQA each group of s = heads / kv heads consecutive query heads does
# (group g = heads [g·s, (g+1)·s)). Each control comes with its bootstrap interval over prompts
# (the SI's resampling, the parameter file's `bootstrap`) and, for the pair, the instruct − base
# delta with the paired bootstrap. A figure the architecture does not define is `n/a`, with the
# reason.
#
# - **Group SI**: the SI among the KV groups' mean entropy profiles. MHA: each head is its own
#   group, so it is the SI; GQA: how much the groups differ; MQA: one group, undefined.
# - **Within-group head correlation**: the mean correlation of the head pairs that share a KV
#   head. MHA: undefined (one head per group); GQA: how alike the heads of a group are; MQA: the
#   one group is the whole model, so it is the mean head correlation (1 − SI).
# - **Attention-sink share**: the weight a head puts on the first token (key position 0), averaged
#   over the prompt's real query positions (pad queries left out in every entropy mode), then over
#   heads and layers; defined for every kind. Measured in the same pass as the entropies; the
#   per-layer means follow the table.
#
# - **Null model**: the same controls for the architecture at random initialization
#   (`random/<base model>`: real layers and heads; widths, and the vocabulary where the model's
#   own tokenizer is not at hand, reduced only as far as the file's `random_max_parameters`
#   requires, which the printed `reduced:` says; one seed, unquantized), so a low SI can be
#   read against what the layout gives untrained. Turned off by `null_model: false`.
#
# - **Head-permutation null**: the SI correlates each head's profile over layers, as if head h
#   of layer l and head h of layer l + 1 were one unit; nothing ties them unless head identity
#   persists across layers. Shuffling the heads within each layer independently (the file's
#   `permutation_null`: 1,000 permutations by default, seeded; base and instruct shuffled
#   independently for a delta) gives the value the figure takes by chance. The second table reads
#   SI, group SI, within-group correlation and the within/between KV-group variance ratio (where
#   defined), and their deltas, against that null: its 95% interval and the two-sided p =
#   (1 + #draws at least as far from the null mean) / (1 + n). A large p: a typical draw.

# %%
# NBVAL_CHECK_OUTPUT
null = study.null_model(params, params["base"], prompts)
print(tables.pair_controls_report(base, instruct, delta["controls"], null, delta["bootstrap"]))

# %% [markdown]
# ## Within- and between-group structure
# Group *g* holds query heads [g·s, (g+1)·s) with s = heads / kv heads. A low within/between ratio
# means the heads sharing a KV head behave alike while the groups differ.

# %%
# NBVAL_CHECK_OUTPUT
kv_heads = base.record["architecture"]["num_kv_heads"]
groups = {"base": gqa_group_metrics(base.profile, kv_heads),
          "instruct": gqa_group_metrics(instruct.profile, kv_heads)}
show_table(tables.group_table(groups))

# %% [markdown]
# ## GQA vs MHA

# %%
# NBVAL_CHECK_OUTPUT
mha = invariance = mismatch = None
if MHA_REFERENCE:
    mha = study.reference_pair(PROFILE, MHA_REFERENCE)
    mismatch = study.mode_mismatch(params["entropy_mode"], mha)
    invariance = verdicts.architecture_invariance(
        mha["delta_si"], mha["delta_corr"], delta["specialization_index"],
        delta["mean_head_correlation"])
    print(f"MHA reference {mha['run']} ({mha['entropy_mode']} entropy): {mha['source']}")
    if mismatch:
        print(tables.mode_warning(mismatch))
    show_table(tables.comparison_table(mha, verdict, delta))
    print("\n" + (f"{invariance.code}: {invariance.reason}" if invariance.reason else
                  f"{invariance.code}: same dSI direction "
                  f"{invariance.criteria['same_direction_specialization']}, same d correlation "
                  f"direction {invariance.criteria['same_direction_correlation']}"))
else:
    print("no mha_reference in this parameter file: the GQA-vs-MHA comparison is skipped")

# %% [markdown]
# ## Figures

# %%
fig = plots.gqa_figure(
    f"E11-T {params['run']}: {study.pair_subject(base, instruct, 'GQA vs MHA')}, "
    f"GQA ({base.record['architecture']['num_heads']} query / "
    f"{kv_heads} kv heads) vs MHA ({mha['run'] if mha else 'none'})",
    {"base_si": mha["base_si"], "instruct_si": mha["instruct_si"],
     "label": (f"published ({MHA_REFERENCE['claim']})" if mha["published"] else mha["run"])
     + (f"\n{mha['entropy_mode']} entropy" if mismatch else "")} if mha else None,
    base.block(), instruct.block(), groups, groups["base"]["group_size"])
print("saved", shown(save_figure(fig, PROFILE, NAME)))

# %% [markdown]
# ## Save the results

# %%
payload = {
    "experiment": "E11-T", "run": params["run"], "profile": PROFILE,
    "description": params["description"],
    "methodology": study.methodology(params, prompts, [base, instruct]),
    "base": {**base.block(), "gqa": groups["base"]},
    "instruct": {**instruct.block(), "gqa": groups["instruct"]},
    "delta": delta, "null_model": null, "verdict": verdict.as_dict(),
    "mha_comparison": ({"reference": mha, "mode_mismatch": mismatch, **invariance.as_dict()}
                       if mha else None),
    "provenance": provenance(params, {"base": base.record, "instruct": instruct.record}),
}
print("saved", shown(write_json(results_path(PROFILE, NAME), payload)))

# %% [markdown]
# ## What this run shows
# Computed from this run's results (`lib.findings`), never typed:
# each SI against its head-permutation null and
# whether the models are real or random-initialized stand-ins.

# %%
# NBVAL_CHECK_OUTPUT
print("\n".join(findings_for(payload, "E11-T") or ["- nothing beyond the tables above"]))
