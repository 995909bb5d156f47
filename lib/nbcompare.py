"""How the notebook check (nbval) compares the numbers a notebook prints with its stored twin.

nbval compares the cells marked `# NBVAL_CHECK_OUTPUT` with their stored output. The text must be
the same except for runs of spaces and the floats in it (integers compare exactly); two printed
floats agree when they differ by at most one unit in their last printed digit plus `rel` times
the largest magnitude printed on their line plus `abs` (a difference printed beside its terms
carries their error). The default is `rel=0.02, abs=0`: the last digits of float32 and bfloat16
model outputs differ between CPU generations (measured on an AMD EPYC and an Intel Xeon VM: a
tiny random model's SI 1.0169 vs 1.0162 and its delta +0.0370 vs +0.0379; an entropy variance
delta -3.27e-05 vs -3.22e-05 beside variances of 1.4e-04). A cell states a wider
precision, with its reason, as a comment `# NBVAL_TOLERANCE abs=0.05 trained on the CPU: ...`.
A table (`lib.show`) also carries HTML: it is compared through its text, and its HTML must have
the same layout as the stored one.
"""

from __future__ import annotations

import re

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PLAIN, HTML = "text/plain", "text/html"


def without_widgets(outputs: list) -> list:
    """The outputs less progress-bar widgets: their stored text is their first frame (`0%|`)."""
    return [o for o in outputs if WIDGET_VIEW not in o.get("data", {})]


DEFAULT_TOLERANCE = {"rel": 0.02, "abs": 0.0}
_FLOAT = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)(?!\w|\.\d)")
_TOLERANCE = re.compile(r"^\s*#\s*NBVAL_TOLERANCE\b(.*)$", re.MULTILINE)


def _unit(text: str) -> float:
    """One unit in the last printed digit of a float's text (`8.36e-05` -> 1e-07)."""
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def _skeleton(text: str) -> tuple[str, list[str]]:
    """The text with each float replaced by `#` and spaces folded, and the floats in order."""
    floats = _FLOAT.findall(text)
    return re.sub(r"[ \t]+", " ", _FLOAT.sub("#", text)).strip(), floats


def numbers_agree(reference: str, test: str, rel: float, abs_: float) -> bool:
    """Same text but for spacing, and every float within the stated precision (module doc)."""
    if _skeleton(reference)[0] != _skeleton(test)[0]:
        return False
    for ref_line, test_line in zip(reference.splitlines(), test.splitlines(), strict=True):
        ref_floats, test_floats = _skeleton(ref_line)[1], _skeleton(test_line)[1]
        values = [abs(float(x)) for x in ref_floats + test_floats]
        scale = max(values, default=0.0)
        for r, t in zip(ref_floats, test_floats, strict=True):
            if abs(float(r) - float(t)) > max(_unit(r), _unit(t)) + rel * scale + abs_:
                return False
    return True


def cell_tolerance(source: str) -> dict[str, float]:
    """`DEFAULT_TOLERANCE`, widened by a cell's `# NBVAL_TOLERANCE rel=.. abs=..` comment."""
    tolerance = dict(DEFAULT_TOLERANCE)
    for match in _TOLERANCE.finditer(source):
        for item in match.group(1).split():
            key, equals, value = item.partition("=")
            if not equals:  # the reason, in words
                continue
            if key not in tolerance:
                raise ValueError(f"NBVAL_TOLERANCE: unknown key {key!r} (known: rel, abs)")
            tolerance[key] = float(value)
    return tolerance


def _texts(output: dict) -> list[tuple[dict, str]]:
    """(container, key) of the comparable texts of one output."""
    if output.get("output_type") == "stream":
        return [(output, "text")]
    data = output.get("data", {})
    return [(data, key) for key in (PLAIN,) if key in data]


def reconcile(test: list, ref: list, tolerance: dict[str, float]) -> None:
    """Give a test output the reference's text where the two agree within the tolerance."""
    for t, r in zip(test, ref, strict=False):  # a count mismatch is nbval's to report
        if t.get("output_type") != r.get("output_type") or t.get("name") != r.get("name"):
            continue
        for (t_box, key), (r_box, r_key) in zip(_texts(t), _texts(r), strict=False):
            if key == r_key and isinstance(t_box[key], str) and isinstance(r_box[key], str):
                if t_box[key] != r_box[key] and numbers_agree(
                    r_box[key], t_box[key], tolerance["rel"], tolerance["abs"]
                ):
                    t_box[key] = r_box[key]
        # a table's HTML (lib.show) renders the numbers of its text: where the text agrees and
        # the HTML has the same layout (every tag, word and integer), it is the reference's too
        t_data, r_data = t.get("data", {}), r.get("data", {})
        if (HTML in t_data and HTML in r_data and t_data.get(PLAIN) == r_data.get(PLAIN)
                and _skeleton(t_data[HTML])[0] == _skeleton(r_data[HTML])[0]):
            t_data[HTML] = r_data[HTML]
