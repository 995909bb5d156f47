"""WordNet path and Wu-Palmer similarity in bulk, equal to NLTK 3.10's (SPEC-terrain D9).

NLTK's semantics, reproduced exactly:

- distances are BFS distances over `hypernyms()` and `instance_hypernyms()`; the path distance
  of a pair is the minimum over shared ancestors (a synset is its own ancestor at 0) of the sum of
  the two distances;
- with `simulate_root` (default) a pair where either synset `_needs_root()` (every non-noun in
  WordNet 3.0) also meets at a fake `*ROOT*`, placed one step above each synset's farthest
  ancestor; so adjective/adverb pairs give 1/3 and never None;
- Wu-Palmer takes the shared ancestors of greatest `min_depth()` (the fake root has depth 0),
  sorted by name, and uses the first synset itself if it is one of them, else the first by name;
  `depth = max_depth() + 1` (1 for the fake root); the two lengths are path distances to it.

`Hierarchy` stores, for a set of synsets and all their ancestors, each synset's BFS distances as
sorted arrays (CSR). Pairs are then vectorized: expand one side's ancestors, look them up in the
other side's with `searchsorted`, reduce per pair. For many pairs over one fixed set of synsets,
`path_distance_matrix` builds the dense matrix by grouping the set's members under each shared
ancestor (`np.minimum.outer` per group); gathers from it are then free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

FAKE_ROOT = "*ROOT*"
NO_PATH = np.iinfo(np.int32).max
DENSE_NO_PATH = 255  # uint8 sentinel in `path_distance_matrix`
PAIR_CHUNK = 250_000


def _needs_root(synsets: Sequence[Any]) -> np.ndarray:
    """NLTK's `Synset._needs_root()` (non-nouns; nouns too in WordNet 1.6), version read once."""
    versions: dict[int, str] = {}
    out = np.empty(len(synsets), dtype=bool)
    for k, syn in enumerate(synsets):
        reader = syn._wordnet_corpus_reader
        if id(reader) not in versions:
            versions[id(reader)] = reader.get_version()
        out[k] = syn.pos() != "n" or versions[id(reader)] == "1.6"
    return out


def _check_pairs(a: Sequence, b: Sequence) -> None:
    if len(a) != len(b):
        raise ValueError(
            f"a and b must have equal lengths (got {len(a)} and {len(b)}): pass one synset "
            "per pair on each side"
        )


