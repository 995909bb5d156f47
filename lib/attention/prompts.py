"""The Standard-10 v3 prompt set of the E11-v3 protocol, verified by MD5."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

PROMPT_SET = "standard-10-v3"  # the E11-v3 protocol's prompt set
STANDARD_10_V3_MD5 = "715065bab181f46bf12ed471951141e2"
DELIMITER = "|||"

STANDARD_10_V3: tuple[str, ...] = (
    "What is the capital of France and what is its population?",
    "If all roses are flowers and some flowers fade quickly, can we conclude that some roses "
    "fade quickly? Explain step by step.",
    "Calculate 47 multiplied by 23 and show your work.",
    "Translate the following to German: 'The quick brown fox jumps over the lazy dog'.",
    "Write a Python function that checks if a number is prime.",
    "Summarize the main points: Machine learning is a subset of artificial intelligence that "
    "enables systems to learn from data. It uses algorithms to identify patterns and make "
    "decisions with minimal human intervention.",
    "Statement A: 'All birds can fly.' Statement B: 'Penguins are birds that cannot fly.' "
    "Are these statements contradictory? Explain.",
    "What are the safety considerations when using a kitchen knife?",
    "Write a haiku about artificial intelligence.",
    "Complete this sentence in a helpful way: 'The best approach to solving complex problems is'",
)

PROMPT_SETS: dict[str, tuple[tuple[str, ...], str]] = {
    PROMPT_SET: (STANDARD_10_V3, STANDARD_10_V3_MD5),
}


class PromptSetError(ValueError):
    """A prompt set that is unknown or does not match its published checksum."""


def prompt_md5(prompts: Sequence[str]) -> str:
    """MD5 of the prompts joined by the canonical delimiter '|||'."""
    return hashlib.md5(DELIMITER.join(prompts).encode()).hexdigest()


def verify_prompts(prompts: Sequence[str], name: str = PROMPT_SET) -> str:
    """Return the MD5 of `prompts`; raise PromptSetError if it is not the named set's checksum."""
    if name not in PROMPT_SETS:
        raise PromptSetError(f"unknown prompt set {name!r}; known: {sorted(PROMPT_SETS)}")
    expected = PROMPT_SETS[name][1]
    actual = prompt_md5(prompts)
    if actual != expected:
        raise PromptSetError(
            f"prompt set does not match {name!r}: MD5 {actual} != expected {expected} "
            f"({len(prompts)} prompts given, {len(PROMPT_SETS[name][0])} expected). Use "
            f"lib.attention.prompts.load_prompts({name!r}) instead of a hand-edited copy."
        )
    return actual


def load_prompts(name: str = PROMPT_SET) -> list[str]:
    """The named prompt set, checked against its MD5."""
    if name not in PROMPT_SETS:
        raise PromptSetError(f"unknown prompt set {name!r}; known: {sorted(PROMPT_SETS)}")
    prompts = list(PROMPT_SETS[name][0])
    verify_prompts(prompts, name)
    return prompts
