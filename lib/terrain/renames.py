"""The terrain results keys (and protocol names) renamed from the seed's section numbers and
defect codes to what they measure (`lib.renames`; `python -m lib.renames table` prints them).
The codes stay where a reader needs them: `alignment.EFFECT_DEFECTS`, the effects table's
labels and the resolutions of `lib/claims.yaml`.

The embedding protocol's parameter values `section1` and `section13a` (now `all_rows_isotropic`
and `sampled_per_dimension`) are values, not keys: a results file copies them under
`embedding.protocol` and `embedding.init_spread.protocol`, renamed by a value mapping (the third
element of a rename).
"""

from __future__ import annotations

PROTOCOLS = {"section1": "all_rows_isotropic", "section13a": "sampled_per_dimension"}

RENAMES = {"terrain": [
    ("embedding.protocol", "protocol", PROTOCOLS),
    ("embedding.init_spread.protocol", "protocol", PROTOCOLS),
    ("wordnet.effects.B3", "hypernym_walk"),     # the hypernym walk's nesting (B3)
    ("wordnet.effects.B10", "fake_root"),        # nltk's simulated root (B10)
    ("wordnet.effects.B11", "volume_pairing"),   # pentachoron volumes paired by truncation (B11)
    ("wordnet.effects.B16", "band_edges"),       # the distance bands' edges (B16)
    ("wordnet.effects.B17", "hypernym_order"),   # which hypernym the walk follows (B17)
]}
