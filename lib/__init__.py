"""Shared code of the Behavioral Sink and Geometric Terrain notebooks: metrics, loading, results.

Importing `lib` points Jupyter, IPython, matplotlib and the caches at `.cache/` (see `lib.env`;
variables already set are kept), so nothing is written to the home directory, and makes
torchvision (and so open_clip and transformers' vision model classes) importable on CPU-only
torch (see `lib.compat`).
"""

from lib.env import configure

configure()

from lib.compat import ensure_torchvision_importable  # noqa: E402  (after the locations are set)

ensure_torchvision_importable()

__all__ = ["configure", "ensure_torchvision_importable"]
