"""Time every registry model offline: load, and one measured pass over the Standard-10 prompts.

    python -m lib.models            # all embedded and tiny text models
    python -m lib.models tiny/phi   # some of them
"""

from __future__ import annotations

import argparse
import time

from lib.attention.entropy import measure_entropies
from lib.attention.prompts import load_prompts
from lib.models import free_model, known_models, load_model

VISION = ("tiny/clip", "tiny/dinov2", "tiny/t5")  # measured by tests/test_models.py instead


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="registry names (default: all text models)")
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args(argv)
    names = args.names or [n for n in known_models() if not n.startswith(VISION)]
    prompts = load_prompts()
    print(f"{'model':<34} {'kind':<4} {'load s':>7} {'pass s':>7}   (10 prompts x 128 tokens, "
          f"padded, {args.dtype}, attention entropy streamed)")
    for name in names:
        start = time.perf_counter()
        loaded = load_model(name, dtype=args.dtype)
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        measure_entropies(loaded.model, loaded.tokenizer, prompts, mode="padded", progress=False)
        pass_s = time.perf_counter() - start
        print(f"{name:<34} {loaded.info.attention_kind:<4} {load_s:>7.2f} {pass_s:>7.2f}")
        free_model(loaded)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
