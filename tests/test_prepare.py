"""lib.prepare: the CUDA-package guard and the idempotent set-up step."""

from __future__ import annotations

from lib import prepare


def test_cuda_check_flags_nvidia_and_cuda_torch() -> None:
    flagged = prepare.cuda_packages(
        [
            ("nvidia-cublas-cu12", "12.4.5.8"),
            ("cuda-toolkit", "12.4"),
            ("torch", "2.13.0+cu130"),
            ("numpy", "2.4.6"),
        ]
    )
    assert flagged == ["cuda-toolkit==12.4", "nvidia-cublas-cu12==12.4.5.8", "torch==2.13.0+cu130"]


def test_cuda_check_accepts_cpu_torch_and_expected_packages() -> None:
    expected = [
        ("torch", "2.13.0+cpu"),
        ("torchvision", "0.28.0+cu130"),
        ("cuda-pathfinder", "1.0"),
        ("cuda_pathfinder", "1.0"),
    ]
    assert prepare.cuda_packages(expected) == []


def test_this_environment_has_no_cuda_packages() -> None:
    assert prepare.cuda_packages(prepare.installed_distributions()) == []


def test_main_refuses_cuda_environment(monkeypatch, capsys) -> None:
    monkeypatch.setattr(
        prepare, "installed_distributions", lambda: [("nvidia-cublas-cu12", "12.4.5.8")]
    )
    assert prepare.main(["--check-only"]) == 1
    assert "nvidia-cublas-cu12" in capsys.readouterr().err


def test_prepare_is_idempotent_when_built(capsys) -> None:
    assert prepare.main([]) == 0  # builds whatever is missing (a no-op after `make setup`)
    capsys.readouterr()
    assert prepare.main([]) == 0
    out = capsys.readouterr().out
    assert "built " not in out.replace("already built", "")
    assert out.count("already built") == 2 and "already present" in out
    assert prepare.main(["--check-only"]) == 0
