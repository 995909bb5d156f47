"""Time every registry model offline: load, and one forward pass over a batch of text.

    python -m lib.models            # all embedded and tiny text models
    python -m lib.models tiny/phi   # some of them
"""

from __future__ import annotations

import argparse
import time

import torch

from lib.models import free_model, known_models, load_model

VISION = ("tiny/clip", "tiny/dinov2", "tiny/t5")  # measured by tests/test_models.py instead
TEXT = "The quick brown fox jumps over the lazy dog while the model reads every token. " * 8
BATCH, TOKENS = 10, 128


def forward_seconds(loaded: object) -> float:
    """Seconds of one forward pass of `loaded` (a LoadedModel) on BATCH x TOKENS tokens."""
    tokens = loaded.tokenizer([TEXT] * BATCH, return_tensors="pt", truncation=True,
                              max_length=TOKENS, padding=True)
    device = next(loaded.model.parameters()).device
    start = time.perf_counter()
    with torch.inference_mode():
        loaded.model(**{k: v.to(device) for k, v in tokens.items()})
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="registry names (default: all text models)")
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args(argv)
    names = args.names or [n for n in known_models() if not n.startswith(VISION)]
    print(f"{'model':<34} {'kind':<4} {'load s':>7} {'pass s':>7}   ({BATCH} texts x {TOKENS} "
          f"tokens, {args.dtype})")
    for name in names:
        start = time.perf_counter()
        loaded = load_model(name, dtype=args.dtype)
        load_s = time.perf_counter() - start
        pass_s = forward_seconds(loaded)
        print(f"{name:<34} {loaded.info.attention_kind:<4} {load_s:>7.2f} {pass_s:>7.2f}")
        free_model(loaded)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
