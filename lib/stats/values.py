"""What counts as a number: a finite real, never None, NaN, Inf or a string."""

from __future__ import annotations

import math
from typing import Any


def is_finite(value: Any) -> bool:
    """True for a finite real number (None, NaN, Inf, strings: False)."""
    try:
        return value is not None and not isinstance(value, str) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
