"""lib.nbcompare: what nbval accepts as the same printed output, and what it refuses."""

from __future__ import annotations

import nbformat
import pytest

from lib.nbcompare import DEFAULT_TOLERANCE, cell_tolerance, numbers_agree, reconcile

REL, ABS = DEFAULT_TOLERANCE["rel"], DEFAULT_TOLERANCE["abs"]


@pytest.mark.parametrize(
    ("reference", "test"),
    [
        ("SI 1.0169 1.0539 +0.0370", "SI 1.0162 1.0540 +0.0379"),  # a delta: its terms' error
        ("var 8.36e-05  1.08e-04  +2.47e-05", "var 8.35e-05  1.08e-04  +2.48e-05"),
        ("share 0.05", "share 0.04"),  # one unit in the last printed digit
        ("x          0.00", "x         -0.00"),  # a sign moves the column: spacing is folded
        ("Phi-1.5 at 0.47.", "Phi-1.5 at 0.47."),
    ],
)
def test_agreeing_outputs(reference: str, test: str) -> None:
    assert numbers_agree(reference, test, REL, ABS)


@pytest.mark.parametrize(
    ("reference", "test"),
    [
        ("SI 0.470", "SI 0.490"),  # 4% of the line's scale
        ("share 0.05", "share 0.03"),  # two units
        ("n 10 prompts", "n 11 prompts"),  # integers compare exactly
        ("VERDICT collapse", "VERDICT no collapse"),
        ("a 0.5 b 0.5", "a 0.5 b 0.5 c 0.5"),
        ("var 8.36e-05", "var 8.36e-04"),
        ("x 0.1\ny 0.2", "x 0.1 y 0.2"),  # lines are lines
    ],
)
def test_differing_outputs(reference: str, test: str) -> None:
    assert not numbers_agree(reference, test, REL, ABS)


def test_a_cell_states_its_own_precision() -> None:
    with pytest.raises(ValueError, match="unknown key 'abss'"):
        cell_tolerance("# NBVAL_TOLERANCE abss=0.05\nprint(x)")
    tolerance = cell_tolerance("# NBVAL_TOLERANCE abs=0.05 trained: float order\nprint(x)")
    assert tolerance == {"rel": REL, "abs": 0.05}
    assert numbers_agree("loss -0.01", "loss -0.04", REL, tolerance["abs"])
    assert cell_tolerance("print(x)") == DEFAULT_TOLERANCE


def test_reconcile_gives_agreeing_outputs_the_reference_text_only() -> None:
    def outputs(text: str, value: str) -> list:
        return [nbformat.v4.new_output("stream", name="stdout", text=text),
                nbformat.v4.new_output("execute_result", data={"text/plain": value})]

    ref, test = outputs("SI 0.4700\n", "0.30"), outputs("SI 0.4701\n", "0.90")
    reconcile(test, ref, DEFAULT_TOLERANCE)
    assert test[0]["text"] == "SI 0.4700\n"  # agreed: nbval then sees equal texts
    assert test[1]["data"]["text/plain"] == "0.90"  # disagreed: nbval reports the difference


def _table_output(si: float, label: str = "SI") -> dict:
    import pandas as pd
    from IPython.core.formatters import DisplayFormatter

    from lib.show import Table

    data, _ = DisplayFormatter().format(Table(pd.DataFrame({label: [si], "n": [10]})))
    return nbformat.v4.new_output("display_data", data=data)


def test_a_table_is_compared_through_its_text_and_the_layout_of_its_html() -> None:
    ref = _table_output(0.4700)
    agreeing = _table_output(0.4701)
    assert agreeing["data"]["text/html"] != ref["data"]["text/html"]
    reconcile([agreeing], [ref], DEFAULT_TOLERANCE)
    assert agreeing["data"] == ref["data"]  # nbval then sees equal outputs
    differing = _table_output(0.4900)  # 4%: the text disagrees, so the HTML is kept
    reconcile([differing], [ref], DEFAULT_TOLERANCE)
    assert "0.49" in differing["data"]["text/html"]
    relabelled = _table_output(0.4700, label="Sl")  # same numbers, another layout
    reconcile([relabelled], [ref], DEFAULT_TOLERANCE)
    assert relabelled["data"]["text/html"] != ref["data"]["text/html"]
