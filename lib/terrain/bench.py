"""Speed of the WordNet kernels against NLTK, with identical values checked.

`run(quick)` returns rows {what, n, ours_s, reference_s, ratio, max_abs_diff, goal, met, note};
`met` is the goal and identical values (max |diff| <= 1e-12) together:

(a) §2: path similarity of 500,000 pairs drawn from 3,000 matched synsets; ours includes the
    precomputation (the dense distance matrix); NLTK's `path_similarity` is timed on a subsample
    of the pairs and extrapolated per pair (said in `note`); goal >= 50x.
(b) Wu-Palmer of all pairs i < j of 3,000 matched synsets (4,498,500 NLTK calls, extrapolated
    from a timed sample); goal >= 50x.
(c) §3: the 50-seed stability test at the seed's sizes on all-MiniLM-L6-v2's real static and
    encoder representations (every matched definition encoded first, not timed); goal < 60 s.
    Its reference is NLTK's per-pair cost (from (a)) times the path similarities the seed
    computed.

The matched set is all-MiniLM-L6-v2's single-token WordNet lemmas. `quick` (a smoke run, not the
goals' workloads) matches lemmas of the first `QUICK_SYNSETS` synsets only, keeps
`QUICK_MATCHED` of them, lets seeded Gaussian rows stand in for the encoder output and shrinks
every size.
"""

from __future__ import annotations

import argparse
import math
import time
from itertools import islice
from typing import Any

import numpy as np

from lib.bench import row
from lib.models import load_model
from lib.terrain.alignment import hypernym_chains, sample_pairs
from lib.terrain.similarity import (
    path_distance_matrix,
    similarity_from_distance,
    wup_similarities,
)
from lib.terrain.simplex import pentachoron_benchmark
from lib.terrain.stability import stability
from lib.terrain.weights import bench as weights_bench
from lib.terrain.wordnet import encode_definitions, ensure_wordnet, match_single_token_lemmas

MODEL = "embedded/all-minilm-l6-v2"
GOAL_RATIO = 50.0
GOAL_STABILITY_S = 60.0
IDENTICAL = 1e-12  # max |ours - NLTK| for "identical values"
QUICK_SYNSETS = 4000
QUICK_MATCHED = 400


def _nltk_values(fn: str, a: list, b: list) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = [getattr(x, fn)(y) for x, y in zip(a, b, strict=True)]
    elapsed = time.perf_counter() - start
    return np.array([np.nan if v is None else v for v in out], dtype=np.float64), elapsed


def _max_abs_diff(ours: np.ndarray, ref: np.ndarray) -> float:
    if not np.array_equal(np.isnan(ours), np.isnan(ref)):
        return float("inf")
    ok = ~np.isnan(ref)
    return float(np.abs(ours[ok] - ref[ok]).max(initial=0.0))


def bench_path_pairs(synsets: list, n_pairs: int, n_reference: int, seed: int = 42) -> dict:
    """(a): dense matrix + gathers for `n_pairs` pairs vs NLTK on `n_reference` of them."""
    rng = np.random.default_rng(seed)
    rel, pi, pj = sample_pairs(len(synsets), len(synsets), n_pairs, rng)
    sub = [synsets[i] for i in rel]
    start = time.perf_counter()
    ours = similarity_from_distance(path_distance_matrix(sub)[pi, pj])
    ours_s = time.perf_counter() - start
    k = min(n_reference, len(pi))
    ref, ref_s = _nltk_values("path_similarity", [sub[i] for i in pi[:k]],
                              [sub[j] for j in pj[:k]])
    reference_s = ref_s / k * len(pi)
    return _row(f"path similarity, {len(pi):,} pairs over {len(sub):,} synsets (§2)", len(pi),
                ours_s, reference_s, _max_abs_diff(ours[:k], ref), f">= {GOAL_RATIO:.0f}x",
                reference_s >= GOAL_RATIO * ours_s,
                f"NLTK timed on {k:,} pairs and extrapolated per pair; ours includes the "
                "dense-matrix precomputation")


def bench_wup_all_pairs(synsets: list, n_reference: int, seed: int = 0) -> dict:
    """(b): Wu-Palmer of all pairs i < j vs NLTK on a random sample of them."""
    i, j = np.triu_indices(len(synsets), k=1)
    start = time.perf_counter()
    ours = wup_similarities([synsets[x] for x in i], [synsets[y] for y in j])
    ours_s = time.perf_counter() - start
    pick = np.random.default_rng(seed).choice(len(i), size=min(n_reference, len(i)),
                                              replace=False)
    ref, ref_s = _nltk_values("wup_similarity", [synsets[x] for x in i[pick]],
                              [synsets[y] for y in j[pick]])
    reference_s = ref_s / len(pick) * len(i)
    return _row(f"Wu-Palmer, all {len(i):,} pairs of {len(synsets):,} synsets", len(i), ours_s,
                reference_s, _max_abs_diff(ours[pick], ref), f">= {GOAL_RATIO:.0f}x",
                reference_s >= GOAL_RATIO * ours_s,
                f"NLTK timed on {len(pick):,} random pairs and extrapolated per pair; ours "
                "includes building the hierarchy arrays")


