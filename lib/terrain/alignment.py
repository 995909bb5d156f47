"""WordNet alignment of static and encoder representations (SPEC-terrain §2, D9-D11).

`static` are the embedding rows of the matched tokens, `encoder` the pooled definitions, both
[N, d] in `matched` order (`lib.terrain.wordnet.match_single_token_lemmas`). Each function returns
data; `wordnet_alignment` runs them in the seed's rng order and returns one JSON-able dict.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse

from lib.stats.correlation import correlation
from lib.terrain.cosine import mean_intra_cosine, normalize_rows, row_cosine
from lib.terrain.similarity import path_distance_matrix, similarity_from_distance
from lib.terrain.simplex import cayley_menger_volumes, sample_simplices, volume_summary

# (lo, hi) as the seed lists them (L863)
SEED_BANDS = ((0.9, 1.0), (0.5, 0.9), (0.25, 0.5), (0.1, 0.25), (0.05, 0.1), (0.0, 0.05))
MIN_BAND_PAIRS = 10
# each measured defect effect (`defect_effects`' keys) and its code in SPEC-terrain's defect table
EFFECT_DEFECTS = {"hypernym_walk": "B3", "fake_root": "B10", "volume_pairing": "B11",
                  "band_edges": "B16", "hypernym_order": "B17"}
GRADIENT_HIGH, GRADIENT_LOW = 0.25, 0.10


def check_reps(static: Any, encoder: Any, matched: Sequence | None = None) -> None:
    for name, X in (("static", static), ("encoder", encoder)):
        if np.ndim(X) != 2:
            raise ValueError(f"{name} must be a 2-D [N, d] array; got shape {np.shape(X)}")
    if len(static) != len(encoder):
        raise ValueError(
            f"static and encoder need one row per matched lemma; got {len(static)} and "
            f"{len(encoder)} rows"
        )
    if matched is not None and len(matched) != len(static):
        raise ValueError(f"matched has {len(matched)} entries but the reps have {len(static)} rows")
    if len(static) < 5:
        raise ValueError(f"need at least 5 matched lemmas (a pentachoron); got {len(static)}")


def sample_pairs(
    n_items: int, n_rel: int, n_pairs: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """D10: `rel = rng.choice(n_items, n_rel, replace=False)`, then `pi`, `pj` =
    `rng.choice(n_rel, n_pairs)` each; pairs with `pi == pj` dropped. Returns (rel, pi, pj)."""
    if not 2 <= n_rel <= n_items:
        raise ValueError(f"n_rel must be in [2, n_items={n_items}]; got {n_rel}")
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be >= 1; got {n_pairs}")
    rel = rng.choice(n_items, size=n_rel, replace=False)
    pi = rng.choice(n_rel, size=n_pairs)
    pj = rng.choice(n_rel, size=n_pairs)
    keep = pi != pj
    return rel, pi[keep], pj[keep]


def pair_cosines(X: Any, pi: np.ndarray, pj: np.ndarray) -> np.ndarray:
    """Cosines of rows (pi[k], pj[k]) of X, rows normalized as x/(||x||+1e-8), via one Gram.

    X is a dense array (float32) or a scipy sparse matrix (float64, e.g. TF-IDF vectors)."""
    if sparse.issparse(X):
        X = sparse.csr_matrix(X, dtype=np.float64)
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        Xn = sparse.csr_matrix(sparse.diags(1.0 / (norms + 1e-8)) @ X)
        return (Xn @ Xn.T).toarray()[pi, pj]
    Xn = normalize_rows(np.asarray(X, dtype=np.float32))
    return (Xn @ Xn.T)[pi, pj]


class RelationalSample(NamedTuple):
    """§2's pair sample: `rel` (matched indices), pairs (`pi`, `pj`) of rows of `rel`, and their
    path similarities `s` (pairs with no similarity or s = 0 dropped, as the seed)."""

    rel: np.ndarray
    pi: np.ndarray
    pj: np.ndarray
    s: np.ndarray


def relational_sample(matched: Sequence[Any], rng: np.random.Generator, n_rel: int,
                      n_pairs: int) -> RelationalSample:
    """The seed's pairs (D10) and their nltk path similarities: the first draws of `rng`, so
    `default_rng(seed)` gives the pairs of `wordnet_alignment(..., seed=seed)` again."""
    rel, pi, pj = sample_pairs(len(matched), min(n_rel, len(matched)), n_pairs, rng)
    synsets = [matched[i][1] for i in rel]
    s = similarity_from_distance(path_distance_matrix(synsets)[pi, pj])
    ok = np.isfinite(s) & (s > 0)  # the seed's `sim is not None and sim > 0`
    return RelationalSample(rel, pi[ok], pj[ok], s[ok])


CORRELATIONS = ("pearson", "spearman")


def relational_correlation(s: np.ndarray, cos: np.ndarray) -> dict[str, float | str | None]:
    """Pearson and Spearman of similarity vs cosine (`lib.stats.correlation`), and `reason`:
    None, or why both are undefined (NaN), e.g. every pair has the same similarity."""
    if len(s) != len(cos) or len(s) < 3:
        raise ValueError(f"need >= 3 equal-length values; got {len(s)} and {len(cos)}")
    names = ("the pair similarities", "the pair cosines")
    r, reason = correlation(s, cos, names, "pearson")
    rho, _ = correlation(s, cos, names, "spearman")
    return {"pearson": r, "spearman": rho, "reason": reason}


def correlation_lift(static: dict[str, Any], encoder: dict[str, Any]) -> dict[str, Any]:
    """Encoder minus static Pearson and Spearman (NaN, with the reason, where either is
    undefined)."""
    reason = encoder["reason"] or static["reason"]
    lift: dict[str, Any] = {k: float("nan") if reason else encoder[k] - static[k]
                            for k in CORRELATIONS}
    return lift | {"reason": reason}


def band_masks(
    s: np.ndarray, exact_edges: bool = False, bands: Sequence[tuple[float, float]] = SEED_BANDS
) -> list[tuple[float, float, np.ndarray]]:
    """Masks of the distance bands.

    As executed (B16): `lo <= s < hi` for lo > 0 and `0 < s <= hi` for the last band, so s = 1.0
    is in no band and s = 0.05 is counted twice. `exact_edges`: half-open `[lo, hi)` bands with
    the top band closed, covering [0, 1] once.
    """
    s = np.asarray(s)
    top = max(hi for _, hi in bands)
    out = []
    for lo, hi in bands:
        if exact_edges:
            mask = (s >= lo) & ((s < hi) | ((hi == top) & (s <= hi)))
        elif lo > 0:
            mask = (s >= lo) & (s < hi)
        else:
            mask = (s > lo) & (s <= hi)
        out.append((lo, hi, mask))
    return out


def distance_bands(
    s: np.ndarray,
    cos_static: np.ndarray,
    cos_encoder: np.ndarray,
    exact_edges: bool = False,
    min_pairs: int = MIN_BAND_PAIRS,
) -> list[dict[str, Any]]:
    """Mean static and encoder cosine per band; bands with fewer than `min_pairs` are skipped."""
    if not len(s) == len(cos_static) == len(cos_encoder):
        raise ValueError(
            f"s, cos_static, cos_encoder must have equal lengths; got {len(s)}, "
            f"{len(cos_static)}, {len(cos_encoder)}"
        )
    rows = []
    for lo, hi, mask in band_masks(s, exact_edges):
        n = int(mask.sum())
        if n < min_pairs:
            continue
        st, en = float(cos_static[mask].mean()), float(cos_encoder[mask].mean())
        rows.append({"lo": lo, "hi": hi, "n": n, "static": st, "encoder": en, "gap": en - st})
    return rows


def band_gradient(
    s: np.ndarray, cos: np.ndarray, high: float = GRADIENT_HIGH, low: float = GRADIENT_LOW
) -> float:
    """D11: `mean(cos | s >= high) - mean(cos | s < low)` (NaN if either side is empty)."""
    hi, lo = np.asarray(s) >= high, np.asarray(s) < low
    if not hi.any() or not lo.any():
        return float("nan")
    return float(cos[hi].mean() - cos[lo].mean())


def pentachoron_comparison(
    static: np.ndarray, encoder: np.ndarray, simplices: np.ndarray
) -> dict[str, Any]:
    """Volumes of the same simplices in both spaces (D1).

    `paired_corr` pairs by index where both are valid (B11 fixed); `truncated_corr` is the seed's
    `corrcoef(vs[:m], ve[:m])` over the separately filtered lists (as executed). Each is None
    when undefined (fewer than 2 volumes, or constant ones), with `<key>_reason` saying why.
    """
    vs = cayley_menger_volumes(np.asarray(static)[simplices])
    ve = cayley_menger_volumes(np.asarray(encoder)[simplices])
    both = np.isfinite(vs) & np.isfinite(ve)
    fs, fe = vs[np.isfinite(vs)], ve[np.isfinite(ve)]
    m = min(len(fs), len(fe))
    names = ("the static volumes", "the encoder volumes")
    paired, paired_reason = correlation(vs[both], ve[both], names)
    truncated, truncated_reason = correlation(fs[:m], fe[:m], names)
    return {
        "static": volume_summary(vs),
        "encoder": volume_summary(ve),
        "n_both_valid": int(both.sum()),
        "paired_corr": None if paired_reason else paired,
        "paired_corr_reason": paired_reason,
        "truncated_corr": None if truncated_reason else truncated,
        "truncated_corr_reason": truncated_reason,
        "pairing_broken": bool(m != len(simplices) or len(fs) != len(fe)),
        "volumes_static": vs,
        "volumes_encoder": ve,
    }


def first_hypernym(parents: Sequence[Any]) -> Any:
    """The hypernym a chain walk follows: smallest (pos, offset), whatever nltk's set order."""
    return min(parents, key=lambda s: (s.pos(), s.offset()))


