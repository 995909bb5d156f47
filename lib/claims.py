"""The one registry of published numbers (SPEC §2), and how a notebook looks up a reference.

The claims and the resolutions of the seeds' contradictions (SPEC §3) are data:
`lib/claims.yaml`, validated here. Each claim names the results file and field that reproduce
it, the parameter file and the hardware that run needs, and a tolerance. Notebooks and tests
never type a published number: they ask `reference()` (which reads the run that produced it and
falls back to the published value, labelled as such, when that run has not been made) or
`CLAIMS_BY_ID`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lib import yamlfile
from lib.layout import layout_of, path_problem
from lib.results import find_result

REGISTRY: Path = Path(__file__).with_name("claims.yaml")
SEED_OUTPUTS = ("printed", "hard-coded print", "prose", "never computed")


class ClaimsError(ValueError):
    """lib/claims.yaml is malformed: the message names the entry and the key."""


BASELINE_KINDS = ("initialization", "permutation", "reference")


class Baseline(BaseModel):
    """The value the same quantity takes without the effect claimed: the model at
    initialization, a head-permutation null, a Gaussian reference (`kind`), read from `field` of
    `result`. Whether the claim's value is indistinguishable from it is decided by the
    baseline's own sampling distribution (`lib.checks.check_baseline`), never by a tolerance: a
    block with `low`/`high` (the spread over initialization seeds or an analytic interval,
    computed by the line that stores it; a null interval) when the value lies inside it; a
    block with `distinguishable` (an interval of the difference, computed with the result) as
    that flag says; a bare number has no spread and decides nothing. The label says what the
    baseline is and, where it is not the claim's own architecture, why it is valid for it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    result: str = Field(pattern=r"^(embedded|paper)/[A-Za-z0-9_.-]+$")
    field: tuple[str, ...] = Field(strict=False, min_length=1)
    label: str
    kind: Literal[BASELINE_KINDS]  # type: ignore[valid-type]


class Claim(BaseModel):
    """A published number and where the repository regenerates it.

    Kinds: `value` (a number within `tolerance`, or a string / bool matched exactly); `band`
    [lo, hi] (value omitted: lo - tolerance <= x <= hi + tolerance, the tolerance being the
    band's rounding); `ordered` (the ids of other claims whose regenerated values must increase
    strictly, value, result and field omitted). `testable: false` marks a number the result
    only echoes (an input): shown, never counted as reproduced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+$")
    statement: str
    value: bool | float | str | None = None
    band: tuple[float, float] | None = Field(default=None, strict=False)
    ordered: tuple[str, ...] | None = Field(default=None, strict=False, min_length=2)
    testable: bool = True
    baseline: Baseline | None = None
    same_as: str | None = None  # the claim stating the same fact (SI = 1 - mean correlation)
    source: str
    result: str | None = None  # "<profile>/<experiment>_<run>" under results/
    field: tuple[str, ...] | None = Field(default=None, strict=False)  # a YAML list
    parameters: str | None = None
    hardware: str
    tolerance: float | None = Field(default=None, ge=0)  # absolute; None for a string match
    seed_output: Literal[SEED_OUTPUTS] | None = None  # type: ignore[valid-type]
    regenerated_by: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Claim:
        if (self.result is None) != (self.field is None):
            raise ValueError("result and field go together (both set or both null)")
        kinds = [k for k in ("value", "band", "ordered") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("a claim has exactly one of value, band, ordered; got "
                             f"{kinds or 'none'}")
        if self.band is not None and not self.band[0] <= self.band[1]:
            raise ValueError(f"band must be [lo, hi] with lo <= hi; got {list(self.band)}")
        if self.ordered is not None and self.result is not None:
            raise ValueError("an ordered claim reads the claims it names: result and field null")
        exact = isinstance(self.value, (str, bool)) or self.ordered is not None
        if exact and self.tolerance is not None:
            raise ValueError("a string, bool or ordered claim is matched exactly: tolerance must "
                             "be null")
        if not exact and self.tolerance is None:
            raise ValueError("a numeric or band claim needs a tolerance")
        return self


class Effect(BaseModel):
    """Where a result stores what a resolution changes: a block {as_executed, taken or
    corrected, difference, what} or a number, at `field` of `result`."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    result: str = Field(pattern=r"^(embedded|paper)/[A-Za-z0-9_.-]+$")
    field: tuple[str, ...] = Field(strict=False, min_length=1)


