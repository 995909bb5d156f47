"""Parameter files: typed (pydantic), one model per experiment over a shared base, checked at load.

A parameter file `parameters/<profile>/<experiment>_<run>.yaml` names one run: `experiment` (the
notebook), `run` (the results name) and `profile` (`embedded`: CPU, offline; `paper`: the
published models on a GPU with a network). Each experiment registers one model class (a subclass
of `RunParameters`) with `register` in its line's `lib/<line>/parameters.py`, each imported on
first use, so a new experiment is one class and one `register` call there.

Keys a file omits take the model's defaults. Everything is checked before any model loads, and a
bad file gives one line naming the file and the key: a file that is not UTF-8 or not YAML as
`lib.yamlfile` reads it (no anchors or aliases, no key given twice; `1e-3` is a number), a missing
or unknown key at any depth, a
wrong type (`seeds: 42`, `max_length: '128'`; no coercion), a non-finite number (`.inf`, `.nan`)
for any float key, a value out of range, a value listed twice where items must differ (`seeds`),
a `tiny/` or
`embedded/` name the model registry does not know, a claim id the claims registry does not hold,
a reference run that no file of the same folder defines, a `run`, `experiment` or `profile`
that disagrees with the file's name and folder, and a `run` longer than `MAX_RUN_NAME` (100)
characters (its file names must fit the file system's 255 bytes).
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_serializer,
)

from lib import yamlfile
from lib.claims import CLAIMS, CLAIMS_BY_ID
from lib.paths import PARAMETERS, ROOT, shown

PROFILES: tuple[str, ...] = ("embedded", "paper")
REGISTRY_PREFIXES: tuple[str, ...] = ("embedded/", "tiny/")  # names lib.models resolves offline
RANDOM_PREFIX = "random/"  # random/<registry name or preset hub id>: lib.models.random_init
RUN_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
# a run names files `<experiment>_<run>` plus suffixes and temporary names (`.<name>.json.<random>
# .tmp`, `.<name>.partial.ipynb`, about 30 characters): 100 leaves room under the 255-byte limit
MAX_RUN_NAME = 100


class ParameterError(ValueError):
    """A parameter file that is missing, malformed, or fails validation (message: one line)."""


# --------------------------------------------------------------------------- building blocks


class StrictModel(BaseModel):
    """No unknown keys, no coercion (`'128'` is not an int, `42` is not a list), and no infinite
    or NaN float (YAML's `.inf` and `.nan`): every float key of every parameter file is finite."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class SparseModel(StrictModel):
    """A strict model whose dump leaves out the optional keys the file did not give."""

    @model_serializer(mode="wrap")
    def _sparse(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        return {k: v for k, v in data.items() if v is not None or k in self.model_fields_set}


def _registry_name(name: str) -> str:
    if name.startswith(RANDOM_PREFIX):
        from lib.models import UnknownModelError
        from lib.models.random_init import check_random_name

        try:
            return check_random_name(name)
        except UnknownModelError as exc:  # pydantic reports ValueErrors only
            raise ValueError(str(exc)) from None
    if name.startswith(REGISTRY_PREFIXES):
        from lib.models import known_models  # imports torch, never transformers

        known = known_models()
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown model {name!r}{hint}; known tiny/embedded models: "
                             f"{', '.join(known)}")
    return name


def _claim_id(claim: str) -> str:

    if claim not in CLAIMS_BY_ID:
        close = difflib.get_close_matches(claim, list(CLAIMS_BY_ID), n=3)
        raise ValueError(f"unknown claim {claim!r}; close ids in lib/claims.yaml: "
                         f"{', '.join(close) or 'none'}")
    return claim


def _claim_group(group: str) -> str:

    groups = sorted({c.id.split(".", 1)[0] for c in CLAIMS})
    if group not in groups:
        raise ValueError(f"unknown claim group {group!r} (known: {', '.join(groups)})")
    return group


def _run_name(run: str) -> str:
    if not run or not set(run) <= RUN_CHARACTERS:
        raise ValueError(f"{run!r} must be letters, digits, '-', '_' or '.'")
    if len(run) > MAX_RUN_NAME:
        raise ValueError(f"{len(run)} characters, above the maximum {MAX_RUN_NAME} (the run names "
                         "result, figure and temporary files, `.<experiment>_<run>.json.<random>"
                         ".tmp`, and a file name has at most 255 bytes): shorten it")
    return run


def _reference_run(run: str, info: ValidationInfo) -> str:
    folder = (info.context or {}).get("folder")
    if folder is not None and not (folder / f"{run}.yaml").is_file():
        available = ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))
        raise ValueError(f"no parameter file {shown(folder / f'{run}.yaml')} defines run {run} "
                         f"(available: {available})")
    return run


