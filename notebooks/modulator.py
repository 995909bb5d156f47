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
# # Modulator — a geometric residual modulator on a frozen encoder
#
# *Geometric Terrain Analysis, seed 004 §7-§12.*
#
# **Question.** Can a small module that nudges an encoder's residual stream toward a per-token
# WordNet geometry make the encoder's pooled definitions follow WordNet's similarity *better*,
# while preserving what the encoder computes? And does the mixing weight alpha, left free to
# train, "find itself" near the seed's phase-boundary constant 0.29154?
#
# The protocol, step by step (SPEC-terrain §8-§12):
#
# - **§8 pipeline.** Single-token WordNet lemmas (D12) and their pooled definitions (D8); a
#   Wu-Palmer similarity matrix over anchor synsets, its spectral embedding G (64 dims), a k-NN
#   softmax fill for the other tokens, and an orthogonal Procrustes map of G onto the encoder's
#   PCA space. The LERP modulator `(1 − α)·h + α·proj(geo[token])` is hooked into every encoder
#   block at α = 0.01 and measured: preservation (mean cosine per definition against the
#   unmodulated encoder), relational Pearson/Spearman with WordNet path similarity over 50,000
#   pairs (D10), the band gradient (D11), pentachoron volumes (D1).
# - **§9 training.** The encoder frozen (checked bit for bit), the modulator trained on
#   (definition → lemma), alpha per layer tracked. T5: the lemma is the decoder's target.
#   **Encoder-only models (MiniLM) have no decoder**: the lemma's token is predicted from the
#   definition's pooled *modulated* representation by its dot product with the encoder's own
#   (frozen) input embeddings, cross-entropy over the vocabulary. That objective is this
#   repository's, not the seed's.
# - **§10** the untrained §8 modulator at static alphas (0.01 … 0.5 and 0.29154).
# - **§11** generations with and without the modulator (seq2seq models only).
# - **§12** the multi-expert field modulator (38,552 parameters at T5-small's width), which the
#   seed only self-tested on random input, trained with §9's loop and measured like §10.
#
# **As executed, and corrected.** `parameters/paper/modulator_t5-small-as-executed.yaml`
# reproduces the seed as it ran: unshifted decoder labels and `lm_head` logits without T5's
# rescale (B9), evaluation on the anchor tokens themselves (B8), unmatched vocabulary rows drawn
# from an unrecorded seed (B8: here a fresh seed, recorded).
# `parameters/paper/modulator_t5-small-corrected.yaml` fixes each: the model's own
# shifted-label loss, evaluation tokens disjoint from the anchors, every draw seeded. The report
# lists both beside the published numbers.
#
# **The "+152% / +189%" of the seed's summary was never computed.** This notebook computes the
# relative lift `(r_mod − r_orig) / r_orig` against the unmodulated encoder on the same pairs and
# reports it for every set; the claims registry reads it off the §9 trained modulator, the most
# plausible origin (unverified).
#
# The default parameters run the real MiniLM encoder (all-MiniLM-L6-v2) offline on a CPU in a few
# minutes, on a sample of the matched lemmas with short training runs; tiny random T5 exercises
# the decoder objectives and generation and claims nothing. The paper runs need T5-small from
# the Hugging Face hub and a GPU.

# %% tags=["parameters"]
PARAMETERS = "parameters/embedded/modulator_minilm.yaml"  # a parameters/ file for modulator
OVERRIDES: dict = {}  # keys to change for an interactive run, e.g. {"field": None}

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
from tqdm.auto import tqdm

from lib.attention.study import model_record
from lib.claims import published
from lib.findings import findings_for
from lib.models import load_model
from lib.modulator import plots, study
from lib.notebook import start
from lib.paths import shown
from lib.results import provenance, save_figure
from lib.show import show_table
from lib.terrain.tables import pos_mix_line

