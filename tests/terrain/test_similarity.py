"""lib.terrain.similarity: bulk path / Wu-Palmer similarity equal to NLTK, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from lib.terrain import wordnet
from lib.terrain.similarity import (
    Hierarchy,
    path_distance_matrix,
    similarity_from_distance,
)


@pytest.fixture(scope="module")
def wn():
    wordnet.ensure_wordnet()
    from nltk.corpus import wordnet as corpus

    return corpus


@pytest.fixture(scope="module")
def pool(wn):
    """2,500 random synsets over all parts of speech (by data-file offset, without walking all)."""
    offsets = sorted({("a" if p == "s" else p, o)
                      for forms in wn._lemma_pos_offset_map.values()
                      for p, offs in forms.items() for o in offs})
    pick = np.random.default_rng(7).choice(len(offsets), 2500, replace=False)
    return [wn.synset_from_pos_and_offset(*offsets[k]) for k in pick]


def _nltk(fn, a, b, **kw):
    out = [getattr(x, fn)(y, **kw) for x, y in zip(a, b, strict=True)]
    return np.array([np.nan if v is None else v for v in out], dtype=np.float64)


@pytest.fixture(scope="module")
def pairs(wn, pool):
    rng = np.random.default_rng(1)
    i, j = rng.choice(len(pool), 10_000), rng.choice(len(pool), 10_000)
    a, b = [pool[k] for k in i], [pool[k] for k in j]
    a += pool[:100]  # same-synset pairs
    b += pool[:100]
    named = [("dog.n.01", "run.v.01"), ("red.s.01", "dog.n.01"), ("good.a.01", "well.r.01"),
             ("run.v.01", "walk.v.01"), ("dog.n.01", "dog.n.01"), ("entity.n.01", "dog.n.01"),
             ("dog.n.01", "entity.n.01"), ("good.a.01", "bad.a.01")]
    a += [wn.synset(x) for x, _ in named]
    b += [wn.synset(y) for _, y in named]
    poses = {s.pos() for s in a + b}
    assert poses == {"n", "v", "a", "s", "r"}
    return a, b


def test_path_similarities_equal_nltk_exactly(pairs) -> None:
    a, b = pairs
    ours, ref = wordnet.path_similarities(a, b), _nltk("path_similarity", a, b)
    assert ours.dtype == np.float64
    assert not np.isnan(ref).any()  # never None with simulate_root (B10)
    assert np.array_equal(ours, ref)


def test_wup_similarities_equal_nltk_exactly(pairs) -> None:
    a, b = pairs
    ours, ref = wordnet.wup_similarities(a, b), _nltk("wup_similarity", a, b)
    assert np.array_equal(ours, ref, equal_nan=True)


def test_without_root_nan_where_nltk_gives_none(wn, pool) -> None:
    verbs = [s for s in pool if s.pos() in "var"][:300]
    a, b = verbs[:150] * 2, verbs[150:] + verbs[:150]
    for fn, ours in (("path_similarity", wordnet.path_similarities(a, b, simulate_root=False)),
                     ("wup_similarity", wordnet.wup_similarities(a, b, simulate_root=False))):
        ref = _nltk(fn, a, b, simulate_root=False)
        assert np.isnan(ref).sum() > 50
        assert np.array_equal(ours, ref, equal_nan=True)


def test_known_values(wn) -> None:
    s = wn.synset
    a = [s("dog.n.01"), s("good.a.01"), s("dog.n.01"), s("fast.r.01")]
    b = [s("cat.n.01"), s("bad.a.01"), s("dog.n.01"), s("good.a.01")]
    assert wordnet.path_similarities(a, b).tolist() == [0.2, 1 / 3, 1.0, 1 / 3]
    wup = wordnet.wup_similarities(a, b)
    assert wup[[1, 3]].tolist() == [0.5, 0.5]  # adjective/adverb pairs meet at the fake root
    # NLTK quirk kept: dog's deepest-min_depth ancestor is not dog itself (two parents), so
    # wup(dog, dog) = 2*13 / (1 + 1 + 2*13) < 1
    assert wup[2] == a[2].wup_similarity(b[2]) == 26 / 28
    # verb with one parent vs a noun 7 deep: the fake root subsumes, 2 / ((1+1) + (7+1) + 2)
    verify, torus = s("verify.v.01"), s("torus.n.02")
    assert wordnet.wup_similarities([verify], [torus])[0] == verify.wup_similarity(torus) == 1 / 6


def test_dense_matrix_equals_pairwise(pool) -> None:
    subset = pool[:300] + pool[:20]  # duplicates share every ancestor
    D = path_distance_matrix(subset)
    assert D.dtype == np.uint8 and D.shape == (320, 320)
    i, j = np.triu_indices(320, k=0)
    ref = wordnet.path_similarities([subset[x] for x in i], [subset[y] for y in j])
    assert np.array_equal(similarity_from_distance(D[i, j]), ref)
    assert np.array_equal(D, D.T)
    assert (D[np.arange(300), np.arange(300)] == 0).all() and (D[:20, 300:].diagonal() == 0).all()


def test_bad_inputs(wn) -> None:
    dog = wn.synset("dog.n.01")
    with pytest.raises(ValueError, match="equal lengths"):
        wordnet.path_similarities([dog, dog], [dog])
    with pytest.raises(ValueError, match="equal lengths"):
        wordnet.wup_similarities([dog], [])
    with pytest.raises(ValueError, match="empty"):
        path_distance_matrix([])
    with pytest.raises(ValueError, match="not in this Hierarchy"):
        wordnet.path_similarities([dog], [dog], hierarchy=Hierarchy([wn.synset("cat.n.01")]))
    assert wordnet.path_similarities([], []).shape == (0,)
