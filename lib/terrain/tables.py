"""The terrain notebook's tables: the section blocks as pandas frames, rounded for reading."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from lib.stats.correlation import UNDEFINED
from lib.terrain.alignment import EFFECT_DEFECTS
from lib.terrain.nulls import inside
from lib.terrain.weights.baseline import battery_quantities

# The Qwen3.5-0.8B numbers seed 004 quotes as its reference (claims registry ids) and the
# embedding-block field each compares with.
QWEN_REFERENCE = (
    ("qwen08.mean_cos", ("cosine", "mean")),
    ("qwen08.pr_dim", ("spectrum", "pr_over_dim")),
    ("qwen08.volume_cv", ("pentachora", "cv")),
    ("qwen08.volume_ratio", ("pentachora", "ratio_embed_random")),
    ("qwen08.digit_corr", ("digits", "manifold", "corr_abs_diff_cosine")),
)


def _num(value: Any, spec: str = ".4f") -> str:
    """A number: "n/a" where there is none, "undefined" where it is not finite."""
    if value is None:
        return "n/a"
    return format(float(value), spec) if math.isfinite(float(value)) else UNDEFINED


def _corr(value: Any, spec: str = ".4f") -> str:
    """A correlation: "undefined" where it is None or NaN (a constant input, see
    `lib.stats.correlation`)."""
    return UNDEFINED if value is None else _num(value, spec)


def _get(block: dict[str, Any], path: tuple[str, ...]) -> Any:
    for step in path:
        block = block[step]
    return block


def embedding_table(block: dict[str, Any]) -> pd.DataFrame:
    """The embedding matrix's headline geometry."""
    p, s = block["pentachora"], block["spectrum"]
    rows = [
        ("matrix", f"{block['tensor']} {block['shape'][0]} x {block['shape'][1]}"
                   f" (tied output head: {block['tied']})"),
        ("norm mean / std", f"{_num(block['norms']['mean'])} / {_num(block['norms']['std'])}"),
        (f"mean pairwise cosine ({block['cosine']['n_sample']:,}-row sample)",
         _num(block["cosine"]["mean"])),
        ("participation ratio / dim", f"{_num(s['participation_ratio'], '.1f')} / "
                                      f"{block['shape'][1]} = {_num(s['pr_over_dim'])}"),
        ("dims for 90% variance", str(s["dims_for_variance"]["90%"])),
        ("pentachoron volume CV", _num(p["cv"])),
        ("volume embed / Gaussian", f"{_num(p['ratio_embed_random'])} ({p['reference']})"),
        ("digit |i-j| vs cosine corr", _corr(block["digits"]["manifold"]["corr_abs_diff_cosine"])),
    ]
    return pd.DataFrame(rows, columns=["quantity", "value"]).set_index("quantity")


def published_embedding_table(block: dict[str, Any],
                              published: Callable[[str], Any]) -> pd.DataFrame:
    """This model beside seed 004's Qwen3.5-0.8B reference numbers (from the claims registry)."""
    rows = [(cid, _num(published(cid)), _num(_get(block, path))) for cid, path in QWEN_REFERENCE]
    return pd.DataFrame(rows, columns=["claim", "published (Qwen3.5-0.8B)",
                                       "this model"]).set_index("claim")


def layers_table(block: dict[str, Any]) -> pd.DataFrame:
    """Per named encoder layer: token norm and position cosine (mean over the sentences)."""
    enc = block["encoder"]
    return pd.DataFrame(
        [(name, _num(enc["per_layer"][name]["mean_norm"], ".3f"),
          _num(enc["per_layer"][name]["mean_cos"], ".3f")) for name in enc["layers"]],
        columns=["layer", "token norm", "position cosine"]).set_index("layer")


def pos_mix_line(mix: dict[str, Any]) -> str:
    """The part-of-speech mix of the matched lemmas (B10: adj/adv pairs always score 1/3)."""
    counts = mix.get("counts", {})
    parts = ", ".join(f"{k} {v:,}" for k, v in counts.items())
    share = mix.get("root_pair_fraction")
    tail = f"; share of random pairs through nltk's fake root: {share:.1%}" if share else ""
    return f"parts of speech: {parts}{tail}"


def alignment_table(a: dict[str, Any]) -> pd.DataFrame:
    """Static embedding vs encoder: correlations with path similarity, gradient, volumes
    ("undefined" where a correlation is, e.g. every pair has the same similarity)."""
    rows = [
        ("Pearson r", _corr, a["static"]["pearson"], a["encoder"]["pearson"],
         a["lift"]["pearson"]),
        ("Spearman rho", _corr, a["static"]["spearman"], a["encoder"]["spearman"],
         a["lift"]["spearman"]),
        ("gradient (s>=0.25 minus s<0.10)", _num, a["gradient"]["static"],
         a["gradient"]["encoder"], a["gradient"]["encoder"] - a["gradient"]["static"]),
        ("pentachoron volume CV", _num, a["pentachora"]["static"]["cv"],
         a["pentachora"]["encoder"]["cv"], None),
    ]
    table = pd.DataFrame(
        [(name, fmt(s), fmt(e), fmt(lift, "+.4f") if lift is not None else "")
         for name, fmt, s, e, lift in rows],
        columns=[f"{a['n_pairs']:,} pairs", "static", "encoder", "lift"])
    return table.set_index(f"{a['n_pairs']:,} pairs")