class Hierarchy:
    """Hypernym distances of a set of synsets and of all their ancestors, as arrays.

    Node `i` is `self.nodes[i]`; `self.index(synsets)` maps synsets to node ids. For node i,
    `anc[ptr[i]:ptr[i+1]]` are its ancestors' node ids (ascending, itself included) and `dist`
    their BFS distances.
    """

    def __init__(self, synsets: Sequence[Any]) -> None:
        self.nodes: list[Any] = []
        self._id: dict[Any, int] = {}
        self._paths: dict[Any, dict[Any, int]] = {}
        self._depths: dict[Any, tuple[int, int]] = {}
        for syn in dict.fromkeys(synsets):
            self._walk(syn, frozenset())
        paths = [self._paths[s] for s in self.nodes]
        min_max = [self._depths[s] for s in self.nodes]
        del self._paths, self._depths
        m = len(self.nodes)
        self.n_nodes = m
        counts = np.fromiter((len(p) for p in paths), dtype=np.int64, count=m)
        self.ptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(counts, out=self.ptr[1:])
        anc = np.fromiter(
            (self._id[s] for p in paths for s in p), dtype=np.int64, count=int(self.ptr[-1])
        )
        dist = np.fromiter((d for p in paths for d in p.values()), np.int64, int(self.ptr[-1]))
        rows = np.repeat(np.arange(m), counts)
        order = np.lexsort((anc, rows))
        self.anc, self.dist = anc[order], dist[order]
        self.keys = rows * m + self.anc  # ascending: rows, then ancestors
        self.height = np.maximum.reduceat(dist, self.ptr[:-1]) if m else np.zeros(0, np.int64)
        self.needs_root = _needs_root(self.nodes)
        self.min_depth, self.max_depth = np.array(min_max, dtype=np.int64).reshape(m, 2).T
        names = [s.name() for s in self.nodes]
        ranked = sorted([*names, FAKE_ROOT])  # Python's str order, as NLTK's `sorted(synsets)`
        rank = {name: r for r, name in enumerate(ranked)}
        self._radix = len(ranked)
        self.fake_key = -rank[FAKE_ROOT]  # min_depth 0
        self.node_key = self.min_depth * self._radix - np.array([rank[n] for n in names])
        self._key_order = np.argsort(self.node_key)

    def _walk(self, syn: Any, visiting: frozenset) -> dict[Any, int]:
        """BFS distances of `syn` as a DAG recursion: self at 0, else 1 + the parents' minimum.

        Equal to NLTK's breadth-first `_shortest_hypernym_paths` on an acyclic graph; the depths
        follow NLTK's `min_depth` / `max_depth` recursions over the same relations.
        """
        path = self._paths.get(syn)
        if path is not None:
            return path
        if syn in visiting:
            raise ValueError(f"hypernym graph has a cycle at {syn.name()!r}")
        visiting = visiting | {syn}
        parents = syn.hypernyms() + syn.instance_hypernyms()
        path = {syn: 0}
        for parent in parents:
            for anc, d in self._walk(parent, visiting).items():
                if d + 1 < path.get(anc, NO_PATH):
                    path[anc] = d + 1
        if parents:
            depths = [self._depths[p] for p in parents]
            self._depths[syn] = (1 + min(d[0] for d in depths), 1 + max(d[1] for d in depths))
        else:
            self._depths[syn] = (0, 0)
        self._paths[syn] = path
        self._id[syn] = len(self.nodes)
        self.nodes.append(syn)
        return path

    def index(self, synsets: Sequence[Any]) -> np.ndarray:
        """Node ids of `synsets` (each must be in the hierarchy)."""
        try:
            return np.fromiter((self._id[s] for s in synsets), dtype=np.int64, count=len(synsets))
        except KeyError as exc:
            raise ValueError(
                f"synset {exc.args[0]!r} is not in this Hierarchy: build it over all the synsets "
                "you will query"
            ) from None

    def lookup(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distance from node `rows[k]` up to node `cols[k]`, found mask)."""
        query = rows * self.n_nodes + cols
        at = np.searchsorted(self.keys, query)
        at = np.minimum(at, len(self.keys) - 1)
        found = self.keys[at] == query
        return np.where(found, self.dist[at], 0), found

    def _expand(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each pair's ancestor entries of `u`: (pair index, entry index, segment starts)."""
        counts = self.ptr[u + 1] - self.ptr[u]
        starts = np.zeros(len(u), dtype=np.int64)
        np.cumsum(counts[:-1], out=starts[1:])
        pair = np.repeat(np.arange(len(u)), counts)
        entry = np.repeat(self.ptr[u] - starts, counts) + np.arange(int(counts.sum()))
        return pair, entry, starts

    def path_distance(self, u: np.ndarray, v: np.ndarray, root: np.ndarray) -> np.ndarray:
        """Shortest path distances of node pairs (NO_PATH where none); `root`: fake root on."""
        pair, entry, starts = self._expand(u)
        dv, found = self.lookup(v[pair], self.anc[entry])
        cand = np.where(found, self.dist[entry] + dv, NO_PATH)
        best = np.minimum.reduceat(cand, starts)
        via_root = self.height[u] + self.height[v] + 2
        return np.where(root, np.minimum(best, via_root), best)

    def wup(self, u: np.ndarray, v: np.ndarray, root: np.ndarray) -> np.ndarray:
        """Wu-Palmer similarity of node pairs (NaN where NLTK returns None)."""
        pair, entry, starts = self._expand(u)
        c = self.anc[entry]
        _, found = self.lookup(v[pair], c)
        key = np.where(found, self.node_key[c], np.iinfo(np.int64).min)
        best = np.maximum.reduceat(key, starts)
        best = np.where(root, np.maximum(best, self.fake_key), best)
        none = best == np.iinfo(np.int64).min
        fake = root & (best == self.fake_key)
        at = np.searchsorted(self.node_key, best, sorter=self._key_order)
        s = self._key_order[np.minimum(at, self.n_nodes - 1)]
        best_depth = np.where(fake, 0, self.min_depth[s])
        _, u_above_v = self.lookup(v, u)
        own = u_above_v & (self.min_depth[u] == best_depth)  # NLTK: `self in subsumers`
        s = np.where(own, u, s)
        fake &= ~own
        real = ~fake & ~none
        depth = np.where(fake, 1, self.max_depth[s] + 1)
        len1 = self.height[u] + 1  # to the fake root
        len2 = self.height[v] + 1
        if real.any():
            len1[real] = self.path_distance(u[real], s[real], root[real])
            len2[real] = self.path_distance(v[real], s[real], root[real])
        out = (2.0 * depth) / (len1 + len2 + 2 * depth)
        out[none] = np.nan
        return out

    def pair_root(self, u: np.ndarray, v: np.ndarray, simulate_root: bool) -> np.ndarray:
        """Whether NLTK adds the fake root for each pair."""
        if not simulate_root:
            return np.zeros(len(u), dtype=bool)
        return self.needs_root[u] | self.needs_root[v]