def hypernym_chains(
    matched: Sequence[Any],
    max_steps: int = 10,
    min_len: int = 3,
    first: Callable[[Sequence[Any]], Any] = first_hypernym,
    stall: bool = False,
) -> list[list[int]]:
    """Chains of matched indices [root, 1st matched ancestor, 2nd, ...] (B3 adopted).

    Each synset's first index in `matched` is its root; the walk takes the first hypernym up to
    `max_steps` times (stopping where there is none), continuing through unmatched ancestors, and
    appends each matched one. Chains shorter than `min_len` are dropped. `stall`: B3's other
    reading, `current = parent` inside the `if`, so the walk stops moving at an unmatched parent.
    `first` picks the hypernym followed (B17; default `first_hypernym`).

    "First" is the seed's `hypernyms()[0]`, but nltk builds that list from a Python *set* of
    (pos, offset) pointers, so its order changes with PYTHONHASHSEED from one process to the next
    (dog.n.01: canine.n.02 or domestic_animal.n.01). The walk takes the hypernym with the smallest
    (pos, offset) instead, the same in every run (resolution B17 in the report).
    """
    index: dict[Any, int] = {}
    for i, item in enumerate(matched):
        index.setdefault(item[1], i)
    chains = []
    for syn, idx in index.items():
        chain, current = [idx], syn
        for _ in range(max_steps):
            parents = current.hypernyms()
            if not parents:
                break
            parent = first(parents)
            if parent in index:
                chain.append(index[parent])
            elif stall:
                break  # the walk would stay at `current` and meet the same parent again
            current = parent
        if len(chain) >= min_len:
            chains.append(chain)
    return chains


