"""Initialization baseline: the same architecture freshly initialized, streamed by the same battery.

`init_checkpoint(source)` builds the model from a config with transformers' own initializer
(`AutoModel*.from_config` under `torch.manual_seed(seed)` inside `torch.random.fork_rng`), saves
it once as safetensors to `MODEL_CACHE/init/<name>-<hash>` (temporary folder, then `os.replace`)
and returns the lazily read checkpoint. Sources: `init/t5-small` (t5-small's published config,
below, at real size: 60.5 M parameters), a registry name, local folder or cached hub id (its own
config.json), or a config dict. T5 draws Q with std (d_model·d_kv)^-0.5 ≈ 0.0055 against
d_model^-0.5 ≈ 0.044 for K and V, so the baseline says whether "Q sparsity 93.7%" is learned or
inherited from the initialization.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from lib.models.checkpoint import saved_once
from lib.paths import MODEL_CACHE
from lib.terrain.weights.battery import Q_THRESHOLD, run_battery

# https://huggingface.co/google-t5/t5-small/blob/main/config.json (the values the battery needs)
T5_SMALL_CONFIG: dict[str, Any] = {
    "model_type": "t5",
    "architectures": ["T5ForConditionalGeneration"],
    "d_model": 512,
    "d_ff": 2048,
    "d_kv": 64,
    "num_heads": 8,
    "num_layers": 6,
    "num_decoder_layers": 6,
    "vocab_size": 32128,
    "relative_attention_num_buckets": 32,
    "feed_forward_proj": "relu",
    "tie_word_embeddings": True,
    "initializer_factor": 1.0,
    "layer_norm_epsilon": 1e-6,
    "decoder_start_token_id": 0,
    "pad_token_id": 0,
    "eos_token_id": 1,
}
T5_SMALL_SOURCE = "https://huggingface.co/google-t5/t5-small/blob/main/config.json"
CONFIGS: dict[str, dict[str, Any]] = {"init/t5-small": T5_SMALL_CONFIG}


def _config_dict(source: str | dict) -> tuple[str, dict]:
    if isinstance(source, dict):
        if "model_type" not in source:
            raise ValueError("a config dict needs 'model_type' (e.g. 't5'), as in config.json")
        return f"config-{source['model_type']}", dict(source)
    if source in CONFIGS:
        return source.removeprefix("init/"), dict(CONFIGS[source])
    if source.startswith("init/"):
        raise ValueError(f"unknown init source {source!r}; known: {', '.join(CONFIGS)}, or give "
                         "a model name (its config.json) or a config dict")
    from lib.models.checkpoint import checkpoint_folder

    path = checkpoint_folder(source) / "config.json"
    if not path.is_file():
        raise ValueError(f"{source}: no config.json next to its weights (open_clip checkpoints "
                         "have none); pass a transformers config dict instead")
    return source.rsplit("/", 1)[-1], json.loads(path.read_text())


def _auto_class(config: Any) -> Any:
    import transformers

    arch = (getattr(config, "architectures", None) or [""])[0]
    if arch.endswith("ForConditionalGeneration") and getattr(config, "is_encoder_decoder", False):
        return transformers.AutoModelForSeq2SeqLM
    if arch.endswith("ForCausalLM"):
        return transformers.AutoModelForCausalLM
    return transformers.AutoModel


def init_folder(source: str | dict, seed: int = 0) -> Path:
    """`MODEL_CACHE/init/<name>-<hash>` (config, seed, transformers version): built once."""
    import transformers
    from transformers import AutoConfig

    short, values = _config_dict(source)
    # the initializer is transformers' own: a new version gets a new folder
    text = json.dumps(values, sort_keys=True) + f"|seed={seed}|{transformers.__version__}"
    folder = MODEL_CACHE / "init" / f"{short}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    if folder.is_dir():
        return folder
    values = {k: v for k, v in values.items() if k not in ("transformers_version", "dtype",
                                                           "torch_dtype")}
    config = AutoConfig.for_model(**values)

    def save(tmp: Path) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = _auto_class(config).from_config(config, dtype=torch.float32)
        model.save_pretrained(tmp, safe_serialization=True)

    return saved_once(folder, save)


def init_checkpoint(source: str | dict, seed: int = 0) -> Any:
    """The freshly initialized model of `source` as a lazily read checkpoint."""
    from lib.models.checkpoint import checkpoint

    name = source if isinstance(source, str) and source.startswith("init/") else None
    ckpt = checkpoint(str(init_folder(source, seed)))
    ckpt.name = name or f"init/{_config_dict(source)[0]}"
    return ckpt


def init_battery(source: str | dict, seed: int = 0, **options: Any) -> dict[str, Any]:
    """`run_battery` of the initialized twin (options pass through)."""
    result = run_battery(init_checkpoint(source, seed), **options)
    result["init_seed"] = seed
    return result


def _sv_mean(result: dict, group: str, field: str) -> float | None:
    row = result["sv"]["mean"].get(group)
    return None if row is None else row[field]


def compare_with_init(trained: dict[str, Any], init: dict[str, Any]) -> list[dict[str, Any]]:
    """Per group present in both: sparsity < 0.1, stable rank and PR, trained vs init and Δ."""
    if trained.get("family") != init.get("family"):
        raise ValueError(f"families differ: trained {trained.get('family')!r}, init "
                         f"{init.get('family')!r}; compare a model with its own init twin")
    column = f"<{Q_THRESHOLD}"
    rows = []
    for group in sorted(set(trained["sparsity"]) & set(init["sparsity"])):
        row: dict[str, Any] = {"group": group}
        for field, get in (
            ("sparsity_0.1", lambda r, g=group: r["sparsity"][g][column]),
            ("stable_rank", lambda r, g=group: _sv_mean(r, g, "stable_rank")),
            ("pr", lambda r, g=group: _sv_mean(r, g, "pr")),
        ):
            a, b = get(trained), get(init)
            row |= {f"{field}_trained": a, f"{field}_init": b,
                    f"{field}_delta": None if a is None or b is None else a - b}
        rows.append(row)
    return rows


def attach_init(trained: dict[str, Any], init: dict[str, Any]) -> dict[str, Any]:
    """`trained` with `init` (its q_sparsity, sv means, QK summary, cross-layer summary, seed)
    and the comparison added."""
    return trained | {
        "init": {"model": init["model"], "seed": init.get("init_seed"),
                 "q_sparsity": init["q_sparsity"], "sv_mean": init["sv"]["mean"],
                 "sparsity": init["sparsity"], "qk_summary": init["qk"]["summary"],
                 "cross_layer_summary": init["cross_layer_summary"]},
        "init_comparison": compare_with_init(trained, init),
    }
