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
# over prompts excludes 0 and the delta lies outside its seed null, the architecture at random
# initialization from several seeds, Holm over the two signs; else *not resolved*: `A_CONFIRMED` /
# `B_PARTIAL` / `C_REFUTED` / `NOT_RESOLVED`) with the seed rule as executed beside it (three point
# signs, dSI and d correlation counted as two: `A_CONFIRMED` / `B_PARTIAL` / `C_REFUTED`, the rule
# of the published verdicts); a random-initialized (stand-in) pair tests the pipeline and says
# nothing about alignment. *Architecture-invariant*: the seeds compared the point signs of dSI
# and of d correlation (one fact counted twice; kept as the seed rule as executed); corrected, the
# direction of dSI counts once, and only where both pairs resolve it (interval and seed null):
# the same direction `ARCHITECTURE_INVARIANT`, opposite `ARCHITECTURE_DEPENDENT`, either not
# resolved `NOT_RESOLVED`. A metric that is not finite makes a verdict `UNDEFINED`, with the
# reason. SI ranges over [0, 2] (1 − the mean of correlations in [−1, 1]): above 1 the heads'
# layer profiles are anti-correlated on average. The MHA side is read
# from the MHA run's results file: in the embedded profile that run must have been made first;
# only the paper profile falls back to the published claims (labelled "published"). An MHA run
# measured with another entropy mode is flagged and recorded as `mode_mismatch`; a parameter
# file without `mha_reference` skips the comparison.

# %% tags=["parameters"]
PARAMETERS = "parameters/embedded/E11-T_tiny-gqa.yaml"  # a file under parameters/ for E11-T
OVERRIDES: dict = {}

# %% [markdown]
# ## Setup
# On Colab this cell clones the repository named by `BSD_REPOSITORY_URL` and works in the clone
# (a runtime restart reuses it); `start` below installs what the parameters need. Elsewhere it
# does nothing: `make setup` installs `lib`. See `docs/colab.md`.

# %%
import os
import subprocess
import sys

if "google.colab" in sys.modules and not os.path.isdir("lib"):
    if not os.path.isdir("repo"):
        subprocess.run(["git", "clone", "-q", "--depth", "1", os.environ["BSD_REPOSITORY_URL"],
                        "repo"], check=True)
    os.chdir("repo")

# %%
from lib.attention import calibration, plots, study, tables, verdicts
from lib.attention.prompts import load_prompts, prompt_md5
from lib.attention.specialization import gqa_group_metrics
from lib.findings import findings_for
from lib.notebook import start
from lib.paths import shown
from lib.results import provenance, save_figure
from lib.show import show_table

RUN = start(PARAMETERS, "E11-T", OVERRIDES)  # parameters, output folder, CPU threads
params, NAME, PROFILE = RUN.params, RUN.name, RUN.profile
print(f"{params.parameter_file}: {params.description}")
MHA_REFERENCE = params.mha_reference
# checked before anything is measured; an interactive run makes a missing reference first
REFERENCE_SOURCE = study.ensure_reference(PROFILE, MHA_REFERENCE)
print(f"base {params.base} | instruct {params.instruct} | entropy {params.entropy_mode}"
      f" | dtype {params.dtype} | MHA reference: "
      f"{MHA_REFERENCE.run + ' from ' + REFERENCE_SOURCE if MHA_REFERENCE else 'none'}")

# %%
# NBVAL_CHECK_OUTPUT
prompts = load_prompts(params.prompt_set)
print(f"{len(prompts)} prompts, MD5 {prompt_md5(prompts)} (verified)")

# %% [markdown]
# ## Measure the GQA pair

# %%
base = study.measure_model(params, params.base, prompts)
instruct = study.measure_model(study.matching_quantization(params, base), params.instruct,
                               prompts)
for run in (base, instruct):
    print(tables.describe_run(run))

# %% [markdown]
# ## Territorial collapse on the GQA pair
# The seed null: the base model's architecture at random initialization from the file's
# `seed_null.n` seeds (the workflow's `results/<profile>/seed_null/<run>.json`, or measured here).

# %%
seed_null = calibration.seed_null_for_run(params, prompts)
print(f"{seed_null['n_models']} init seeds of {seed_null['architecture']} "
      f"(reduced: {seed_null['reduction']}): {seed_null['source']}")

# %%
# NBVAL_CHECK_OUTPUT
delta = study.compare_pair(params, base, instruct, seed_null)
verdict = study.collapse_verdict(base, instruct, delta)
print(tables.pair_heading(base, instruct))
show_table(tables.pair_table(base, instruct, delta))
print("\nVERDICT " + tables.describe_collapse(verdict))
print(f"dSI 95% CI [{tables.number(delta['si_ci'][0], '+.4f')}, "
      f"{tables.number(delta['si_ci'][1], '+.4f')}] "
      f"{'excludes' if delta['si_ci_excludes_zero'] else 'includes'} 0")