def stability_table(stab: dict[str, Any]) -> pd.DataFrame:
    """The seed's statistics over seeds (mean ± std ddof 0, min, max) and the added 95% CI."""
    rows = []
    for key in ("static_pearson", "enc_pearson", "static_spearman", "enc_spearman",
                "gradient_static", "gradient_enc", "static_cv", "enc_cv"):
        s = stab["summary"].get(key)
        if s is None:
            if key in stab["per_seed"]:  # no seed gave a finite value (e.g. constant similarity)
                rows.append((key, UNDEFINED, "", ""))
            continue
        ci = s.get("ci") or [None, None]
        rows.append((key, f"{_num(s['mean'])} ± {_num(s['std'])}",
                     f"[{_num(s['min'])}, {_num(s['max'])}]",
                     f"[{_num(ci[0])}, {_num(ci[1])}]"))
    return pd.DataFrame(rows, columns=[f"{stab['n_seeds']} seeds", "mean ± std", "min, max",
                                       "95% CI (added)"]).set_index(f"{stab['n_seeds']} seeds")


def weights_table(block: dict[str, Any]) -> pd.DataFrame:
    """Per role: share of |w| < 0.1 and mean stable rank, trained beside the initialization."""
    trained, init = block["trained"], block["init"]
    ref = trained or init
    groups = [g for g in ref["sparsity"] if g.startswith(("self_attn", "cross_attn", "mlp"))]
    rows = []
    for g in groups:
        row = [g]
        for res in (trained, init):
            if res is None or g not in res["sparsity"]:
                row += ["-", "-"]
                continue
            sv = res["sv"]["mean"].get(g)
            row += [f"{res['sparsity'][g]['<0.1']:.1%}",
                    _num(sv["stable_rank"], ".1f") if sv else "-"]
        rows.append(row)
    table = pd.DataFrame(rows, columns=["role", "|w|<0.1 trained", "stable rank trained",
                                        "|w|<0.1 init", "stable rank init"]).set_index("role")
    return table[[c for c in table.columns if not (table[c] == "-").all()]]


def projection_table(block: dict[str, Any]) -> pd.DataFrame:
    """Held-out fit of the projected embeddings."""
    tok = block["token_cosine"]
    rows = [
        ("shared tokens", f"{block['shared_tokens']:,}"),
        ("per-token cosine mean / median", f"{_num(tok['mean'])} / {_num(tok['median'])}"),
    ]
    rows.append(("PCA variance retained", _num(block["pca_retained_variance"])))
    rows.append(("relational Pearson (1,000 test tokens)", _corr(block["relational"]["pearson"])))
    return pd.DataFrame(rows, columns=["quantity", "value"]).set_index("quantity")


BASELINE_ROWS = (("tfidf", "TF-IDF of the definitions"),
                 ("random_encoder", "random-init encoder"),
                 ("noun_only", "encoder, noun pairs only"))


def baselines_table(block: dict[str, Any]) -> pd.DataFrame:
    """The encoder's alignment beside the static embedding and the baselines on the same pairs
    (a wordnet block: `alignment` and `baselines`), with the share of each row's pairs whose
    path similarity nltk's fake root sets (B10: the part-of-speech confound; noun pairs: none)."""
    a, base = block["alignment"], block.get("baselines") or {}
    share = ((block.get("effects") or {}).get("fake_root") or {}).get("fake_root_share")
    every = "n/a" if share is None else f"{share:.1%}"
    rows = [(label, _corr(r["pearson"]), _corr(r["spearman"]), f"{n:,}",
             "0.0%" if key == "noun_only" else every)
            for key, label, r, n in (("encoder", "encoder", a["encoder"], a["n_pairs"]),
                                     ("static", "static embedding", a["static"], a["n_pairs"]),
                                     *((k, label, base[k], base[k]["n_pairs"])
                                       for k, label in BASELINE_ROWS if k in base))]
    return pd.DataFrame(rows, columns=["representation", "Pearson", "Spearman", "n pairs",
                                       "through the fake root"]).set_index("representation")


def effects_table(block: dict[str, Any]) -> pd.DataFrame:
    """Each defect's number as executed and as taken (a wordnet block's `effects`), labelled by
    its code in SPEC-terrain's defect table (`alignment.EFFECT_DEFECTS`)."""
    def shown(value: Any, signed: bool = False) -> str:  # counts as counts, others to 4 places
        spec = ("+," if signed else ",") if isinstance(value, int) else ("+.4f" if signed
                                                                          else ".4f")
        return _num(value, spec) if not isinstance(value, int) else format(value, spec)

    rows = [(EFFECT_DEFECTS.get(key, key), e["number"], shown(e["as_executed"]), shown(e["taken"]),
             shown(e["difference"], True)) for key, e in (block.get("effects") or {}).items()]
    return pd.DataFrame(rows, columns=["defect", "number", "as executed", "taken",
                                       "difference"]).set_index("defect")


