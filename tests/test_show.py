"""lib.show: a table is HTML where a notebook is read and its whole text where it is printed."""

from __future__ import annotations

import pandas as pd
from IPython.core.formatters import DisplayFormatter

from lib.show import Table, show_table


def test_a_wide_table_prints_whole_and_renders_as_html() -> None:
    frame = pd.DataFrame([[f"{i * j / 7:.4f}" for j in range(40)] for i in range(3)],
                         columns=[f"a long column name {j}" for j in range(40)])
    with pd.option_context("display.max_columns", 5, "display.width", 80):
        data, _ = DisplayFormatter().format(Table(frame))
        assert "..." in repr(frame)  # what a plain DataFrame would print
    assert data["text/plain"] == frame.to_string()
    assert "a long column name 39" in data["text/plain"]
    html = data["text/html"]
    assert html.startswith("<table") and html.count("<th>") == 1 + 40 + 3  # corner, columns, rows
    assert "a long column name 39" in html


def test_index_and_series() -> None:
    series = pd.Series({"SI": 0.47, "dSI": -0.01}, name="value")
    data, _ = DisplayFormatter().format(Table(series, index=False))
    assert data["text/plain"] == series.to_frame().to_string(index=False)
    assert "SI" not in data["text/html"]  # the index is left out


def test_show_table_prints_the_text_outside_a_notebook(capsys) -> None:
    show_table(pd.DataFrame({"SI": [0.47]}), index=False)
    assert capsys.readouterr().out == "  SI\n0.47\n"
