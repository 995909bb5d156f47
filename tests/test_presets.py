"""lib.models.presets: every paper model's published architecture, built on the meta device."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from lib.attention.entropy import attention_modules
from lib.claims import published
from lib.models import UnknownModelError
from lib.models.presets import (
    OPEN_CLIP,
    PRESETS_FILE,
    UnknownPresetError,
    build_on_meta,
    expected_mismatches,
    model_info,
    preset,
    preset_config,
    preset_names,
)
from lib.paths import PARAMETERS

PAPER = sorted((PARAMETERS / "paper").glob("*.yaml"))


def paper_hub_models() -> set[str]:
    """Every hub id a paper parameter file names (base, instruct, models, model, projection)."""
    names: set[str] = set()
    for path in PAPER:
        data = yaml.safe_load(path.read_text())
        names.update(data[k] for k in ("base", "instruct", "model") if k in data)
        names.update(m["name"] for m in data.get("models") or [])
        names.update([data["projection"]["source"]] if data.get("projection") else [])
    return names


@pytest.fixture(scope="module")
def built() -> dict[str, torch.nn.Module]:
    return {name: build_on_meta(name) for name in preset_names()}


def test_every_paper_model_has_a_preset() -> None:
    names = paper_hub_models()
    for path in PAPER:  # every paper file names at least one of them
        text = path.read_text()
        assert any(name in text for name in names), path.name
    assert names <= set(preset_names()), sorted(names - set(preset_names()))


@pytest.mark.parametrize("name", preset_names())
def test_preset_builds_on_meta_with_its_expected_heads(name: str,
                                                       built: dict[str, torch.nn.Module]) -> None:
    model = built[name]
    assert {p.device.type for p in model.parameters()} == {"meta"}  # no memory held
    assert expected_mismatches(name, model) == []
    expect = preset(name)["expect"]
    info = model_info(preset_config(name), model)
    got = (info.num_layers, info.num_heads, info.num_kv_heads, info.attention_kind)
    assert got == (expect["num_layers"], expect["num_heads"], expect["num_kv_heads"],
                   expect["attention_kind"])
    if info.is_decoder:  # one module a softmax-attention layer for the streaming measurement
        modules = attention_modules(model)
        assert len(modules) == expect.get("attention_layers", info.num_layers)


@pytest.mark.parametrize("name, heads, kv, head_dim", [
    ("tiiuae/falcon-7b", 71, 1, 64), ("tiiuae/falcon-40b", 128, 8, 64)])
def test_falcon_fused_qkv_width_gives_the_kv_heads(name: str, heads: int, kv: int,
                                                   head_dim: int,
                                                   built: dict[str, torch.nn.Module]) -> None:
    fused = {m.out_features for n, m in built[name].named_modules()
             if n.endswith("query_key_value")}
    assert fused == {(heads + 2 * kv) * head_dim}
    config = preset_config(name)
    if not config.new_decoder_architecture:  # transformers' own field says 71 for Falcon-7B
        assert config.num_kv_heads == heads
    assert model_info(config, built[name]).num_kv_heads == kv


def test_paper_sizes_are_the_published_parameter_counts(built: dict[str, torch.nn.Module]) -> None:
    billions = {name: sum(p.numel() for p in model.parameters()) / 1e9
                for name, model in built.items()}
    published = {"tiiuae/falcon-7b": 6.92, "tiiuae/falcon-40b": 41.3,
                 "mistralai/Mistral-7B-v0.3": 7.25, "meta-llama/Llama-3.1-8B": 8.03,
                 "microsoft/phi-1_5": 1.42, "microsoft/phi-2": 2.78,
                 "microsoft/Phi-3-mini-4k-instruct": 3.82,
                 "microsoft/Phi-3-medium-4k-instruct": 14.0,
                 "google-t5/t5-small": 0.0605, "google/t5-v1_1-xxl": 11.0,
                 "google-bert/bert-large-uncased": 0.335, "facebook/dinov2-large": 0.304}
    for name, size in published.items():
        assert billions[name] == pytest.approx(size, rel=0.01), name


def test_entries_name_their_source_and_facts() -> None:
    raw = yaml.safe_load(PRESETS_FILE.read_text())
    for name, entry in raw.items():
        p = preset(name)
        assert set(p["expect"]) >= {"num_layers", "num_heads", "num_kv_heads", "attention_kind"}
        if p["model_type"] == OPEN_CLIP:
            assert entry["source"].startswith("open_clip/model_configs/")
        else:
            assert entry["source"] == f"https://huggingface.co/{name}/blob/main/config.json"
        if "same_as" in entry:  # an instruct twin: the base's architecture, its own source
            assert p["config"] == preset(entry["same_as"])["config"]
            assert p["source"] != preset(entry["same_as"])["source"]


@pytest.mark.parametrize("name", [n for n in preset_names()
                                  if preset(n)["model_type"] == OPEN_CLIP])
def test_open_clip_presets_are_the_packages_model_configs(name: str) -> None:
    import open_clip

    p = preset(name)
    shipped = Path(open_clip.__file__).parent / "model_configs" / f"{p[OPEN_CLIP]}.json"
    assert p["source"].startswith(f"open_clip/model_configs/{p[OPEN_CLIP]}.json")
    assert json.loads(shipped.read_text()) == p["config"]


def test_every_model_type_is_known_to_the_installed_transformers() -> None:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    types = {preset(n)["model_type"] for n in preset_names()} - {OPEN_CLIP}
    assert types <= set(CONFIG_MAPPING_NAMES), sorted(types - set(CONFIG_MAPPING_NAMES))


def test_qwen35_is_hybrid_one_softmax_layer_in_four(built: dict[str, torch.nn.Module]) -> None:
    config = preset_config("Qwen/Qwen3.5-0.8B")
    assert config.model_type == "qwen3_5_text"
    assert config.layer_types.count("full_attention") == 6
    assert config.layer_types[:4] == ["linear_attention"] * 3 + ["full_attention"]
    names = [n for n, _, _ in attention_modules(built["Qwen/Qwen3.5-0.8B"])]
    assert names == [f"model.layers.{i}.self_attn" for i in range(3, 24, 4)]
    embed = built["Qwen/Qwen3.5-4B"].get_input_embeddings().weight
    # SPEC-terrain §13b's [vocab, 2560]; the vocabulary is the published Qwen one
    assert tuple(embed.shape) == (int(published("qwen08.vocab")), 2560)


def test_unknown_preset_names_the_closest_and_what_to_do() -> None:
    with pytest.raises(UnknownPresetError) as err:
        preset("tiiuae/falcon-40")
    message = str(err.value)
    assert "(did you mean 'tiiuae/falcon-40b'?)" in message
    assert "lib/models/presets.yaml" in message and "known presets: tiiuae/falcon-7b" in message
    assert isinstance(err.value, UnknownModelError)


def test_every_preset_builds_on_meta_without_allocating() -> None:
    for name in preset_names():
        model = build_on_meta(name)
        assert all(p.device.type == "meta" for p in model.parameters()), name