class Resolution(BaseModel):
    """Where the seeds disagree with themselves, and what the repository takes."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    topic: str
    values: str
    taken: str
    why: str
    defect: str | None = Field(default=None, pattern=r"^B\d+$")  # SPEC-terrain's bug table
    as_executed: list[str] | None = None  # parameter files reproducing the seed as it ran
    corrected: list[str] | None = None  # parameter files with the defect fixed
    effect: Effect | None = None  # the effect on the number, read from a result


class _Registry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    defaults: dict[str, Any] = {}
    hardware: dict[str, str] = {}  # a name a claim's `hardware` may give, and its description
    claims: list[dict[str, Any]]
    resolutions: list[dict[str, Any]]


def load_registry(path: str | Path = REGISTRY) -> tuple[tuple[Claim, ...], tuple[Resolution, ...]]:
    """Read and validate a claims file; ClaimsError names the entry and key that are wrong."""
    path = Path(path)
    try:
        raw = _Registry.model_validate(yamlfile.load(path, path.name))
    except yamlfile.YamlError as exc:
        raise ClaimsError(str(exc)) from None
    except ValidationError as exc:
        raise ClaimsError(f"{path.name}: {' '.join(str(exc).split())}") from None
    defaults = raw.defaults
    claims = []
    for i, entry in enumerate(raw.claims):
        given = {**{k: v for k, v in defaults.items() if k != "tolerance"}, **entry}
        if isinstance(given.get("hardware"), str):
            given["hardware"] = raw.hardware.get(given["hardware"], given["hardware"])
        exact = isinstance(entry.get("value"), (str, bool)) or "ordered" in entry
        if "tolerance" not in entry and not exact:
            given["tolerance"] = defaults.get("tolerance")
        claims.append(_validated(Claim, given, f"{path.name}: claims[{i}] {entry.get('id')}"))
    ids = [c.id for c in claims]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ClaimsError(f"{path.name}: claim ids registered twice: {', '.join(duplicates)}")
    for c in claims:
        unknown = [i for i in (*(c.ordered or ()), c.same_as) if i is not None and i not in ids]
        if unknown:
            raise ClaimsError(f"{path.name}: {c.id}: ordered / same_as name unknown claims "
                              f"{', '.join(unknown)}: list registered claim ids")
    resolutions = tuple(_validated(Resolution, entry, f"{path.name}: resolutions[{i}]")
                        for i, entry in enumerate(raw.resolutions))
    for where, result, field in _field_paths(claims, resolutions):
        experiment = result.split("/", 1)[-1].split("_", 1)[0]
        layout = layout_of(experiment)
        problem = path_problem(layout, field) if layout is not None else None
        if problem:
            raise ClaimsError(f"{path.name}: {where}: field {'/'.join(field)}: {problem}: name a "
                              "key the results file holds")
    return tuple(claims), resolutions


def _field_paths(claims: Sequence[Claim], resolutions: Sequence[Resolution]
                 ) -> list[tuple[str, str, tuple[str, ...]]]:
    """(where, result, field) of every field path the registry reads: claims, their baselines,
    the resolutions' effects."""
    paths = []
    for c in claims:
        if c.result and c.field:
            paths.append((c.id, c.result, tuple(c.field)))
        if c.baseline is not None and c.baseline.result and c.baseline.field:
            paths.append((f"{c.id} baseline", c.baseline.result, tuple(c.baseline.field)))
    for r in resolutions:
        if r.effect is not None:
            paths.append((f"resolution {r.topic!r}", r.effect.result, tuple(r.effect.field)))
    return paths


def _validated(model: type[BaseModel], data: dict[str, Any], where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(s) for s in first["loc"]) or "(entry)"
        raise ClaimsError(f"{where}: {key}: {first['msg']}") from None


def dump_registry(claims: tuple[Claim, ...], resolutions: tuple[Resolution, ...]) -> str:
    """The registry as YAML (every key explicit): `load_registry` reads it back unchanged."""
    return yamlfile.dump({
        "claims": [c.model_dump(mode="json", exclude_none=True) for c in claims],
        "resolutions": [r.model_dump(mode="json", exclude_none=True) for r in resolutions],
    }, sort_keys=False, allow_unicode=True)


_CLAIMS, _RESOLUTIONS = load_registry()
CLAIMS: tuple[Claim, ...] = _CLAIMS
CLAIMS_BY_ID: dict[str, Claim] = {c.id: c for c in CLAIMS}
# plain dicts (what report.py renders and writes to report.json); unset optional keys left out
RESOLUTIONS: tuple[dict[str, Any], ...] = tuple(
    r.model_dump(exclude_none=True) for r in _RESOLUTIONS)


def published(claim_id: str) -> Any:
    """The published value of a claim: its value, its band (lo, hi), or for an ordered claim the
    ids it orders (KeyError names the id)."""
    if claim_id not in CLAIMS_BY_ID:
        raise KeyError(f"no claim {claim_id!r} in lib/claims.yaml")
    c = CLAIMS_BY_ID[claim_id]
    return c.value if c.value is not None else (c.band or c.ordered)


@dataclass(frozen=True)
class Reference:
    """A reference number and where it came from."""

    value: Any
    source: str  # "results/<profile>/<name>.json" or "published (<seed source>)"
    published: bool


def lookup(payload: dict[str, Any], field: tuple[str, ...]) -> Any:
    """Follow `field` through nested dicts; KeyError names the missing step."""
    node: Any = payload
    for step in field:
        if not isinstance(node, dict) or step not in node:
            raise KeyError(f"field {'/'.join(field)} missing at {step!r}")
        node = node[step]
    return node


def reference(profile: str, run: str, field: tuple[str, ...], claim: str | None) -> Reference:
    """The value of `field` in run `run` of `profile`; else the published claim, labelled."""
    payload = find_result(profile, run)
    if payload is not None:
        return Reference(lookup(payload, field), f"results/{profile}/{run}.json", False)
    if claim is None:
        raise FileNotFoundError(
            f"results/{profile}/{run}.json does not exist and no published claim backs it: run "
            f"the notebook with parameters/{profile}/{run}.yaml first"
        )
    c = CLAIMS_BY_ID[claim]
    return Reference(c.value, f"published ({c.source})", True)
