"""The terrain line's section of REPORT.md (`lib.report` asks `lib.lines` for it): the
embedded terrain runs' headline numbers beside their baselines, read through the results layout
(`lib.terrain.layout`: the report has refused every file that does not fit it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.checks import NOT_AVAILABLE, fmt
from lib.stats.values import is_finite
from lib.terrain.layout import Headline, TerrainResult
from lib.terrain.nulls import LEVEL


def terrain_runs(results: Mapping[str, dict[str, Any]], profile: str | None = None
                 ) -> list[TerrainResult]:
    """The terrain results among `results` ({"<profile>/<name>": payload}), read through their
    layout (`lib.terrain.layout`; pydantic's ValidationError for one that does not fit), in key
    order; only `profile`'s when given."""
    return [TerrainResult.model_validate(p) for key, p in sorted(results.items())
            if p.get("experiment") == "terrain"
            and (profile is None or key.startswith(f"{profile}/"))]


def _pair(h: Headline, a: str, b: str, lift: str) -> str:
    if getattr(h, a) is None:
        return "-"
    return f"{fmt(getattr(h, a))} → {fmt(getattr(h, b))} ({fmt(getattr(h, lift), signed=True)})"


def _precision(h: Headline) -> str:
    """The 95% t-interval of the encoder Pearson over the stability seeds."""
    interval = (h.stability_ci or {}).get("enc_pearson")
    if not interval or not all(is_finite(v) for v in interval):
        return "-"
    return f"[{interval[0]:.4f}, {interval[1]:.4f}]"


def _synsets(r: TerrainResult) -> str:
    """The synset bootstrap interval of the encoder Pearson, with its resamples."""
    stability = r.wordnet.stability if r.wordnet else None
    boot = stability.synset_bootstrap if stability else None
    interval = boot.enc_pearson.ci if boot else None
    if boot is None or not interval or not all(is_finite(v) for v in interval):
        return "-"
    return (f"[{interval[0]:.4f}, {interval[1]:.4f}] ({boot.n_boot} resamples, "
            f"{boot.level:.0%})")


def _q(h: Headline) -> str:
    trained = (h.q_sparsity or {}).get("self_attn_q")
    # a run that measured the initialization itself has nothing to set beside it
    init = None if h.weights_measured == "initialization" else \
        (h.init_q_sparsity or {}).get("self_attn_q")
    if trained is None:
        return "-"
    return f"{trained:.1%}" + (f" (init {init:.1%})" if init is not None else "")


def _confound(r: TerrainResult) -> str:
    """§2's part-of-speech confound: the encoder on noun pairs alone, and the share of the pairs
    whose path similarity nltk's fake root sets (B10, measured on the run's pairs)."""
    if r.wordnet is None:
        return "- | -"
    noun = r.wordnet.baselines.get("noun_only")
    share = r.wordnet.effects.fake_root.fake_root_share
    nouns = (f"{fmt(noun.pearson)} ({noun.n_pairs:,} pairs)"
             if noun is not None and is_finite(noun.pearson) else
             "-" if noun is None else NOT_AVAILABLE)
    return f"{nouns} | {f'{share:.0%}' if is_finite(share) else NOT_AVAILABLE}"


def _volume(r: TerrainResult) -> str:
    """The volume CV beside the Gaussian reference this run drew, named (B13)."""
    if r.embedding is None:
        return "-"
    penta = r.embedding.pentachora
    name = ("isotropic" if penta.reference.startswith("isotropic") else "per-dimension"
            if penta.reference.startswith("per-dimension") else penta.reference or "Gaussian")
    return f"{fmt(penta.cv)} ({name} reference {fmt(penta.reference_cv)})"


def _pr(r: TerrainResult) -> str:
    """PR/dim beside the mean over the initialization seeds, where the run measured them."""
    if r.embedding is None:
        return "-"
    spread = r.embedding.init_spread
    init = spread.quantities.get("spectrum/pr_over_dim") if spread else None
    return fmt(r.embedding.spectrum.pr_over_dim) + (
        f" (init {fmt(init.mean)}, {init.k} seeds)" if init is not None and init.mean is not None
        else "")


def terrain_lines(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """The embedded terrain runs' headline numbers (real weights and machinery runs)."""
    runs = terrain_runs(results, "embedded")
    if not runs:
        return []
    lines = ["", "## Terrain: embedded runs (this machine, offline)", "",
             "MiniLM, SmolLM2 and Gemma-3 carry real weights; `tiny/...` and `init/...` runs test "
             "the machinery (random weights) and claim nothing. WordNet columns: static token "
             "embedding → the encoder's pooled definition (lift). Two intervals of the encoder "
             "Pearson: the 95% t-interval over the 50-seed stability test is the precision of "
             "the mean over resamples (an addition: the seed computed none), not an uncertainty "
             "of the correlation; the percentile bootstrap over synsets is the uncertainty of the "
             "correlation over synsets. The part-of-speech confound (B10): nltk's path "
             "similarity routes every pair with a non-noun side through a fake root (adjective "
             "and adverb pairs always score 1/3); the encoder's Pearson on noun pairs alone and "
             "the share of the run's pairs the fake root sets stand beside the headline. Volume "
             "CV: beside the CV of the Gaussian reference the run drew, named (matched dim and "
             "count): isotropic with the matrix's global σ (§1's protocol) or per-dimension σ "
             "(§13a's, B13). PR/dim and Q sparsity: beside the architecture at initialization "
             "(the mean over its seeds).", "",
             "| run | model | lemmas | Pearson static → encoder (lift) | Spearman static → encoder "
             "(lift) | gradient static → encoder | encoder Pearson: precision of the mean (50 "
             "seeds) | encoder Pearson: synset bootstrap CI | encoder Pearson, noun pairs only | "
             "pairs through the fake root | PR/dim | volume CV (Gaussian reference) | Q sparsity |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        h = r.headline
        grad = (f"{fmt(h.gradient_static)} → {fmt(h.gradient_encoder)}"
                if h.gradient_static is not None else "-")
        lines.append(
            f"| {r.run} | {r.model.name} | {'-' if h.matched is None else h.matched} | "
            f"{_pair(h, 'static_pearson', 'encoder_pearson', 'lift_pearson')} | "
            f"{_pair(h, 'static_spearman', 'encoder_spearman', 'lift_spearman')} | {grad} | "
            f"{_precision(h)} | {_synsets(r)} | {_confound(r)} | {_pr(r)} | {_volume(r)} | "
            f"{_q(h)} |")
    return lines


def baseline_rule_line(results: Mapping[str, dict[str, Any]]) -> str:
    """How 'indistinguishable' is decided, with the rule's false-positive rate measured on the
    initialization seeds of the terrain runs given (leave one seed out, pooled)."""
    trials = outside = 0
    for r in terrain_runs(results):
        for spread in (r.weights.init_spread if r.weights else None,
                       r.embedding.init_spread if r.embedding else None):
            if spread is not None:
                trials += spread.false_positive.trials
                outside += spread.false_positive.outside
    measured = (f" Its false-positive rate, each initialization seed judged against the "
                f"interval of the others (leave one seed out) over every spread of these runs: "
                f"{outside} of {trials} ({outside / trials:.1%})." if trials else "")
    return (f"A baseline decides 'indistinguishable' by its own sampling distribution, never by "
            f"the claim's tolerance: inside the {LEVEL:.0%} prediction interval of one more "
            "initialization (mean ± t·sd·√(1 + 1/K) over K seeds, at least one step of the "
            "quantity's grid), an analytic interval where the initializer makes it known, a "
            "null's interval, or a reference's interval of the difference; one value without a "
            "spread decides nothing." + measured + " A claim whose check its baseline passes "
            "too (the baseline's interval meets published ± tolerance) is 'random weights give "
            "it too' (or its null, its reference), never 'reproduced'.")


def claims_notes(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """Above the claims table: how a baseline decides 'indistinguishable'."""
    return [baseline_rule_line(results), ""]


def details(results: Mapping[str, dict[str, Any]],
            derived: Mapping[str, dict[str, Any]]) -> list[str]:
    """After the claims: the embedded terrain runs."""
    return terrain_lines(results)


def cannot_show() -> list[str]:
    """What no embedded terrain run can show."""
    return ["- The paper-scale terrain claims (T5 up to XXL, BERT-large, CLIP, DINOv2, Qwen3.5) "
            "need the runs of `parameters/paper/` (the hub, a GPU for some): until they are "
            "made the claims read 'not yet run'."]
