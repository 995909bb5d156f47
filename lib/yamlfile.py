"""The one YAML loader of the repository: parameter files, `--overrides`, claims and presets.

`yaml.SafeLoader` with three changes, each refused or read in one line naming the file and line:
anchors and aliases (`&a` / `*a`) are refused, so a few hundred bytes cannot expand into a
"billion laughs" structure; a key given twice in one mapping is refused (PyYAML keeps the last
silently); and floats follow YAML 1.2, so `1e30`, `1e-3` and `-2E5` are numbers (YAML 1.1, which
PyYAML implements, wants a dot and a signed exponent and reads them as strings). A file must be
UTF-8 text. `dump` writes YAML that `parse` reads back unchanged (it quotes the string `'1e-3'`
and writes no alias).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

FLOAT_TAG = "tag:yaml.org,2002:float"
MERGE_TAG = "tag:yaml.org,2002:merge"
# YAML 1.2 core floats (exponent without a dot, unsigned exponent) plus what YAML 1.1 also reads
# (underscores, sexagesimal); an integer (no dot, no exponent) is left to the int resolver
FLOAT = re.compile(r"""^(?:
      [-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    | [-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    | [-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    | [-+]?\.(?:inf|Inf|INF)
    | \.(?:nan|NaN|NAN))$""", re.X)


class YamlError(ValueError):
    """A YAML text that cannot be read: the message is one line naming the file and the line."""


class _Refused(yaml.MarkedYAMLError):
    pass


class StrictLoader(yaml.SafeLoader):
    """SafeLoader without anchors, aliases or duplicate keys, with YAML 1.2 floats."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != FLOAT_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or event.anchor is not None:
            name = ("*" if isinstance(event, yaml.AliasEvent) else "&") + event.anchor
            raise _Refused(problem=f"anchors and aliases are refused ({name}): write the value "
                                   "out in full", problem_mark=event.start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == MERGE_TAG:  # `<<: {...}`: SafeLoader merges it below
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark)
                except TypeError:  # an unhashable key: SafeLoader's own error follows
                    continue
                if first is not key_node.start_mark:
                    raise _Refused(problem=f"key {key!r} is given twice (first on line "
                                           f"{first.line + 1}): keep one",
                                   problem_mark=key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


StrictLoader.add_implicit_resolver(FLOAT_TAG, FLOAT, list("-+0123456789."))


class StrictDumper(yaml.SafeDumper):
    """SafeDumper with StrictLoader's resolvers: it quotes a string such as `'1e-3'` that
    StrictLoader would read as a number, so what `dump` writes `parse` reads back the same."""

    yaml_implicit_resolvers = StrictLoader.yaml_implicit_resolvers

    def ignore_aliases(self, data: Any) -> bool:
        return True  # an object met twice is written out twice: StrictLoader refuses aliases


def dump(data: Any, **options: Any) -> str:
    """`data` as YAML text (`yaml.dump` options, e.g. sort_keys) that `parse` reads back."""
    return yaml.dump(data, Dumper=StrictDumper, **options)


def parse(text: str, where: str) -> Any:
    """The value of the YAML `text` (None when empty); `where` (a file, an option) names it in
    the YamlError."""
    try:
        loader = StrictLoader(text)
    except yaml.reader.ReaderError as exc:
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise YamlError(f"{where}: not valid YAML: control character U+{code:04X} at position "
                        f"{exc.position}: remove it") from None
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = " ".join(f"{exc.context or ''} {exc.problem or ''}".split())
        kind = "" if isinstance(exc, _Refused) else "not valid YAML: "
        raise YamlError(f"{where}: {kind}{at}{what}") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"{where}: not valid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()


def read_text(path: Path, where: str | None = None) -> str:
    """The text of a UTF-8 file; YamlError (naming `where`, default the path) if it is not."""
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlError(f"{where or path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                        f"position {exc.start}): save it as UTF-8") from None


def load(path: Path, where: str | None = None) -> Any:
    """The value of a YAML file (read as UTF-8), through `parse`."""
    return parse(read_text(path, where), where or str(path))
