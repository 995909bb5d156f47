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
# # Terrain — the geometry of embeddings and frozen weights
#
# *Geometric Terrain Analysis, seed 004 §1-§6 and §13.*
#
# **Question.** What shape do a model's embeddings and frozen weights have, and which of it is
# learned? For one model per run we measure, in the sections its parameter file switches on:
#
# - **Embedding geometry** (§1, §13a): norms, pairwise cosines, the eigenspectrum and its
#   participation ratio (PR/dim), Cayley-Menger pentachoron volumes against a Gaussian reference
#   (their CV, the ratio embed/random), the digit manifold (correlation of |i−j| with cosine),
#   semantic categories and special tokens.
# - **Layers** (§1): token norms and position cosines at each named encoder layer (through hooks,
#   not `hidden_states` indices), encoder vs decoder, the relative position bias (T5).
# - **WordNet alignment** (§2) and its **50-seed stability** (§3): does the encoder's pooled
#   representation of a definition follow WordNet's path similarity better than the static
#   embedding of the lemma's token? Pearson, Spearman, their lift, the band gradient, hypernym
#   chain decay, lexname clusters; over 50 seeds with a 95% interval.
# - **Weight battery** (§4-§6), streamed tensor by tensor from the checkpoint: singular-value
#   metrics, sparsity (the "Q sparsity" share of |w| < 0.1), the QK manifold in the seed's
#   head-space convention and as the attention bilinear form, dead neurons, adjacent cross-layer
#   cosines, LayerNorm scales, position-bias topology — beside the architecture's initialization.
# - **Cross-scale projection** (§13b): a larger model's embeddings projected (PCA + orthogonal
#   Procrustes on anchor tokens) onto this model's, scored on held-out shared tokens.
#
# Seed 004 stored no outputs: its published numbers (the claims registry) are stated in prose or
# hard-coded prints, and `results/REPORT.md` says for each how the repository regenerates it. The
# embedded runs measure real small models (MiniLM's BERT weights, SmolLM2, Gemma-3) and tiny random
# models (which test the machinery and claim nothing); the paper runs (T5, BERT-large, CLIP,
# DINOv2, Qwen) need the hub.

# %% tags=["parameters"]
PARAMETERS = "parameters/embedded/terrain_minilm.yaml"  # a parameters/ file for terrain
OVERRIDES: dict = {}  # keys to change for an interactive run, e.g. {"wordnet": None}

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
from lib.claims import published
from lib.findings import findings_for
from lib.notebook import start
from lib.paths import shown
from lib.results import provenance, save_figure
from lib.show import show_table
from lib.terrain import plots, study, tables

RUN = start(PARAMETERS, "terrain", OVERRIDES)  # parameters, output folder, CPU threads
params, NAME, PROFILE = RUN.params, RUN.name, RUN.profile
MODEL = params.model
SECTIONS = [s for s in study.SECTIONS if getattr(params, s) is not None]
print(f"{params.parameter_file}: {params.description}")
print(f"model {MODEL} | sections: {', '.join(SECTIONS)}")
payload = {"experiment": "terrain", "run": params.run, "profile": PROFILE,
           "description": params.description, "model": study.model_record(MODEL),
           **{s: None for s in study.SECTIONS}}
arrays: dict = {}

# %% [markdown]
# ## Embedding geometry (§1 / §13a)
# The input-embedding matrix is read alone from the checkpoint (no model is built). §1's protocol
# (`all_rows_isotropic`) compares pentachoron volumes with an isotropic Gaussian of the matrix's
# global σ and uses the covariance over all rows; §13a's (`sampled_per_dimension`) uses a
# per-dimension σ and a 10k-row sample (B13). The cosine
# checks use the seed's constants as labelled: 0.29514 ("phil_constant", the cosine constant; the
# phase-boundary α 0.29154 is the modulator's, B2) and 0.19471 ("qwen_mean"). With `init_seeds`,
# the claimed quantities are measured on the architecture's input embedding at initialization
# (transformers' initializer, the full vocabulary) for each seed: what random weights give, with
# the 99% interval of one more initialization (`lib.terrain.nulls`) and this matrix beside it.

# %%
# NBVAL_CHECK_OUTPUT
if params.embedding is not None:
    payload["embedding"] = study.embedding_section(MODEL, params.embedding)
    show_table(tables.embedding_table(payload["embedding"]))
    print()
    show_table(tables.published_embedding_table(payload["embedding"], published))
    if payload["embedding"].get("init_spread"):
        print()
        show_table(tables.embedding_spread_table(payload["embedding"]))
        print(tables.false_positive_line(payload["embedding"]["init_spread"]))
else:
    print("embedding section off")

# %% [markdown]
# ## Layers (§1)
# Hooks on the encoder name each layer: `embeddings`, `block i`, `final norm`. (HF's
# `hidden_states` index changed meaning between transformers 4.x and 5.x, B5.) The
# encoder-vs-decoder comparison is reported as the seed executed it: position t holds different
# tokens on the two sides.

# %%
loaded = None
if params.layers is not None or params.wordnet is not None:
    loaded = study.load_for_forward(MODEL)