def _chunked(fn, u: np.ndarray, v: np.ndarray, root: np.ndarray) -> np.ndarray:
    parts = [
        fn(u[k : k + PAIR_CHUNK], v[k : k + PAIR_CHUNK], root[k : k + PAIR_CHUNK])
        for k in range(0, len(u), PAIR_CHUNK)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def _prepare(a: Sequence, b: Sequence, simulate_root: bool, hierarchy: Hierarchy | None):
    _check_pairs(a, b)
    h = hierarchy if hierarchy is not None else Hierarchy([*a, *b])
    u, v = h.index(a), h.index(b)
    return h, u, v, h.pair_root(u, v, simulate_root)


def path_similarities(
    a: Sequence[Any],
    b: Sequence[Any],
    simulate_root: bool = True,
    hierarchy: Hierarchy | None = None,
) -> np.ndarray:
    """`a[i].path_similarity(b[i], simulate_root=...)` for every i; NaN where NLTK gives None."""
    h, u, v, root = _prepare(a, b, simulate_root, hierarchy)
    d = _chunked(h.path_distance, u, v, root)
    return np.where(d == NO_PATH, np.nan, 1.0 / (d + 1.0))


def wup_similarities(
    a: Sequence[Any],
    b: Sequence[Any],
    simulate_root: bool = True,
    hierarchy: Hierarchy | None = None,
) -> np.ndarray:
    """`a[i].wup_similarity(b[i], simulate_root=...)` for every i; NaN where NLTK gives None."""
    h, u, v, root = _prepare(a, b, simulate_root, hierarchy)
    return _chunked(h.wup, u, v, root).astype(np.float64)


def path_distance_matrix(synsets: Sequence[Any], simulate_root: bool = True) -> np.ndarray:
    """Dense uint8 [n, n] path distances over `synsets` (DENSE_NO_PATH where none).

    Groups the rows under each shared ancestor and takes `np.minimum.outer` of their distances
    within the group; the fake root joins pairs where either side needs it.
    """
    if len(synsets) == 0:
        raise ValueError("path_distance_matrix needs at least one synset (got an empty set)")
    h = Hierarchy(synsets)
    rows = h.index(synsets)
    n = len(rows)
    # (ancestor, row) entries of the set's rows, grouped by ancestor
    pair, entry, _ = h._expand(rows)
    anc, dist = h.anc[entry], h.dist[entry]
    order = np.lexsort((pair, anc))
    anc, dist, pair = anc[order], dist[order], pair[order]
    bounds = np.flatnonzero(np.diff(anc)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(anc)]])
    if int(h.height.max(initial=0)) * 2 + 2 >= DENSE_NO_PATH:
        raise ValueError("hypernym distances too large for a uint8 matrix")
    out = np.full((n, n), DENSE_NO_PATH, dtype=np.uint8)
    for lo, hi in zip(starts[ends - starts > 1], ends[ends - starts > 1], strict=True):
        members = pair[lo:hi]
        d = dist[lo:hi].astype(np.uint8)
        block = np.ix_(members, members)
        out[block] = np.minimum(out[block], np.add.outer(d, d))
    np.fill_diagonal(out, 0)
    if simulate_root:
        need = h.needs_root[rows]
        height = h.height[rows].astype(np.uint8)
        via_root = np.add.outer(height, height) + np.uint8(2)
        joined = need[:, None] | need[None, :]
        np.minimum(out, np.where(joined, via_root, DENSE_NO_PATH).astype(np.uint8), out=out)
    return out


def similarity_from_distance(d: np.ndarray) -> np.ndarray:
    """Path similarity 1/(d+1) from distances (NaN at DENSE_NO_PATH / NO_PATH)."""
    d = np.asarray(d)
    missing = d == (DENSE_NO_PATH if d.dtype == np.uint8 else NO_PATH)
    return np.where(missing, np.nan, 1.0 / (d.astype(np.float64) + 1.0))
