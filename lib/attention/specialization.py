"""Head specialization metrics of an entropy matrix E [layers, heads] (SPEC §1).

`specialization_metrics` reproduces seed 000's `compute_specialization_metrics`;
`gqa_group_metrics` seed 001's `compute_gqa_group_metrics`; `specialization_index` is the SI of
one or many E matrices at once (batched correlation, used by the bootstrap).

KV-group-aware specialization (an architecture control; group g = q-heads [g*s, (g+1)*s),
s = heads / kv heads): `group_si` is the SI among the groups' mean profiles, defined when there
are at least two groups (not MQA); `within_group_correlation` the mean correlation of the head
pairs sharing a group, defined when a group holds at least two heads (not MHA; for MQA it is
the mean head correlation of the whole model); `within_between_ratio` seed 001's within/between
KV-group variance ratio, batched, defined with at least two groups of at least two heads (GQA).
`group_metric_reasons` says which is undefined. `mean_head_variance` is seed 000's, batched.
`depth_share` is the share of the entropy variance the layer means explain.

SI can exceed 1: it is 1 - the mean of correlations in [-1, 1], so it lies in [0, 2], and it is
above 1 when the heads' layer profiles are anti-correlated on average (some heads' entropy rising
with depth where others' falls).

A head whose profile is constant over layers up to rounding (`lib.stats.correlation`'s rule, the
one every correlation of the repository follows) has no correlation: its row and column are NaN,
not the ~1e-16 rounding leaves. SI and the mean head correlation then average the defined pairs
(`specialization_metrics` reports the undefined heads and pairs); with no defined pair they are
NaN.
"""

from __future__ import annotations

import numpy as np

from lib.stats.correlation import near_constant

ArrayLike = np.ndarray | list


def _as_matrix(E: ArrayLike) -> np.ndarray:
    E = np.asarray(E, dtype=np.float64)
    if E.ndim != 2 or min(E.shape) == 0:
        raise ValueError(f"E must be a non-empty [layers, heads] matrix, got shape {E.shape}")
    if not np.isfinite(E).all():
        raise ValueError("E contains NaN/Inf")
    return E


def head_correlations(E: np.ndarray) -> np.ndarray:
    """Correlation matrices of the heads' per-layer profiles: [..., L, H] -> [..., H, H].

    Same as np.corrcoef(E.T) (values clipped to [-1, 1]), for any number of leading dims, and
    NaN in the row and column of a head constant over layers up to rounding (module docstring).
    """
    constant = near_constant(E, axis=-2)  # [..., H]
    E = np.asarray(E, dtype=np.float64)
    centered = E - E.mean(axis=-2, keepdims=True)
    cov = np.matmul(np.swapaxes(centered, -1, -2), centered)  # batched BLAS, [..., H, H]
    std = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / std[..., :, None] / std[..., None, :]
    corr = np.clip(corr, -1.0, 1.0)
    if constant.any():
        corr[constant[..., :, None] | constant[..., None, :]] = np.nan
    return corr


def undefined_heads(E: np.ndarray) -> dict | None:
    """For one E [layers, heads]: the heads constant over layers (module docstring), the head
    pairs they leave undefined and why; None when every head has a profile."""
    heads = np.flatnonzero(near_constant(E, axis=-2)).tolist()
    if not heads:
        return None
    num_heads = np.shape(E)[-1]
    pairs = num_heads * (num_heads - 1) // 2
    defined = (num_heads - len(heads)) * (num_heads - len(heads) - 1) // 2
    which = f"head {heads[0]} is" if len(heads) == 1 else f"heads {heads} are"
    then = (f"SI and mean_head_correlation average the {defined} defined pairs" if defined
            else "no pair of heads is defined: SI is undefined")
    return {"heads": heads, "pairs": pairs - defined, "defined_pairs": defined,
            "reason": f"{which} constant over layers up to rounding (lib.stats.correlation): "
                      f"{'its' if len(heads) == 1 else 'their'} correlations are undefined; "
                      f"{then}"}


def _upper(corr: np.ndarray) -> np.ndarray:
    """The strict upper triangle of [..., H, H] -> [..., H * (H - 1) / 2], row by row."""
    rows, cols = np.triu_indices(corr.shape[-1], k=1)
    return corr[..., rows, cols]