def chain_cosines(Xn: np.ndarray, chains: Sequence[Sequence[int]], d: int) -> np.ndarray:
    pairs = np.array([(c[0], c[d]) for c in chains if len(c) > d], dtype=np.int64).reshape(-1, 2)
    return (Xn[pairs[:, 0]] * Xn[pairs[:, 1]]).sum(axis=1)


def depth_decay(
    static: np.ndarray, encoder: np.ndarray, chains: Sequence[Sequence[int]], max_depth: int = 8
) -> list[dict[str, Any]]:
    """Mean cosine of each chain's root with its d-th matched ancestor, d = 1..D-1 with
    D = min(max_depth, longest chain), and its sd over the chains (ddof 1; None with one
    chain), which the figure's interval of the mean reads; depths with no chain are left out."""
    if not chains:
        return []
    depth = min(max_depth, max(len(c) for c in chains))
    sn, en = normalize_rows(np.asarray(static)), normalize_rows(np.asarray(encoder))
    rows = []
    for d in range(1, depth):
        cs, ce = chain_cosines(sn, chains, d), chain_cosines(en, chains, d)
        if len(cs):
            rows.append({"depth": d, "n": len(cs), "static": float(cs.mean()),
                         "encoder": float(ce.mean()),
                         "static_sd": float(cs.std(ddof=1)) if len(cs) > 1 else None,
                         "encoder_sd": float(ce.std(ddof=1)) if len(ce) > 1 else None})
    return rows


