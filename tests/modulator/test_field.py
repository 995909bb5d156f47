"""lib.modulator.field: the §12 port, its size, template quirks and B12 decisions."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest
import torch

from lib.claims import published
from lib.modulator.field import (
    CMValidator,
    FieldModulatorConfig,
    FieldModulatorTrainer,
    GeometricFieldModulator,
    KSimplexChannelExpert,
    build_regular_simplex,
    fault_decisions,
)
from lib.terrain.simplex import cayley_menger_vol2


def test_default_config_is_the_seeds() -> None:
    c = FieldModulatorConfig()
    assert (c.d_model, c.n_layers, c.expert_ks, c.expert_edim) == (512, 6, (1, 2, 4), 8)
    assert (c.initial_alpha, c.alpha_max, c.alpha_min) == (0.01, 0.35, 0.001)
    assert (c.null_space_fraction, c.null_space_position) == (0.25, "tail")
    assert (c.gradient_scale, c.cv_target, c.cv_tolerance, c.deform_scale) == (
        0.1, 0.21, 0.05, 0.05)


def test_parameter_count_is_the_published_one_with_the_spec_breakdown() -> None:
    mod = GeometricFieldModulator(FieldModulatorConfig())
    n = {name: sum(p.numel() for p in m.parameters()) for name, m in mod.experts.items()}
    assert n == {"k1": 6167, "k2": 9253, "k4": 15434}
    assert sum(p.numel() for p in mod.gate_projs.parameters()) == 7680
    assert mod.alpha_logits.numel() == 18
    total = published("modulator.field_parameters")
    assert sum(p.numel() for p in mod.parameters()) == total
    assert mod.health_report()["total_params"] == total


def test_template_volumes_are_the_seeds_not_a_regular_simplex() -> None:
    expected = {1: 1.0, 2: 0.188275, 4: 0.000546689}
    regular = {1: 1.0, 2: 0.1875, 4: 0.000542535}  # vol² of a unit-edge regular simplex
    for k, vol2 in expected.items():
        t = build_regular_simplex(k, 8).double()
        ours = CMValidator(k)(t.unsqueeze(0))[1].item()
        assert ours == pytest.approx(vol2, rel=2e-6)
        assert cayley_menger_vol2(t.unsqueeze(0).numpy())[0] == pytest.approx(vol2, rel=2e-6)
        if k >= 2:
            assert abs(ours - regular[k]) / regular[k] > 1e-3
            edges = [(t[i] - t[j]).norm().item() for i, j in combinations(range(k + 1), 2)]
            assert edges[0] == pytest.approx(1.0) and max(edges) - min(edges) > 0.05
    assert torch.allclose(build_regular_simplex(4, 8).mean(0), torch.zeros(8), atol=1e-6)


def test_cm_validator_matches_a_plain_determinant() -> None:
    pts = torch.randn(7, 5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    d2, vol2 = CMValidator(4)(pts)
    np.testing.assert_allclose(vol2.numpy(), cayley_menger_vol2(pts.numpy()), rtol=1e-9)
    assert d2.shape == (7, 10)
    assert d2[0, 0].item() == pytest.approx(((pts[0, 0] - pts[0, 1]) ** 2).sum().item())
    assert CMValidator(4).out_dim == 11 and CMValidator(1).out_dim == 2
    with pytest.raises(ValueError, match=r"\(\.\.\., 5, e\)"):
        CMValidator(4)(torch.randn(3, 4, 6))


def test_null_space_is_bit_identical_and_the_gate_only_shrinks() -> None:
    mod = GeometricFieldModulator(FieldModulatorConfig())
    with torch.no_grad():
        mod.alpha_logits.fill_(10.0)  # clamped to alpha_max 0.35
    x = torch.randn(2, 16, 512, generator=torch.Generator().manual_seed(0))
    out = mod(x, 3)
    assert torch.equal(out.residual[..., 384:], x[..., 384:])
    ratio = out.residual[..., :384] / x[..., :384]
    assert ratio.min().item() >= (1 - 0.35) ** 3 - 1e-6 and ratio.max().item() <= 1 + 1e-6
    assert out.validity_map.shape == (2, 16)
    assert set(out.expert_volumes) == {1, 2, 4}


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_half_precision_encoder_is_gated_in_float32_and_keeps_its_dtype(dtype: torch.dtype
                                                                         ) -> None:
    """A model loaded at `dtype: float16/bfloat16` hands the hooks half-precision residuals:
    the float32 experts gate them (once a dtype mismatch in §12) and return the model's dtype."""
    mod = GeometricFieldModulator(FieldModulatorConfig(d_model=64, n_layers=2))
    x = torch.randn(2, 5, 64, generator=torch.Generator().manual_seed(0))
    out = mod(x.to(dtype), 1)
    assert out.residual.dtype == dtype
    assert torch.equal(out.residual[..., 48:], x.to(dtype)[..., 48:])
    expected = mod(x.to(dtype).float(), 1).residual.to(dtype)
    assert torch.equal(out.residual, expected)
    out.residual.float().sum().backward()  # trains: the gradient reaches the float32 alphas
    assert mod.alpha_logits.grad is not None and torch.isfinite(mod.alpha_logits.grad).all()


