"""lib.modulator.lerp: the LERP modulator's size, init, exact ends and alpha logits."""

from __future__ import annotations

import math

import pytest
import torch

from lib.claims import published
from lib.modulator.lerp import GeometricResidualModulator, alpha_logit


def _mod(**kw) -> GeometricResidualModulator:
    return GeometricResidualModulator(16, 50, 8, generator=torch.Generator().manual_seed(3), **kw)


def test_size_at_t5_small_with_per_layer_alpha() -> None:
    mod = GeometricResidualModulator(512, 32128, 64, per_layer_alpha=True, n_layers=6)
    assert sum(p.numel() for p in mod.parameters()) == 32128 * 64 + 64 * 512 + 6 == 2_088_966
    assert isinstance(mod.alpha, torch.nn.Parameter) and mod.alpha.shape == (6,)
    assert mod.proj.bias is None
    assert isinstance(mod.geometric_embed, torch.nn.Embedding)


def test_alpha_is_a_buffer_when_not_learnable_and_a_scalar_by_default() -> None:
    mod = _mod(learnable_alpha=False)
    assert "alpha" in dict(mod.named_buffers()) and mod.alpha.dim() == 0
    assert mod.alpha.item() == pytest.approx(math.log(0.01 / 0.99))


def test_init_is_seeded_and_has_the_seeds_scales() -> None:
    a = GeometricResidualModulator(64, 4000, 64, generator=torch.Generator().manual_seed(7))
    b = GeometricResidualModulator(64, 4000, 64, generator=torch.Generator().manual_seed(7))
    c = GeometricResidualModulator(64, 4000, 64, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a.geometric_embed.weight, b.geometric_embed.weight)
    assert torch.equal(a.proj.weight, b.proj.weight)
    assert not torch.equal(a.geometric_embed.weight, c.geometric_embed.weight)
    assert a.init_seed == 7
    state = torch.random.get_rng_state()
    GeometricResidualModulator(8, 10, 2)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global RNG is left alone
    assert a.geometric_embed.weight.std().item() == pytest.approx(1.0, abs=0.01)
    assert a.proj.weight.std().item() == pytest.approx(0.01, abs=0.001)


def test_forward_matches_the_formula_per_layer() -> None:
    mod = _mod(per_layer_alpha=True, n_layers=3)
    with torch.no_grad():
        mod.alpha.copy_(torch.tensor([-1.0, 0.5, 2.0]))
    h = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(0))
    ids = torch.randint(50, (2, 5), generator=torch.Generator().manual_seed(1))
    target = mod.geometric_embed.weight[ids] @ mod.proj.weight.T
    for layer, logit in enumerate([-1.0, 0.5, 2.0]):
        a = 1 / (1 + math.exp(-logit))
        torch.testing.assert_close(mod(h, ids, layer), (1 - a) * h + a * target)


def test_alpha_zero_is_the_identity_and_alpha_one_the_target_exactly() -> None:
    mod = _mod(per_layer_alpha=True, n_layers=2)
    h = torch.randn(2, 4, 16)
    ids = torch.randint(50, (2, 4))
    mod.set_alpha(0.0)
    assert mod.alpha[0].item() == -math.inf
    assert torch.equal(mod(h, ids, 1), h)
    mod.set_alpha(1.0)
    assert torch.equal(mod(h, ids, 0), mod.target(ids))


def test_alpha_logit_inverts_sigmoid_and_rejects_values_outside_0_1() -> None:
    for a in (0.01, published("modulator.phase_boundary"), 0.5):
        assert torch.sigmoid(torch.tensor(alpha_logit(a), dtype=torch.float64)).item() == (
            pytest.approx(a))
    assert alpha_logit(0.01) == pytest.approx(-4.59512, abs=1e-5)  # SPEC §8
    assert alpha_logit(published("modulator.phase_boundary")) == pytest.approx(  # SPEC §10
        -0.88792, abs=1e-5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        alpha_logit(1.5)


def test_bad_shapes_and_layers_raise() -> None:
    mod = _mod(per_layer_alpha=True, n_layers=2)
    with pytest.raises(ValueError, match="do not match"):
        mod(torch.randn(2, 4, 15), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(IndexError, match="layer_idx 5"):
        mod(torch.randn(1, 2, 16), torch.zeros(1, 2, dtype=torch.long), 5)
    with pytest.raises(ValueError, match="d_model"):
        GeometricResidualModulator(0, 10)



_INIT_BITS = """
import hashlib, sys, torch
sys.path.insert(0, {root!r})
from lib.modulator.field import FieldModulatorConfig, GeometricFieldModulator
from lib.modulator.lerp import GeometricResidualModulator
lerp = GeometricResidualModulator(24, 300, 8, generator=torch.Generator().manual_seed(5))
field = GeometricFieldModulator(FieldModulatorConfig(d_model=32, n_layers=2), seed=5)
h = hashlib.sha256()
for mod in (lerp, field):
    for value in mod.state_dict().values():
        h.update(value.contiguous().numpy().tobytes())
plain = torch.empty(4096).normal_(generator=torch.Generator().manual_seed(0))  # the seed's draw
print(h.hexdigest(), hashlib.sha256(plain.numpy().tobytes()).hexdigest())
"""


@pytest.mark.integration  # two Python subprocesses, one per torch CPU kernel
def test_the_inits_are_the_same_bits_under_every_torch_cpu_kernel() -> None:
    """torch's float32 normal_ and uniform_ round differently in their AVX2/AVX-512 and default
    kernels (the unmatched rows differed by 2e-6); the modulators' inits do not."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = _INIT_BITS.format(root=str(Path(__file__).resolve().parents[2]))
    ours, seeds = zip(*(subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env=os.environ | {"ATEN_CPU_CAPABILITY": cap}).stdout.split()
        for cap in ("default", "avx2")), strict=True)
    if seeds[0] == seeds[1]:
        pytest.skip("this processor has no AVX2: torch runs its default kernels only")
    assert ours[0] == ours[1]  # while float32 normal_ differs between the kernels
