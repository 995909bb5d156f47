"""The multi-expert geometric field modulator (seed 004 §12), ported faithfully.

Each `KSimplexChannelExpert` deforms a (not quite regular) k-simplex template by a linear map of
the residual's active dimensions and measures it with a Gram-based Cayley-Menger validator; the
experts' gates multiply the active dimensions, `gate = Π_i ((1 - α_li) + α_li·σ(W_i geo_i))`, and
the null-space dimensions pass untouched. The seed's faults (SPEC B12) that change numbers are
kept, the one that does not is fixed; `fault_decisions()` lists each, and comments carry its letter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from lib.modulator.lerp import alpha_logit, uniform_draw

PHASE_BOUNDARY = 0.29154  # the seed's binding/separation constant (B2); alpha_max is 0.35 (B12f)


def fault_decisions() -> list[dict[str, str]]:
    """How this port treats each §12 fault (SPEC B12): letter, fault, decision."""
    return [
        {"id": "B12a", "fault": "the experts' validity gate is computed but never used, so "
         "_validity_proj (20 parameters) gets no gradient", "decision": "kept (changes numbers)"},
        {"id": "B12b", "fault": "the k=1 expert is input-independent: vol² = d², LayerNorm of "
         "[d², d²] is 0, its gate is a learned constant", "decision": "kept (changes numbers); "
         "its _to_deform gets rounding noise for a gradient, which AdamW turns into lr-sized "
         "steps: those weights (health deform_norm_k1) differ between processors (by up to 2% in "
         "the embedded run) and change no output beyond rounding"},
        {"id": "B12c", "fault": "health_report keys deform_norm_<expert> by the second name part, "
         "so the bias norm overwrites the weight norm", "decision": "fixed: deform_norm_<k> is "
         "the weight norm, deform_bias_norm_<k> the bias norm (no number changes)"},
        {"id": "B12d", "fault": "cv_check draws 500 simplices with replacement "
         "(torch.randint) from only the first expert_edim dimensions, not D1",
         "decision": "kept (changes numbers); D1 CV is measured in lib.modulator.pipeline. A "
         "draw that repeats a point gets vol² = 0 (the seed's float32 noise of either sign "
         "depended on the processor), vol² in float64"},
        {"id": "B12e", "fault": "'gradient scaling' is learning-rate scaling (AdamW groups "
         "lr·0.1 / lr·0.5 / lr)", "decision": "kept, named as LR scaling"},
        {"id": "B12f", "fault": f"alpha_max 0.35 is said to be the binding/separation boundary, "
         f"which is {PHASE_BOUNDARY}", "decision": "kept (changes numbers)"},
        {"id": "B12 (extra)", "fault": "null_space_position='random' multiplies by a mask "
         "instead of selecting dims, so Linear(n_active) gets d_model inputs and fails",
         "decision": "fixed: the active dims are gathered and scattered back"},
        {"id": "B12g", "fault": "the seed never trains or evaluates the field modulator on T5",
         "decision": "trained through the same hooks and loop as the LERP modulator"},
    ]


@dataclass(frozen=True)
class FieldModulatorConfig:
    """The seed's defaults (vocab_size, per_layer_per_expert and track_cv are unused there too)."""

    d_model: int = 512
    vocab_size: int = 32128
    n_layers: int = 6
    expert_ks: tuple[int, ...] = (1, 2, 4)
    expert_edim: int = 8
    initial_alpha: float = 0.01
    alpha_max: float = 0.35  # B12f: above the 0.29154 boundary it is said to respect
    alpha_min: float = 0.001
    per_layer_per_expert: bool = True
    null_space_fraction: float = 0.25
    null_space_position: str = "tail"  # "tail" or "random" (torch.Generator seeded 42)
    gradient_scale: float = 0.1  # B12e: an LR factor for the expert parameters
    cv_target: float = 0.21
    cv_tolerance: float = 0.05
    deform_scale: float = 0.05
    track_validity: bool = True
    track_cv: bool = True

    def __post_init__(self) -> None:
        if self.null_space_position not in ("tail", "random"):
            raise ValueError(
                f"null_space_position must be 'tail' or 'random', got {self.null_space_position!r}"
            )
        if not 0.0 <= self.null_space_fraction < 1.0:
            raise ValueError(f"null_space_fraction must lie in [0, 1), got "
                             f"{self.null_space_fraction}")
        if not self.expert_ks or min(self.expert_ks) < 1:
            raise ValueError(f"expert_ks must be positive simplex orders, got {self.expert_ks}")
        if self.expert_edim < max(self.expert_ks):
            raise ValueError(f"expert_edim ({self.expert_edim}) must be >= the largest k "
                             f"({max(self.expert_ks)})")