def test_random_null_space_is_untouched_too() -> None:
    mod = GeometricFieldModulator(FieldModulatorConfig(d_model=64, null_space_position="random"))
    x = torch.randn(1, 3, 64)
    null = mod._active_mask.flatten() == 0
    assert null.sum().item() == 16
    assert torch.equal(mod(x, 0).residual[..., null], x[..., null])


def test_alphas_clamp_and_init() -> None:
    mod = GeometricFieldModulator()
    assert torch.allclose(mod.alphas, torch.full((6, 3), 0.01))
    with torch.no_grad():
        mod.alpha_logits[0].fill_(-20.0)
        mod.alpha_logits[1].fill_(20.0)
    assert mod.alphas[0].max().item() == pytest.approx(0.001)
    assert mod.alphas[1].min().item() == pytest.approx(0.35)


def test_the_k1_expert_is_input_independent() -> None:
    expert = KSimplexChannelExpert(1, 32, 8)
    geo1 = expert(torch.randn(5, 32))[0]
    geo2 = expert(10 * torch.randn(5, 32))[0]
    assert torch.allclose(geo1, geo2, atol=1e-2)
    assert torch.allclose(geo1, expert._norm.bias.expand_as(geo1), atol=1e-2)


def test_validity_gets_no_gradient_and_training_updates_history() -> None:
    mod = GeometricFieldModulator(FieldModulatorConfig(d_model=32, n_layers=2))
    mod.train()
    mod(torch.randn(2, 3, 32), 1).residual.sum().backward()
    assert all(p.grad is None for n, p in mod.named_parameters() if "_validity_proj" in n)
    assert mod.alpha_logits.grad is not None
    assert mod._validity_history[1].min().item() > 0 and mod._validity_history[0].max() == 0
    assert mod._step_count.item() == 1
    mod.eval()
    mod(torch.randn(2, 3, 32), 0)
    assert mod._step_count.item() == 1


def test_health_report_keeps_weight_and_bias_norms_apart() -> None:
    mod = GeometricFieldModulator()
    report = mod.health_report()
    w = mod.experts["k2"]._to_deform.weight.norm().item()
    b = mod.experts["k2"]._to_deform.bias.norm().item()
    assert report["deform_norm_k2"] == pytest.approx(w)
    assert report["deform_bias_norm_k2"] == pytest.approx(b)
    assert report["template_vol2_k4"] == pytest.approx(0.000546689, rel=1e-4)