def lexname_groups(matched: Sequence[Any], min_n: int = 10) -> dict[str, list[int]]:
    """Indices per `synset.lexname()`, groups with >= `min_n`, largest first (stable)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(matched):
        groups[item[1].lexname()].append(i)
    ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    return {name: idx for name, idx in ordered if len(idx) >= min_n}


def lexname_intra(
    static: np.ndarray, encoder: np.ndarray, groups: dict[str, list[int]], cap: int = 200
) -> list[dict[str, Any]]:
    """Mean upper-triangle cosine of the first `cap` members (matched order) of each group."""
    rows = []
    for name, idx in groups.items():
        take = np.asarray(idx[:cap])
        st = mean_intra_cosine(np.asarray(static)[take])
        en = mean_intra_cosine(np.asarray(encoder)[take])
        rows.append({"lexname": name, "n": len(idx), "static": st, "encoder": en,
                     "lift": en - st})
    return rows


def wordnet_alignment(
    static: np.ndarray,
    encoder: np.ndarray,
    matched: Sequence[Any],
    seed: int = 42,
    n_rel: int = 3000,
    n_pairs: int = 500_000,
    n_simplices: int = 1000,
    n_scatter: int = 50_000,
    exact_edges: bool = False,
    hist_bins: int = 200,
) -> dict[str, Any]:
    """§2 in the seed's rng order: pairs, then simplices, then the scatter subsample."""
    check_reps(static, encoder, matched)
    static, encoder = np.asarray(static), np.asarray(encoder)
    n = len(matched)
    rng = np.random.default_rng(seed)
    rel, pi, pj, s = relational_sample(matched, rng, n_rel, n_pairs)
    cs, ce = pair_cosines(static[rel], pi, pj), pair_cosines(encoder[rel], pi, pj)
    corr_s, corr_e = relational_correlation(s, cs), relational_correlation(s, ce)
    simplices = sample_simplices(n, n_simplices, rng)
    volumes = pentachoron_comparison(static, encoder, simplices)
    sub = rng.choice(len(s), size=min(n_scatter, len(s)), replace=False)
    chains = hypernym_chains(matched)
    out: dict[str, Any] = {
        "n_matched": n,
        "n_rel": len(rel),
        "n_pairs_drawn": n_pairs,
        "n_pairs": len(s),
        "similarity_values": {str(v): int(c) for v, c in zip(*np.unique(s, return_counts=True),
                                                              strict=True)},
        "static": corr_s,
        "encoder": corr_e,
        "lift": correlation_lift(corr_s, corr_e),
        "bands": distance_bands(s, cs, ce, exact_edges=exact_edges),
        "gradient": {"static": band_gradient(s, cs), "encoder": band_gradient(s, ce)},
        "pentachora": {k: v for k, v in volumes.items() if not k.startswith("volumes_")},
        "n_chains": len(chains),
        "depth_decay": depth_decay(static, encoder, chains),
        "lexnames": lexname_intra(static, encoder, lexname_groups(matched)),
        "scatter": {"s": s[sub].tolist(), "static": cs[sub].astype(float).tolist(),
                    "encoder": ce[sub].astype(float).tolist()},
        "volumes": {"static": _nan_to_none(volumes["volumes_static"]),
                    "encoder": _nan_to_none(volumes["volumes_encoder"])},
    }
    if static.shape[1] == encoder.shape[1]:
        per_token = row_cosine(static, encoder)
        counts, edges = np.histogram(per_token, bins=hist_bins)
        out["static_encoder_cosine"] = {"mean": float(per_token.mean()),
                                        "std": float(per_token.std()),
                                        "hist_counts": counts.tolist(),
                                        "hist_edges": edges.tolist()}
    return out


