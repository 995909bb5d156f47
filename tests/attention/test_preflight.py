"""The attention runs' preflight (lib.attention.preflight): a run that cannot work fails, naming
what to change; the memory estimate follows the quantization, the headroom and the fallbacks."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

# the parameter-file helpers the other lines' preflight tests share (tests/test_preflight.py)
from test_preflight import PAPER, _copy, _fail

from lib import preflight
from lib.attention import preflight as attention_preflight
from lib.paths import PARAMETERS


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
    monkeypatch.setattr(attention_preflight, "falcon_linear_as_linear", contextlib.nullcontext)
    path = _copy(tmp_path, "E11_falcon-7b", {"quantization": "8bit"})
    [line] = _fail(capsys, path)
    assert "tiiuae/falcon-7b: 8bit quantizes 0 of the 128 linear layers of its 32 blocks" in line


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

