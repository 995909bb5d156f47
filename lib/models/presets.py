"""Architecture presets: the published config facts of the paper's hub models (presets.yaml), built
on the meta device in seconds with no memory and no network.

    from lib.models.presets import build_on_meta, preset, preset_config
    preset("tiiuae/falcon-40b")["expect"]      # {'num_layers': 60, 'num_heads': 128, ...}
    model = build_on_meta("tiiuae/falcon-40b") # 41 B parameters on torch.device("meta")

A transformers model is built by its own class from `AutoConfig.for_model(model_type, **config)`
(eager attention); an open_clip model (`model_type: open_clip`) by `open_clip.model.CLIP` from the
model config the package ships, described for `architecture_info` by `OpenClipConfig` (its vision
tower, the tower the weight battery reads). Nothing here imports transformers or open_clip until
a config is asked for.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import torch

from lib import yamlfile
from lib.models.architecture import ArchitectureInfo, architecture_info, check_fused_qkv
from lib.models.base import UnknownModelError
from lib.paths import shown

PRESETS_FILE = Path(__file__).with_name("presets.yaml")
OPEN_CLIP = "open_clip"
EXPECTED_KEYS = ("num_layers", "num_heads", "num_kv_heads", "attention_kind")


class UnknownPresetError(UnknownModelError):
    """A hub id with no architecture preset in presets.yaml."""


@dataclass(frozen=True)
class OpenClipConfig:
    """An open_clip model config (the package's JSON), read as its vision tower's facts."""

    name: str  # open_clip's model name, e.g. ViT-bigG-14
    values: dict[str, Any] = field(repr=False)
    model_type: str = OPEN_CLIP

    @property
    def num_hidden_layers(self) -> int:
        return int(self.values["vision_cfg"]["layers"])

    @property
    def hidden_size(self) -> int:
        return int(self.values["vision_cfg"]["width"])

    @property
    def head_dim(self) -> int:
        return int(self.values["vision_cfg"].get("head_width", 64))  # open_clip's default

    @property
    def num_attention_heads(self) -> int:
        return self.hidden_size // self.head_dim


@cache
def _presets() -> dict[str, dict[str, Any]]:
    return yamlfile.load(PRESETS_FILE, shown(PRESETS_FILE))


def preset_names() -> list[str]:
    """Every hub id with a preset, in file order."""
    return list(_presets())


def has_preset(name: str) -> bool:
    """Whether `name` (a hub id) has a preset."""
    return name in _presets()


def unknown_preset(name: str) -> UnknownPresetError:
    """The error for a hub id without a preset: the closest id and what to do."""
    close = difflib.get_close_matches(name, preset_names(), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return UnknownPresetError(
        f"no architecture preset for {name!r}{hint}: add its published config facts to "
        f"lib/models/presets.yaml; known presets: {', '.join(preset_names())}")


def preset(name: str) -> dict[str, Any]:
    """The preset of a hub id (a copy): name, source, model_type, config, expect; `same_as`
    resolved (the entry then also names `same_as`)."""
    presets = _presets()
    if name not in presets:
        raise unknown_preset(name)
    entry = presets[name]
    if "same_as" in entry:
        base = {k: v for k, v in presets[entry["same_as"]].items() if k != "source"}
        entry = base | entry
    return copy.deepcopy({"name": name, **entry})


def preset_config(name: str) -> Any:
    """The transformers config of a preset (eager attention); an `OpenClipConfig` for open_clip."""
    p = preset(name)
    if p["model_type"] == OPEN_CLIP:
        return OpenClipConfig(p[OPEN_CLIP], p["config"])
    return config_for(p["model_type"], p["config"])


def config_for(model_type: str, values: dict[str, Any]) -> Any:
    """A transformers config of `model_type` from config values (eager attention)."""
    from transformers import AutoConfig

    values = {k: v for k, v in values.items() if k != "model_type"}
    config = AutoConfig.for_model(model_type, **values)
    config._attn_implementation = "eager"
    return config


def meta_model(config: Any) -> torch.nn.Module:
    """The model of `config` built on the meta device (eval mode): the class the loader picks
    (causal LM, seq2seq LM, else the base model); open_clip's CLIP for an `OpenClipConfig`."""
    if isinstance(config, OpenClipConfig):
        from open_clip.model import CLIP  # importable: `import lib` ran lib.compat

        with torch.device("meta"):
            return CLIP(**config.values).eval()
    from lib.models.hub import model_class

    cls = model_class(architecture_info(config), config)
    with torch.device("meta"):
        model = cls.from_config(config, attn_implementation="eager")
    return model.eval()


def build_on_meta(name: str) -> torch.nn.Module:
    """A preset's model on the meta device: real shapes, no memory, seconds."""
    return meta_model(preset_config(name))


def open_clip_vision_heads(model: torch.nn.Module) -> tuple[int, list[int]]:
    """(blocks, heads of each block) of an open_clip model's vision tower."""
    blocks = model.visual.transformer.resblocks
    return len(blocks), [int(block.attn.num_heads) for block in blocks]


def model_info(config: Any, model: torch.nn.Module) -> ArchitectureInfo:
    """What the loader would record: `architecture_info`, with Falcon's kv heads cross-checked
    against the fused qkv projection of the built model."""
    return check_fused_qkv(model, architecture_info(config))


def expected_mismatches(name: str, model: torch.nn.Module | None = None) -> list[str]:
    """How the built preset differs from its `expect` (empty when it agrees): layers, heads, kv
    heads and kind as `architecture_info` (plus the fused-qkv check) reads them."""
    p = preset(name)
    config = preset_config(name)
    model = build_on_meta(name) if model is None else model
    got = model_info(config, model).as_dict()
    expect = p["expect"]
    problems = [f"{key} {got[key]} (expected {expect[key]})" for key in EXPECTED_KEYS
                if got[key] != expect[key]]
    if isinstance(config, OpenClipConfig):
        blocks, heads = open_clip_vision_heads(model)
        if blocks != expect["num_layers"] or set(heads) != {expect["num_heads"]}:
            problems.append(f"open_clip vision tower has {blocks} blocks with heads "
                            f"{sorted(set(heads))}")
    return problems