def _nan_to_none(v: np.ndarray) -> list[float | None]:
    return [float(x) if np.isfinite(x) else None for x in v]


# --- baselines of the alignment (issue 16) and what each defect changes -----------------------

BASELINES = ("tfidf", "random_encoder", "noun_only")
BASELINE_WHAT = {
    "tfidf": "cosine of the definitions' TF-IDF vectors (no model): what word overlap between "
             "definitions alone gives",
    "random_encoder": "the same architecture at random initialization encoding the same "
                      "definitions, pooled as the encoder",
    "noun_only": "the encoder on the pairs whose two lemmas are nouns (none through nltk's fake "
                 "root)",
}


def _correlation_row(s: np.ndarray, cos: np.ndarray, what: str) -> dict[str, Any]:
    if len(s) < 3:
        nan = float("nan")
        return {"pearson": nan, "spearman": nan, "n_pairs": len(s), "what": what,
                "reason": f"undefined: {len(s)} pairs, fewer than 3"}
    corr = relational_correlation(s, cos)
    return {"pearson": corr["pearson"], "spearman": corr["spearman"], "n_pairs": len(s),
            "what": what, "reason": corr["reason"]}


def baseline_alignment(
    sample: RelationalSample,
    matched: Sequence[Any],
    encoder: np.ndarray,
    reps: Mapping[str, Any],
    noun_only: bool = True,
) -> dict[str, dict[str, Any]]:
    """The encoder's alignment statistic (Pearson and Spearman of path similarity vs cosine, on
    `sample`'s pairs) for other representations of the matched lemmas and for noun pairs.

    `reps`: name (`tfidf`, `random_encoder`) -> [N, d] rows in `matched` order (dense, or
    sparse for TF-IDF). `noun_only`: the encoder restricted to noun-noun pairs.
    """
    out: dict[str, dict[str, Any]] = {}
    for name, X in reps.items():
        if name not in BASELINE_WHAT or name == "noun_only":
            raise ValueError(f"unknown baseline representation {name!r}; known: tfidf, "
                             "random_encoder")
        if X.shape[0] != len(matched):
            raise ValueError(f"baseline {name}: {X.shape[0]} rows for {len(matched)} matched "
                             "lemmas; give one row per matched lemma")
        out[name] = _correlation_row(sample.s, pair_cosines(X[sample.rel], sample.pi, sample.pj),
                                     BASELINE_WHAT[name])
    if noun_only:
        noun = np.array([matched[i][1].pos() == "n" for i in sample.rel], dtype=bool)
        both = noun[sample.pi] & noun[sample.pj]
        cos = pair_cosines(np.asarray(encoder)[sample.rel], sample.pi[both], sample.pj[both])
        out["noun_only"] = _correlation_row(sample.s[both], cos, BASELINE_WHAT["noun_only"])
    return out


def effect(number: str, as_executed: float | None, taken: float | None, what: str,
           **extra: Any) -> dict[str, Any]:
    """One defect's effect: `difference` = as_executed - taken (None where either is
    undefined, never a difference of NaN)."""
    values = [None if v is None or not np.isfinite(v) else float(v) for v in (as_executed, taken)]
    difference = values[0] - values[1] if None not in values else None
    return {"number": number, "as_executed": values[0], "taken": values[1],
            "difference": difference, "what": what, **extra}


def last_hypernym(parents: Sequence[Any]) -> Any:
    """The hypernym with the largest (pos, offset): another order nltk's hashed set can give."""
    return max(parents, key=lambda s: (s.pos(), s.offset()))