def test_cv_check_is_the_seeds_sampling() -> None:
    mod = GeometricFieldModulator()
    emb = torch.randn(1000, 512, generator=torch.Generator().manual_seed(1))
    got = mod.cv_check(emb)
    gen = torch.Generator().manual_seed(42)
    cm = CMValidator(4)
    vols, repeats = [], 0
    for _ in range(500):  # the seed's loop, one simplex at a time
        idx = torch.randint(1000, (5,), generator=gen)
        if len(set(idx.tolist())) < 5:  # a repeated point: vol² = 0, not the seed's noise
            repeats += 1
            continue
        v = cm(emb[idx][:, :8].double().unsqueeze(0))[1].item()
        if v > 0:
            vols.append(math.sqrt(v))
    vols = torch.tensor(vols, dtype=torch.float64)
    assert repeats == 5  # with replacement (B12d): 5 of the 500 draws repeat a point
    assert got["cv"] == pytest.approx((vols.std() / vols.mean()).item(), rel=1e-12)
    assert got["valid_fraction"] == len(vols) / 500 == 495 / 500
    assert got["in_band"] == (abs(got["cv"] - 0.21) < 0.05)


def test_cv_check_gives_a_repeated_point_no_volume() -> None:
    """A draw that repeats a point is a degenerate simplex: float32 gave its vol² rounding noise
    of either sign (which the processor decided), so it counted as valid on some and moved the
    CV by 0.3% (0.730 vs 0.728 in the embedded run); it has vol² = 0, and is never valid."""
    mod = GeometricFieldModulator(FieldModulatorConfig(d_model=32, n_layers=1))
    emb = torch.randn(8, 32, generator=torch.Generator().manual_seed(3))
    got = mod.cv_check(emb)  # 8 points: most of the 500 draws of 5 repeat one
    gen = torch.Generator().manual_seed(42)
    idx = torch.stack([torch.randint(8, (5,), generator=gen) for _ in range(500)])
    distinct = sum(len(set(i.tolist())) == 5 for i in idx)
    assert 50 < distinct < 150 and got["valid_fraction"] == distinct / 500
    noisy = CMValidator(4)(emb[idx][..., :8])[1]  # float32: repeated draws are not all exactly 0
    assert (noisy[[len(set(i.tolist())) < 5 for i in idx]] != 0).any()


def test_trainer_groups_and_should_stop() -> None:
    mod = GeometricFieldModulator(FieldModulatorConfig(d_model=32, n_layers=2))
    trainer = FieldModulatorTrainer(mod, lr=1e-3)
    lrs = [g["lr"] for g in trainer.optimizer.param_groups]
    sizes = [sum(p.numel() for p in g["params"]) for g in trainer.optimizer.param_groups]
    assert lrs == pytest.approx([1e-4, 5e-4, 1e-3])
    assert sizes[1] == 6 and sizes[0] == sum(p.numel() for p in mod.experts.parameters())
    trainer.step(mod(torch.randn(2, 3, 32), 0).residual.pow(2).mean())
    assert len(trainer.alpha_history) == 1 and trainer.alpha_history[0].shape == (2, 3)
    trainer.cv_history = [{"in_band": False}] * 4
    assert not trainer.should_stop(patience=5)
    trainer.cv_history.append({"in_band": False})
    assert trainer.should_stop(patience=5)
    trainer.cv_history.append({"in_band": True})
    assert not trainer.should_stop(patience=5)


def test_fault_decisions_cover_each_b12_letter_and_bad_config_raises() -> None:
    ids = [d["id"] for d in fault_decisions()]
    assert {f"B12{c}" for c in "abcdefg"} <= set(ids)
    with pytest.raises(ValueError, match="null_space_position"):
        FieldModulatorConfig(null_space_position="middle")
    with pytest.raises(ValueError, match="expert_edim"):
        FieldModulatorConfig(expert_edim=2)
    with pytest.raises(ValueError, match=r"\[batch, seq, 512\]"):
        GeometricFieldModulator()(torch.randn(3, 512), 0)
