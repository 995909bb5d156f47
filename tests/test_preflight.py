"""lib.preflight: every paper run checked offline; a run that cannot work fails."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest
import yaml

from lib import preflight
from lib.attention import preflight as attention_preflight
from lib.claims import published
from lib.models import hub
from lib.paths import PARAMETERS
from lib.terrain import preflight as terrain_preflight

PAPER = PARAMETERS / "paper"


def _copy(tmp_path: Path, stem: str, changes: dict | None = None, folder: str = "paper") -> Path:
    """A copy of a repository parameter file in <tmp>/<folder>/, with top-level keys changed."""
    source = PARAMETERS / folder / f"{stem}.yaml"
    data = yaml.safe_load(source.read_text()) | (changes or {})
    path = tmp_path / folder / source.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    for key in ("trained_seed_reference", "mha_reference", "cross_scale"):  # the runs it reads
        run = (data.get(key) or {}).get("run")
        if run and not (path.parent / f"{run}.yaml").exists():
            shutil.copy(source.parent / f"{run}.yaml", path.parent / f"{run}.yaml")
    return path


def _fail(capsys: pytest.CaptureFixture, *files: Path) -> list[str]:
    assert preflight.main([str(f) for f in files]) == 1
    err = capsys.readouterr().err.splitlines()  # transformers may log warnings there too
    first = next(i for i, line in enumerate(err) if line.startswith("preflight FAILED for "))
    lines = [line for line in err[first + 1:] if line.startswith("  ")]
    return [line.strip() for line in lines if not line.startswith("   ")]


def test_the_preflight_reads_each_architecture_as_published(
        capsys: pytest.CaptureFixture) -> None:
    """`make test` runs the preflight on every paper file; here what it reads off four of them."""
    files = [PAPER / f"{n}.yaml" for n in ("E11_falcon-40b", "E11_falcon-7b", "E11-T_llama-3.1-8b",
                                           "terrain_dinov2-large")]
    assert preflight.main([str(f) for f in files]) == 0
    out = capsys.readouterr().out
    assert f"preflight ok: {len(files)} runs," in out
    assert "tiiuae/falcon-40b " in out and "falcon 60L 128q/8kv GQA" in out
    assert "falcon 32L 71q/1kv MQA" in out and "8bit 240 linears; 4bit 240 linears" in out
    assert "catalog dinov2 (vision/self 24)" in out  # DINOv2's checkpoint names, not the class's
    # the seeds call Mistral-7B the MHA reference: noted, not failed
    assert "E11_mistral-7b (mistralai/Mistral-7B-v0.3) is GQA (32 q / 8 kv)" in out


def test_a_gpu_too_small_fails_with_the_need_and_the_fix(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    small = _copy(tmp_path, "E11_falcon-7b", {"resources": {"gpu": 1, "gpu_memory_gb": 8},
                                               "null_model": False})
    [line] = _fail(capsys, small)
    assert line.startswith("E11_falcon-7b: tiiuae/falcon-7b needs ~14.")
    assert line.endswith(" GiB at bfloat16, resources.gpu_memory_gb is 8: use quantization 8bit "
                         "or raise it; tiiuae/falcon-7b-instruct needs ~14.2 GiB at bfloat16, "
                         "resources.gpu_memory_gb is 8: use quantization 8bit or raise it")


def test_a_null_model_too_big_for_the_gpu_fails_with_the_fix(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture) -> None:
    # 8-bit weights fit 9 GiB, the null model (unquantized, full width) does not
    big = _copy(tmp_path, "E11_falcon-7b", {"quantization": "8bit",
                                             "resources": {"gpu": 1, "gpu_memory_gb": 9}})
    [line] = _fail(capsys, big)
    assert line.startswith("E11_falcon-7b: null model random/tiiuae/falcon-7b needs ~13.")
    assert line.endswith("GiB at bfloat16, more than 9.0: lower random_max_parameters (now "
                         "8,000,000,000)")
    small = _copy(tmp_path, "E11_falcon-7b", {"quantization": "8bit", "random_max_parameters":
                                               2_000_000_000,
                                               "resources": {"gpu": 1, "gpu_memory_gb": 9}})
    rows = preflight.check_file(small)
    assert rows[0].ok and "null model builds" in rows[0].checks
    assert any("hidden_size 4544 -> 2272 (head_dim 64 -> 32)" in n for n in rows[0].notes)


def test_tied_weights_are_counted_once() -> None:
    import torch

    tied = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 10, bias=False))
    tied[1].weight = tied[0].weight
    assert preflight.weight_bytes(tied, 2) == 10 * 4 * 2


def test_quantization_changes_the_estimate(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    eight = _copy(tmp_path, "E11_falcon-7b", {"quantization": "8bit", "null_model": False,
                                               "resources": {"gpu": 1, "gpu_memory_gb": 9}})
    assert preflight.main([str(eight)]) == 0
    assert "[at 8-bit]" in capsys.readouterr().out
    rows = preflight.check_file(eight)
    assert 7.0 < rows[0].need_gib < 9.0  # 6.9 B parameters at ~1 byte, lm_head and embeddings bf16


def test_40b_headroom_counts_and_nf4_fallback_is_reported(tmp_path: Path) -> None:
    path = _copy(tmp_path, "E11_falcon-40b", {"resources": {"gpu": 1, "gpu_memory_gb": 40}})
    shutil.copy(PAPER / "E11_falcon-7b.yaml", path.parent)  # its cross-scale reference run
    rows = preflight.check_file(path)
    assert all(r.ok for r in rows)
    assert rows[0].budget_gib == 38.0  # 40 GiB less max_memory's 2 GiB headroom
    assert rows[0].memory_hint == "at 4-bit NF4"
    assert "the NF4 fallback" in rows[0].notes[0] and rows[0].need_gib < 38


def test_a_model_without_a_preset_fails_naming_the_file_to_edit(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = _copy(tmp_path, "E11_falcon-7b", {"instruct": "tiiuae/falcon-7b-chat"})
    [line] = _fail(capsys, path)
    assert line.startswith("E11_falcon-7b: no architecture preset for 'tiiuae/falcon-7b-chat' "
                           "(did you mean 'tiiuae/falcon-7b'?): add its published config facts "
                           "to lib/models/presets.yaml")


def test_a_description_the_architecture_contradicts_fails(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    path = _copy(tmp_path, "E11_falcon-7b",
                 {"description": "Falcon-7B (GQA, 71 query heads / 8 kv heads)"})
    [line] = _fail(capsys, path)
    assert "tiiuae/falcon-7b: num_kv_heads 1 (description: 8), attention kind MQA (description: " \
           "GQA)" in line


def test_e11t_needs_a_gqa_pair(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _copy(tmp_path, "E11_mistral-7b")
    path = _copy(tmp_path, "E11-T_llama-3.1-8b", {
        "base": "microsoft/Phi-3-mini-4k-instruct", "instruct": "microsoft/Phi-3-mini-4k-instruct",
        "description": "a pair"})
    [line] = _fail(capsys, path)
    assert "microsoft/Phi-3-mini-4k-instruct is MHA: E11-T measures a GQA pair" in line


def test_a_falcon_built_without_the_linear_swap_is_caught(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    # transformers quantizes only exact nn.Linear: without hub's swap FalconLinear stays bf16
    monkeypatch.setattr(hub, "falcon_linear_as_linear", contextlib.nullcontext)
    path = _copy(tmp_path, "E11_falcon-7b", {"quantization": "8bit"})
    [line] = _fail(capsys, path)
    assert "tiiuae/falcon-7b: 8bit quantizes 0 of the 128 linear layers of its 32 blocks" in line


def test_the_catalog_check_fails_on_names_no_rule_explains(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    # the class's own names (attention.q_proj) instead of the checkpoint's (attention.query)
    def class_names(name: str) -> terrain_preflight.MetaSource:
        model = preflight.meta_model_of(name)
        return terrain_preflight.MetaSource(name, model.state_dict(),
                                            preflight.config_of(name).to_dict())

    monkeypatch.setattr(terrain_preflight, "meta_source", class_names)
    [line] = _fail(capsys, _copy(tmp_path, "terrain_dinov2-large"))
    assert line == ("terrain_dinov2-large: facebook/dinov2-large: the battery would miss weights: "
                    "no attention layer found")


def test_terrain_and_modulator_rows_check_hooks_catalog_and_memory() -> None:
    [t5] = preflight.check_file(PAPER / "terrain_t5-small.yaml")
    assert t5.checks == ["preset", "embedding [32128, 512]", "encoder hooks 8", "decoder hooks 8",
                         "catalog t5 (decoder/cross 6, decoder/self 6, encoder/self 6)"]
    assert (t5.resource, t5.budget_gib) == ("GPU", 16.0)
    [modulator] = preflight.check_file(PAPER / "modulator_t5-small-corrected.yaml")
    assert "modulator blocks 6" in modulator.checks
    qwen, source = preflight.check_file(PAPER / "terrain_qwen3.5-4b-to-0.8b.yaml")
    vocab = int(published("qwen08.vocab"))  # both Qwen3.5 sizes share the vocabulary
    assert source.model == "Qwen/Qwen3.5-4B" and f"embedding [{vocab}, 2560]" in source.checks
    assert qwen.resource == "host" and qwen.budget_gib == pytest.approx(31.25)


def test_a_streamed_run_over_its_host_memory_fails(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    path = _copy(tmp_path, "terrain_qwen3.5-4b-to-0.8b",
                 {"resources": {"gpu": 0, "mem_mb": 2000, "runtime": 30}})
    [line] = _fail(capsys, path)
    assert line.startswith("terrain_qwen3.5-4b-to-0.8b: Qwen/Qwen3.5-0.8B needs ~")
    assert line.endswith("GiB of host memory (streamed), resources.mem_mb gives 2.0 GiB: raise it")


def test_the_rehearsal_files_pass_on_the_host(capsys: pytest.CaptureFixture) -> None:
    files = sorted((PARAMETERS / "embedded").glob("E11_rehearsal-*.yaml"))
    assert len(files) == 2
    assert preflight.main([str(f) for f in files]) == 0
    out = capsys.readouterr().out
    assert "random/tiiuae/falcon-40b " in out and "falcon 60L 128q/8kv GQA" in out
    assert "falcon 32L 71q/1kv MQA" in out and " host ok " in out


def test_description_claims_are_read_from_the_text() -> None:
    claims = attention_preflight.description_claims(
        "Falcon-7B vs Falcon-7B-instruct (MQA, 71 query heads / 1 kv head; SFT-only)")
    assert claims == {"num_heads": 71, "num_kv_heads": 1, "attention_kind": ["MQA"]}
    assert attention_preflight.description_claims("(60 layers, 128 query heads)") == {
        "num_layers": 60, "num_heads": 128}
