"""Shared code of the Behavioral Sink and Geometric Terrain notebooks: metrics, loading, results.

Importing `lib` makes torchvision (and so open_clip and transformers' vision model classes)
importable on CPU-only torch; see `lib.compat`.
"""

from lib.compat import ensure_torchvision_importable

ensure_torchvision_importable()

__all__ = ["ensure_torchvision_importable"]
