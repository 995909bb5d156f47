"""The LERP geometric residual modulator (seed 004 §7): `(1 - a)·h + a·proj(geo[token])`."""

from __future__ import annotations

import math

import torch
from torch import nn

DEFAULT_INIT_SEED = 0  # used when the caller passes no generator (B8: the seed drew unseeded)


def alpha_logit(alpha: float) -> float:
    """logit(a) = log(a / (1 - a)); exactly -inf at a = 0 and +inf at a = 1 (sigmoid inverts it)."""
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    if alpha == 0.0:
        return -math.inf
    if alpha == 1.0:
        return math.inf
    return math.log(alpha / (1.0 - alpha))


def normal_draw(shape: tuple[int, ...] | torch.Size, std: float,
                generator: torch.Generator) -> torch.Tensor:
    """N(0, std²) float32, the same on every processor: drawn in float64 (torch's float32
    normal_ has an AVX2 kernel whose values differ from the default kernel's in the last
    digits), scaled, then rounded to float32."""
    return (torch.randn(tuple(shape), generator=generator, dtype=torch.float64) * std).float()


def uniform_draw(shape: tuple[int, ...] | torch.Size, bound: float,
                 generator: torch.Generator) -> torch.Tensor:
    """U(-bound, bound) float32, the same on every processor: float64 `rand` (uniform_'s kernels
    round differently per processor) mapped by separately rounded steps, rounded to float32."""
    u = torch.rand(tuple(shape), generator=generator, dtype=torch.float64)
    return ((u * 2.0 - 1.0) * bound).float()


class GeometricResidualModulator(nn.Module):
    """Nudges a residual stream toward a per-token geometric target.

    `forward(residual, token_ids, layer_idx)` returns `(1 - a)·residual + a·proj(geo[token_ids])`
    with `a = sigmoid(alpha[layer_idx])` (`alpha` holds logits: a Parameter when learnable, else a
    buffer; a scalar, or one per layer). Alpha 0 (logit -inf) returns the residual exactly and
    alpha 1 (logit +inf) the target exactly. Initialization as the seed's: `geometric_embed`
    N(0, 1), `proj` N(0, 0.01), both drawn from `generator` (seeded with DEFAULT_INIT_SEED when
    None) by `normal_draw`, the same on every processor; `init_seed` records its seed (B8).
    """

    needs_token_ids = True

    def __init__(
        self,
        d_model: int,
        vocab_size: int,
        n_geometric_dims: int = 64,
        initial_alpha: float = 0.01,
        learnable_alpha: bool = True,
        per_layer_alpha: bool = False,
        n_layers: int = 6,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("d_model", d_model), ("vocab_size", vocab_size),
                            ("n_geometric_dims", n_geometric_dims), ("n_layers", n_layers)):
            if int(value) < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        self.d_model, self.vocab_size = int(d_model), int(vocab_size)
        self.n_geometric_dims, self.n_layers = int(n_geometric_dims), int(n_layers)
        self.per_layer_alpha = bool(per_layer_alpha)
        if generator is None:
            generator = torch.Generator().manual_seed(DEFAULT_INIT_SEED)
        self.init_seed = int(generator.initial_seed())
        with torch.random.fork_rng(devices=[]):  # torch's default init would draw globally
            self.geometric_embed = nn.Embedding(self.vocab_size, self.n_geometric_dims)
            self.proj = nn.Linear(self.n_geometric_dims, self.d_model, bias=False)
        with torch.no_grad():
            self.geometric_embed.weight.copy_(normal_draw(self.geometric_embed.weight.shape,
                                                          1.0, generator))
            self.proj.weight.copy_(normal_draw(self.proj.weight.shape, 0.01, generator))
        shape = (self.n_layers,) if per_layer_alpha else ()
        logits = torch.full(shape, alpha_logit(initial_alpha))
        if learnable_alpha:
            self.alpha = nn.Parameter(logits)
        else:
            self.register_buffer("alpha", logits)

    @property
    def alphas(self) -> torch.Tensor:
        """sigmoid(alpha): the mixing weight(s), detached."""
        return torch.sigmoid(self.alpha.detach())

    def set_alpha(self, value: float) -> None:
        """Write logit(value) into every alpha (all layers), in place."""
        with torch.no_grad():
            self.alpha.fill_(alpha_logit(value))

    def _layer_alpha(self, layer_idx: int) -> torch.Tensor:
        if self.alpha.dim() == 0:
            return torch.sigmoid(self.alpha)
        if not 0 <= layer_idx < self.alpha.shape[0]:
            raise IndexError(f"layer_idx {layer_idx} outside the {self.alpha.shape[0]} alphas")
        return torch.sigmoid(self.alpha[layer_idx])

    def target(self, token_ids: torch.Tensor) -> torch.Tensor:
        """The geometric target `proj(geometric_embed(token_ids))`."""
        return self.proj(self.geometric_embed(token_ids))

    def forward(
        self, residual: torch.Tensor, token_ids: torch.Tensor, layer_idx: int = 0
    ) -> torch.Tensor:
        if residual.shape[:-1] != token_ids.shape or residual.shape[-1] != self.d_model:
            raise ValueError(
                f"residual {tuple(residual.shape)} and token_ids {tuple(token_ids.shape)} do not "
                f"match [batch, seq, {self.d_model}] and [batch, seq]"
            )
        a = self._layer_alpha(layer_idx).to(residual.dtype)
        return (1 - a) * residual + a * self.target(token_ids).to(residual.dtype)