class CMValidator(nn.Module):
    """Cayley-Menger volume of k-simplices from a Gram matrix: `(..., k+1, e)` -> (d² pairs, vol²).

    Squared distances are `relu(‖a‖² + ‖b‖² - 2⟨a, b⟩)`; `vol² = (-1)^(k+1) det(CM) / (2^k (k!)²)`.
    """

    def __init__(self, k: int) -> None:
        super().__init__()
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k, self.n_vertices = k, k + 1
        pairs = list(combinations(range(k + 1), 2))
        self.register_buffer("_pi", torch.tensor([p[0] for p in pairs], dtype=torch.long))
        self.register_buffer("_pj", torch.tensor([p[1] for p in pairs], dtype=torch.long))
        self.prefactor = (-1.0) ** (k + 1) / (2.0**k * math.factorial(k) ** 2)

    @property
    def n_pairs(self) -> int:
        return self._pi.numel()

    @property
    def out_dim(self) -> int:
        return self.n_pairs + 1

    def forward(self, verts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if verts.dim() < 2 or verts.shape[-2] != self.n_vertices:
            raise ValueError(f"verts must be (..., {self.n_vertices}, e), got {tuple(verts.shape)}")
        gram = torch.einsum("...ve,...we->...vw", verts, verts)
        norms = torch.diagonal(gram, dim1=-2, dim2=-1)
        d2 = F.relu(norms.unsqueeze(-1) + norms.unsqueeze(-2) - 2 * gram)
        nv = self.n_vertices
        cm = torch.zeros(*d2.shape[:-2], nv + 1, nv + 1, dtype=d2.dtype, device=d2.device)
        cm[..., 0, 1:] = 1.0
        cm[..., 1:, 0] = 1.0
        cm[..., 1:, 1:] = d2
        return d2[..., self._pi, self._pj], self.prefactor * torch.linalg.det(cm)


def build_regular_simplex(k: int, edim: int) -> torch.Tensor:
    """The seed's simplex template `(k+1, edim)`, centered, edge 0-1 scaled to 1.

    Diagonal `√((k+1)/k)` for vertex 0, else `√((k+1)/(k(1+1/(i+1))))`; below it
    `v[i,p] = -1/(k·v[p,p])`. Despite the name it is **not regular for k >= 2** (edges 0.96-1.05
    at k=2, 0.94-1.08 at k=4; vol² 1.0 / 0.188275 / 0.000546689 for k = 1, 2, 4): kept as is.
    """
    if edim < k:
        raise ValueError(f"edim ({edim}) must be >= k ({k})")
    verts = torch.zeros(k + 1, edim)
    for i in range(min(k + 1, edim)):
        verts[i, i] = math.sqrt((k + 1) / k) if i == 0 else math.sqrt(
            (k + 1) / (k * (1 + 1 / (i + 1))))
        for prev in range(i):
            diag = verts[prev, prev]
            verts[i, prev] = -1.0 / (k * diag) if diag != 0 else 0.0
    verts = verts - verts.mean(dim=0)
    edge = (verts[0] - verts[1]).norm()
    return verts / edge if edge > 1e-8 else verts


class KSimplexChannelExpert(nn.Module):
    """One expert: `verts = template + deform_scale·Linear(x)`, `geo = LayerNorm([d², vol²])`.

    Returns `(geo, vol², validity)`; validity = σ(Linear(geo)) is computed as in the seed and
    never used by the modulator (B12a).
    """

    def __init__(self, k: int, in_dim: int, edim: int, deform_scale: float = 0.05) -> None:
        super().__init__()
        self.k, self.n_vertices, self.edim = k, k + 1, edim
        self.deform_scale = deform_scale
        self._cm = CMValidator(k)
        self.register_buffer("_template", build_regular_simplex(k, edim))
        self._to_deform = nn.Linear(in_dim, self.n_vertices * edim)
        self._norm = nn.LayerNorm(self._cm.out_dim)
        self._validity_proj = nn.Sequential(nn.Linear(self._cm.out_dim, 1), nn.Sigmoid())

    @property
    def out_dim(self) -> int:
        return self._cm.out_dim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        deform = self._to_deform(x).unflatten(-1, (self.n_vertices, self.edim))
        d2, vol2 = self._cm(self._template + self.deform_scale * deform)
        # B12b kept: for k=1 vol² equals d², so this LayerNorm output is (almost) its bias alone
        geo = self._norm(torch.cat([d2, vol2.unsqueeze(-1)], dim=-1))
        return geo, vol2, self._validity_proj(geo)  # B12a kept: validity feeds nothing


class FieldModulatorOutput(NamedTuple):
    """The modulated residual, the per-position mean gate, and each expert's vol² (detached)."""

    residual: torch.Tensor
    validity_map: torch.Tensor
    expert_volumes: dict[int, torch.Tensor]


class GeometricFieldModulator(nn.Module):
    """Multiplicative multi-expert gating of the residual's active dimensions (seed §12).

    `forward(x [B, S, d_model], layer_idx)` returns a FieldModulatorOutput. 38,552 parameters at
    the default config. The Linear layers get torch's default init distribution, U(±1/√fan_in),
    drawn from a generator seeded `seed` by `uniform_draw` (the same on every processor; the
    global RNG is left as it was). Alphas are `clamp(σ(alpha_logits), alpha_min, alpha_max)`,
    one per layer and expert. In training mode the validity history (EMA 0.99 of the fraction
    vol² > 0) and the step count update, as in the seed.
    """

    needs_token_ids = False

    def __init__(self, config: FieldModulatorConfig | None = None, *, seed: int = 0) -> None:
        super().__init__()
        self.config = config = config or FieldModulatorConfig()
        self.init_seed = int(seed)  # the seed used torch's unseeded default init
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.init_seed)
            self._build(config)
        # torch's default Linear init, U(±1/√fan_in) for weight and bias, redrawn so that it is
        # the same on every processor (`uniform_draw`; uniform_ rounds differently per kernel)
        gen = torch.Generator().manual_seed(self.init_seed)
        with torch.no_grad():
            for module in self.modules():
                if isinstance(module, nn.Linear):
                    bound = 1.0 / math.sqrt(module.in_features)
                    module.weight.copy_(uniform_draw(module.weight.shape, bound, gen))
                    module.bias.copy_(uniform_draw(module.bias.shape, bound, gen))

    def _build(self, config: FieldModulatorConfig) -> None:
        d = config.d_model
        self.n_null = int(d * config.null_space_fraction)
        self.n_active = d - self.n_null
        mask = torch.ones(d)
        if config.null_space_position == "tail":
            mask[self.n_active:] = 0.0
        else:
            perm = torch.randperm(d, generator=torch.Generator().manual_seed(42))
            mask[perm[: self.n_null]] = 0.0
        self.register_buffer("_active_mask", mask.view(1, 1, d))
        self.register_buffer("_active_idx", torch.nonzero(mask).flatten())
        self.experts = nn.ModuleDict({
            f"k{k}": KSimplexChannelExpert(k, self.n_active, config.expert_edim,
                                           config.deform_scale)
            for k in config.expert_ks
        })
        self.gate_projs = nn.ModuleDict({
            f"k{k}": nn.Sequential(nn.Linear(self.experts[f"k{k}"].out_dim, self.n_active),
                                   nn.Sigmoid())
            for k in config.expert_ks
        })
        n_experts = len(config.expert_ks)
        self.alpha_logits = nn.Parameter(
            torch.full((config.n_layers, n_experts), alpha_logit(config.initial_alpha)))
        if config.track_validity:
            self.register_buffer("_validity_history", torch.zeros(config.n_layers, n_experts))
        self.register_buffer("_step_count", torch.tensor(0, dtype=torch.long))

    @property
    def n_layers(self) -> int:
        return self.config.n_layers

    @property
    def d_model(self) -> int:
        return self.config.d_model

    @property
    def alphas(self) -> torch.Tensor:
        """clamp(σ(alpha_logits), alpha_min, alpha_max): [n_layers, n_experts]."""
        return torch.clamp(torch.sigmoid(self.alpha_logits), self.config.alpha_min,
                           self.config.alpha_max)

    def _extract_active(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.null_space_position == "tail":
            return x[..., : self.n_active]
        # the seed's x * mask keeps all d_model dims and cannot enter Linear(n_active): gather
        return x[..., self._active_idx]

    def forward(self, residual: torch.Tensor, layer_idx: int) -> FieldModulatorOutput:
        if residual.dim() != 3 or residual.shape[-1] != self.config.d_model:
            raise ValueError(f"residual must be [batch, seq, {self.config.d_model}], "
                             f"got {tuple(residual.shape)}")
        if not 0 <= layer_idx < self.config.n_layers:
            raise IndexError(f"layer_idx {layer_idx} outside 0..{self.config.n_layers - 1}")
        alphas = self.alphas[layer_idx]
        # a half-precision model (dtype float16 / bfloat16) is gated in the experts' float32
        active = self._extract_active(residual).to(self.alpha_logits.dtype)
        gate = torch.ones_like(active)
        volumes: dict[int, torch.Tensor] = {}
        for i, k in enumerate(self.config.expert_ks):
            geo, vol2, _validity = self.experts[f"k{k}"](active)  # B12a: validity unused
            volumes[k] = vol2.detach()
            gate = gate * ((1 - alphas[i]) + alphas[i] * self.gate_projs[f"k{k}"](geo))
            if self.config.track_validity and self.training:
                with torch.no_grad():
                    frac = (vol2 > 0).float().mean()
                    self._validity_history[layer_idx, i] = (
                        0.99 * self._validity_history[layer_idx, i] + 0.01 * frac)
        out = residual.clone()
        if self.config.null_space_position == "tail":
            out[..., : self.n_active] = (active * gate).to(out.dtype)
        else:
            out[..., self._active_idx] = (active * gate).to(out.dtype)
        if self.training:
            self._step_count += 1
        return FieldModulatorOutput(out, gate.mean(dim=-1), volumes)

    def health_report(self) -> dict[str, float]:
        """Alpha statistics, validity history, template vol², deform norms, total parameters."""
        alphas = self.alphas.detach()
        report: dict[str, float] = {
            "alpha_mean": alphas.mean().item(), "alpha_std": alphas.std().item(),
            "alpha_min": alphas.min().item(), "alpha_max": alphas.max().item(),
        }
        for layer in range(self.config.n_layers):
            report[f"alpha_layer_{layer}"] = alphas[layer].mean().item()
        if self.config.track_validity:
            report["validity_mean"] = self._validity_history.mean().item()
            for i, k in enumerate(self.config.expert_ks):
                report[f"validity_k{k}"] = self._validity_history[:, i].mean().item()
        with torch.no_grad():
            for k in self.config.expert_ks:
                expert = self.experts[f"k{k}"]
                report[f"template_vol2_k{k}"] = expert._cm(expert._template.unsqueeze(0))[1].item()
        for key, expert in self.experts.items():
            # B12c fixed: the seed keyed both tensors by the expert name, the bias overwrote it
            report[f"deform_norm_{key}"] = expert._to_deform.weight.detach().norm().item()
            report[f"deform_bias_norm_{key}"] = expert._to_deform.bias.detach().norm().item()
        report["total_params"] = sum(p.numel() for p in self.parameters())
        return report

    @torch.no_grad()
    def cv_check(self, embeddings: torch.Tensor, n_simplices: int = 500) -> dict[str, float]:
        """The seed's CV check: 500 five-point draws `torch.randint` (with replacement, generator
        seeded 42) from the first `expert_edim` dimensions (B12d kept); CV = std(ddof 1) / mean
        of √vol² over the valid ones (vol² > 0); `in_band` = |cv - cv_target| < cv_tolerance.
        vol² is float64, and a draw that repeats a point, a degenerate simplex, has vol² = 0:
        the seed's float32 gave it rounding noise of either sign, which the processor decided
        (counted valid or not, it moved the embedded run's CV by 0.3%)."""
        if embeddings.dim() != 2 or embeddings.shape[0] < 1:
            raise ValueError(f"embeddings must be a non-empty [N, d] matrix, got "
                             f"{tuple(embeddings.shape)}")
        cm = self.experts["k4"]._cm if "k4" in self.experts else CMValidator(4)
        points = embeddings[..., : self.n_active][..., : self.config.expert_edim]
        gen = torch.Generator().manual_seed(42)
        idx = torch.stack([torch.randint(embeddings.shape[0], (5,), generator=gen)
                           for _ in range(n_simplices)])
        vol2 = cm(points[idx].to(cm._pi.device, torch.float64))[1]
        repeats = (idx.sort(dim=1).values.diff(dim=1) == 0).any(dim=1).to(vol2.device)
        vol2 = vol2.masked_fill(repeats, 0.0)
        vols = vol2[vol2 > 0].sqrt()
        if vols.numel() == 0:  # as the seed: no in_band key, so check_cv counts it as healthy
            return {"cv": float("nan"), "mean_vol": 0.0, "valid_fraction": 0.0}
        cv = (vols.std() / vols.mean()).item() if vols.numel() > 1 else float("nan")
        return {"cv": cv, "mean_vol": vols.mean().item(),
                "valid_fraction": vols.numel() / n_simplices,
                "in_band": abs(cv - self.config.cv_target) < self.config.cv_tolerance}


class FieldModulatorTrainer:
    """AdamW (wd 0.01) with the seed's groups: expert/deform parameters at lr·gradient_scale,
    alpha at lr·0.5, gates at lr (B12e: LR scaling); each step backward, clip, step, zero_grad."""

    def __init__(self, modulator: GeometricFieldModulator, lr: float = 1e-3,
                 weight_decay: float = 0.01, gradient_clip: float = 1.0) -> None:
        self.modulator, self.gradient_clip = modulator, gradient_clip
        groups: dict[str, list[nn.Parameter]] = {"geo": [], "alpha": [], "gate": []}
        for name, param in modulator.named_parameters():
            key = ("alpha" if "alpha" in name
                   else "geo" if ("expert" in name or "deform" in name) else "gate")
            groups[key].append(param)
        self.optimizer = torch.optim.AdamW([
            {"params": groups["geo"], "lr": lr * modulator.config.gradient_scale},
            {"params": groups["alpha"], "lr": lr * 0.5},
            {"params": groups["gate"], "lr": lr},
        ], weight_decay=weight_decay)
        self.alpha_history: list = []
        self.cv_history: list[dict] = []
        self.loss_history: list[float] = []

    def step(self, loss: torch.Tensor) -> None:
        """One optimizer step on `loss`; logs the alphas and the loss."""
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.modulator.parameters(), self.gradient_clip)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.alpha_history.append(self.modulator.alphas.detach().cpu().numpy().copy())
        self.loss_history.append(loss.item())

    def check_cv(self, embeddings: torch.Tensor) -> bool:
        """Run `cv_check`, record it, return whether the CV is in band."""
        result = self.modulator.cv_check(embeddings)
        self.cv_history.append(result)
        return bool(result.get("in_band", True))

    def should_stop(self, patience: int = 5) -> bool:
        """True after `patience` consecutive out-of-band CV checks."""
        if len(self.cv_history) < patience:
            return False
        return all(not r.get("in_band", True) for r in self.cv_history[-patience:])