def _distinct(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if value in seen:
            raise ValueError(f"{value!r} is listed twice ({values!r}): give each value once")
        seen.append(value)
    return values


Distinct = AfterValidator(_distinct)
"""A list key whose items must differ, e.g. `Annotated[list[int], Distinct]` (seeds)."""
ModelName = Annotated[str, AfterValidator(_registry_name)]
"""A hub id, a registry name (`tiny/...`, `embedded/...`) that `lib.models` knows, or `random/`
and one of those names or a hub id with an architecture preset."""
ClaimId = Annotated[str, AfterValidator(_claim_id)]
"""A claim id of `lib/claims.yaml`, e.g. `phi3mini.si`."""
ClaimGroup = Annotated[str, AfterValidator(_claim_group)]
"""The part of claim ids before the dot, e.g. `mistral7b` for `mistral7b.base_si`."""
RunName = Annotated[str, AfterValidator(_run_name)]
ReferenceRun = Annotated[str, AfterValidator(_reference_run)]
"""`<experiment>_<run>` of another parameter file in the same folder (profile)."""
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]


def capped(limit: int, why: str, minimum: int = 1) -> Any:
    """An int key in [minimum, limit]; above `limit` the message gives `why`."""

    def check(value: int) -> int:
        if value > limit:
            raise ValueError(f"{value:,} is above the maximum {limit:,} ({why})")
        return value

    return Annotated[int, Field(ge=minimum), AfterValidator(check)]


# Sizes of the WordNet relational samples (D10) and the pentachoron draws (D1): the data bounds,
# and a hard cap where the data size is only known at run time (the runs check it there too).
WORDNET_LEMMAS = 148_730  # distinct lemma names of WordNet 3.0: at most this many are matched
MIN_REL = 3  # 2 lemmas make one pair, one similarity value: no correlation can be measured
MAX_PAIRS = 10_000_000  # 20x the seed's 500,000; the pairs and their cosines sit in memory at once
MAX_SIMPLICES = 100_000  # 100x the seed's 1,000; each pentachoron is drawn in its own step


def _rel_count(value: int) -> int:
    if value < MIN_REL:
        raise ValueError(f"{value} is below the minimum {MIN_REL} ({value} lemmas give at most one "
                         "WordNet similarity, so Pearson and Spearman are undefined)")
    if value > WORDNET_LEMMAS:
        raise ValueError(f"{value:,} is above the maximum {WORDNET_LEMMAS:,} (the distinct lemma "
                         "names of WordNet 3.0, more than any tokenizer can match)")
    return value


RelCount = Annotated[int, AfterValidator(_rel_count)]
"""`n_rel`: the lemmas the relational pairs are drawn among, in [MIN_REL, WORDNET_LEMMAS]."""
PairCount = capped(MAX_PAIRS, "the pairs and their cosines are held in memory at once; the seed "
                   "drew 500,000")
"""`n_pairs`: relational pairs drawn (with replacement) among the `n_rel` lemmas."""
SimplexCount = capped(MAX_SIMPLICES, "one draw per pentachoron, all held in memory; the seed drew "
                      "1,000")
"""`n_simplices`: pentachora (5 rows each) drawn for the Cayley-Menger volumes."""


class Resources(StrictModel):
    """What a job needs on a cluster (read by the Snakefile, not by the notebooks)."""

    gpu: NonNegativeInt = 0
    gpu_memory_gb: NonNegativeInt = 0
    mem_mb: PositiveInt = 8000
    runtime: PositiveInt = 30  # minutes


class RunParameters(StrictModel):
    """The keys every parameter file has; each experiment subclasses it and `register`s."""

    experiment: str
    run: RunName
    profile: Literal[PROFILES]  # type: ignore[valid-type]
    description: str = ""
    resources: Resources = Resources()
    # CPU threads of torch and the BLAS libraries (lib.threads): fixed, so a file gives the same
    # numbers from Snakemake, lib.runner, nbval and the Lab
    threads: PositiveInt = 1
    # set by load_parameters, never by the file (LOADER_KEYS): where it came from
    parameter_file: str = ""
    parameter_sha256: str = ""
    parameter_overrides: dict[str, Any] = {}


