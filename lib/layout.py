"""What a results file holds, typed: each line of research declares the layout of its
experiments' results (`lib/<line>/layout.py`, registered in `Line.layouts`).

A layout is a pydantic model (`Layout`) of the keys the readers use (the report, the summaries,
the claims, the findings), with their types; a results file may hold more (`extra="allow"`:
what no other module reads). The notebook validates its payload against its layout before it
writes it (`lib.notebook.Run.save`), the report validates each results file before it reads it
(a file that does not fit is refused in one line naming the file and the key), and the claims
registry checks every claim's field path against its result's layout when it loads
(`path_problem`), so a renamed key fails there, not in the report.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from lib.lines import hook, line_of


class Layout(BaseModel):
    """The base of every results layout: declared keys typed, other keys kept as they are."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


def layout_of(experiment: str) -> type[BaseModel] | None:
    """The results layout `experiment`'s line declares, if any (None for an experiment no line
    owns)."""
    try:
        ref = line_of(experiment).layouts.get(experiment)
    except KeyError:
        return None
    return hook(ref) if ref is not None else None


def _types(annotation: Any) -> list[Any]:
    """The alternatives of an annotation (`A | None` -> [A, None])."""
    if get_origin(annotation) in (Union, types.UnionType):
        return [t for arg in get_args(annotation) for t in _types(arg)]
    return [annotation]


def path_problem(model: type[BaseModel], path: Sequence[str]) -> str | None:
    """Why `path` (keys from the top of a results file) is not in `model`'s layout, or None.

    Each step must be a declared field; a `dict[str, X]` field takes any key and goes on in X,
    a `list[X]` field an index; a field typed `Any` (or a plain dict) ends the check there (the
    layout leaves what is below it free)."""
    current: list[Any] = [model]
    for i, step in enumerate(path):
        following: list[Any] = []
        for kind in current:
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                field = kind.model_fields.get(step)
                if field is not None:
                    following += _types(field.annotation)
                elif kind.model_config.get("extra") == "allow" and not kind.model_fields:
                    return None  # a free block
            elif get_origin(kind) in (dict, Mapping) or kind in (dict, Any):
                args = get_args(kind)
                if not args or args[-1] is Any:
                    return None
                following += _types(args[-1])
            elif get_origin(kind) in (list, tuple) and step.isdigit():
                following += _types(get_args(kind)[0])
        if not following:
            where = "/".join(path[:i]) or "the top"
            return f"{step!r} is not a key of {where} in the {model.__name__} layout"
        current = [t for t in following if t is not type(None)]
        if any(t is Any for t in current):
            return None
    return None


def result_problem(payload: Any, experiment: str) -> str | None:
    """Why `payload` does not fit `experiment`'s results layout (the first key that does not,
    in one line), or None (also where the line declares no layout)."""
    model = layout_of(experiment)
    if model is None:
        return None
    try:
        model.model_validate(payload)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = "/".join(str(x) for x in error["loc"]) or "(top)"
        return f"{key}: {error['msg']} (the {model.__name__} layout)"
    return None
