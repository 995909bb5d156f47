"""Geometric Terrain Analysis: the geometry of embeddings and frozen weights (seed 004 §1-§6, §13).

`wordnet` (WordNet 3.0 offline, lemma matching, path and Wu-Palmer similarity in bulk), and the
geometry modules: `simplex`, `spectra`, `cosine`, `embeddings`, `layers`, `procrustes`,
`stability`, `weights`.
"""
