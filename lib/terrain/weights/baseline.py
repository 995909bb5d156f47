"""Initialization baseline: the same architecture freshly initialized, streamed by the same battery.

`init_checkpoint(source)` builds the model from a config with transformers' own initializer
(`AutoModel*.from_config` under `torch.manual_seed(seed)` inside `torch.random.fork_rng`), saves
it once as safetensors to `MODEL_CACHE/init/<name>-<hash>` (temporary folder, then `os.replace`)
and returns the lazily read checkpoint. Sources: `init/t5-small` (t5-small's published config,
below, at real size: 60.5 M parameters), a registry name, local folder or cached hub id (its own
config.json), or a config dict. T5 draws Q with std (d_model·d_kv)^-0.5 ≈ 0.0055 against
d_model^-0.5 ≈ 0.044 for K and V, so the baseline says whether "Q sparsity 93.7%" is learned or
inherited from the initialization.

Several initializations (issue 24): `init_spread` measures the quantities the claims read
(`battery_quantities`) on more seeds, each built in memory by `init_model` (transformers' own
initializer on the model made on the meta device, only the modules measured materialized: no
checkpoint is written) and read through `InMemorySource`; `embedding_spread` does the same for
the input embedding at its full vocabulary. `lib.terrain.nulls` turns the values into the
interval a claim's value is judged against.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from lib.models.checkpoint import checkpoint, checkpoint_folder, saved_once
from lib.paths import MODEL_CACHE
from lib.terrain.embeddings import SPREAD_QUANTITIES, protocol_quantities
from lib.terrain.nulls import false_positive_rate, seed_spread
from lib.terrain.weights.battery import CONVENTIONS, Q_THRESHOLD, run_battery

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
    path = checkpoint_folder(source) / "config.json"
    if not path.is_file():
        raise ValueError(f"{source}: no config.json next to its weights (open_clip checkpoints "
                         "have none); pass a transformers config dict instead")
    return source.rsplit("/", 1)[-1], json.loads(path.read_text())


def _auto_class(config: Any) -> Any:
    import transformers  # heavy: only building an initialization needs it

    arch = (getattr(config, "architectures", None) or [""])[0]
    if arch.endswith("ForConditionalGeneration") and getattr(config, "is_encoder_decoder", False):
        return transformers.AutoModelForSeq2SeqLM
    if arch.endswith("ForCausalLM"):
        return transformers.AutoModelForCausalLM
    return transformers.AutoModel


def init_folder(source: str | dict, seed: int = 0) -> Path:
    """`MODEL_CACHE/init/<name>-<hash>` (config, seed, transformers version): built once."""
    # heavy: only building an initialization needs transformers
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


# ---------------------------------------------------------------- several initialization seeds


class InMemorySource:
    """A built model's materialized tensors as a battery source (`TensorSource`): what it reads
    of a `random_init`-style model without writing a checkpoint. Parameters left on the meta
    device (not built) are not listed; tied parameters appear once, under their first name."""

    def __init__(self, model: torch.nn.Module, name: str) -> None:
        self.name = name
        self._config = model.config.to_dict()
        seen: set[int] = set()
        self._tensors: dict[str, torch.Tensor] = {}
        for key, value in [*model.named_parameters(), *model.named_buffers()]:
            if value.is_meta or id(value) in seen:
                continue
            seen.add(id(value))
            self._tensors[key] = value.detach()
        self.shapes = {k: tuple(v.shape) for k, v in self._tensors.items()}
        self.dtypes = {k: "F32" if v.is_floating_point() else "I64"
                       for k, v in self._tensors.items()}

    def keys(self) -> list[str]:
        return list(self._tensors)

    def tensor(self, key: str, dtype: Any = None) -> torch.Tensor:
        value = self._tensors[key]
        return value if dtype is None else value.to(dtype)

    def config(self) -> dict:
        return dict(self._config)


PARTS = ("weights", "embedding")


def init_model(source: str | dict, seed: int, part: str = "weights") -> torch.nn.Module:
    """The architecture of `source` with transformers' own initializer under `seed`, built only
    where `part` needs it: `weights`, every module but the input and output embeddings (what
    the battery's spread reads); `embedding`, the input embedding alone, at its full vocabulary.

    The model is made on the meta device and only those modules are materialized before
    `init_weights()` runs (an initializer writing to a meta tensor does nothing), so a seed costs
    the random draws of what is measured, not of the whole model. The draws are the
    initializer's own (same distributions per tensor as `init_checkpoint`, checked in
    tests/terrain/test_nulls.py), in another order than a full build's: seed s here is an
    independent initialization, not `init_checkpoint(source, s)` bit for bit."""
    from transformers import AutoConfig  # heavy: only building an initialization needs it

    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}; got {part!r}")
    _, values = _config_dict(source)
    values = {k: v for k, v in values.items() if k not in ("transformers_version", "dtype",
                                                           "torch_dtype")}
    config = AutoConfig.for_model(**values)
    with torch.device("meta"):
        model = _auto_class(config).from_config(config, dtype=torch.float32)
    embeddings = {id(m) for m in (model.get_input_embeddings(),
                                  getattr(model, "get_output_embeddings", lambda: None)())
                  if m is not None}
    wanted = model.get_input_embeddings()
    for _, module in model.named_modules():
        keep = (module is wanted) if part == "embedding" else id(module) not in embeddings
        if keep and any(p.is_meta for p in module.parameters(recurse=False)):
            module.to_empty(device="cpu", recurse=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.init_weights()
    return model.eval()


def init_source(source: str | dict, seed: int) -> InMemorySource:
    """`init_model(source, seed, 'weights')` as a battery source named like `init_checkpoint`."""
    name = source if isinstance(source, str) and source.startswith("init/") else \
        f"init/{_config_dict(source)[0]}"
    return InMemorySource(init_model(source, seed, "weights"), f"{name} (seed {seed})")


def battery_quantities(result: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """{quantity: (value, resolution)} of one battery result: what the claims read and the
    spread reports. q_sparsity/<group> (resolution 1/entries), qk/<stack>/<convention>/
    {mean,min,max}_pos_frac and mean_neg_frac (1/dim per layer; a mean over L layers 1/(dim L)),
    cross_layer_summary/max_abs_mean and cross_layer/<location>/<group>/mean (continuous),
    position_bias/<key>/<local|global|mixed> (counts)."""
    out: dict[str, tuple[float, float]] = {}
    for group, value in sorted(result["q_sparsity"].items()):
        out[f"q_sparsity/{group}"] = (value, 1 / result["sparsity"][group]["n_params"])
    dims: dict[tuple[str, str], int] = {}
    for row in result["qk"]["layers"]:
        for c in CONVENTIONS:
            if c in row:
                dims[(f"{row['location']}/{row['attention']}", c)] = row[c]["dim"]
    for stack, by_convention in sorted(result["qk"]["summary"].items()):
        for c, s in sorted(by_convention.items()):
            step = 1 / dims[(stack, c)]
            for field in ("mean_pos_frac", "mean_neg_frac"):
                out[f"qk/{stack}/{c}/{field}"] = (s[field], step / s["n_layers"])
            for field in ("min_pos_frac", "max_pos_frac"):
                out[f"qk/{stack}/{c}/{field}"] = (s[field], step)
    value = result["cross_layer_summary"]["max_abs_mean"]
    if value is not None:
        out["cross_layer_summary/max_abs_mean"] = (value, 0.0)
    for chain, stats_ in sorted(result["cross_layer"].items()):
        if stats_["n_pairs"]:
            out[f"cross_layer/{chain}/mean"] = (stats_["mean"], 0.0)
    for key, block in sorted(result["position_bias"].items()):
        for field in ("local", "global", "mixed"):
            out[f"position_bias/{key}/{field}"] = (float(block[field]), 1.0)
    return out



def init_spread(source: str | dict, first: dict[str, Any] | None, seeds: list[int],
                progress: bool = False, qk: bool = True) -> dict[str, Any]:
    """The battery's quantities over several initializations: `first` (the full init battery of
    `seeds[0]`, `init_battery`; None to measure that seed here too) and `seeds[1:]` built by
    `init_model` and measured without singular values (`qk=False`: without the QK pass either,
    its eigenvalue decompositions being most of a seed's cost). Returns {seeds, built,
    quantities: {quantity: nulls.seed_spread}, false_positive (leave one seed out, pooled)}."""
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"init seeds must be distinct and at least one; got {seeds}")
    # the spread reports the < 0.1 share and the seed convention's QK signs: nothing else is
    # computed for the extra seeds
    options = {"thresholds": (Q_THRESHOLD,), "svd": False,
               "conventions": ("seed",) if qk else ()}
    per_seed = []
    for i, seed in enumerate(seeds):
        if i == 0 and first is not None:
            per_seed.append(battery_quantities(first))
            continue
        per_seed.append(battery_quantities(run_battery(init_source(source, seed), **options,
                                                       progress=progress)))
    common = [q for q in per_seed[0] if all(q in other for other in per_seed[1:])]
    quantities = {q: seed_spread([s[q][0] for s in per_seed], seeds, per_seed[0][q][1])
                  for q in common}
    return {"seeds": list(seeds),
            "built": ("the first seed: the init battery's checkpoint (transformers' from_config); "
                      "the others: the same initializer on every module but the embeddings "
                      "(init_model), measured without singular values"
                      if first is not None else "every seed: init_model, without singular "
                      "values"),
            "quantities": quantities, "false_positive": false_positive_rate(quantities)}


def embedding_spread(source: str | dict, seeds: list[int], protocol: str, sizes: dict[str, int],
                     tokenizer: Any = None, quantities: tuple[str, ...] | None = None
                     ) -> dict[str, Any]:
    """The embedding protocol's claimed quantities (`quantities`, default every one of
    `embeddings.SPREAD_QUANTITIES`) over initialization seeds: for each, the input embedding
    alone initialized by transformers (`init_model(..., 'embedding')`, the full vocabulary) and
    measured by `protocol` (`protocol_quantities`, rng `seed`). Returns {seeds, protocol, built,
    quantities, false_positive}."""
    if len(set(seeds)) != len(seeds) or not seeds:
        raise ValueError(f"init seeds must be distinct and at least one; got {seeds}")
    per_seed = []
    for seed in seeds:
        model = init_model(source, seed, "embedding")
        E = model.get_input_embeddings().weight.detach()
        per_seed.append(protocol_quantities(E, protocol, seed, tokenizer=tokenizer, **sizes,
                                            quantities=tuple(quantities or SPREAD_QUANTITIES)))
        del model, E
    quantities = {q: seed_spread([s[q] for s in per_seed], seeds)
                  for q in per_seed[0] if all(s[q] is not None for s in per_seed)}
    return {"seeds": list(seeds), "protocol": protocol,
            "built": "the input embedding alone, transformers' initializer, full vocabulary "
                     "(init_model); each seed also seeds the protocol's row samples",
            "quantities": quantities, "false_positive": false_positive_rate(quantities)}