def _upper_nanmean(corr: np.ndarray) -> np.ndarray:
    """nanmean of the strict upper triangle of [..., H, H] (NaN where all are NaN or H < 2)."""
    return _nanmean(_upper(corr))


def _nanmean(values: np.ndarray) -> np.ndarray:
    """nanmean over the last axis (NaN where all are NaN or it is empty), without warnings."""
    valid = ~np.isnan(values)
    count = valid.sum(axis=-1)
    total = np.where(valid, values, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def specialization_index(E: np.ndarray) -> np.ndarray | float:
    """SI = 1 - mean head correlation of E [..., layers, heads]; a float for one matrix."""
    E = np.asarray(E, dtype=np.float64)
    if E.ndim < 2:
        raise ValueError(f"E must be [..., layers, heads], got shape {E.shape}")
    # the mean of the strict upper triangle of the correlation matrix without forming it: with
    # z_h the centred, unit-norm profile of head h (0 for a constant head), the sum of all
    # correlations is |sum_h z_h|^2 and the diagonal holds one 1 per defined head
    constant = near_constant(E, axis=-2)  # [..., H]
    centered = E - E.mean(axis=-2, keepdims=True)
    norm = np.sqrt((centered ** 2).sum(axis=-2, keepdims=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(constant[..., None, :], 0.0, centered / norm)
    defined = (~constant).sum(axis=-1)
    pairs = defined * (defined - 1) / 2
    total = (z.sum(axis=-1) ** 2).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        si = np.where(pairs > 0, 1.0 - (total - defined) / 2 / np.where(pairs > 0, pairs, 1),
                      np.nan)
    return float(si) if si.ndim == 0 else si


def _entropy2(p: np.ndarray) -> float:
    nz = p[p > 0]
    return float(-(nz * np.log2(nz)).sum())


def specialization_metrics(E: ArrayLike) -> dict:
    """Seed 000's metrics of E [layers, heads].

    Scalars are python floats (NaN where undefined: constant heads, a third with no layers when
    layers < 3); `layer_variances` is a list [layers] and `head_correlation_matrix` a nested list
    [heads][heads] (JSON-friendly); `num_layers`, `num_heads` are ints. With heads constant over
    layers, `undefined_heads` (`undefined_heads(E)`) says which and how many pairs are left out.
    """
    E = _as_matrix(E)
    num_layers, num_heads = E.shape
    layer_variances = E.var(axis=1)
    corr = head_correlations(E)
    mean_corr = float(_upper_nanmean(corr))
    contributions = E.mean(axis=0)
    total = contributions.sum()
    h = _entropy2(contributions / total) if total > 0 else float("nan")
    effective_heads = 2.0**h if h > 0 else 1.0
    third = num_layers // 3

    def region(values: np.ndarray) -> float:
        return float(values.mean()) if values.size else float("nan")

    undefined = undefined_heads(E)
    return {
        "specialization_index": 1.0 - mean_corr,
        "mean_head_correlation": mean_corr,
        "mean_head_variance": float(layer_variances.mean()),
        "effective_heads": float(effective_heads),
        "effective_ratio": float(effective_heads / num_heads),
        "layer_variances": layer_variances.tolist(),
        "early_variance": region(layer_variances[:third]),
        "middle_variance": region(layer_variances[third : 2 * third]),
        "late_variance": region(layer_variances[2 * third :]),
        "head_correlation_matrix": corr.tolist(),
        "depth_share": depth_share(E),
        "num_layers": int(num_layers),
        "num_heads": int(num_heads),
        **({"undefined_heads": undefined} if undefined else {}),
    }


def depth_share(E: np.ndarray) -> np.ndarray | float:
    """Share of the variance of E [..., layers, heads] that the layer means explain:
    1 - sum((E - layer mean)^2) / sum((E - grand mean)^2) (NaN where E is constant).

    What a head-permutation null keeps: shuffling heads within a layer leaves each layer's values,
    so an SI that is a typical draw is set by this depth profile and the spread within layers.
    """
    E = np.asarray(E, dtype=np.float64)
    within = ((E - E.mean(axis=-1, keepdims=True)) ** 2).sum(axis=(-2, -1))
    total = ((E - E.mean(axis=(-2, -1), keepdims=True)) ** 2).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, 1.0 - within / np.where(total > 0, total, 1.0), np.nan)
    return float(share) if share.ndim == 0 else share


def mean_head_variance(E: np.ndarray) -> np.ndarray | float:
    """Mean over layers of the variance over heads (ddof 0) of E [..., layers, heads]."""
    value = np.asarray(E, dtype=np.float64).var(axis=-1).mean(axis=-1)
    return float(value) if value.ndim == 0 else value


def _group_variances(E: np.ndarray, num_kv_heads: int) -> tuple[np.ndarray, np.ndarray]:
    """(per-group within variance [..., groups], between variance [...]) of E [..., L, H]."""
    groups = kv_groups(E, num_kv_heads)  # [..., layers, groups, size]
    within = groups.var(axis=-1).mean(axis=-2)
    between = groups.mean(axis=-1).var(axis=-1).mean(axis=-1)
    return within, between


def within_between_ratio(E: np.ndarray, num_kv_heads: int) -> np.ndarray | float:
    """Seed 001's within / between KV-group variance of E [..., layers, heads] (inf where the
    between variance is 0)."""
    within, between = _group_variances(E, num_kv_heads)
    within = within.mean(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(between > 0, within / np.where(between > 0, between, 1.0), np.inf)
    return float(ratio) if ratio.ndim == 0 else ratio


def gqa_group_metrics(E: ArrayLike, num_kv_heads: int) -> dict:
    """Seed 001's within/between KV-group variances of E [layers, heads].

    Group g holds the consecutive q-heads [g*s, (g+1)*s), s = heads // num_kv_heads.
    `per_group_variances` is a list [num_kv_heads]; the ratio is inf if between is 0.
    """
    E = _as_matrix(E)
    per_group, between_var = _group_variances(E, num_kv_heads)
    within = float(per_group.mean())
    between = float(between_var)
    return {
        "within_group_variance": within,
        "between_group_variance": between,
        "within_between_ratio": within / between if between > 0 else float("inf"),
        "group_size": E.shape[1] // int(num_kv_heads),
        "num_kv_groups": int(num_kv_heads),
        "per_group_variances": per_group.tolist(),
    }


def group_size(num_heads: int, num_kv_heads: int) -> int:
    """Query heads per KV group; a ValueError if `num_kv_heads` does not divide `num_heads`."""
    if int(num_kv_heads) != num_kv_heads or num_kv_heads < 1 or num_heads % num_kv_heads:
        raise ValueError(
            f"{num_heads} query heads cannot be split into {num_kv_heads} KV groups "
            "(num_kv_heads must be a positive divisor of the number of heads)"
        )
    return num_heads // int(num_kv_heads)


def kv_groups(E: np.ndarray, num_kv_heads: int) -> np.ndarray:
    """E [..., layers, heads] -> [..., layers, groups, heads per group] (a view)."""
    E = np.asarray(E, dtype=np.float64)
    size = group_size(E.shape[-1], num_kv_heads)
    return E.reshape(*E.shape[:-1], int(num_kv_heads), size)


def group_metric_reasons(num_heads: int, num_kv_heads: int) -> dict[str, str | None]:
    """Why `group_si` / `within_group_correlation` / `within_between_ratio` are undefined for
    this architecture (None: defined)."""
    size = group_size(num_heads, num_kv_heads)
    one_group = "one KV group (MQA): no pair of groups to correlate"
    one_head = "one query head per KV group (MHA): no pair of heads shares a group"
    return {
        "group_si": None if num_kv_heads > 1 else one_group,
        "within_group_correlation": None if size > 1 else one_head,
        "within_between_ratio": (one_group if num_kv_heads == 1 else
                                 one_head if size == 1 else None),
    }


def group_si(E: np.ndarray, num_kv_heads: int) -> np.ndarray | float:
    """SI among the KV groups' mean profiles of E [..., layers, heads] (NaN for one group)."""
    return specialization_index(kv_groups(E, num_kv_heads).mean(axis=-1))


def within_group_correlation(E: np.ndarray, num_kv_heads: int) -> np.ndarray | float:
    """Mean correlation of the head pairs within a KV group, pooled over the groups, of E
    [..., layers, heads] (NaN for one head per group); one group: the mean head correlation."""
    groups = np.moveaxis(kv_groups(E, num_kv_heads), -2, -3)  # [..., groups, layers, size]
    pairs = _upper(head_correlations(groups))  # [..., groups, pairs]
    mean = _nanmean(pairs.reshape(*pairs.shape[:-2], -1))
    return float(mean) if mean.ndim == 0 else mean
