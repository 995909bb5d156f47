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
# # E11 — Territorial collapse under alignment
#
# *Paper 4: Behavioral Sink Dynamics.*
#
# **Question.** Does alignment (SFT, RLHF, DPO) make attention heads lose their specialization
# ("territorial collapse")? We compare a base model with its instruct twin on the Standard-10 v3
# prompts under the E11-v3 protocol and ask whether the instruct model's heads are *less*
# specialized: a lower specialization index (SI = 1 − mean correlation of the heads' layer
# profiles of attention entropy), a higher head correlation, and a lower head variance.
#
# **Verdict rule.** With d = instruct − base, the seeds counted three signs at their point values
# (dSI < 0, d correlation > 0, d variance < 0): two or more `A_CONFIRMED`, one `B_PARTIAL`, none
# `C_REFUTED`. Since SI = 1 − mean correlation, dSI = −d correlation: two of those signs are one
# fact. The corrected verdict counts the two independent signs, *SI down / correlation up* and
# *head variance down*, each only when (a) its 95% bootstrap interval (percentile, over prompts,
# paired: the same resampled prompts for both models) excludes 0 **and** (b) the delta lies outside
# its **seed null**: how far two independently seeded initializations of the same architecture
# differ, with no alignment between them (the file's `seed_null`: n init seeds; the delta over
# sd·√2 is Student t with n − 1 degrees of freedom; the head variance on the log scale). The
# bootstrap alone measures how SI varies over prompts, not between two checkpoints: by it any two
# models "differ". The two signs are one family, Holm-corrected (1% family-wise nominal). A sign
# that fails either test is *not resolved*. Both resolved toward collapse: `A_CONFIRMED`; one:
# `B_PARTIAL`; none, with one resolved against collapse: `C_REFUTED`; none resolved:
# `NOT_RESOLVED`. The seed rule as executed is printed and saved beside it
# (`verdict.as_executed`): it reproduces the published verdicts.
#
# **Calibration.** Every pair of the init seeds is a pair with no alignment at all: judged against
# the seed null of the other seeds, the corrected rule must read `NOT_RESOLVED` on at least 95% of
# them (`lib.attention.calibration`; `results/<profile>/calibration.json` gathers every
# architecture). Its power: each seed's "aligned" twin, every head's entropy moved toward its
# layer's mean by a known fraction (away from it for the opposite sign), and the share of twins
# read in the planted direction. The run's seed null is made once per architecture by the workflow
# (`python -m lib.attention.calibration seed-null <parameter file>`), or here when it is missing.
#
# **SI ranges over [0, 2].** It is 1 − the mean of correlations in [−1, 1]: above 1 when the heads'
# layer profiles are anti-correlated on average (some heads' entropy rising with depth where
# others' falls), as random initializations often are.
#
# **Stand-ins.** A pair of random-initialized models (`tiny/...`, `random/...`, the embedded
# default) tests the pipeline: its instruct − base difference is no alignment effect, and its
# tables and figures say so.
#
# With a `cross_scale` entry in its parameter file (Falcon-40B) the notebook also tests whether
# the pair shows the *pre-collapsed* MQA pattern of the smaller model it names. A metric that is
# not finite makes a verdict `UNDEFINED`, with the reason.
#
# The default parameters run an embedded tiny pair offline on a CPU; `parameters/paper/` holds
# the published runs (GPU, Hugging Face hub).

# %% tags=["parameters"]
PARAMETERS = "parameters/embedded/E11_tiny-mha.yaml"  # a file under parameters/ for E11
OVERRIDES: dict = {}  # keys to change for an interactive run, e.g. {"seeds": [42]}

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
from lib.findings import findings_for
from lib.notebook import start
from lib.paths import shown
from lib.results import provenance, save_figure
from lib.show import show_table

RUN = start(PARAMETERS, "E11", OVERRIDES)  # parameters, output folder, CPU threads
params, NAME, PROFILE = RUN.params, RUN.name, RUN.profile
print(f"{params.parameter_file}: {params.description}")
print(f"base {params.base} | instruct {params.instruct} | entropy {params.entropy_mode}"
      f" | dtype {params.dtype} | quantization {params.quantization}")

