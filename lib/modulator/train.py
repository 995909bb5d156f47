"""Train a modulator on a frozen encoder (seed 004 §9: "alpha finds itself").

Only the modulator trains: every model weight has `requires_grad=False` and is checked
bit-identical afterwards. AdamW (wd 0.01), LR 1e-3, CosineAnnealingLR stepped per epoch, gradient
clip 1.0, a 90/10 split from `default_rng(seed).permutation` and a per-epoch reshuffle from the
same rng; alphas logged every `alpha_every` batches. Objectives:

- `t5-seed` (seed_faithful, B9): the decoder is fed the *unshifted* target ids (a copy task) and
  `lm_head` is applied without T5's `d_model**-0.5` rescale; CE with pad -> -100.
- `t5`: the model's own loss, `model(encoder_outputs=..., attention_mask=..., labels=...)`.
- `encoder-token` (BERT-likes such as MiniLM): the lemma's single token is predicted from the
  definition's mean-pooled *modulated* representation by its dot product with the encoder's own
  input word embeddings (frozen), cross-entropy over the whole vocabulary.

The field modulator trains through the same loop, with its own AdamW groups
(`FieldModulatorTrainer`) and a `cv_check` on the pooled validation reps after each epoch.

A loss or gradient norm that is not finite stops the run at once (`TrainingDivergedError`, naming
the step, the value and the parameter key to lower), before the step that would write it into
the modulator; `save_modulator` refuses a non-finite tensor, so no NaN modulator is saved.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from lib.modulator.field import FieldModulatorTrainer, GeometricFieldModulator
from lib.modulator.hooks import attach, encoder_of

OBJECTIVES = ("t5-seed", "t5", "encoder-token")


class TrainingDivergedError(RuntimeError):
    """The training loss (or gradient norm) became inf or NaN; the message is one line."""


@dataclass(frozen=True)
class TrainConfig:
    """§9 hyperparameters (the seed's values); `max_steps` caps a short run."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    clip: float = 1.0
    max_input_len: int = 128
    max_target_len: int = 16
    val_fraction: float = 0.1
    alpha_every: int = 10
    seed: int = 42
    seed_faithful: bool = False
    max_steps: int | None = None
    layers: tuple[int, ...] | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.alpha_every < 1:
            raise ValueError("epochs, batch_size and alpha_every must be >= 1")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must lie in (0, 1), got {self.val_fraction}")


@dataclass
class TrainResult:
    """What a training run logged; `to_dict()` is JSON-able (arrays as lists)."""

    objective: str
    n_train: int
    n_val: int
    steps: int
    seconds: float  # the whole loop, validation included
    seconds_per_step: float  # optimizer steps only (forward, backward, clip, step)
    alpha_steps: list[int]
    alpha_history: np.ndarray  # [n_checkpoints, *alpha shape]
    final_alpha: np.ndarray
    step_loss: list[float]
    train_loss: list[float]
    val_loss: list[float]
    encoder_unchanged: bool
    stopped_early: bool = False
    cv_history: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["alpha_history"] = self.alpha_history.tolist()
        out["final_alpha"] = self.final_alpha.tolist()
        return out


def objective_for(model: nn.Module, seed_faithful: bool = False) -> str:
    """`t5-seed` / `t5` for encoder-decoder models, `encoder-token` for encoder-only ones."""
    if getattr(model.config, "is_encoder_decoder", False):
        return "t5-seed" if seed_faithful else "t5"
    if seed_faithful:
        raise ValueError(f"seed_faithful applies to T5 only; {type(model).__name__} is "
                         "encoder-only: use seed_faithful=False (the encoder-token objective)")
    return "encoder-token"


def freeze(model: nn.Module) -> dict[str, torch.Tensor]:
    """Set `requires_grad=False` on every weight; return a copy of them for `unchanged`."""
    for p in model.parameters():
        p.requires_grad_(False)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def unchanged(model: nn.Module, snapshot: dict[str, torch.Tensor]) -> bool:
    """True when every weight equals the snapshot bit for bit."""
    state = model.state_dict()
    return state.keys() == snapshot.keys() and all(
        torch.equal(state[k], v) for k, v in snapshot.items())


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Σ h·m / Σ m over the sequence (D8 pooling)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(dim=1) / m.sum(dim=1)


def target_token_ids(tokenizer: Any, targets: list[str]) -> list[int]:
    """The single token id of each target word; ValueError naming those that are not one token."""
    ids = [tokenizer.encode(t, add_special_tokens=False) for t in targets]
    bad = [t for t, i in zip(targets, ids, strict=True) if len(i) != 1]
    if bad:
        raise ValueError(f"{len(bad)} targets are not single tokens (e.g. {bad[:3]}); the "
                         "encoder-token objective needs single-token lemmas")
    return [i[0] for i in ids]


def batch_loss(model: nn.Module, tokenizer: Any, texts: list[str], targets: list[str] | None,
               target_ids: torch.Tensor | None, objective: str,
               config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, pooled encoder output) of one batch; the modulator must already be attached."""
    device = next(model.parameters()).device
    enc = tokenizer(texts, return_tensors="pt", padding=True, truncation=True,
                    max_length=config.max_input_len).to(device)
    encoder = encoder_of(model)
    if objective == "encoder-token":
        hidden = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask).last_hidden_state
        pooled = masked_mean(hidden, enc.attention_mask)
        logits = pooled @ model.get_input_embeddings().weight.T
        return F.cross_entropy(logits, target_ids.to(device)), pooled.detach()
    hidden = encoder(input_ids=enc.input_ids, attention_mask=enc.attention_mask).last_hidden_state
    dec = tokenizer(targets, return_tensors="pt", padding=True, truncation=True,
                    max_length=config.max_target_len).to(device)
    labels = dec.input_ids.clone()
    labels[labels == tokenizer.pad_token_id] = -100
    pooled = masked_mean(hidden, enc.attention_mask).detach()
    if objective == "t5-seed":  # B9: unshifted decoder input, no d_model**-0.5 rescale
        out = model.decoder(input_ids=dec.input_ids, encoder_hidden_states=hidden,
                            encoder_attention_mask=enc.attention_mask)
        logits = model.lm_head(out.last_hidden_state)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), labels.view(-1),
                               ignore_index=-100)
        return loss, pooled
    from transformers.modeling_outputs import BaseModelOutput

    out = model(encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
                attention_mask=enc.attention_mask, labels=labels)
    return out.loss, pooled


def split_indices(n: int, seed: int, val_fraction: float = 0.1
                  ) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """(train, val, rng): `default_rng(seed).permutation(n)` cut at int(n·(1 - val_fraction));
    the rng goes on to shuffle each epoch, as in the seed."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_train = int(n * (1 - val_fraction))
    if n_train < 1 or n_train >= n:
        raise ValueError(f"{n} examples cannot be split {1 - val_fraction:.0%}/"
                         f"{val_fraction:.0%} with both parts non-empty")
    return perm[:n_train], perm[n_train:], rng


def _check_finite(value: float, what: str, config: TrainConfig, section: str,
                  built_by: str | None = None, updated: bool = True) -> None:
    """Raise `TrainingDivergedError` when `value` (a loss or gradient norm) is inf or NaN: after
    an update the lr is to lower; before any, the modulator as built (`built_by`) is the cause."""
    if math.isfinite(value):
        return
    if updated:
        raise TrainingDivergedError(
            f"modulator training diverged: {what} is {value} (not finite), so training stopped "
            f"and nothing was saved; lower {section}.lr (now {config.lr:g}) in the parameter "
            "file")
    raise TrainingDivergedError(
        f"modulator training diverged: {what} is {value} (not finite) before any update, so "
        f"training stopped and nothing was saved; {section}.lr (now {config.lr:g}) has not acted "
        f"yet: the modulator as built gives it: check {built_by or 'how it was built'} and the "
        "model's dtype")


def train_modulator(model: nn.Module, tokenizer: Any, modulator: nn.Module, texts: list[str],
                    targets: list[str], config: TrainConfig | None = None, *,
                    target_ids: list[int] | None = None,
                    built_by: str | None = None) -> TrainResult:
    """Train `modulator` hooked into the frozen `model` on (definition text, lemma) pairs.

    `texts` are the encoder inputs as formatted for the family (e.g. "summarize: ..." for T5),
    `targets` the lemma names; `target_ids` (encoder-only) the lemma tokens, else tokenized.
    Raises AssertionError if any model weight changed, `TrainingDivergedError` at the first loss
    or gradient norm that is not finite: naming `training.lr` (`field.training.lr` for the field
    modulator) once an update was made, else the modulator as built (`built_by`, e.g.
    "pipeline.scale_factor (now 0.1)") and the model's dtype.
    """
    config = config or TrainConfig()
    if len(texts) != len(targets) or len(texts) < 2:
        raise ValueError(f"need as many targets as texts (>= 2), got {len(texts)} and "
                         f"{len(targets)}")
    objective = objective_for(model, config.seed_faithful)
    ids_all = None
    if objective == "encoder-token":
        ids_all = torch.tensor(target_ids if target_ids is not None
                               else target_token_ids(tokenizer, targets))
    train_idx, val_idx, rng = split_indices(len(texts), config.seed, config.val_fraction)
    snapshot = freeze(model)
    model.eval()
    field_trainer = None
    section = "field.training" if isinstance(modulator, GeometricFieldModulator) else "training"
    if isinstance(modulator, GeometricFieldModulator):
        field_trainer = FieldModulatorTrainer(modulator, lr=config.lr,
                                              weight_decay=config.weight_decay)
        optimizer = field_trainer.optimizer
    else:
        optimizer = torch.optim.AdamW(modulator.parameters(), lr=config.lr,
                                      weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    bs = config.batch_size
    n_batches = -(-len(train_idx) // bs)
    total = n_batches * config.epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)

    def run(idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return batch_loss(model, tokenizer, [texts[i] for i in idx], [targets[i] for i in idx],
                          None if ids_all is None else ids_all[idx], objective, config)

    alpha_steps, alpha_hist, step_loss, train_loss, val_loss = [], [], [], [], []
    step, stopped, t0, step_time = 0, False, time.perf_counter(), 0.0
    with attach(model, modulator, config.layers), tqdm(
            total=total, desc=f"train {objective}", disable=not config.progress) as bar:
        for _epoch in range(config.epochs):
            order = train_idx[rng.permutation(len(train_idx))]
            modulator.train()
            losses = []
            for b in range(n_batches):
                if step >= total:
                    break
                tic = time.perf_counter()
                optimizer.zero_grad()
                loss, _ = run(order[b * bs:(b + 1) * bs])
                losses.append(loss.item())
                _check_finite(losses[-1], f"the training loss at step {step}", config, section,
                              built_by, updated=step > 0)
                loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(modulator.parameters(), config.clip)
                _check_finite(float(norm), f"the gradient norm at step {step}", config, section,
                              built_by, updated=step > 0)
                optimizer.step()
                step_time += time.perf_counter() - tic
                if b % config.alpha_every == 0:
                    alpha_steps.append(step)
                    alpha_hist.append(modulator.alphas.detach().cpu().numpy().copy())
                step += 1
                bar.update(1)
            scheduler.step()
            step_loss += losses
            train_loss.append(float(np.mean(losses)) if losses else float("nan"))
            modulator.eval()
            with torch.no_grad():
                outs = [run(val_idx[s:s + bs]) for s in range(0, len(val_idx), bs)]
            val_loss.append(float(np.mean([o[0].item() for o in outs])))
            _check_finite(val_loss[-1], f"the validation loss after step {step}", config, section,
                          built_by, updated=step > 0)
            if field_trainer is not None:
                field_trainer.check_cv(torch.cat([o[1] for o in outs]))
                if field_trainer.should_stop():
                    stopped = True
                    break
            if step >= total:
                break
    seconds = time.perf_counter() - t0
    same = unchanged(model, snapshot)
    assert same, "a model weight changed during modulator training"
    return TrainResult(
        objective=objective, n_train=len(train_idx), n_val=len(val_idx), steps=step,
        seconds=seconds, seconds_per_step=step_time / max(step, 1), alpha_steps=alpha_steps,
        alpha_history=np.array(alpha_hist), final_alpha=modulator.alphas.detach().cpu().numpy(),
        step_loss=step_loss, train_loss=train_loss, val_loss=val_loss, encoder_unchanged=same,
        stopped_early=stopped, cv_history=[] if field_trainer is None else
        [{k: v if isinstance(v, bool) else float(v) for k, v in r.items()}
         for r in field_trainer.cv_history],
        config=asdict(config))


def save_modulator(modulator: nn.Module, path: str | os.PathLike,
                   metadata: dict[str, str] | None = None) -> Path:
    """Write the modulator's state with `safetensors.torch.save_file`, atomically (a temporary
    file in the same folder, then `os.replace`); ValueError for a tensor with inf or NaN."""
    from safetensors.torch import save_file

    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in modulator.state_dict().items()}
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"not saving {path.name}: {len(bad)} tensors hold inf or NaN (e.g. "
                         f"{bad[0]}): the modulator as built (its scale) or its training (its "
                         "lr) is not finite")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(state, tmp, metadata={str(k): str(v) for k, v in (metadata or {}).items()})
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp's 0600 would make a shared results folder private
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_modulator(modulator: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a state written by `save_modulator` into `modulator` (strict)."""
    from safetensors.torch import load_file

    modulator.load_state_dict(load_file(str(path)))
    return modulator


# "alpha finds itself": can this run say whether alpha increases with depth?
MIN_MOVE_LOGIT = 0.1  # mean |Δ logit| per layer from init: ~10% relative change at small alpha
MIN_SPREAD_FRACTION = 0.1  # final across-layer spread (logit) / mean movement: not in lockstep
# converged: the validation loss moved by less than CONVERGED_RTOL (relative) in each of the last
# CONVERGED_EPOCHS epochs, so at least CONVERGED_EPOCHS + 1 validation losses are needed; the
# embedded run's 40 steps moved it 0.50% in its second (and last) epoch
CONVERGED_RTOL = 1e-3
CONVERGED_EPOCHS = 2


def convergence(val_loss: Any, rtol: float = CONVERGED_RTOL,
                epochs: int = CONVERGED_EPOCHS) -> dict[str, Any]:
    """Whether training converged by its validation loss per epoch: `converged` when each of
    the last `epochs` epoch-to-epoch relative changes |v_e - v_(e-1)| / |v_(e-1)| is below
    `rtol`; `changes` holds them (all epochs), `reason` says why not."""
    v = np.asarray(val_loss, dtype=np.float64).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        changes = np.abs(np.diff(v)) / np.abs(v[:-1]) if v.size > 1 else np.empty(0)
    out: dict[str, Any] = {"changes": changes.tolist(), "rtol": rtol, "epochs": epochs,
                           "criterion": f"the validation loss changed by < {rtol:.1%} (relative) "
                                        f"in each of the last {epochs} epochs"}
    if not np.isfinite(v).all():
        return out | {"converged": False, "reason": "a validation loss is not finite"}
    if changes.size < epochs:
        last = f"; last change {changes[-1]:.2%}" if changes.size else ""
        return out | {"converged": False,
                      "reason": f"{v.size} validation loss{'es' * (v.size != 1)}, the "
                                f"criterion needs {epochs + 1}: {out['criterion']}{last}"}
    last = changes[-epochs:]
    if (last < rtol).all():
        return out | {"converged": True, "reason": None}
    return out | {"converged": False,
                  "reason": f"{out['criterion']}: the last changes were "
                            + ", ".join(f"{c:.2%}" for c in last)}


def _layer_logits(alphas: Any) -> np.ndarray:
    """Per-layer logit of the alphas ([n_layers] or [n_layers, n_experts]: mean over experts)."""
    a = np.asarray(alphas, dtype=np.float64)
    a = a.reshape(len(a), -1).mean(axis=1) if a.ndim > 1 else a.reshape(-1)
    a = np.clip(a, 1e-12, 1 - 1e-12)
    return np.log(a / (1 - a))


def alpha_test(start: Any, final: Any, steps: int, val_loss: Any, *,
               min_move: float = MIN_MOVE_LOGIT,
               min_spread_fraction: float = MIN_SPREAD_FRACTION) -> dict[str, Any]:
    """Whether a training run can test "alpha increases monotonically with depth" (seed 004 §9).

    The alphas start equal, so their order after training is made entirely by training. The
    order is a finding only when (a) training converged (`convergence` of `val_loss`, the
    validation loss per epoch), (b) the alphas moved: the mean per-layer |Δ logit| from `start`
    is at least `min_move`, and (c) the layers did not move in lockstep: the final across-layer
    spread (max - min logit) is at least `min_spread_fraction` of that movement. Otherwise the
    verdict is "not testable" with the reason, and `monotonic_increasing` is None. Per-layer
    values are the mean over experts for the field modulator's [n_layers, n_experts] alphas.
    """
    first, last = _layer_logits(start), _layer_logits(final)
    if first.shape != last.shape:
        raise ValueError(f"start alphas {first.shape} and final alphas {last.shape} differ")
    moved = float(np.abs(last - first).mean())
    spread = float(last.max() - last.min())
    out: dict[str, Any] = {
        "steps": int(steps), "n_layers": int(len(last)), "movement_logit_mean": moved,
        "spread_logit": spread, "min_move_logit": min_move,
        "min_spread_fraction": min_spread_fraction,
        "criterion": "testable when training converged, mean |Δ logit| from init >= "
                     "min_move_logit and the final across-layer spread >= min_spread_fraction x "
                     "that movement",
        "convergence": (conv := convergence(val_loss)),
    }
    if len(last) < 2:
        reason = "one alpha shared by all layers: no depth order to test"
    elif not conv["converged"]:
        reason = f"training has not converged ({conv['reason']})"
    elif steps < 1 or moved < min_move:
        reason = (f"alphas moved {moved:.3g} (mean |Δ logit|) from init in {steps} steps, "
                  f"< {min_move:g}")
    elif spread < min_spread_fraction * moved:
        reason = (f"alphas moved in lockstep: across-layer spread {spread:.3g} (logit) < "
                  f"{min_spread_fraction:g} x their movement {moved:.3g} in {steps} steps")
    else:
        monotonic = bool(np.all(np.diff(last) > 0))
        return out | {"verdict": "testable", "monotonic_increasing": monotonic,
                      "reason": f"alphas moved {moved:.3g} (mean |Δ logit|) in {steps} steps "
                                f"with across-layer spread {spread:.3g}: increasing with depth "
                                f"{'yes' if monotonic else 'no'}"}
    return out | {"verdict": "not testable", "monotonic_increasing": None,
                  "reason": f"not testable: {reason}"}
