"""The names the model registry resolves offline: `embedded/...` then `tiny/...`."""

from __future__ import annotations

from lib.models.embedded import EMBEDDED
from lib.models.tiny import tiny_names


def known_models() -> list[str]:
    """The registry names that load offline: embedded/... then tiny/..."""
    return list(EMBEDDED) + tiny_names()
