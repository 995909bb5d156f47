"""Model loading for the attention experiments: registry names, hub ids, architecture facts.

    from lib.models import load_model
    loaded = load_model("tiny/falcon-mqa")          # or "embedded/gemma-3-270m", "tiiuae/falcon-7b"
    loaded.model, loaded.tokenizer, loaded.info.attention_kind
    load_model("random/tiiuae/falcon-40b")           # the architecture at random init, real depth

The paper models' architectures are kept as data (`presets.yaml`, `lib.models.presets`: built on
the meta device); `random/<name>` is `lib.models.random_init`.

Hub downloads go to $HF_HUB_CACHE / $HF_HOME, else `<CACHE>/huggingface` (never the home
directory); hub requests give up after a few seconds instead of retrying for minutes.
"""

from __future__ import annotations

import os

import lib.env  # noqa: F401  (HF_HOME and the other cache locations, under .cache/)

os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "10")

from lib.models.architecture import ArchitectureInfo, architecture_info  # noqa: E402
from lib.models.base import (  # noqa: E402
    LoadedModel,
    ModelNotAvailableError,
    UnknownModelError,
)
from lib.models.registry import free_model, known_models, load_model  # noqa: E402

__all__ = [
    "ArchitectureInfo",
    "LoadedModel",
    "ModelNotAvailableError",
    "UnknownModelError",
    "architecture_info",
    "free_model",
    "known_models",
    "load_model",
]