# %% [markdown]
# ## The prompts
# The Standard-10 v3 set, verified by the MD5 of its `|||`-joined text.

# %%
# NBVAL_CHECK_OUTPUT
prompts = load_prompts(params.prompt_set)
print(f"{len(prompts)} prompts, MD5 {prompt_md5(prompts)} (verified)")

# %% [markdown]
# ## Measure the base and the instruct model
# Each model is loaded from the registry, its per-prompt head entropies (and attention-sink
# shares, for the controls below) measured layer by layer in one pass (seed invariance checked: a
# third seed runs only if the first two disagree), and freed.
# The instruct model is loaded with the quantization the base model actually got.

# %%
base = study.measure_model(params, params.base, prompts)
instruct_params = study.matching_quantization(params, base)
instruct = study.measure_model(instruct_params, params.instruct, prompts)
for run in (base, instruct):
    print(tables.describe_run(run))

# %% [markdown]
# ## The seed null
# The base model's architecture at random initialization from the file's `seed_null.n` seeds,
# measured by this run's protocol (unquantized; the model's own tokenizer and full vocabulary
# where it has one): read from the workflow's `results/<profile>/seed_null/<run>.json`, or
# measured here when it is missing or was made with another protocol.

# %%
seed_null = calibration.seed_null_for_run(params, prompts)
print(f"{seed_null['n_models']} init seeds of {seed_null['architecture']} "
      f"(reduced: {seed_null['reduction']}): {seed_null['source']}")

# %% [markdown]
# ## Test the hypothesis

# %%
# NBVAL_CHECK_OUTPUT
delta = study.compare_pair(params, base, instruct, seed_null)
verdict = study.collapse_verdict(base, instruct, delta)
print(tables.pair_heading(base, instruct))
show_table(tables.pair_table(base, instruct, delta))
print("\nVERDICT " + tables.describe_collapse(verdict))
print(f"dSI = {tables.number(delta['specialization_index'], '+.4f')} (relative to the base SI "
      f"{tables.number(delta['specialization_index_relative'], '+.2%')}), 95% bootstrap CI "
      f"[{tables.number(delta['si_ci'][0], '+.4f')}, {tables.number(delta['si_ci'][1], '+.4f')}]"
      f": {'excludes' if delta['si_ci_excludes_zero'] else 'includes'} 0")
print(tables.bootstrap_note(delta["bootstrap"]))
print(tables.seed_null_note(delta["seed_null"]))
trained = study.trained_seed_reference(PROFILE, params.trained_seed_reference,
                                       delta["specialization_index"], params.entropy_mode)
if trained:
    print(tables.trained_seed_line(trained))

# %% [markdown]
# ## Entropy modes
# Masked and padded entropies come from the same padded pass (with or without the pad tokens), so
# the pair is read in both. The verdict uses the protocol's mode (the parameter file's
# `entropy_mode`); where the other mode reads differently, both are shown here.

# %%
# NBVAL_CHECK_OUTPUT
show_table(tables.modes_table(delta))
print(tables.modes_note(delta, params.entropy_mode))

# %% [markdown]
# ## Calibration of the collapse rules on this architecture
# False positives: the share of the seed-null pairs (two init seeds, no alignment; each judged
# against the seed null of the other seeds) read as anything but `NOT_RESOLVED`; `read as
# collapse`: the share read `A_CONFIRMED` or `B_PARTIAL`. Power: the share of planted twins read
# in the planted direction, per planted fraction (toward the layer mean > 0, away < 0). The seed
# rule as executed has no `NOT_RESOLVED`: every null pair reads as an effect.