# --------------------------------------------------------------------------------- registry

EXPERIMENTS: dict[str, type[RunParameters]] = {}
_discovered: list[bool] = []


def register(model_cls: type[RunParameters]) -> type[RunParameters]:
    """Register an experiment's model under the name its `experiment: Literal[...]` field gives."""
    names = get_args(model_cls.model_fields["experiment"].annotation)
    if len(names) != 1 or not isinstance(names[0], str) or "_" in names[0]:
        raise TypeError(f"{model_cls.__name__}.experiment must be Literal['<name without _>']")
    if EXPERIMENTS.get(names[0], model_cls) is not model_cls:
        raise TypeError(f"experiment {names[0]!r} is registered twice")
    EXPERIMENTS[names[0]] = model_cls
    return model_cls


def experiments() -> dict[str, type[RunParameters]]:
    """Every registered experiment: imports each `lib/<line>/parameters.py` once."""
    if not _discovered:
        for module in sorted(Path(__file__).parent.glob("*/parameters.py")):
            importlib.import_module(f"lib.{module.parent.name}.parameters")
        _discovered.append(True)
    return EXPERIMENTS


# ------------------------------------------------------------------------------ loading


def resolve_path(path: str | Path) -> Path:
    """A parameter file path as given, else relative to the repository root or parameters/."""
    p = Path(path)
    for candidate in (p, ROOT / p, PARAMETERS / p):
        if candidate.is_file():
            return candidate.resolve()
    raise ParameterError(
        f"parameter file {str(path)!r} not found (looked relative to the working directory, "
        f"the repository root and parameters/). Available: {', '.join(available())}"
    )


def available() -> list[str]:
    """Parameter files in the repository, relative to its root."""
    return sorted(str(p.relative_to(ROOT)) for p in PARAMETERS.glob("*/*.yaml"))


LOADER_KEYS = ("parameter_file", "parameter_sha256", "parameter_overrides")


def load_parameters(
    path: str | Path, experiment: str | None = None, overrides: Mapping[str, Any] | None = None
) -> RunParameters:
    """Read, validate and complete a parameter file; return its experiment's model.

    `experiment` is the notebook asking (a file for another notebook is refused); `overrides`
    (a notebook's `OVERRIDES`) replace top-level keys and are validated the same way. Reference
    runs are looked up in the file's own folder. Sets `parameter_file` (relative to the
    repository when inside it), `parameter_sha256` (of the file's text) and
    `parameter_overrides` (the overrides applied, `{}` when none). Raises `ParameterError`.
    """
    file = resolve_path(path)
    where = shown(file)
    try:
        raw_text = yamlfile.read_text(file, where)
        given = yamlfile.parse(raw_text, where)
    except yamlfile.YamlError as exc:
        raise ParameterError(str(exc)) from None
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ParameterError(f"{where}: expected a mapping of keys to values, got "
                             f"{type(given).__name__}")
    overrides = dict(overrides or {})
    data = {**given, **overrides}
    if taken := sorted(set(data) & set(LOADER_KEYS)):
        raise ParameterError(f"{where}: {taken[0]}: set by the loader, not by the file; remove it")
    model_cls = _experiment_model(where, data.get("experiment"), experiment)
    _check_name_and_folder(file, data)
    try:
        model = model_cls.model_validate(data, context={"folder": file.parent})
    except ValidationError as exc:
        message = "; ".join(_describe(e, model_cls, overrides) for e in exc.errors())
        raise ParameterError(f"{where}: {message}") from None
    return model.model_copy(update={
        "parameter_file": where,
        "parameter_sha256": hashlib.sha256(raw_text.encode()).hexdigest(),
        "parameter_overrides": overrides})


def reference_runs(params: RunParameters) -> list[str]:
    """The runs whose results a run reads (its `{run: <experiment>_<run>}` blocks typed
    `ReferenceRun`): the edges of the workflow's graph."""
    runs = []
    for key, field in type(params).model_fields.items():
        block = getattr(params, key)
        sub = _unwrap(field.annotation)
        if not (isinstance(block, BaseModel) and isinstance(sub, type)
                and issubclass(sub, BaseModel) and "run" in sub.model_fields):
            continue
        if any(getattr(m, "func", None) is _reference_run
               for m in sub.model_fields["run"].metadata):
            runs.append(block.run)
    return runs