RUN = start(PARAMETERS, "modulator", OVERRIDES)  # parameters, output folder, CPU threads
params, NAME, PROFILE = RUN.params, RUN.name, RUN.profile
MODEL = params.model
SAVE_TO = study.modulator_paths(RUN.results_file)
print(f"{params.parameter_file}: {params.description}")
print(f"model {MODEL} | dtype {params.dtype} | max_items {params.max_items} | "
      f"seed_faithful {params.seed_faithful} | eval disjoint from anchors "
      f"{params.eval_disjoint_from_anchors} | unmatched rows seed "
      f"{params.unmatched_rows_seed}")
payload = {"experiment": "modulator", "run": params.run, "profile": PROFILE,
           "description": params.description}
timings: dict = {}

# %% [markdown]
# ## Load the encoder
# A decoder-only model, or a layer index the encoder does not have, stops the run here, before
# any WordNet or training work.

# %%
loaded = load_model(MODEL, dtype=params.dtype)
payload["model"] = model_record(loaded) | study.check_model(loaded, params.layers,
                                                          params.seed_faithful)
init = study.unmatched_rows_seed(params.unmatched_rows_seed)
payload["settings"] = {k: getattr(params, k) for k in (
    "seed_faithful", "eval_disjoint_from_anchors", "unmatched_rows_seed", "max_items", "layers")}
payload["settings"].update(unmatched_rows_seed_used=init, threads=RUN.threads)
m = payload["model"]
print(f"{m['name']}: {m['family']}, {m['encoder_blocks']} encoder blocks, width "
      f"{m['hidden_size']}, {m['parameters']:,} parameters; modulated layers {m['layers']}; "
      f"training objective {m['objective']}; {RUN.threads} CPU thread(s)")
show_table(study.defects(params, init))

# %% [markdown]
# ## The data: single-token WordNet lemmas and their definitions
# Every WordNet 3.0 lemma that is one token of this tokenizer (the first synset in WordNet's order
# takes the token, D12); with `max_items`, a seeded sample of them. Each definition is encoded and
# mean-pooled over its tokens (D8: `summarize: {definition}` for T5, the bare definition for
# BERT-likes). Path similarity gives adjective and adverb pairs 1/3 whatever they mean (B10).

# %%
data, payload["data"] = study.load_data(loaded, params)

# %%
# NBVAL_CHECK_OUTPUT
d = payload["data"]
print(f"{d['matched']:,} single-token lemmas matched, {d['used']:,} used; template "
      f"{d['template']!r}")
print(pos_mix_line(d["pos_mix"]))

# %% [markdown]
# ## §8 The self-contained pipeline
# Wu-Palmer over the anchors → spectral G → k-NN fill → Procrustes projection, scaled by
# 0.1·mean‖pooled final representation‖ though injected into every block (B7, kept). The rows of
# tokens that matched no lemma keep their N(0, 1) initialization (norm ≈ 8 against 1), so function
# words and `</s>` inject large random vectors (B8, seeded here). Those rows are projected in G's
# basis, so G's eigenvectors get a basis fixed by their eigenspaces: LAPACK's signs, and its basis
# of the Wu-Palmer matrix's degenerate eigenspaces, change with the processor (they moved the
# α = 0.5 Pearson from 0.059 to 0.040). Measured at α = 0.01 on every layer: the seed's α = 0.01
# row. The effects table splits B8's Pearson effect (the seed scored on its own anchors) into the
# two token sets' own difference, which the unmodulated encoder shows, and the modulator's lift.

# %%
payload["procrustes"], modulator, arrays, pairs = study.procrustes_section(data, loaded, params,
                                                                           init["seed"])
# B8 (anchor_evaluation) and B11 (pentachoron_pairing), both ways
payload["effects"] = study.effects(data, params, payload["procrustes"], arrays)

