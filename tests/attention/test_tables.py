"""The tables the notebooks show (lib.attention.tables): undefined numbers as n/a, both verdicts,
each SI against its null."""

from __future__ import annotations

from lib.attention import study, tables
from lib.attention.entropy import OTHER_MODES
from lib.attention.verdicts import Verdict


def test_tables_print_non_finite_numbers_as_na(row) -> None:
    assert tables.number(float("nan")) == "n/a" and tables.number(None) == "n/a"
    assert tables.number(-0.0, "+.4f") == "+0.0000" and tables.number(0.12345) == "0.1235"
    nan_row = row("m", 1.0, float("nan"))
    assert tables.ladder_table([nan_row])["SI"].item() == "n/a"
    mha = {"delta_si": None, "delta_corr": 0.01, "verdict": "C_REFUTED"}
    verdict = Verdict("UNDEFINED", {}, {}, "not finite: x")
    table = tables.comparison_table(mha, verdict, {"specialization_index": float("nan"),
                                                   "mean_head_correlation": 0.2})
    assert table.loc["dSI"].tolist() == ["n/a", "n/a"]
    assert tables.describe_verdict(verdict) == "UNDEFINED: not finite: x"


def test_comparison_table_shows_both_verdicts() -> None:
    mha = {"delta_si": 0.03, "delta_corr": -0.03, "verdict": "C_REFUTED",
           "verdict_corrected": "NOT_RESOLVED"}
    verdict = Verdict("B_PARTIAL", {}, {}, as_executed={"code": "A_CONFIRMED"})
    table = tables.comparison_table(mha, verdict, {"specialization_index": -0.02,
                                                   "mean_head_correlation": 0.02})
    assert table.loc["verdict (seed rule as executed)"].tolist() == ["C_REFUTED", "A_CONFIRMED"]
    assert table.loc["verdict (corrected)"].tolist() == ["NOT_RESOLVED", "B_PARTIAL"]


def test_ladder_table_shows_each_si_against_its_null(row) -> None:
    null = {"point": 0.47, "null_mean": 0.45, "low": 0.4004, "high": 0.5003, "p": 0.667,
            "reason": None}
    table = tables.ladder_table([{**row("MiniLM", 0.0227, 0.47), "si_null": null},
                                 row("Phi-3", 3.8, 0.33)])  # published: no null
    assert table.loc[0, "head-perm. null 95%"] == "[0.400, 0.500]"
    assert table.loc[0, "perm. p"] == "0.667"
    assert (table.loc[1, "head-perm. null 95%"], table.loc[1, "perm. p"]) == ("-", "-")



def test_modes_table_shows_every_entropy_mode_the_protocols_first(pair) -> None:
    params, base, instruct = pair
    delta = study.compare_pair(params, base, instruct)
    table = tables.modes_table(delta)
    assert table.index.name == "entropy mode"
    assert table.index.tolist() == [f"{params.entropy_mode} (protocol)",
                                    *OTHER_MODES[params.entropy_mode]]
    assert table["verdict (corrected)"].tolist() == [m["verdict"]
                                                     for m in delta["entropy_modes"].values()]
    note = tables.modes_note(delta, params.entropy_mode)
    assert note.startswith(f"the verdict uses the protocol's {params.entropy_mode} entropy; ")
    assert ("DIFFERENTLY" in note) == study.modes_differ(delta)
    mode = params.entropy_mode
    one = {**delta, "entropy_modes": {mode: delta["entropy_modes"][mode]}}
    assert tables.modes_note(one, mode) == (
        f"entropy mode: {mode} (the protocol's; no other mode from this pass)")
