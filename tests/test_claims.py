"""Numbers quoted in the text are checked against the stored runs, and a fresh run against the stored values."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import course_lib as cl
from autograder.tools import claims
from autograder.tools.release import ROOT


def _store(root: Path, stem: str, results: dict, seconds: dict | None = None) -> None:
    path = root / claims.RESULTS_DIR / f"{stem}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"stem": stem, "results": results, "seconds": seconds or {}}), encoding="utf-8")


def _course(tmp_path: Path, recap: str, readme: str = "") -> Path:
    (tmp_path / "solutions").mkdir()
    nb = new_notebook(
        cells=[
            new_markdown_cell("# 90 · Demo\n\n**Expected run time**: about 30 s, then about 10 s."),
            new_markdown_cell(recap),
        ]
    )
    nbformat.write(nb, str(tmp_path / "solutions" / "90_demo.ipynb"))
    (tmp_path / "README.md").write_text(readme, encoding="utf-8")
    _store(
        tmp_path,
        "90_demo",
        {
            "mac_ratio": {"value": 2.59, "tol": 0.1, "checked": True},
            "acc": {"value": 98.3, "tol": 0.5, "checked": True},
        },
    )
    return tmp_path


def test_report_line_round_trips(capsys: pytest.CaptureFixture[str]) -> None:
    cl.results.report("mac_ratio", 2.5912, tol=0.15)
    cl.results.report("ms_per_image", 0.089, tol=0.05, checked=False)
    parsed = cl.results.parse_results(capsys.readouterr().out)
    assert parsed == {
        "mac_ratio": {"value": 2.5912, "tol": 0.15, "checked": True},
        "ms_per_image": {"value": 0.089, "tol": 0.05, "checked": False},
    }
    with pytest.raises(ValueError, match="finite"):
        cl.results.report("x", float("nan"), tol=1)
    with pytest.raises(ValueError, match="lower-case"):
        cl.results.report("Mac Ratio", 1.0, tol=1)


def test_quoted_numbers_match(tmp_path: Path) -> None:
    root = _course(
        tmp_path,
        "- **2.59x**<!-- result mac_ratio --> fewer MACs at 98.3%<!-- result acc -->",
        "03: 2.6x<!-- result 90_demo.mac_ratio -->",
    )
    assert claims.claim_problems(root) == []


def test_a_drifted_recap_or_docs_number_fails(tmp_path: Path) -> None:
    root = _course(tmp_path, "- **2.81x**<!-- result mac_ratio --> fewer MACs", "1.9x<!-- result 90_demo.mac_ratio -->")
    problems = claims.claim_problems(root)
    assert len(problems) == 2 and all("2.59" in p for p in problems), problems
    assert "cell 1" in problems[0] and problems[1].startswith("README.md")


def test_unknown_keys_and_unnamed_notebooks_fail(tmp_path: Path) -> None:
    root = _course(tmp_path, "98%<!-- result accuracy -->", "2.6x<!-- result mac_ratio -->")
    problems = claims.claim_problems(root)
    assert any("does not report" in p and "acc, mac_ratio" in p for p in problems)
    assert any("must name the notebook" in p for p in problems)
    root2 = tmp_path / "other"
    root2.mkdir()
    (root2 / "README.md").write_text("no number<!-- result 91_x.key -->", encoding="utf-8")
    assert "no number" in claims.claim_problems(root2)[0]


def test_fresh_run_drift_is_reported() -> None:
    stored = {
        "results": {
            "acc": {"value": 98.3, "tol": 0.5, "checked": True},
            "ms": {"value": 0.09, "tol": 0.01, "checked": False},
        }
    }
    nb = new_notebook(
        cells=[
            new_code_cell(
                "x",
                outputs=[
                    new_output(
                        "stream",
                        name="stdout",
                        text="result: acc = 97.1 (±0.5)\nresult: ms = 0.5 (±0.01, not rechecked)\n",
                    )
                ],
            )
        ]
    )
    fresh = claims.executed_results(nb)
    problems = claims.drift_problems("90_demo", fresh, stored)
    assert len(problems) == 1 and "acc = 97.1" in problems[0]  # the timing is not rechecked
    fresh["acc"]["value"] = 98.0
    assert claims.drift_problems("90_demo", fresh, stored) == []
    del fresh["ms"]
    assert "no longer ['ms']" in claims.drift_problems("90_demo", fresh, stored)[0]


def test_run_times_come_from_the_measurement(tmp_path: Path) -> None:
    root = _course(tmp_path, "recap")
    _store(root, "90_demo", {}, {"first": 148.0, "rerun": 17.0})
    nb = nbformat.read(str(root / "solutions" / "90_demo.ipynb"), as_version=4)
    nb.metadata["course"] = {"run_time": {"small_first": "about 30 s", "small_rerun": "about 10 s"}}
    assert claims.stamp_run_times(nb, root, "90_demo")
    assert nb.metadata["course"]["run_time"] == {"small_first": "about 2.5 min", "small_rerun": "about 15 s"}
    assert "about 2.5 min, then about 15 s" in nb.cells[0].source
    assert not claims.stamp_run_times(nb, root, "90_demo")
    assert [claims.seconds_phrase(s) for s in (8, 28, 61, 100, 290)] == [
        "about 10 s",
        "about 30 s",
        "about 1 min",
        "about 1.5 min",
        "about 5 min",
    ]


HEADER = (
    "# 90 · Demo\n\n**Expected run time**: small size (2 CPU cores) about 30 s the first time (it trains. Twice).\n"
    "Then about 10 s on a re-run (cached, e.g. twice). Full size (a T4): 2-3 min.\n\n**How exercises work**: run it."
)


def _header_notebook(source: str = HEADER) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_markdown_cell(source)])
    nb.metadata["course"] = {"run_time": {"small_first": "about 30 s", "small_rerun": "about 10 s"}}
    return nb


def test_every_header_says_that_shared_cores_are_slower(tmp_path: Path) -> None:
    # no stored run: the phrases stay, the note still comes, after the sentence of the re-run phrase
    nb = _header_notebook()
    assert claims.stamp_run_times(nb, tmp_path, "90_demo")
    assert nb.cells[0].source == (
        "# 90 · Demo\n\n**Expected run time**: small size (2 CPU cores) about 30 s the first time (it trains. Twice).\n"
        f"Then about 10 s on a re-run (cached, e.g. twice).\n{claims.SHARED_CORES_NOTE}\nFull size (a T4): 2-3 min.\n\n"
        "**How exercises work**: run it."
    )
    assert not claims.stamp_run_times(nb, tmp_path, "90_demo")  # once
    # with a stored run, the new phrases first, then the note after the new re-run phrase's sentence
    _store(tmp_path, "90_demo", {}, {"first": 148.0, "rerun": 17.0})
    nb = _header_notebook()
    assert claims.stamp_run_times(nb, tmp_path, "90_demo")
    assert f"about 15 s on a re-run (cached, e.g. twice).\n{claims.SHARED_CORES_NOTE}\nFull size" in nb.cells[0].source
    assert nb.cells[0].source.count("free CPU cores") == 1
    # a paragraph that ends with the re-run sentence gets the note at its end, inside the paragraph
    nb = _header_notebook("**Expected run time**: about 30 s, then about 10 s.\n\nMore text.")
    claims.stamp_run_times(nb, tmp_path / "none", "90_demo")
    assert (
        nb.cells[0].source
        == f"**Expected run time**: about 30 s, then about 10 s.\n{claims.SHARED_CORES_NOTE}\n\nMore text."
    )
    # a note rewrapped by hand still counts; a header without the paragraph is left alone
    wrapped = HEADER.replace("twice).", "twice). " + claims.SHARED_CORES_NOTE.replace(" they ", "\nthey "))
    nb = _header_notebook(wrapped)
    assert not claims.stamp_run_times(nb, tmp_path / "none", "90_demo") and nb.cells[0].source == wrapped
    nb = _header_notebook("# 90 · Demo\n\nNo run times here.")
    assert not claims.stamp_run_times(nb, tmp_path / "none", "90_demo")


def test_the_course_text_agrees_with_its_stored_runs() -> None:
    assert claims.claim_problems(ROOT) == []


def test_update_rewrites_the_numbers_to_the_stored_run(tmp_path: Path) -> None:
    root = _course(
        tmp_path,
        "- **2.81x**<!-- result mac_ratio --> fewer MACs at 97.1%<!-- result acc -->",
        "1.9x<!-- result 90_demo.mac_ratio --> and `3.3x<!-- result 90_demo.mac_ratio -->` (an example)",
    )
    assert len(claims.claim_problems(root)) == 3
    assert sorted(claims.update_claims(root)) == ["README.md", "solutions/90_demo.ipynb"]
    assert claims.claim_problems(root) == []
    assert (
        "**2.59x**<!-- result mac_ratio --> fewer MACs at 98.3%" in (root / "solutions" / "90_demo.ipynb").read_text()
    )
    assert (root / "README.md").read_text().startswith("2.6x<!-- result 90_demo.mac_ratio --> and `3.3x")
