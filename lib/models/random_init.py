"""`random/<name>`: any registry model or preset hub id, randomly initialized at its real depth.

    load_model("random/tiiuae/falcon-40b")    # 60 layers, 128 query / 8 kv heads, width reduced
    load_model("random/tiny/falcon-mqa")      # the tiny architecture with another init seed

`<name>` is a hub id with an architecture preset (lib/models/presets.yaml), a `tiny/...` or an
`embedded/...` name. The architecture is that model's config: the same layers, query and kv
heads, family flags and attention kind, built with transformers' own initializer from a seed
derived from the full name (`lib.models.tiny.seed_for`: the same name gives the same weights,
base and instruct twins differ) with eager attention. It is the null model of a measured model:
what the architecture gives untrained.

Width is reduced only where the model would exceed `max_parameters`, never layers or heads:
first the vocabulary (to the tiny byte-level tokenizer's 260 tokens), then every width (hidden,
head_dim, intermediate, Qwen3.5's linear-attention head dims) halved together until it fits.
A hub preset keeps its own tokenizer and vocabulary where the local hub cache holds the tokenizer
(on the machine that runs the paper files), else it gets the byte-level tokenizer (vocabulary
260). Where widths shrink, `initializer_range` grows by the same
factor's square root, so std² x hidden, and with it the scale of the attention logits at
initialization, is the real model's. `RandomModel.reduction` says exactly what changed.
"""

from __future__ import annotations

import difflib
import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from lib.models.architecture import architecture_info
from lib.models.base import UnknownModelError
from lib.models.embedded import build, is_built, model_dir
from lib.models.hub import model_class
from lib.models.names import known_models
from lib.models.presets import (
    config_for,
    has_preset,
    meta_model,
    preset,
    preset_config,
    preset_names,
)
from lib.models.tiny import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    VOCAB_SIZE,
    byte_tokenizer,
    seed_for,
    tiny_config,
    tiny_processor,
)

PREFIX = "random/"
DEFAULT_MAX_PARAMETERS = 200_000_000  # 0.8 GB float32: Falcon-7B at head_dim 8, -40B at 4
MIN_HEAD_DIM = 4
# widths scaled together, by config key (transformers' names across the families)
WIDTH_KEYS = ("hidden_size", "d_model", "head_dim", "d_kv", "intermediate_size", "d_ff",
              "ffn_hidden_size", "linear_key_head_dim", "linear_value_head_dim")
HEAD_DIM_KEYS = ("head_dim", "d_kv")
OWN_TOKENIZER = ("tiny", "embedded", "hub")  # tokenizer kinds that keep the model's vocabulary
TEMPLATES = {"t5": "t5", "bert": "bert"}  # byte tokenizer template by family; decoders: causal


class RandomModelError(ValueError):
    """A `random/` name that cannot be built here (no text tokenizer, or too big to fit)."""


@dataclass
class RandomModel:
    """A built random model: float32, eval mode, on the CPU."""

    name: str
    model: torch.nn.Module
    tokenizer: Any
    config: Any
    reduction: str  # "none", or what changed: "vocab_size 65024 -> 260, hidden_size 8192 -> 512
    # (head_dim 64 -> 4), ..."
    seed: int
    revision: str  # config-<hash> of the built config and the seed


def is_random(name: str) -> bool:
    """Whether `name` is a `random/...` name."""
    return name.startswith(PREFIX)


def inner_name(name: str) -> str:
    """`random/tiiuae/falcon-7b` -> `tiiuae/falcon-7b`."""
    return name.removeprefix(PREFIX)


def random_candidates() -> list[str]:
    """Every `random/` name that builds: each registry name and each preset hub id."""

    return [PREFIX + n for n in [*known_models(), *preset_names()]]


