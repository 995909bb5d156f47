"""Tables in a notebook: HTML where a notebook is read (JupyterLab, Colab, `make site`), the full
text table where it is printed (a terminal, a log, and the text the notebook check compares)."""

from __future__ import annotations

import pandas as pd
from IPython.display import display


class Table:
    """A frame that renders as an HTML table and prints as its whole `to_string()` (a plain
    DataFrame's text elides wide columns with `...`)."""

    def __init__(self, frame: pd.DataFrame | pd.Series, index: bool = True) -> None:
        self.frame = frame.to_frame() if isinstance(frame, pd.Series) else frame
        self.index = index

    def __repr__(self) -> str:
        return self.frame.to_string(index=self.index)

    def _repr_html_(self) -> str:
        return self.frame.to_html(index=self.index, border=0)


def show_table(frame: pd.DataFrame | pd.Series, index: bool = True) -> None:
    """Display `frame` as a table: HTML in a notebook, text elsewhere."""

    display(Table(frame, index))
