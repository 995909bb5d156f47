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
# # E08 — Is the specialization index a family trait or a size effect?
#
# *Paper 4: Behavioral Sink Dynamics.*
#
# **Question.** The Phi-3 models share an SI near 0.33 (Phi-3-mini 3.8B MHA, Phi-3-medium 14B
# GQA). If that is a *heritage* trait of the family's training, smaller and older members
# (Phi-1.5, Phi-2) should sit in the same band; if SI follows size, they should not.
#
# **Method.** Each model of the ladder is measured without padding (each prompt at its own
# length, `use_cache=False`). A sanity check first tries dtypes in order (bf16, fp16, fp32) until
# the baseline SI on prompt 0 reaches 0.05, since older checkpoints can give degenerate attention
# in half precision. We also report the architecture descriptors ρ_head = heads/√hidden and
# ρ_kv = kv heads/layers.
#
# **Verdict.** The seed rule, kept as executed: every model (new and reference, at least four)
# within |SI − 0.33| ≤ 0.05 at its point value: `HERITAGE_CONFIRMED`; any outside:
# `SIZE_CONFOUND_DETECTED`; otherwise `INCONCLUSIVE`. Corrected: a size effect can only be told
# from a family trait *within one family* (across families, size changes together with family,
# training objective and attention kind), so the corrected verdict reads only the families with
# models of at least two sizes (each model's `family`: the parameter file's, else its model type),
# each model on its bootstrap interval: every interval inside the band `HERITAGE_CONFIRMED`, any
# wholly outside `SIZE_CONFOUND_DETECTED`, else `NOT_RESOLVED`; no family with two sizes:
# `NOT_TESTABLE`, saying why. An SI that is not finite: `UNDEFINED`, naming the model. The size
# trend is fitted within one family (at least three sizes) and drawn only with its slope's
# interval. Reference models come from their own run's results file; in the embedded profile
# that run must have been made first, and only the paper profile falls back to the published
# claims (labelled). Random-initialized stand-ins (registry `tiny/...` models) are drawn apart and
# left out of the verdict and the size trend.
#
# **What the embedded ladder can and cannot decide.** MiniLM (an MHA encoder), SmolLM2 (a GQA
# decoder) and Gemma-3 (an MQA decoder) differ in family, objective and attention kind as well as
# in size, one size each: size within one family is not testable here. Their SIs are read against
# their head-permutation null and their own architecture at initialization (several seeds, the
# same tokenizer and full vocabulary), model by model. SI ranges over [0, 2] (1 − the mean of
# correlations in [−1, 1]): above 1 the heads' layer profiles are anti-correlated on average.
#
# The default parameters measure the embedded stand-ins of the Phi-3 reference run (no reference
# of their own, so the notebook runs on its own); `parameters/embedded/E08_embedded-ladder.yaml`
# is the real ladder of small pretrained models, made after it by `make reproduce`.

# %% tags=["parameters"]
PARAMETERS = "parameters/embedded/E08_tiny-phi-references.yaml"  # a parameters/ file for E08
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
from lib.attention import plots, study, tables
from lib.attention.multiplicity import permutation_family
from lib.attention.prompts import load_prompts, prompt_md5
from lib.findings import findings_for
from lib.notebook import start
from lib.paths import shown
from lib.results import provenance, save_figure
from lib.show import show_table

RUN = start(PARAMETERS, "E08", OVERRIDES)  # parameters, output folder, CPU threads
params, NAME, PROFILE = RUN.params, RUN.name, RUN.profile
print(f"{params.parameter_file}: {params.description}")
print(f"models: {[m.name for m in params.models]} | entropy {params.entropy_mode} | "
      f"sanity variants {params.sanity_variants}")
# checked before anything is measured; an interactive run makes a missing reference first
REFERENCE_SOURCE = study.ensure_reference(PROFILE, params.references)
if REFERENCE_SOURCE:
    print(f"reference run {params.references.run} from {REFERENCE_SOURCE}")

# %%
# NBVAL_CHECK_OUTPUT
prompts = load_prompts(params.prompt_set)
print(f"{len(prompts)} prompts, MD5 {prompt_md5(prompts)} (verified)")

# %% [markdown]
# ## Sanity variants and measurement, model by model

# %%
runs = {}
for entry in params.models:
    run = study.measure_with_sanity_variants(params, entry.name, prompts)
    runs[entry.name] = run
    tried = ", ".join(f"{a['label']}: SI {a.get('baseline_si', float('nan')):.4f}"
                      for a in run.sanity["attempts"])
    print(f"{entry.name}: sanity passed with {run.sanity['label']} ({tried})")
    print("   ", tables.describe_run(run))

# %% [markdown]
# ## The ladder and the heritage test

# %%
# NBVAL_CHECK_OUTPUT
rows = [study.ladder_row(entry, runs[entry.name]) for entry in params.models]
references = study.ladder_references(PROFILE, params.references)
show_table(tables.ladder_table(rows + references), index=False)
heritage = study.ladder_verdict(rows + references, params.si_target, params.si_tolerance)
trend = study.ladder_trend(rows + references)
print(f"\nVERDICT {tables.describe_rule(heritage)}")
if heritage.values.get("stand_ins_excluded"):
    print("left out of the verdict and the trend (random-init stand-ins): "
          + ", ".join(heritage.values["stand_ins_excluded"]))
