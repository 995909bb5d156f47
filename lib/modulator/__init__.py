"""Geometric residual modulators on a frozen encoder (seed 004 §7-§12).

`lerp` (the LERP modulator and its initializations), `hooks` (attachment through forward
pre-hooks), `field` (the multi-expert geometric field modulator), `train`, `generation`.
"""
