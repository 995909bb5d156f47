"""The terrain line's section of REPORT.md (`lib.report` asks `lib.lines` for it): the
embedded terrain runs' headline numbers beside their baselines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lib.checks import NOT_AVAILABLE, fmt
from lib.stats.values import is_finite
from lib.terrain.nulls import LEVEL


def terrain_lines(results: Mapping[str, dict[str, Any]]) -> list[str]:
    """The embedded terrain runs' headline numbers (real weights and machinery runs)."""
    runs = [p for key, p in sorted(results.items())
            if key.startswith("embedded/") and p.get("experiment") == "terrain"]
    if not runs:
        return []

    def pair(h: dict[str, Any], a: str, b: str, lift: str) -> str:
        if a not in h:
            return "-"
        return f"{fmt(h[a])} → {fmt(h[b])} ({fmt(h[lift], signed=True)})"

    def ci(h: dict[str, Any]) -> str:
        interval = (h.get("stability_ci") or {}).get("enc_pearson")
        return f"[{interval[0]:.4f}, {interval[1]:.4f}]" if interval else "-"

    def synsets(p: dict[str, Any]) -> str:
        """The synset bootstrap interval of the encoder Pearson, with its resamples."""
        boot = ((p.get("wordnet") or {}).get("stability") or {}).get("synset_bootstrap") or {}
        block = boot.get("enc_pearson") or boot.get("encoder_pearson") or {}
        interval = block.get("ci") if isinstance(block, dict) else None
        if not interval or not all(is_finite(v) for v in interval):
            return "-"
        return (f"[{interval[0]:.4f}, {interval[1]:.4f}] ({boot.get('n_boot', '-')} resamples, "
                f"{boot.get('level', 0.95):.0%})")

    def q(h: dict[str, Any]) -> str:
        trained = (h.get("q_sparsity") or {}).get("self_attn_q")
        init = (h.get("init_q_sparsity") or {}).get("self_attn_q")
        if h.get("weights_measured") == "initialization":
            init = None  # the run measured the initialization itself: nothing to set beside it
        if trained is None:
            return "-"
        return f"{trained:.1%}" + (f" (init {init:.1%})" if init is not None else "")

    def confound(p: dict[str, Any]) -> str:
        """§2's part-of-speech confound: the encoder on noun pairs alone, and the share of the
        pairs whose path similarity nltk's fake root sets (B10, measured on the run's pairs)."""
        wn = p.get("wordnet") or {}
        noun = (wn.get("baselines") or {}).get("noun_only") or {}
        share = ((wn.get("effects") or {}).get("B10") or {}).get("fake_root_share")
        if not noun and share is None:
            return "- | -"
        nouns = (f"{fmt(noun['pearson'])} ({noun['n_pairs']:,} pairs)"
                 if is_finite(noun.get("pearson")) else NOT_AVAILABLE)
        return f"{nouns} | {f'{share:.0%}' if is_finite(share) else NOT_AVAILABLE}"

    def volume(p: dict[str, Any]) -> str:
        """The volume CV beside the Gaussian reference this run drew, named (B13)."""
        penta = (p.get("embedding") or {}).get("pentachora") or {}
        if "cv" not in penta:
            return "-"
        kind = str(penta.get("reference", ""))
        name = ("isotropic" if kind.startswith("isotropic") else "per-dimension"
                if kind.startswith("per-dimension") else kind or "Gaussian")
        return f"{fmt(penta['cv'])} ({name} reference {fmt(penta.get('reference_cv'))})"

    def pr(p: dict[str, Any]) -> str:
        emb = p.get("embedding") or {}
        if "spectrum" not in emb:
            return "-"
        init = (((emb.get("init_spread") or {}).get("quantities") or {})
                .get("spectrum/pr_over_dim") or {})
        return fmt(emb["spectrum"]["pr_over_dim"]) + (
            f" (init {fmt(init['mean'])}, {init['k']} seeds)" if init.get("mean") is not None
            else "")

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
    for p in runs:
        h = p.get("headline", {})
        grad = (f"{fmt(h['gradient_static'])} → {fmt(h['gradient_encoder'])}"
                if "gradient_static" in h else "-")
        lines.append(
            f"| {p['run']} | {p['model']['name']} | {h.get('matched', '-')} | "
            f"{pair(h, 'static_pearson', 'encoder_pearson', 'lift_pearson')} | "
            f"{pair(h, 'static_spearman', 'encoder_spearman', 'lift_spearman')} | {grad} | "
            f"{ci(h)} | {synsets(p)} | {confound(p)} | {pr(p)} | {volume(p)} | {q(h)} |")
    return lines


def baseline_rule_line(results: Mapping[str, dict[str, Any]]) -> str:
    """How 'indistinguishable' is decided, with the rule's false-positive rate measured on the
    initialization seeds of the runs given (leave one seed out, pooled)."""
    trials = outside = 0
    for payload in results.values():
        for block in ((payload.get("weights") or {}).get("init_spread"),
                      (payload.get("embedding") or {}).get("init_spread")):
            fp = (block or {}).get("false_positive") or {}
            trials += fp.get("trials") or 0
            outside += fp.get("outside") or 0
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