def result_name(params: RunParameters) -> str:
    """The deterministic results stem of a run: `<experiment>_<run>`."""
    return f"{params.experiment}_{params.run}"


def _experiment_model(where: str, name: Any, asked: str | None) -> type[RunParameters]:
    known = experiments()
    if name is None:
        raise ParameterError(f"{where}: experiment: field required (one of "
                             f"{', '.join(sorted(known))})")
    if not isinstance(name, str) or name not in known:
        raise ParameterError(f"{where}: experiment: {name!r} is not a known experiment "
                             f"(known: {', '.join(sorted(known))})")
    if asked is not None and name != asked:
        matching = [a for a in available() if Path(a).name.startswith(asked + "_")]
        raise ParameterError(f"{where} is a parameter file for {name}, not {asked}: pick one of "
                             f"{', '.join(matching) or '(none)'}")
    return known[name]


def _check_name_and_folder(file: Path, data: Mapping[str, Any]) -> None:
    """`<profile>/<experiment>_<run>.yaml`: the keys must agree with the path they sit at."""
    where = shown(file)
    experiment, run, profile = data["experiment"], data.get("run"), data.get("profile")
    stem_experiment, _, stem_run = file.stem.partition("_")
    if stem_experiment != experiment:
        raise ParameterError(f"{where}: experiment {experiment!r} disagrees with the file name "
                             f"{file.name} (expected a file named {experiment}_<run>.yaml)")
    if isinstance(run, str) and run != stem_run:
        raise ParameterError(f"{where}: run {run!r} disagrees with the file name {file.name} "
                             f"(expected run: {stem_run})")
    folder = file.parent
    if isinstance(profile, str) and profile != folder.name:
        raise ParameterError(f"{where}: profile {profile!r} disagrees with the folder "
                             f"{shown(folder)}/ (a {profile} file belongs in "
                             f"parameters/{profile}/)")


# ------------------------------------------------------------------------ error messages

_TYPE_NOUNS = {
    "int_type": "an integer", "float_type": "a number", "string_type": "a string",
    "bool_type": "true or false", "list_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "tuple_type": "a list",
}


def _key_path(loc: tuple[Any, ...]) -> str:
    text = ""
    for step in loc:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _model_at(model_cls: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at `loc` (through lists and optionals)."""
    current: Any = model_cls
    for step in loc:
        if isinstance(step, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        current = _unwrap(current.model_fields[step].annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    for arg in (get_args(annotation) or ()):
        found = _unwrap(arg)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    return annotation


def _bound(x: Any) -> str:
    return format(x, "g") if isinstance(x, float) else str(x)


def _describe(error: Mapping[str, Any], model_cls: type[BaseModel],
              overrides: Mapping[str, Any]) -> str:
    """One pydantic error as `key.path: what is wrong`."""
    loc = tuple(error["loc"])
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        what = "field required"
    elif kind == "extra_forbidden":
        owner = _model_at(model_cls, loc[:-1])
        known = ", ".join(owner.model_fields) if owner else "?"
        what = f"unknown key (known: {known})"
    elif kind in _TYPE_NOUNS:
        what = f"expected {_TYPE_NOUNS[kind]}, got {value!r} ({type(value).__name__})"
    elif kind == "finite_number":
        what = f"{value!r} is not a finite number (inf and nan are refused)"
    elif kind == "greater_than_equal":
        what = f"{value!r} is below the minimum {_bound(ctx['ge'])}"
    elif kind == "less_than_equal":
        what = f"{value!r} is above the maximum {_bound(ctx['le'])}"
    elif kind == "greater_than":
        what = f"{value!r} must be greater than {_bound(ctx['gt'])}"
    elif kind == "less_than":
        what = f"{value!r} must be less than {_bound(ctx['lt'])}"
    elif kind == "literal_error":
        what = f"{value!r} is not one of {ctx['expected']}"
    elif kind == "too_short":
        what = ("must not be empty" if ctx.get("min_length") == 1
                else f"needs at least {ctx.get('min_length')} items")
    elif kind == "value_error":
        what = str(ctx.get("error", error["msg"]))
    else:
        what = str(error["msg"])
    key = _key_path(loc) or "(file)"
    if loc and loc[0] in overrides:
        key += " (from OVERRIDES)"
    return f"{key}: {what}"