# %%
# NBVAL_CHECK_OUTPUT
built, procrustes = payload["procrustes"]["pipeline"], payload["procrustes"]["evaluation"]
unmatched = built["unmatched"]  # B8
print(f"{built['n_anchor']:,} anchors, {built['wup_pairs']:,} Wu-Palmer pairs; spectral G "
      f"({built['n_geo']} dims) reconstructs S with r = {built['recon_corr']:.4f}; Procrustes "
      f"alignment cosine {built['alignment_cos_mean']:.4f} ± {built['alignment_cos_std']:.4f}")
print(f"modulator: {built['modulator_params']:,} parameters; unmatched rows "
      f"{unmatched['unmatched_rows']:,} (mean norm {unmatched['unmatched_row_norm_mean']:.2f} vs "
      f"{unmatched['matched_row_norm_mean']:.2f} matched)")
pr = procrustes["relational"]["pairs"]
print(f"evaluation: {pr['n_rel']:,} tokens, {pr['n_pairs']:,} pairs ({pr['similarity']} "
      f"similarity); share of evaluation tokens that are anchors: {pr['leakage_fraction']:.3f}")
print(f"preservation {procrustes['preservation']['mean']:.4f}")
show_table(study.relational_table(procrustes))
show_table(study.bands_table(procrustes), index=False)
print(study.pentachora_line(procrustes["pentachora"]))
show_table(study.effects_table(payload["effects"]))

# %% [markdown]
# ## §9 Training: does alpha find itself?
# A copy of the §8 modulator, alphas reset to 0.01, trained on (definition → lemma) with the
# encoder frozen; AdamW, cosine schedule per epoch, gradient clip 1.0, a 90/10 split; alpha of
# every layer logged every 10 batches. The trained modulator is saved as safetensors beside the
# results. Whether alpha increases with depth is testable only once training has converged: the
# validation loss changed by less than 0.1% (relative) in each of the last two epochs
# (`lib.modulator.train.convergence`), and the alphas moved, and not in lockstep.

# %%
trained = run = None
if params.training:
    payload["trained"], trained, run = study.trained_section(data, loaded, params, modulator,
                                                             pairs, SAVE_TO["lerp"])
    timings["trained"] = study.pop_timings(payload["trained"])
    print(f"{run.steps} steps ({run.objective}) in {run.seconds:.1f} s, "
          f"{run.seconds_per_step:.3f} s per step")
    if "saved_to" in payload["trained"]["train"]:
        print("saved", payload["trained"]["train"]["saved_to"])
else:
    payload["trained"] = None
    print("training off")

# %%
# NBVAL_CHECK_OUTPUT
if payload["trained"]:
    training, evaluation = payload["trained"]["train"], payload["trained"]["evaluation"]
    print(f"objective {training['objective']}: {training['n_train']:,} train / "
          f"{training['n_val']:,} validation, {training['steps']} steps; "
          f"{training['trainable_params']:,} trainable vs {training['frozen_params']:,} frozen; "
          f"encoder unchanged: {training['encoder_unchanged']}")
    print("validation loss per epoch: " + ", ".join(f"{v:.3f}" for v in training["val_loss"]))
    show_table(study.alpha_table(training).T)
    print(study.distance_line(training))
    print(f"preservation {evaluation['preservation']['mean']:.4f}")
    show_table(study.relational_table(evaluation))
    print(study.pentachora_line(evaluation["pentachora"]))
else:
    print("training off")

# %% [markdown]
# ## §10 The constant as a static alpha
# The untrained §8 modulator with the same alpha written into every layer: the seed's
# α = 0.01 and α = 0.5 rows, the sweep's other alphas, and 0.29154, the "phase boundary" the seed
# asserts (it never derives it; 0.29514 is the seed's *cosine* constant, two digits transposed:
# B2). All on the same pairs as §8.

# %%
payload["alpha_sweep"] = (study.alpha_sweep_section(data, loaded, params, modulator,
                                                     arrays["anchor_idx"])
                          if params.sweep else None)

# %%
# NBVAL_CHECK_OUTPUT
if payload["alpha_sweep"]:
    show_table(study.sweep_table(payload["alpha_sweep"]))
else:
    print("sweep off")