# %%
# NBVAL_CHECK_OUTPUT
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
#   SI, group SI, within-group correlation and the GQA within/between variance ratio (where
#   defined), and their deltas, against that null: its 95% interval, the value minus the null
#   mean with the null's sd, and the two-sided p = (1 + #draws at least as far from the null
#   mean) / (1 + n); every test of the run is one family, Holm-adjusted. A large p: a typical
#   draw, which says the figure is set by how entropy changes with depth and how widely heads
#   spread within a layer, not by which head does what (it neither shows nor rules out
#   specialization). Heads that share a KV head have similar entropies by construction, so the
#   group figures are tested only with shuffles that keep KV sharing: heads shuffled within their
#   KV group, or whole groups shuffled across group slots (group sizes kept). The within/between
#   variance ratio compares heads within one layer, which every such shuffle leaves unchanged: it
#   is read against the initialization. dSI's null is not centred at 0: judge dSI against it.

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
# ## Pre-collapsed pattern and cross-scale comparison
# Seed 002's criteria: base SI < 0.20, base correlation > 0.80, |dSI| < 0.05, two of three at
# their point values (kept as the seed rule as executed). Base SI < 0.20 and correlation > 0.80 are
# one fact (SI = 1 − correlation), so the corrected rule reads two facts, each on its interval:
# the base SI's interval below 0.20, and dSI's interval inside ±0.05 (`NOT_RESOLVED` when an
# interval straddles a bound). With a `cross_scale` reference (Falcon-40B vs Falcon-7B) the
# pattern must also agree with the smaller model's run (|base SI − ref| < 0.10 or |dSI − ref dSI|
# < 0.05, read on the interval of the difference); the reference is read from that run's results
# file. In the embedded profile that run must have been made first; only the paper
# profile falls back to the published claims (labelled "published"). A reference measured with
# another entropy mode is flagged and recorded as `mode_mismatch`.

# %%
# NBVAL_CHECK_OUTPUT
pattern = verdicts.pre_collapsed(base.metrics["specialization_index"],
                                 base.metrics["mean_head_correlation"],
                                 delta["specialization_index"], base.si_ci, delta["si_ci"])
print(tables.describe_rule(pattern))
cross_scale = mismatch = None
if params.cross_scale is not None:
    ref = study.reference_pair(PROFILE, params.cross_scale)
    mismatch = study.mode_mismatch(params.entropy_mode, ref)
    cross_scale = verdicts.falcon40b_pattern(
        base.metrics["specialization_index"], base.metrics["mean_head_correlation"],
        delta["specialization_index"], ref["base_si"], ref["delta_si"], ref["run"],
        intervals={"base_si": base.si_ci, "delta_si": delta["si_ci"],
                   "ref_base_si": ref["base_si_ci"], "ref_delta_si": ref["delta_si_ci"]})
    print(f"cross-scale reference {ref['run']} ({ref['entropy_mode']} entropy): {ref['source']}")
    if mismatch:
        print(tables.mode_warning(mismatch))
    print(f"  base SI {tables.number(ref['base_si'])} (reference) vs "
          f"{tables.number(base.metrics['specialization_index'])}"
          f" (consistent: {cross_scale.criteria.get('si_consistent', 'n/a')}); dSI "
          f"{tables.number(ref['delta_si'], '+.4f')} vs "
          f"{tables.number(delta['specialization_index'], '+.4f')} "
          f"(consistent: {cross_scale.criteria.get('delta_consistent', 'n/a')})")
    print("VERDICT " + tables.describe_rule(cross_scale))

# %% [markdown]
# ## Figures

# %%
labels = (f"base\n{params.base}", f"instruct\n{params.instruct}")
fig = plots.pair_figure(f"E11 {params.run}: {study.pair_subject(base, instruct)} "
                        f"({base.record['architecture']['attention_kind']}, "
                        f"{params.entropy_mode} entropy)",
                        base.block(), instruct.block(), labels, delta,
                        seed_null.get("calibration"))
print("saved", shown(save_figure(fig, PROFILE, NAME)))

# %% [markdown]
# ## Save the results

# %%
payload = {
    "experiment": "E11", "run": params.run, "profile": PROFILE,
    "description": params.description,
    "methodology": study.methodology(params, prompts, [base, instruct]),
    "base": base.block(), "instruct": instruct.block(), "delta": delta, "null_model": null,
    "verdict": verdict.as_dict(), "pre_collapsed": pattern.as_dict(),
    "cross_scale": ({"reference": ref, "mode_mismatch": mismatch, **cross_scale.as_dict()}
                    if cross_scale else None),
    "calibration": seed_null.get("calibration"), "trained_seed_null": trained,
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
print("\n".join(findings_for(payload, "E11") or ["- nothing beyond the tables above"]))
