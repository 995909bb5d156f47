"""The attention experiments' parameter models (lib.attention.parameters): the head-permutation
null's keys, and which runs are pairs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lib.attention.nulls import NULL_CI, NULL_N, NULL_SEED
from lib.attention.parameters import E08Parameters, PairParameters
from lib.params import ParameterError, available, load_parameters
from lib.paths import shown


def test_permutation_null_parameters_are_validated(tmp_path: Path) -> None:
    keys = {"experiment": "E11", "run": "x", "profile": "embedded", "base": "tiny/llama-gqa",
            "instruct": "tiny/llama-gqa-instruct"}
    path = tmp_path / "parameters" / "embedded" / "E11_x.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(keys))
    assert load_parameters(path, "E11").permutation_null.model_dump() == {
        "n": NULL_N, "seed": NULL_SEED, "ci": NULL_CI}
    path.write_text(yaml.safe_dump({**keys, "permutation_null": {"n": 0}}))
    with pytest.raises(ParameterError) as err:
        load_parameters(path, "E11")
    assert str(err.value) == f"{shown(path)}: permutation_null.n: 0 is below the minimum 1"
    path.write_text(yaml.safe_dump({**keys, "permutation_null": {"draws": 10}}))
    with pytest.raises(ParameterError, match=r"permutation_null\.draws: unknown key \(known: n, "
                                             r"seed, ci\)$"):
        load_parameters(path, "E11")



def test_pair_runs_are_the_e11_and_e11t_files_and_a_ladder_is_not() -> None:
    files = [path for path in available() if Path(path).name.startswith(("E08_", "E11"))]
    for path in files:
        params = load_parameters(path)
        pair = Path(path).name.startswith("E11")  # E11_ and E11-T_
        assert isinstance(params, PairParameters) == pair, path
        assert isinstance(params, E08Parameters) != pair, path
        if pair:
            assert params.base and params.instruct and isinstance(params.sanity_check, bool)
