"""Results keys renamed from the seeds' section numbers and defect codes to what they measure, and
a diff of results made before and after the renaming.

Each line lists its renames in `lib/<line>/renames.py` (`Line.renames`): for each experiment, a
list of `(old path, new key)` pairs. A path is the old dotted key path in the results file;
`*` stands for any key, and a list is walked through element by element. The new key replaces
the last key of the path, in place; a third element `{old value: new value}` renames the key's
string value too (a parameter value the results file copies, e.g. a protocol's name):

    ("section8", "procrustes")              # section8 -> procrustes
    ("section8.pipeline.B8", "unmatched")   # section8.pipeline.B8 -> procrustes.pipeline.unmatched
    ("embedding.protocol", "protocol", {"section1": "all_rows_isotropic"})  # the value only

    python -m lib.renames table          # the mapping old -> new, experiment by experiment
    python -m lib.renames diff OLD NEW   # results folders made before and after: the same
                                         # numbers under the new names (exit 0), or what differs

`diff` renames each old results file, then compares every value with the new file's, exactly;
a file's provenance (code hashes, parameter sha256, packages) and its content hash are left
out, since renaming changes the code and the parameter files by design.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lib.lines import hook, lines

# (old dotted path, new last key[, {old value: new value} for the key's value])
Rename = tuple[str, str] | tuple[str, str, dict[str, str]]
UNCOMPARED = frozenset({"provenance", "content_sha256"})  # top-level keys renaming changes


def renames_of(experiment: str) -> list[Rename]:
    """The renames of `experiment`'s results keys (its line's `renames`), deepest first."""
    for line in lines().values():
        if line.renames is not None and experiment in line.experiments:
            table = hook(line.renames)
            return sorted(table.get(experiment, ()), key=lambda r: -r[0].count("."))
    return []


def _rename(node: Any, keys: list[str], new: str, values: dict[str, str] | None = None) -> int:
    """Rename the key at `keys` below `node` to `new`; how many keys were renamed."""
    if isinstance(node, list):
        return sum(_rename(item, keys, new, values) for item in node)
    if not isinstance(node, dict):
        return 0
    head, rest = keys[0], keys[1:]
    names = list(node) if head == "*" else [head] if head in node else []
    if rest:
        return sum(_rename(node[name], rest, new, values) for name in names)
    count = 0
    for name in names:
        if new in node and new != name:
            raise ValueError(f"renaming {name!r} to {new!r}: {new!r} is there already")
        value = node.pop(name)
        node[new] = values.get(value, value) if values and isinstance(value, str) else value
        count += 1
    return count


def renamed(payload: dict[str, Any], experiment: str) -> dict[str, Any]:
    """`payload` (a results file made before the renaming) under the new names."""
    out = json.loads(json.dumps(payload))
    for old, new, *values in renames_of(experiment):
        _rename(out, old.split("."), new, *values)
    return out


def _leaves(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list) and any(isinstance(v, dict | list) for v in node):
        for i, value in enumerate(node):
            yield from _leaves(value, f"{path}[{i}]")
    else:
        yield path, node


def differences(old: dict[str, Any], new: dict[str, Any], experiment: str) -> list[str]:
    """What differs between `old` renamed and `new`, leaving out `UNCOMPARED` (one line each)."""
    before = dict(_leaves({k: v for k, v in renamed(old, experiment).items()
                           if k not in UNCOMPARED}))
    after = dict(_leaves({k: v for k, v in new.items() if k not in UNCOMPARED}))
    lines_ = [f"only before: {k}" for k in sorted(before.keys() - after.keys())]
    lines_ += [f"only after: {k}" for k in sorted(after.keys() - before.keys())]
    lines_ += [f"differs: {k}: {before[k]!r} -> {after[k]!r}"
               for k in sorted(before.keys() & after.keys())
               if json.dumps(before[k]) != json.dumps(after[k])]
    return lines_


def _experiment(file: Path, payload: dict[str, Any]) -> str:
    """A results file's experiment: its own key, else its name's (`<experiment>_<run>`)."""
    return payload.get("experiment") or file.stem.split("_", 1)[0]


def diff_folders(old: Path, new: Path) -> tuple[int, list[str]]:
    """Compare every JSON file under `old` with the one at the same place under `new`: the
    number of files compared and what differs (empty: the same numbers, new names)."""
    problems: list[str] = []
    files = sorted(p.relative_to(old) for p in old.rglob("*.json"))
    for rel in files:
        if not (new / rel).is_file():
            problems.append(f"{rel}: not in {new}")
            continue
        before = json.loads((old / rel).read_text())
        after = json.loads((new / rel).read_text())
        if not isinstance(before, dict):
            if before != after:
                problems.append(f"{rel}: differs")
            continue
        problems += [f"{rel}: {line}" for line in
                     differences(before, after, _experiment(new / rel, after))]
    problems += [f"{p.relative_to(new)}: not in {old}" for p in sorted(new.rglob("*.json"))
                 if not (old / p.relative_to(new)).is_file()]
    return len(files), problems


def table() -> list[str]:
    """The mapping old -> new of every line, as Markdown table rows."""
    rows = ["| experiment | old key path | new key |", "|---|---|---|"]
    for line in lines().values():
        if line.renames is None:
            continue
        for experiment, renames in hook(line.renames).items():
            rows += [f"| {experiment} | `{old}` | `{new}`"
                     + "".join(f", `{a}` -> `{b}`" for v in values for a, b in v.items()) + " |"
                     for old, new, *values in renames]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.renames", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("table", help="print the mapping old -> new")
    diff = sub.add_parser("diff", help="compare results folders made before and after")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    if args.command == "table":
        print("\n".join(table()))
        return 0
    for folder in (args.old, args.new):
        if not folder.is_dir():
            print(f"{folder}: not a folder: give two results folders, e.g. a copy of "
                  "results/embedded made before and results/embedded", file=sys.stderr)
            return 2
    count, problems = diff_folders(args.old, args.new)
    for line in problems:
        print(line)
    print(f"{count} results files compared: "
          + ("the same values under the new names" if not problems
             else f"{len(problems)} differences"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
