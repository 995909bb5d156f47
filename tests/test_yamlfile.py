"""lib.yamlfile, the one YAML loader: no anchors or aliases, no duplicate keys, YAML 1.2 floats,
UTF-8 only; every error one line naming the file and the line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lib.paths import ROOT
from lib.yamlfile import YamlError, dump, load, parse

# 9 levels of 9 aliases: about 400 bytes that PyYAML expands into 9**9 list entries
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
    for a, b in zip("abcdefgh", "bcdefghi", strict=True))


def _error(text: str, where: str = "f.yaml") -> str:
    with pytest.raises(YamlError) as err:
        parse(text, where)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{where}: "), message
    return message


@pytest.mark.parametrize("text, value", [
    ("1e30", 1e30), ("1e-3", 1e-3), ("-2E5", -2e5), ("+1E+2", 100.0), ("1.5e3", 1500.0),
    ("1.0e+5", 1e5), (".5", 0.5), ("3.", 3.0), ("1_000.5", 1000.5), ("-.inf", float("-inf")),
])
def test_floats_follow_yaml_1_2(text: str, value: float) -> None:
    assert parse(f"x: {text}", "f.yaml") == {"x": value}


@pytest.mark.parametrize("text, value", [
    ("12", 12), ("-3", -3), ("0x1F", 31), ("1e", "1e"), ("e5", "e5"), ("1.2.3", "1.2.3"),
    ("true", True), ("null", None), ("'1e30'", "1e30"), ("2001-12-14", "2001-12-14"),
])
def test_ints_strings_and_the_rest_read_as_before(text: str, value: object) -> None:
    got = parse(f"x: {text}", "f.yaml")["x"]
    assert (str(got) if text == "2001-12-14" else got) == value
    assert type(got) is not float


def test_what_dump_writes_parse_reads_back() -> None:
    shared = ["x", 3]
    data = {"a": "1e-3", "b": 1e-3, "c": "-2E5", "d": 1e30, "e": shared, "f": "12", "g": shared}
    assert parse(dump(data), "f") == data  # the shared list written twice, not as an alias
    assert "'1e-3'" in dump(data)  # yaml.safe_dump writes it bare: a number for YAML 1.2


def test_an_alias_bomb_is_refused_at_its_first_anchor() -> None:
    assert len(BOMB) < 500
    message = _error(BOMB)
    assert message == ("f.yaml: line 1, column 4: anchors and aliases are refused (&a): write the "
                       "value out in full")


def test_an_alias_alone_is_refused() -> None:
    assert "(*x)" in _error("a: 1\nb: *x\n")


@pytest.mark.parametrize("text, line", [
    ("run: a\nseeds: [1]\nrun: b\n", 3),
    ("training: {lr: 0.1, lr: 0.2}\n", 1),
    ("a:\n  b: 1\n  c: 2\n  b: 3\n", 4),
])
def test_a_key_given_twice_is_refused(text: str, line: int) -> None:
    message = _error(text)
    assert message.startswith(f"f.yaml: line {line}, ") and "is given twice (first on line" in (
        message), message


def test_the_same_key_in_different_mappings_is_fine() -> None:
    assert parse("a: {x: 1}\nb: {x: 2}\n", "f") == {"a": {"x": 1}, "b": {"x": 2}}


def test_syntax_errors_name_the_line() -> None:
    assert _error("x: [1\n").startswith("f.yaml: not valid YAML: line 2, column 1: ")


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes("description: café\n".encode("latin-1"))
    with pytest.raises(YamlError) as err:
        load(path, "parameters/p.yaml")
    assert str(err.value) == ("parameters/p.yaml: not UTF-8 text (byte 0xe9 at position 16): "
                              "save it as UTF-8")


def test_every_yaml_read_in_lib_goes_through_this_loader() -> None:
    """No `yaml.safe_load` / `yaml.load` outside lib/yamlfile.py."""
    readers = {"load", "safe_load", "full_load", "unsafe_load", "load_all", "safe_load_all"}
    found = []
    for path in sorted((ROOT / "lib").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if name == "lib/yamlfile.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr in readers
                    and isinstance(node.value, ast.Name) and node.value.id == "yaml"):
                found.append(f"{name}:{node.lineno}")
    assert not found, f"YAML read without lib.yamlfile: {found}"
