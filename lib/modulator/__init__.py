"""Geometric residual modulators on a frozen encoder (seed 004 §7-§12).

`lerp` (the LERP modulator), `init` (its WordNet initializations), `hooks` (attachment through
forward pre-hooks), `field` (the multi-expert geometric field modulator), `train`, `generation`,
and `pipeline` (the §8-§12 measurement protocol, one function per step).
"""
