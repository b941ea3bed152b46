"""Named results a notebook prints, so that the numbers quoted in its text and in the docs can be checked.

A solution notebook calls `report(...)` where a headline number is computed; each value is printed as one line

    result: mac_ratio = 2.59 (±0.15)

The executed notebook's outputs are then the record of what the run measured: `autograder.tools.claims` reads the
lines back, `python -m benchmarks.notebook_results` stores them in docs/results/<stem>.json, and the test suite checks
that every number annotated `<!-- result KEY -->` in a recap, a model answer, README.md or docs/ is within the stated
tolerance of the stored value, and that a fresh execution is within it too. Values are recorded in the unit the text
quotes them in (percent as 41.7, not 0.417). Timings depend on the machine's load: `checked=False` keeps them out of
the fresh-execution comparison (their text is still compared with the stored measurement).
"""

from __future__ import annotations

import math
import re

__all__ = ["format_result", "parse_results", "report"]

RESULT_LINE = re.compile(
    r"^result: (?P<key>[a-z][a-z0-9_]*) = (?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
    r" \(±(?P<tol>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?P<unchecked>, not rechecked)?\)$"
)
KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def format_result(key: str, value: float, tol: float, checked: bool = True) -> str:
    """The one line `report` prints for a value (the format RESULT_LINE parses).

    Introduced in 00_orientation.
    """
    if not KEY.match(key):
        raise ValueError(f"result name {key!r}: use lower-case letters, digits and _ (e.g. 'mac_ratio')")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"result {key!r} is {value}: only finite numbers can be recorded")
    if not (tol >= 0 and math.isfinite(tol)):
        raise ValueError(f"result {key!r}: the tolerance must be a finite number >= 0, got {tol!r}")
    suffix = "" if checked else ", not rechecked"
    return f"result: {key} = {value:.6g} (±{tol:.6g}{suffix})"


def report(key: str, value: float, tol: float, checked: bool = True) -> float:
    """Print `value` as the named result `key`, good to `tol` (in the value's own unit); return the value.

    `checked=False` for timings and anything else a loaded machine changes: stored and quoted, not compared with a
    fresh run.

    Introduced in 00_orientation.
    """
    print(format_result(key, value, tol, checked))
    return float(value)


def parse_results(text: str) -> dict[str, dict]:
    """{key: {"value", "tol", "checked"}} of every result line in `text` (a later line with the same key wins).

    Introduced in 00_orientation.
    """
    found: dict[str, dict] = {}
    for line in text.splitlines():
        match = RESULT_LINE.match(line.strip())
        if match:
            found[match["key"]] = {
                "value": float(match["value"]),
                "tol": float(match["tol"]),
                "checked": match["unchecked"] is None,
            }
    return found