def bench_stability(static: np.ndarray, encoder: np.ndarray, matched: list, n_seeds: int,
                    nltk_s_per_pair: float, n_check: int = 2000, encoded: str = "") -> dict:
    """(c): `stability` at the seed's sizes; values of seed 0's first pairs checked vs NLTK."""
    chains = hypernym_chains(matched)
    start = time.perf_counter()
    result = stability(static, encoder, matched, chains, n_seeds=n_seeds, progress=False)
    ours_s = time.perf_counter() - start
    n_rel = result["sizes"]["n_rel"]
    rel, pi, pj = sample_pairs(len(matched), n_rel, 200_000, np.random.default_rng(0))
    synsets = [item[1] for item in matched]
    k = min(n_check, len(pi))
    gi, gj = rel[pi[:k]], rel[pj[:k]]
    ours = similarity_from_distance(path_distance_matrix(synsets)[gi, gj])
    ref, _ = _nltk_values("path_similarity", [synsets[x] for x in gi], [synsets[y] for y in gj])
    n_calls = sum(len(sample_pairs(len(matched), n_rel, 200_000, np.random.default_rng(s))[1])
                  for s in range(n_seeds))
    return _row(f"50-seed stability (§3), {n_seeds} seeds on MiniLM", n_calls, ours_s,
                nltk_s_per_pair * n_calls, _max_abs_diff(ours, ref),
                f"< {GOAL_STABILITY_S:.0f} s", ours_s < GOAL_STABILITY_S,
                f"reference: NLTK per-pair cost from (a) x {n_calls:,} path similarities, "
                f"extrapolated; values checked on {k:,} pairs of seed 0; {encoded}".rstrip("; "))


def _row(what: str, n: int, ours_s: float, reference_s: float, max_abs_diff: float, goal: str,
         goal_met: bool, note: str) -> dict[str, Any]:
    return {"what": what, "n": int(n), "ours_s": ours_s, "reference_s": reference_s,
            "ratio": reference_s / ours_s if ours_s > 0 else float("inf"),
            "max_abs_diff": max_abs_diff, "goal": goal,
            "met": bool(goal_met and max_abs_diff <= IDENTICAL), "note": note}


def _minilm(quick: bool) -> tuple[list, np.ndarray, np.ndarray, str]:
    """(matched lemmas, static rows, encoder rows, how the encoder rows were made)."""
    from nltk.corpus import wordnet as wn  # optional: loads the corpus (after ensure_wordnet)

    loaded = load_model(MODEL, dtype="float32")
    synsets = islice(wn.all_synsets(), QUICK_SYNSETS) if quick else None
    matched = match_single_token_lemmas(loaded.tokenizer, synsets)
    table = loaded.model.get_input_embeddings().weight.detach().float().cpu().numpy()
    if quick:  # encoding is ~15 ms a definition on 2 CPU cores: too slow for a smoke run
        matched = matched[:QUICK_MATCHED]
        encoder = np.random.default_rng(0).standard_normal(
            (len(matched), table.shape[1])).astype(np.float32)
        return matched, table[[m.token_id for m in matched]], encoder, (
            "quick: seeded Gaussian rows stand in for the encoder output")
    start = time.perf_counter()
    encoder = encode_definitions(loaded.model, loaded.tokenizer,
                                 [m.definition for m in matched], progress=False)
    encoded = (f"MiniLM's real encoder output: {len(matched):,} definitions encoded in "
               f"{time.perf_counter() - start:.0f} s (not timed)")
    return matched, table[[m.token_id for m in matched]], encoder, encoded


def run(quick: bool = False) -> list[dict[str, Any]]:
    """All three rows; `quick` uses small sizes (a smoke run, not the goals' workloads)."""
    ensure_wordnet()
    matched, static, encoder, encoded = _minilm(quick)
    n_syn = 300 if quick else 3000
    rng = np.random.default_rng(42)
    synsets = [matched[i].synset for i in rng.choice(len(matched), n_syn, replace=False)]
    path_row = bench_path_pairs(synsets, 20_000 if quick else 500_000, 300 if quick else 5000)
    wup_row = bench_wup_all_pairs(synsets, 300 if quick else 3000)
    per_pair = path_row["reference_s"] / path_row["n"]
    stab_row = bench_stability(static, encoder, matched, 3 if quick else 50, per_pair,
                               n_check=300 if quick else 2000, encoded=encoded)
    return [path_row, wup_row, stab_row]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    args = parser.parse_args()
    for r in run(quick=args.quick):
        print(f"{r['what']}: ours {r['ours_s']:.2f} s, NLTK {r['reference_s']:.1f} s "
              f"({r['ratio']:.0f}x, goal {r['goal']}: {'met' if r['met'] else 'NOT met'}), "
              f"max |diff| {r['max_abs_diff']:.3g}"
              f"\n    {row['note']}")