if params.layers is not None:
    payload["layers"] = study.layers_section(MODEL, params.layers, loaded)
    show_table(tables.layers_table(payload["layers"]))
    if payload["layers"]["encoder_decoder"]:
        print(f"\nencoder vs decoder: {payload['layers']['encoder_decoder']['label']}")
    for stack, stats in (payload["layers"]["position_bias"] or {}).items():
        print(f"{stack} position bias {stats['buckets']}x{stats['heads']}: mean "
              f"{stats['mean']:.3f}, std {stats['std']:.3f}, range {stats['range']:.3f}")
else:
    print("layers section off")

# %% [markdown]
# ## WordNet alignment (§2) and its stability (§3)
# Every WordNet lemma that is one token of this tokenizer (the first synset in WordNet's order
# wins the token), its definition encoded and mean-pooled (`summarize: {definition}` for T5, the
# bare definition for BERT-likes). Pairs are drawn as the seed drew them (`default_rng(42)`: 3,000
# synsets, 500,000 pairs). Path similarity is nltk's, computed in bulk (identical values): with
# `simulate_root`, adjective and adverb pairs always score 1/3 (B10; the part-of-speech mix below
# says how many pairs that concerns). The seed's band edges are kept (s = 1.0 in no band, s = 0.05
# counted twice, B16); volumes are paired by simplex (B11). Beside the encoder, three baselines
# of the same statistic on the same pairs: TF-IDF vectors of the definitions, the architecture at
# random initialization encoding them, and noun-noun pairs only; beside each, the share of its pairs
# whose similarity nltk's fake root sets (the part-of-speech confound: noun pairs never reach it).
# What each defect does to its number (the hypernym walk B3, the fake root B10, the volume
# pairing B11, the band edges B16, the hypernym order B17) is measured both ways in this run.
# The stability block repeats the measurement over 50 seeds and adds a 95% t-interval, which the
# seed never computed (B6): that is the precision of the mean over resamples; the bootstrap over
# synsets is the uncertainty of the correlation itself.

# %%
# NBVAL_CHECK_OUTPUT
if params.wordnet is not None:
    payload["wordnet"], arrays = study.wordnet_section(MODEL, params.wordnet, loaded)
    wn_block = payload["wordnet"]
    print(f"{wn_block['matched']:,} single-token lemmas; template {wn_block['template']!r}")
    print(tables.pos_mix_line(wn_block["pos_mix"]))
    show_table(tables.alignment_table(wn_block["alignment"]))
    print()
    show_table(tables.baselines_table(wn_block))
    print()
    show_table(tables.effects_table(wn_block))
    if wn_block.get("stability"):
        print()
        show_table(tables.stability_table(wn_block["stability"]))
        print()
        show_table(tables.intervals_table(wn_block["stability"]))
else:
    print("wordnet section off")

# %% [markdown]
# ## Weight battery (§4-§6)
# One tensor at a time from the safetensors checkpoint; the roles come from one catalog of name
# rules per family. "Q sparsity" is the share of |w| < 0.1 pooled over the self-attention Q
# matrices (encoder and decoder for T5). The QK manifold is reported in the seed's convention
# (W_q W_kᵀ, head space) and as the bilinear form W_qᵀ W_k (B4). With `init_baseline`, the same
# battery runs on the architecture freshly initialized by transformers: what training changed.
# With `init_seeds`, more initializations give the spread of what random weights give: a value is
# indistinguishable from random weights when it lies inside the 99% prediction interval of one
# more initialization (mean ± t·sd·√(1 + 1/K), `lib.terrain.nulls`), never within a claim's
# rounding; the rule's false-positive rate is measured on the seeds themselves (each against the
# others). The analytic column is what the initializer makes known without building anything:
# adjacent-layer cosines of independent zero-mean matrices, a T5 bias's mixed heads.

# %%
# NBVAL_CHECK_OUTPUT
if params.weights is not None:
    payload["weights"] = study.weights_section(MODEL, params.weights)
    show_table(tables.weights_table(payload["weights"]))
    if payload["weights"]["init_spread"]:
        print()
        show_table(tables.weights_spread_table(payload["weights"]))
        print(tables.false_positive_line(payload["weights"]["init_spread"]))
else:
    print("weights section off")

# %% [markdown]
# ## Cross-scale projection (§13b)
# The larger model's embedding rows of the tokens both vocabularies share (matched by the text
# they stand for) are reduced by PCA to this model's width and rotated onto it by orthogonal
# Procrustes fitted on anchor tokens; held-out tokens score the fit.

# %%
# NBVAL_CHECK_OUTPUT
if params.projection is not None:
    payload["projection"] = study.projection_section(MODEL, params.projection)
    show_table(tables.projection_table(payload["projection"]))
else:
    print("projection section off")

# %% [markdown]
# ## Figure

# %%
fig = plots.terrain_figure(f"terrain {params.run}: {MODEL}", payload, arrays)
print("saved", shown(save_figure(fig, PROFILE, NAME)))

# %% [markdown]
# ## Save the results

# %%
payload["headline"] = study.headline(payload)
payload["provenance"] = provenance(params, {"model": payload["model"]})
print("saved", shown(RUN.save(payload)))  # checked against lib.terrain.layout first

# %% [markdown]
# ## What this run shows
# Computed from this run's results (`lib.findings`), never typed:
# the registry's bands this run falls in or out of,
# and the claims it cannot tell from random weights (initialization, Gaussian reference).

# %%
# NBVAL_CHECK_OUTPUT
print("\n".join(findings_for(payload, "terrain") or ["- nothing beyond the tables above"]))