def intervals_table(stab: dict[str, Any]) -> pd.DataFrame:
    """Both intervals of the correlations, labelled: the t-interval over the resampling seeds
    (precision of the mean) and the percentile bootstrap over synsets (uncertainty of the
    correlation), where the block has them."""
    boot = stab.get("synset_bootstrap") or {}
    rows = []
    for key in ("enc_pearson", "static_pearson", "enc_spearman", "static_spearman"):
        s, b = stab["summary"].get(key), boot.get(key)
        seeds = [None, None] if s is None else s.get("ci") or [None, None]
        synsets = (b or {}).get("ci") or [None, None]
        rows.append((key, f"[{_num(seeds[0])}, {_num(seeds[1])}]",
                     f"[{_num(synsets[0])}, {_num(synsets[1])}]" if b else "n/a"))
    level = boot.get("level", 0.95)
    return pd.DataFrame(rows, columns=[
        "correlation", f"{stab['n_seeds']} seeds: precision of the mean (t, 95%)",
        f"synsets: uncertainty of the correlation ({boot.get('n_boot', 0)} resamples, "
        f"{level:.0%})"]).set_index("correlation")


def _shown_rows(spread: dict[str, Any]) -> list[str]:
    """The spread's quantities a reader compares (the rest stay in the results file): shares,
    QK sign fractions min/mean/max, the cross-layer summary, mixed position-bias heads, and
    every embedding quantity."""
    keep = []
    for q in spread["quantities"]:
        last = q.rsplit("/", 1)[-1]
        if q.startswith(("q_sparsity/", "cross_layer_summary/", "spectrum/", "cosine/",
                         "pentachora/", "digits/")) or last == "mixed" or (
                q.startswith("qk/") and last in ("min_pos_frac", "mean_pos_frac",
                                                 "max_pos_frac")):
            keep.append(q)
    return keep


def init_spread_table(spread: dict[str, Any], measured: dict[str, Any] | None = None,
                      analytic: dict[str, Any] | None = None) -> pd.DataFrame:
    """What random weights give, quantity by quantity: the mean ± sd over the initialization
    seeds and the rule's 99% interval (lib.terrain.nulls), an analytic interval where there is
    one, and this run's value (`measured`, {quantity: value}) with whether it lies inside."""
    analytic = analytic or {}
    rows = []
    for q in _shown_rows(spread):
        b = spread["quantities"][q]
        interval = f"[{_num(b['low'])}, {_num(b['high'])}]" if b["low"] is not None else \
            b.get("reason", "n/a")
        a = analytic.get(q)
        label = q.replace(".layer.0.SelfAttention.relative_attention_bias.weight", " bias")
        row = [label, f"{_num(b['mean'])} ± {_num(b['sd'])}", interval,
               f"[{_num(a['low'])}, {_num(a['high'])}]" if a else "-"]
        if measured is not None:
            value = measured.get(q)
            verdict = inside(b, value)
            row += [_num(value), "-" if verdict is None else
                    ("indistinguishable" if verdict else "distinguishable")]
        rows.append(row)
    k = len(spread["seeds"])
    columns = ["quantity", f"init mean ± sd ({k} seeds)", "99% interval (seeds)",
               "analytic 99% interval"] + (["this run", "vs random weights"]
                                           if measured is not None else [])
    table = pd.DataFrame(rows, columns=columns).set_index("quantity")
    return table[[c for c in table.columns if not (table[c] == "-").all()]]


def false_positive_line(spread: dict[str, Any]) -> str:
    """The rule's leave-one-seed-out false-positive rate on this run's seeds, in words."""
    fp = spread["false_positive"]
    if not fp["trials"]:
        return "false-positive rate: not measured (too few seeds)"
    return (f"the rule's false-positive rate on these seeds (each judged against the interval of "
            f"the others): {fp['outside']} of {fp['trials']} ({fp['rate']:.1%})")


def weights_spread_table(w: dict[str, Any]) -> pd.DataFrame:
    """`init_spread_table` of a weights block: the trained battery (if any) against the spread
    of its initializations and the analytic intervals."""
    measured = ({q: v for q, (v, _) in battery_quantities(w["trained"]).items()}
                if w.get("trained") else None)
    return init_spread_table(w["init_spread"], measured, w.get("analytic_null"))


def embedding_spread_table(block: dict[str, Any]) -> pd.DataFrame:
    """`init_spread_table` of an embedding block: this matrix against its architecture's input
    embedding at initialization."""
    measured = {q: _get(block, tuple(q.split("/"))) for q in block["init_spread"]["quantities"]}
    return init_spread_table(block["init_spread"], measured)