def check_random_name(name: str) -> str:
    """`name`, or UnknownModelError naming the closest known `random/` name."""

    inner = inner_name(name)
    if inner in known_models() or has_preset(inner):
        return name
    close = difflib.get_close_matches(name, random_candidates(), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UnknownModelError(
        f"unknown model {name!r}{hint}: random/ takes a tiny/ or embedded/ name or a hub id with "
        "a preset in lib/models/presets.yaml")


# --------------------------------------------------------------------------- the architecture


def _source(inner: str) -> tuple[Any, str]:
    """(config, tokenizer kind: 'tiny' | 'embedded' | 'hub' | a byte-tokenizer template)."""
    if inner.startswith("tiny/"):

        return tiny_config(inner), "tiny"
    if inner.startswith("embedded/"):
        from transformers import AutoConfig


        if not is_built(inner):
            build(inner)
        return AutoConfig.from_pretrained(model_dir(inner)), "embedded"

    family, config = preset(inner)["model_type"], preset_config(inner)
    if not _is_decoder(config) and family not in TEMPLATES:
        raise RandomModelError(
            f"random/{inner}: a random model of a hub id is a text model with the byte-level "
            f"tokenizer; {inner} ({family}) is not (random/tiny/dinov2 and random/tiny/clip are)")
    if _hub_tokenizer(inner) is not None:
        return config, "hub"
    return config, TEMPLATES.get(family, "causal")


def _hub_tokenizer(inner: str) -> Any | None:
    """The hub model's own tokenizer where the local hub cache holds it (no request), else None."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(inner, local_files_only=True)
    except (OSError, ValueError):
        return None


def _is_decoder(config: Any) -> bool:

    return architecture_info(config).is_decoder


def _values(config: Any) -> dict[str, Any]:
    values = config.to_dict()
    for key in ("transformers_version", "architectures", "_name_or_path", "dtype", "torch_dtype"):
        values.pop(key, None)
    return values


def _scaled(values: dict[str, Any], factor: int) -> dict[str, Any] | None:
    """Every width divided by `factor`; None where a width would not divide, or a head_dim
    (or its rotary part) would be odd or below MIN_HEAD_DIM."""
    out = dict(values)
    for key in WIDTH_KEYS:
        if out.get(key) is None:
            continue
        if out[key] % factor:
            return None
        out[key] = out[key] // factor
    head_dim = _head_dim(out)
    rotary = (out.get("rope_parameters") or {}).get("partial_rotary_factor", 1.0)
    if head_dim < MIN_HEAD_DIM or head_dim % 2 or int(head_dim * rotary) % 2:
        return None
    if "initializer_range" in out:
        out["initializer_range"] = values["initializer_range"] * math.sqrt(factor)
    return out


def _byte_vocabulary(values: dict[str, Any]) -> dict[str, Any]:
    """The vocabulary of the tiny byte-level tokenizer and its special-token ids."""

    out = dict(values, vocab_size=VOCAB_SIZE)
    ids = {"pad_token_id": PAD_ID, "bos_token_id": BOS_ID, "eos_token_id": EOS_ID,
           "decoder_start_token_id": PAD_ID}
    out.update({k: v for k, v in ids.items() if k in out})
    return out


def _parameters(model_type: str, values: dict[str, Any]) -> int:

    return sum(p.numel() for p in meta_model(config_for(model_type, values)).parameters())


def _head_dim(values: dict[str, Any]) -> int:
    explicit = next((values[k] for k in HEAD_DIM_KEYS if values.get(k)), None)
    heads = values.get("num_attention_heads") or values.get("num_heads") or values.get("n_head")
    return explicit or (values.get("hidden_size") or values.get("d_model")) // heads


def _describe(before: dict[str, Any], after: dict[str, Any]) -> str:
    changes = []
    for key in ("vocab_size", *WIDTH_KEYS):
        if key in before and before[key] != after.get(key):
            changes.append(f"{key} {before[key]} -> {after[key]}")
            implicit = not any(k in before for k in HEAD_DIM_KEYS)
            if key in ("hidden_size", "d_model") and implicit:
                changes[-1] += f" (head_dim {_head_dim(before)} -> {_head_dim(after)})"
    if before.get("initializer_range") != after.get("initializer_range"):
        changes.append(f"initializer_range {before['initializer_range']:g} -> "
                       f"{after['initializer_range']:.4g} (keeps std² x hidden)")
    return ", ".join(changes) or "none"


def random_config(name: str, max_parameters: int = DEFAULT_MAX_PARAMETERS,
                  keep_vocabulary: bool = False) -> tuple[Any, str, str]:
    """(config, reduction, tokenizer kind) of a `random/` name under the parameter budget.

    The vocabulary becomes the byte tokenizer's for a hub preset without its tokenizer at hand,
    or (unless `keep_vocabulary`) for a model with its own tokenizer that exceeds the budget;
    then every width is halved together until the model fits. `keep_vocabulary` (the init null
    of a real model: its own tokenizer, full vocabulary) reduces widths only. Raises
    RandomModelError when it cannot fit at the smallest head_dim.
    """
    check_random_name(name)
    config, tokenizer = _source(inner_name(name))
    model_type = config.model_type
    before = _values(config)
    values = before
    if tokenizer not in OWN_TOKENIZER:
        values = _byte_vocabulary(values)
    count = _parameters(model_type, values)
    if count > max_parameters and tokenizer in ("embedded", "hub") and not keep_vocabulary:
        values, tokenizer = _byte_vocabulary(values), "causal" if _is_decoder(config) else "bert"
        count = _parameters(model_type, values)
    factor = 1
    while count > max_parameters:
        factor *= 2
        scaled = _scaled(values, factor)
        if scaled is None:
            raise RandomModelError(
                f"{name}: {count:,} parameters at the smallest width (head_dim >= {MIN_HEAD_DIM}) "
                f"exceed max_parameters={max_parameters:,}; raise max_parameters")
        count = _parameters(model_type, scaled)
        if count <= max_parameters:
            values = scaled
    return config_for(model_type, values), _describe(before, values), tokenizer


def _tokenizer(name: str, kind: str) -> Any:
    inner = inner_name(name)
    if kind == "tiny":

        return tiny_processor(inner)
    if kind == "embedded":
        from transformers import AutoTokenizer


        return AutoTokenizer.from_pretrained(model_dir(inner))
    if kind == "hub":
        return _hub_tokenizer(inner)

    return byte_tokenizer(kind)


def config_revision(config: Any, seed: int) -> str:
    """'config-<12 hex>': sha256 of the full config JSON and the init seed."""
    text = config.to_json_string(use_diff=False) + f"|seed={seed}"
    return "config-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def build_random(name: str, max_parameters: int = DEFAULT_MAX_PARAMETERS,
                 seed: int | None = None, keep_vocabulary: bool = False) -> RandomModel:
    """The float32 model of a `random/` name, initialized from `seed` (default `seed_for(name)`;
    the global RNG untouched), with its tokenizer and what was reduced (`random_config`, with
    `keep_vocabulary`)."""
    return next(random_models(name, [seed], max_parameters, keep_vocabulary))


def random_models(name: str, seeds: Sequence[int | None],
                  max_parameters: int = DEFAULT_MAX_PARAMETERS, keep_vocabulary: bool = False,
                  ) -> Iterator[RandomModel]:
    """`build_random` for each of `seeds` (None: `seed_for(name)`), one at a time, the config
    and the tokenizer made once: several initializations of one architecture (a seed null)."""

    config, reduction, kind = random_config(name, max_parameters, keep_vocabulary)
    if kind not in OWN_TOKENIZER:
        reduction += " (vocabulary: the tiny byte-level tokenizer's)"
    cls = model_class(architecture_info(config), config)
    tokenizer = _tokenizer(name, kind)
    for given in seeds:
        seed = seed_for(name) if given is None else int(given)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = cls.from_config(config, attn_implementation="eager", dtype=torch.float32)
        yield RandomModel(name, model.eval(), tokenizer, config, reduction, seed,
                          config_revision(config, seed))