print(tables.bootstrap_note(delta["bootstrap"]))
print(tables.seed_null_note(delta["seed_null"]))
trained = study.trained_seed_reference(PROFILE, params.trained_seed_reference,
                                       delta["specialization_index"], params.entropy_mode)
if trained:
    print(tables.trained_seed_line(trained))

# %% [markdown]
# ## Entropy modes and calibration
# Masked and padded entropies come from the same padded pass; the verdict uses the protocol's
# mode (the file's `entropy_mode`), and where the other mode reads differently both are shown.
# Then the collapse rules on this architecture's null pairs (two init seeds, no alignment) and on
# planted twins (each head's entropy moved toward its layer mean by the planted fraction, away
# when negative): false-positive rate and detection rate, as in E11.

# %%
# NBVAL_CHECK_OUTPUT
show_table(tables.modes_table(delta))
print(tables.modes_note(delta, params.entropy_mode))
show_table(tables.calibration_table({NAME: seed_null["calibration"]}))
print(tables.planted_note(seed_null["calibration"]))

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
#   SI, group SI, within-group correlation (where defined), and their deltas, against that null:
#   its 95% interval, the value minus the null mean with the null's sd, and the two-sided p =
#   (1 + #draws at least as far from the null mean) / (1 + n); every test of the run is one
#   family, Holm-adjusted. A large p: a typical draw, set by how entropy changes with depth and
#   how widely heads spread within a layer, not by which head does what. Heads that share a KV
#   head have similar entropies by construction, so the group figures are tested only with
#   shuffles that keep KV sharing: heads shuffled within their KV group, or whole groups shuffled
#   across group slots (group sizes kept). The within/between variance ratio compares heads within
#   one layer, which every such shuffle leaves unchanged: it is read against the initialization.

# %%
# NBVAL_CHECK_OUTPUT
null = study.null_model(params, params.base, prompts, base.metrics["specialization_index"],
                        seed_null)
print(tables.pair_controls_report(base, instruct, delta["controls"], null, delta["bootstrap"]))
for run in (base, instruct):
    print(tables.null_words(run.controls, run.name) or f"{run.name}: no head-permutation null")
print(tables.init_line(f"{params.base} (base)", null.get("init_seeds")))
beyond = tables.beyond_null({"base": base.controls, "instruct": instruct.controls,
                             "delta": delta["controls"]})
print("beyond the null after Holm (" + delta["multiplicity"]["what"] + f", "
      f"{delta['multiplicity']['size']} tests): " + ("; ".join(beyond) if beyond else "none"))

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
    mismatch = study.mode_mismatch(params.entropy_mode, mha)
    invariance = verdicts.architecture_invariance(
        mha["delta_si"], mha["delta_corr"], delta["specialization_index"],
        delta["mean_head_correlation"], mha["si_sign"],
        verdict.values.get("sign_status", {}).get("SI down / correlation up"))
    print(f"MHA reference {mha['run']} ({mha['entropy_mode']} entropy): {mha['source']}")
    if mismatch:
        print(tables.mode_warning(mismatch))
    show_table(tables.comparison_table(mha, verdict, delta))
    print("\n" + tables.describe_rule(invariance))
else:
    print("no mha_reference in this parameter file: the GQA-vs-MHA comparison is skipped")

# %% [markdown]
# ## Figures

# %%
fig = plots.gqa_figure(
    f"E11-T {params.run}: {study.pair_subject(base, instruct, 'GQA vs MHA')}, "
    f"GQA ({base.record['architecture']['num_heads']} query / "
    f"{kv_heads} kv heads) vs MHA ({mha['run'] if mha else 'none'})",
    {**mha, "label": (f"published ({MHA_REFERENCE.claim})" if mha["published"]
                      else mha["run"]) + (f"\n{mha['entropy_mode']} entropy" if mismatch else "")}
    if mha else None,
    base.block(), instruct.block(), groups, groups["base"]["group_size"], delta)
print("saved", shown(save_figure(fig, PROFILE, NAME)))

# %% [markdown]
# ## Save the results

# %%
payload = {
    "experiment": "E11-T", "run": params.run, "profile": PROFILE,
    "description": params.description,
    "methodology": study.methodology(params, prompts, [base, instruct]),
    "base": {**base.block(), "gqa": groups["base"]},
    "instruct": {**instruct.block(), "gqa": groups["instruct"]},
    "delta": delta, "null_model": null, "verdict": verdict.as_dict(),
    "calibration": seed_null.get("calibration"), "trained_seed_null": trained,
    "mha_comparison": ({"reference": mha, "mode_mismatch": mismatch, **invariance.as_dict()}
                       if mha else None),
    "provenance": provenance(params, {"base": base.record, "instruct": instruct.record}),
}
print("saved", shown(RUN.save(payload)))

# %% [markdown]
# ## What this run shows
# Computed from this run's results (`lib.findings`), never typed:
# each SI against its head-permutation null and
# whether the models are real or random-initialized stand-ins.

# %%
# NBVAL_CHECK_OUTPUT
print("\n".join(findings_for(payload, "E11-T") or ["- nothing beyond the tables above"]))