def _depth1(encoder_n: np.ndarray, chains: Sequence[Sequence[int]]) -> float | None:
    return float(chain_cosines(encoder_n, chains, 1).mean()) if chains else None


def defect_effects(
    encoder: np.ndarray,
    matched: Sequence[Any],
    sample: RelationalSample,
    pentachora: Mapping[str, Any],
) -> dict[str, dict[str, Any]]:
    """Five defects of SPEC-terrain's table computed both ways in one run, keyed by what each
    changes (`EFFECT_DEFECTS` gives their codes): `hypernym_walk` (B3, the hypernym walk's
    nesting), `fake_root` (B10, nltk's simulated root), `volume_pairing` (B11, pentachoron volumes
    paired by truncation), `band_edges` (B16, the distance bands' edges) and `hypernym_order`
    (B17, which hypernym the walk follows).

    `sample`: the §2 pairs; `pentachora`: the §2 block (`pentachoron_comparison`), whose paired
    and truncated correlations are the volume pairing's two ways.
    """
    encoder_n = normalize_rows(np.asarray(encoder, dtype=np.float32))
    depth1 = "mean encoder cosine of a chain's root and its 1st matched ancestor (§2 chains)"
    taken = hypernym_chains(matched)
    stalled = hypernym_chains(matched, stall=True)
    other = hypernym_chains(matched, first=last_hypernym)
    by_root = {c[0]: c for c in taken}
    differ = sum(by_root.get(c[0]) != c for c in other) + len(set(by_root) - {c[0] for c in other})
    synsets = [matched[i][1] for i in sample.rel]
    with_root = path_distance_matrix(synsets)[sample.pi, sample.pj]
    without = path_distance_matrix(synsets, simulate_root=False)[sample.pi, sample.pj]
    real = with_root == without  # the fake root sets no pair's distance here
    cos = pair_cosines(np.asarray(encoder)[sample.rel], sample.pi, sample.pj)
    full = _correlation_row(sample.s, cos, "")
    kept = _correlation_row(sample.s[real], cos[real], "")
    count = {edges: int(sum(m.sum() for *_, m in band_masks(sample.s, exact_edges=edges)))
             for edges in (False, True)}
    return {
        "hypernym_walk": effect(depth1, _depth1(encoder_n, stalled), _depth1(encoder_n, taken),
                     "as executed: the other reading of the lost indentation (`current = parent` "
                     "inside the `if`: the walk stops at an unmatched parent); taken: the walk "
                     "continues through unmatched ancestors",
                     n_chains={"as_executed": len(stalled), "taken": len(taken)}),
        "fake_root": effect("encoder Pearson r (§2 pairs)", full["pearson"], kept["pearson"],
                      "as executed (and reported): every pair, nltk's fake root included; "
                      "beside it: the pairs whose path distance the fake root does not set",
                      fake_root_share=float(1.0 - real.mean()) if len(real) else None,
                      n_pairs={"as_executed": len(cos), "taken": int(real.sum())}),
        "volume_pairing": effect("Pearson r of static vs encoder pentachoron volumes",
                      pentachora["truncated_corr"], pentachora["paired_corr"],
                      "as executed: volumes paired by truncation of the separately filtered "
                      "lists; taken: paired by simplex with both validity masks",
                      n_both_valid=pentachora["n_both_valid"],
                      pairing_broken=pentachora["pairing_broken"]),
        "band_edges": effect("pairs counted in the distance bands", count[False], count[True],
                      "as executed: s = 1.0 in no band, s = 0.05 in two; taken (exact_edges): "
                      "half-open bands covering [0, 1] once",
                      n_pairs=len(sample.s), n_s_one=int((sample.s == 1.0).sum()),
                      n_s_005=int(np.isclose(sample.s, 0.05).sum())),
        "hypernym_order": effect(depth1, _depth1(encoder_n, other), _depth1(encoder_n, taken),
                      "as executed nltk follows hypernyms()[0], whose order changes with "
                      "PYTHONHASHSEED; shown: the walk through the largest (pos, offset) "
                      "hypernym, one order a process can give; taken: the smallest, every run",
                      n_chains_differing=int(differ)),
    }