# %% [markdown]
# ## §11 Talking to the modulated model
# The §9 trained modulator at its trained alphas: the same prompt through the unmodulated and the
# modulated encoder, one decoder, greedy; the token diff counts positional mismatches and the
# length difference. Then one prompt across alphas. Encoder-only models have no decoder to
# generate with: the section is skipped for them, and says so.

# %%
payload["generation"] = (study.generation_section(loaded, params, trained, progress=tqdm)
                         if params.generation and trained is not None else None)

# %%
# NBVAL_CHECK_OUTPUT
if payload["generation"]:
    generated = payload["generation"]
    if generated["applicable"]:
        show_table(study.generation_table(generated), index=False)
        print(f"{generated['identical']} of {len(generated['comparisons'])} generations identical")
        for row in (generated["alpha_sweep"] or {}).get("rows", []):
            print(f"alpha {row['alpha']:.2f}: {row['modulated'][:80]!r} "
                  f"({row['diffs']}/{row['max_len']} tokens differ)")
    else:
        print(generated["reason"])
else:
    print("generation off (it needs the §9 trained modulator)"
          if params.generation else "generation off")

# %% [markdown]
# ## §12 The geometric field modulator
# Three k-simplex experts (k = 1, 2, 4) gate the residual's first 75% of dimensions
# multiplicatively; the last 25% pass untouched. Ported with the seed's faults (B12): the k = 1
# expert is input-independent, the validity head feeds nothing, alpha is clamped at 0.35 (above
# the 0.29154 it claims to respect), `cv_check` samples with replacement from 8 dimensions. The
# seed never trained it on a model; here it gets §9's training loop and §10's measurements.

# %%
if params.field:
    payload["field"], field = study.field_section(data, loaded, params, pairs, SAVE_TO["field"])
    timings["field"] = study.pop_timings(payload["field"])
    field_times = timings["field"]
    print(f"{payload['field']['train']['steps']} steps in {field_times['train/seconds']:.1f} s, "
          f"{field_times['train/seconds_per_step']:.3f} s per step")
    if "saved_to" in payload["field"]:
        print("saved", payload["field"]["saved_to"])
else:
    payload["field"] = None
    print("field modulator off")

# %%
# NBVAL_CHECK_OUTPUT
if payload["field"]:
    measured = payload["field"]
    for line in study.field_lines(measured):
        print(line)
    print("validation loss per epoch: "
          + ", ".join(f"{v:.3f}" for v in measured["train"]["val_loss"]))
    show_table(study.relational_table({"relational": measured["relational"]}))
    print(study.pentachora_line(measured["pentachora"]))
else:
    print("field modulator off")

# %% [markdown]
# ## The published numbers
# The seed's modulator claims (`lib/claims.yaml`) next to this run's number at the field each
# claim names. They were stated for T5-small as executed: only that paper run can reproduce
# them; the embedded and tiny runs measure other models and show the same quantities.

# %%
# NBVAL_CHECK_OUTPUT
payload["headline"] = study.headline(payload)
show_table(study.claims_table(payload, published))

# %% [markdown]
# ## Figure

# %%
fig = plots.modulator_figure(f"modulator {params.run}: {MODEL}", payload)
print("saved", shown(save_figure(fig, PROFILE, NAME)))

# %% [markdown]
# ## Save the results

# %%
payload["provenance"] = provenance(params, {"model": payload["model"]})
print("saved", shown(RUN.save(payload)))  # checked against lib.modulator.layout first

# %% [markdown]
# ## What this run shows
# Computed from this run's results (`lib.findings`), never typed:
# the held-out gain with its interval from resampling the evaluation lemmas
# ("gains nothing" when the interval contains 0; "at the edge" when a bound lies within the
# processors' rounding of 0, where no side is robust) and whether training could test alpha.

# %%
# NBVAL_CHECK_OUTPUT
print("\n".join(findings_for(payload, "modulator") or ["- nothing beyond the tables above"]))
