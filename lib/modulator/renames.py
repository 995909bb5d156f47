"""The modulator results keys renamed from seed 004's section numbers and defect codes to what
they measure (`lib.renames`; `python -m lib.renames table` prints them). Paths use the old names;
the seed's section number or defect code of each new key stays in its docstring
(`lib.modulator.layout`) and in the labels the notebook and the report print."""

from __future__ import annotations

RENAMES = {"modulator": [
    # §8: the untrained Procrustes modulator at its initial alpha 0.01
    ("section8", "procrustes"),
    ("section8.pipeline.B7", "injection_note"),  # B7: the target's scale, injected everywhere
    ("section8.pipeline.B8", "unmatched"),  # B8: the unmatched vocabulary rows
    # §9: the trained LERP modulator
    ("section9", "trained"),
    # §10: the untrained §8 modulator at static alphas
    ("section10", "alpha_sweep"),
    ("section10.B2", "constants_note"),  # B2: 0.29154 vs 0.29514
    # §11: generations with and without the trained modulator
    ("section11", "generation"),
    # §12: the multi-expert field modulator
    ("section12", "field"),
    ("section12.b12_decisions", "fault_decisions"),  # B12 (a)-(g)
    # the defects' effects, both ways in one run
    ("effects.B8", "anchor_evaluation"),  # B8: scored on the anchors vs held out
    ("effects.B11", "pentachoron_pairing"),  # B11: unpaired vs paired simplices
    # the headline's B8 numbers
    ("headline.b8_pearson_as_executed", "anchors_pearson"),
    ("headline.b8_pearson_corrected", "held_out_pearson"),
    ("headline.b8_pearson_difference", "anchors_minus_held_out_pearson"),
    ("headline.b8_pearson_difference_token_sets", "anchors_minus_held_out_token_sets"),
    ("headline.b8_pearson_difference_modulator", "anchors_minus_held_out_modulator"),
]}