if heritage.values.get("typical_null_draws"):
    print("SI a typical draw of its head-permutation null (p > 0.05): "
          + ", ".join(heritage.values["typical_null_draws"]))
print(tables.trend_line(trend, study.TREND_MIN_MODELS))
seed_spread = study.seed_reference_spread(rows)
if seed_spread:  # checkpoints of one architecture that differ only in training seed
    print(tables.seed_spread_line(seed_spread))
if references:
    print(f"references: {references[0]['source']}")
print(tables.bootstrap_note(study.bootstrap_settings(params, len(prompts)), paired=False))
print(tables.permutation_note(next(iter(runs.values())).controls["head_permutation"],
                              paired=False))

# %% [markdown]
# ## Architecture controls
# Is a low SI learned, or built into the attention layout? In MQA every query head shares one
# key/value head, in GQA each group of s = heads / kv heads consecutive query heads does
# (group g = heads [g·s, (g+1)·s)). Each control of each model measured here comes with its
# bootstrap interval over prompts (the SI's resampling, the parameter file's `bootstrap`). A
# figure the architecture does not define is `n/a`, with the reason.
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
#   (`random/<model>`: real layers and heads, the model's own tokenizer and full vocabulary;
#   widths reduced only as far as the file's `random_max_parameters` requires, which the printed
#   `reduced:` says; unquantized), from the file's `seed_null.n` seeds: the controls of the first,
#   and each trained SI against the SIs of all seeds of its own architecture (never pooled with
#   other architectures or stand-ins). Turned off by `null_model: false`.
#
# - **Head-permutation null** (also in the ladder table above): the SI correlates each head's
#   profile over layers, as if head h of layer l and head h of layer l + 1 were one unit; nothing
#   ties them unless head identity persists across layers. Shuffling the heads within each layer
#   independently (the file's `permutation_null`: 1,000 permutations by default, seeded) gives the
#   value the figure takes by chance. The second table reads SI, group SI and the within-group
#   correlation (where defined) against that null: its 95% interval, the value minus the null
#   mean with the null's sd, and the two-sided p = (1 + #draws at least as far from the null
#   mean) / (1 + n); all tests of the real models are one family, Holm-adjusted. Heads that share
#   a KV head have similar entropies by construction, so the group figures are tested only with
#   shuffles that keep KV sharing: heads shuffled within their KV group, or whole groups shuffled
#   across group slots (group sizes kept); the within/between variance ratio, which every such
#   shuffle leaves unchanged, is read against the initialization. A typical draw does not mean
#   "nothing beyond chance": it means the SI is set by how entropy changes with depth (the share
#   of the entropy variance the layer means explain is printed) and how widely heads spread within
#   a layer, not by which head does what across layers.

# %%
# NBVAL_CHECK_OUTPUT
nulls = {row["name"]: study.null_model(params, row["name"], prompts, row["si"]) for row in rows}
family = permutation_family({row["display"]: runs[row["name"]].controls["head_permutation"]
                             for row in rows if not row["stand_in"]},
                            "every head-permutation test of the ladder's real models")
columns = {}
for row in rows:
    print(f"null model of {row['display']}: {tables.describe_null(nulls[row['name']])}")
    columns[row["display"]] = runs[row["name"]].controls
    columns[f"{row['display']}, null"] = nulls[row["name"]]
show_table(tables.controls_table(columns, signed=()))
for row in rows:
    print(f"sink share per layer, {row['display']}: "
          f"{tables.sink_layers(runs[row['name']].controls)}")
print("\nAgainst the head-permutation null:")
show_table(tables.permutation_table(columns, signed=()))
print(f"Holm over {family['what']} ({family['size']} tests, {family['alpha']:.0%} family-wise)")
print("\nWhat each SI means against its null, and against its own initialization:")
for row in rows:
    print(tables.null_words(runs[row["name"]].controls, row["display"])
          or f"{row['display']}: no head-permutation null")
    print(tables.init_line(row["display"], nulls[row["name"]].get("init_seeds")))
beyond = tables.beyond_null({row["display"]: runs[row["name"]].controls for row in rows
                             if not row["stand_in"]})
print("beyond the null after Holm: " + ("; ".join(beyond) if beyond else "none"))

# %% [markdown]
# ## Figures

# %%
fig = plots.ladder_figure(f"E08 {params.run}: SI across the ladder ({params.entropy_mode})",
                          rows + references, params.si_target, params.si_tolerance, trend)
print("saved", shown(save_figure(fig, PROFILE, NAME)))

# %% [markdown]
# ## Save the results

# %%
payload = {
    "experiment": "E08", "run": params.run, "profile": PROFILE,
    "description": params.description,
    "methodology": study.methodology(params, prompts, list(runs.values())),
    "models": {name: {**run.block(), "display": row["display"], "size_b": row["size_b"],
                      "null_model": nulls[name]}
               for (name, run), row in zip(runs.items(), rows, strict=True)},
    "references": references, "verdict": heritage.as_dict(), "trend": trend,
    "multiplicity": family, "seed_spread": seed_spread,
    "provenance": provenance(params, {name: run.record for name, run in runs.items()}),
}
print("saved", shown(RUN.save(payload)))

# %% [markdown]
# ## What this run shows
# Computed from this run's results (`lib.findings`), never typed:
# each model's SI against its head-permutation null,
# real models apart from random-initialized stand-ins.

# %%
# NBVAL_CHECK_OUTPUT
print("\n".join(findings_for(payload, "E08") or ["- nothing beyond the tables above"]))