if __name__ == "__main__":
    main()


PENTACHORON_SPEEDUP = 50.0


PENTACHORON_REL_DIFF = 1e-6  # float32 distances: the seed's rounding vs ours


WEIGHTS_REL_DIFF = 1e-9  # per-group mean SV metrics, streamed vs loaded


PENTACHORON_SIZES = {"n": 1000, "d": 512, "repeats": 7}


PENTACHORON_QUICK = {"n": 200, "d": 128, "repeats": 3}


def wordnet_rows(quick: bool) -> list[dict[str, Any]]:
    """§2 path similarity, Wu-Palmer and 50-seed stability rows from `lib.terrain.bench`."""
    return [row("terrain WordNet", r["what"], r["ours_s"], r["reference_s"], "s", r["goal"],
                r["met"], r["max_abs_diff"], r["note"]) for r in run(quick)]


def pentachoron_rows(quick: bool) -> list[dict[str, Any]]:
    """Batched Cayley-Menger vs the seed's loop (values compared where both are valid)."""
    size = PENTACHORON_QUICK if quick else PENTACHORON_SIZES
    r = pentachoron_benchmark(n=size["n"], d=size["d"], repeats=size["repeats"])
    return [row("pentachora", f"{r['n']:,} pentachora in {r['d']}-d (float32), CM volumes",
                r["batched_s"], r["loop_s"], "s",
                f">= {PENTACHORON_SPEEDUP:.0f}x, same validity, rel diff <= 1e-6",
                r["speedup"] >= PENTACHORON_SPEEDUP and r["same_validity"]
                and r["max_rel_diff"] <= PENTACHORON_REL_DIFF,
                r["max_abs_diff"],
                f"reference: the seed's loop (one det per simplex); best of {r['repeats']}, "
                f"interleaved; max rel diff {r['max_rel_diff']:.1e}; floor (numpy's "
                f"points.max(), one vectorized read) {r['floor_s'] * 1e3:.2f} ms, batched / floor "
                f"{r['floor_ratio']:.1f}; "
                f"first call (kernel compile or cache load) {r['first_call_s']:.2f} s")]


def max_rel_diff(a: Any, b: Any) -> float:
    """Largest relative difference over the numeric leaves of two nested dicts (inf if their
    keys differ)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return math.inf
        return max((max_rel_diff(a[k], b[k]) for k in a), default=0.0)
    a, b = float(a), float(b)
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def weight_rows(quick: bool) -> list[dict[str, Any]]:
    """Per model: time and peak memory of the battery streamed vs loaded, SVDs per second."""
    results = weights_bench.run(quick)
    rows = []
    for name in dict.fromkeys(r["model"] for r in results):
        got = {r["variant"]: r for r in results if r["model"] == name}
        streamed, loaded = got["streamed"], got["loaded"]
        diff = max_rel_diff(streamed["sv_mean"], loaded["sv_mean"])
        same = diff <= WEIGHTS_REL_DIFF
        short = name.split("/")[-1]
        rows.append(row("weight battery", f"{short}: time, streamed vs loaded",
                        streamed["seconds"], loaded["seconds"], "s",
                        "streamed not slower, same metrics", streamed["seconds"]
                        <= loaded["seconds"] and same, diff,
                        f"SVDs/s streamed {streamed['svd_per_s'] or 0:.1f}, loaded "
                        f"{loaded['svd_per_s'] or 0:.1f} ({streamed['n_svd']} SVDs); max |diff| "
                        "is relative, per-group mean SV metrics"))
        rows.append(row("weight battery", f"{short}: peak memory, streamed vs loaded",
                        streamed["peak_mb"], loaded["peak_mb"], "MB", "streamed < loaded",
                        streamed["peak_mb"] < loaded["peak_mb"], None,
                        f"RSS high-water mark above imports; largest tensor "
                        f"{streamed['largest_tensor_mb']:.1f} MB; exact peak reset: "
                        f"{streamed['exact_peak'] and loaded['exact_peak']}; "
                        f"{'in one process (quick)' if quick else 'fresh subprocess each'}"))
    return rows
