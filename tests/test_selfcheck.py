"""Self-study tools: `check` gives the grader's points, hints progress, solutions wait for an attempt.

The equality that matters (issue 11): on the same code, `autograder.tools.selfcheck.check` gives exactly
the points of the hidden suite run by `autograder.suite.run_suite` (always tested, in process)
and by the course's grader (`python -m autograder grade`, tested when autograder/grader exists),
for the reference solution, the untouched student copy and a partial submission, built by
autograder.tools.samples from every solutions/<stem>.ipynb that has a hidden suite.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch

import course_lib.env
from autograder import content
from autograder.student import LocalStudent
from autograder.suite import load_suite, reference_namespace, run_suite
from autograder.tools import selfcheck
from grading_fixtures import sandbox_args

ROOT = Path(__file__).resolve().parent.parent
HINT_STEMS = content.stems()
GRADED_STEMS = [s for s in HINT_STEMS if (ROOT / "solutions" / f"{s}.ipynb").exists()]
KINDS = ("reference", "untouched", "partial")
DEFINITION_NODES = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@pytest.fixture(autouse=True)
def _fresh_progress(monkeypatch):
    """Every test starts with no checks or hints recorded and no notebook set up."""
    selfcheck.reset_progress()
    monkeypatch.setattr(course_lib.env, "_current_stem", None)
    yield
    selfcheck.reset_progress()


# ---------------------------------------------------------------------------------------------
# Helpers: sample submissions and the namespace a learner's kernel would hold

_SAMPLES: dict[str, tuple[dict, dict]] = {}


def samples(stem: str) -> tuple[dict, dict]:
    """(notebooks by kind, expected states by kind) from autograder.tools.samples, cached per stem."""
    if stem not in _SAMPLES:
        from autograder.tools.samples import build_samples, expected_for

        notebooks, info = build_samples(stem, ROOT)
        states = expected_for(load_suite(stem), info)
        _SAMPLES[stem] = ({k: notebooks[k] for k in KINDS}, {k: states[k] for k in KINDS})
    return _SAMPLES[stem]


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _runs_in_kernel(cell) -> bool:
    """The cells a learner has run before checking: setup, imports, solutions and definitions-only cells."""
    if cell.cell_type != "code":
        return False
    meta = _nbgrader(cell)
    if meta.get("grade"):
        return False  # test cells (visible checks + hidden block) are not needed for a self-check
    if meta.get("solution") or meta.get("grade_id") in ("setup", "imports"):
        return True
    try:
        tree = ast.parse(cell.source)
    except SyntaxError:
        return False
    return all(
        isinstance(node, DEFINITION_NODES)
        or (isinstance(node, (ast.Assign, ast.AnnAssign)) and not any(isinstance(n, ast.Call) for n in ast.walk(node)))
        for node in tree.body
    )


def kernel_cells(nb) -> list[str]:
    return [c.source for c in nb.cells if _runs_in_kernel(c)]


def namespace_of(nb) -> dict:
    """Execute the learner's cells of `nb` in a fresh namespace (what a kernel would hold)."""
    ns: dict = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for source in kernel_cells(nb):
            exec(compile(source, "<cell>", "exec"), ns)
    return ns


def suite_points(stem: str, ns: dict) -> tuple[float, dict[str, str]]:
    results = run_suite(stem, LocalStudent(ns))
    return round(sum(r.points for r in results), 4), {r.test: r.state for r in results}


# ---------------------------------------------------------------------------------------------
# Same points as the hidden suite (always) and as the course's grader (when it exists)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stem", GRADED_STEMS)
def test_selfcheck_points_equal_hidden_suite(stem: str, kind: str) -> None:
    notebooks, expected = samples(stem)
    ns = namespace_of(notebooks[kind])
    report = selfcheck.check(stem, namespace=ns, verbose=False)
    points, states = suite_points(stem, ns)
    assert report.points == points, f"{stem}/{kind}: self-check {report.points} vs run_suite {points}"
    assert report.states == states
    assert report.states == expected[kind], f"{stem}/{kind}: states differ from autograder.tools.samples' expectation"
    assert report.max_points == load_suite(stem).max_points


@pytest.fixture(scope="module")
def grader_records(tmp_path_factory) -> dict[tuple[str, str], dict]:
    """Grade every stem's three samples with the course's grader in one run: {(kind, stem): record}."""
    if not (ROOT / "autograder" / "grader" / "cli.py").exists():
        pytest.skip("the course's grader (autograder/grader) is not in this checkout yet")
    from autograder.tools.release import notebook_json

    work = tmp_path_factory.mktemp("grader")
    subs = work / "submissions"
    for stem in GRADED_STEMS:
        for kind, nb in samples(stem)[0].items():
            (subs / kind).mkdir(parents=True, exist_ok=True)
            (subs / kind / f"{stem}.ipynb").write_text(notebook_json(nb), encoding="utf-8")
    out = work / "graded"
    env = dict(os.environ, TQDM_DISABLE="1", COURSE_SIZE="small")
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out), "--quiet", "--workers", "2"]
        + sandbox_args(),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, f"grader failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    return {(r["student"], r["stem"]): r for r in records}


@pytest.mark.slow
@pytest.mark.parametrize("stem", GRADED_STEMS)
def test_selfcheck_points_equal_course_grader(stem: str, grader_records) -> None:
    """`python -m autograder grade` (a separate process per submission) gives the self-check's points."""
    for kind, nb in samples(stem)[0].items():
        report = selfcheck.check(stem, namespace=namespace_of(nb), verbose=False)
        record = grader_records.get((kind, stem))
        assert record is not None, f"the grader has no record for {kind}/{stem}: {sorted(grader_records)}"
        grader_states = {t["test"]: t["state"] for t in record["tests"]}
        assert float(record["points"]) == pytest.approx(report.points), (
            f"{stem}/{kind}: grader {record['points']} vs self-check {report.points}; grader states {grader_states}"
        )
        assert grader_states == report.states


@pytest.mark.parametrize("stem", [s for s in GRADED_STEMS if s == "00_orientation"] or GRADED_STEMS[:1])
def test_selfcheck_in_a_real_kernel_infers_the_stem(stem: str, tmp_path: Path) -> None:
    """In a Jupyter kernel: check() with no arguments finds the stem from the setup cell and the user namespace."""
    nbclient = pytest.importorskip("nbclient")
    notebooks, expected = samples(stem)
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [nbformat.v4.new_code_cell(src) for src in kernel_cells(notebooks["partial"])]
    probe = (
        "from autograder.tools.selfcheck import check, solution\n"
        "_report = check()\n"
        "print('SELFCHECK=' + __import__('json').dumps({'stem': _report.stem, 'points': _report.points, "
        "'states': _report.states}))"
    )
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    env_vars = {"COURSE_SIZE": "small", "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"}
    old = {k: os.environ.get(k) for k in env_vars}
    os.environ.update(env_vars)
    try:
        client = nbclient.NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
        )
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    line = next(row for row in text.splitlines() if row.startswith("SELFCHECK="))
    got = json.loads(line[len("SELFCHECK=") :])
    points, states = suite_points(stem, namespace_of(notebooks["partial"]))
    assert got["stem"] == stem
    assert got["points"] == points and got["states"] == states == expected["partial"]
    assert "Total:" in text and "def " not in text and "student.call" not in text


def test_selfcheck_equals_suite_on_every_mutant() -> None:
    """Broken submissions too: each known-wrong implementation of 00 scores the same both ways."""
    stem = "00_orientation"
    for mutant in content.load(stem, "mutants").MUTANTS:
        ns = reference_namespace(stem)
        ns.update(mutant.overrides)
        report = selfcheck.check(stem, namespace=ns, verbose=False)
        assert (report.points, report.states) == suite_points(stem, ns), mutant.description
        assert report.points < load_suite(stem).max_points, mutant.description


# ---------------------------------------------------------------------------------------------
# What check prints, selection, inference, time limit, random state


def test_check_prints_table_without_test_code(capsys) -> None:
    ns = reference_namespace("00_orientation")
    ns["accuracy"] = lambda logits, y: 0.5  # wrong on purpose
    report = selfcheck.check("00_orientation", namespace=ns)
    out = capsys.readouterr().out
    assert "Total: 2 / 4 points" in out and report.points == 2.0
    assert "failed" in out and "accuracy_matches_argmax" in out
    source = content.path_of("00_orientation", "tests").read_text()
    code_lines = {s.strip() for s in source.splitlines() if len(s.strip()) > 25 and not s.strip().startswith('"""')}
    leaked = [code for code in code_lines if code in out]
    assert not leaked, f"hidden test code printed: {leaked[:3]}"
    assert "module_macs" not in out and "expected =" not in out


def test_check_selects_one_exercise_by_name_grade_id_or_number() -> None:
    ns = reference_namespace("00_orientation")
    by_name = selfcheck.check("00_orientation", "accuracy", namespace=ns, verbose=False)
    by_gid = selfcheck.check("00_orientation", "test_accuracy", namespace=ns, verbose=False)
    by_number = selfcheck.check("00_orientation", 2, namespace=ns, verbose=False)
    names = {"accuracy_matches_argmax", "accuracy_rejects_bad_shapes"}
    for report in (by_name, by_gid, by_number):
        assert set(report.states) == names and report.points == report.max_points == 2.0
    for bad in ("softmax", 0, 3):
        with pytest.raises(ValueError, match="exercise|graded"):
            selfcheck.check("00_orientation", bad, namespace=ns, verbose=False)
    with pytest.raises(TypeError):
        selfcheck.check("00_orientation", 1.5, namespace=ns, verbose=False)


def test_check_needs_a_known_stem(monkeypatch) -> None:
    with pytest.raises(ValueError, match="setup cell"):
        selfcheck.check(namespace={})
    with pytest.raises(ValueError, match="No hidden tests"):
        selfcheck.check("99_nothing", namespace={})
    with pytest.raises(ValueError, match="test_timeout"):
        selfcheck.check("00_orientation", namespace={}, test_timeout=-1)
    monkeypatch.setattr(course_lib.env, "_current_stem", "00_orientation")
    report = selfcheck.check(namespace={}, verbose=False)
    assert report.stem == "00_orientation" and report.points == 0
    assert set(report.states.values()) == {selfcheck.NOT_RUN}  # nothing defined yet: 0 points, as the grader gives


def test_check_reads_the_main_namespace_outside_ipython(monkeypatch) -> None:
    main = sys.modules["__main__"]
    for name, func in reference_namespace("00_orientation").items():
        if name in ("conv2d_macs", "accuracy"):
            monkeypatch.setattr(main, name, func, raising=False)
    report = selfcheck.check("00_orientation", verbose=False)
    assert report.points == 4.0


def test_check_time_limit_gives_timeout_like_the_grader() -> None:
    ns = reference_namespace("00_orientation")

    def conv2d_macs(*args, **kwargs):
        while True:
            pass

    ns["conv2d_macs"] = conv2d_macs
    report = selfcheck.check("00_orientation", "conv2d_macs", namespace=ns, test_timeout=0.3, verbose=False)
    assert set(report.states.values()) == {"timeout"} and report.points == 0


def test_check_leaves_the_learners_random_state_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    selfcheck.check("00_orientation", namespace=reference_namespace("00_orientation"), verbose=False)
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------------------------------------
# Hints and solutions


@pytest.mark.parametrize("stem", HINT_STEMS)
def test_every_graded_function_has_progressive_hints(stem: str) -> None:
    hints = selfcheck.load_hints(stem)
    graded = sorted({n for t in load_suite(stem).tests for n in t.uses})
    missing = [n for n in graded if n not in hints]
    assert not missing, f"add hints for {missing} to autograder/course/{stem}/hints.py"
    for name in graded:
        levels = hints[name]
        assert 2 <= len(levels) <= 3 and all(isinstance(h, str) and len(h) > 40 for h in levels), name
        assert len(set(levels)) == len(levels), f"{name}: repeated hint"
        assert not any("BEGIN SOLUTION" in h for h in levels)


def test_hint_reveals_the_next_level_each_call(capsys) -> None:
    for expected_level in (1, 2, 3, 3):
        selfcheck.hint("conv2d_macs", stem="00_orientation")
        assert f"Hint {expected_level}/3 for conv2d_macs" in capsys.readouterr().out
    selfcheck.hint("test_accuracy", level=2)
    assert "Hint 2/3 for accuracy (00_orientation" in capsys.readouterr().out
    selfcheck.hint("accuracy")
    assert "Hint 3/3" in capsys.readouterr().out
    with pytest.raises(ValueError, match="level"):
        selfcheck.hint("accuracy", level=4)
    with pytest.raises(ValueError, match="no exercise named"):
        selfcheck.hint("no_such_function")


def test_hint_prefers_the_current_notebook(monkeypatch, capsys) -> None:
    monkeypatch.setattr(course_lib.env, "_current_stem", "03_early_exit")
    selfcheck.hint("entropy")
    assert "(03_early_exit" in capsys.readouterr().out


def test_solution_only_after_a_check(capsys) -> None:
    ns = reference_namespace("00_orientation")
    selfcheck.solution("accuracy", stem="00_orientation")
    out = capsys.readouterr().out
    assert out.startswith("Not yet") and "colab" not in out.lower()
    selfcheck.check("00_orientation", "conv2d_macs", namespace=ns, verbose=False)
    selfcheck.solution("accuracy")  # checking another exercise does not count
    assert capsys.readouterr().out.startswith("Not yet")
    selfcheck.check("00_orientation", "accuracy", namespace=ns, verbose=False)
    selfcheck.solution("accuracy")
    out = capsys.readouterr().out
    assert "solutions/00_orientation.ipynb" in out and "accuracy_impl" in out
    assert (
        "https://colab.research.google.com/github/dynamic-inference-course/course-kit/blob/main/"
        "solutions/00_orientation.ipynb"
    ) in out
    with pytest.raises(ValueError, match="no exercise named"):
        selfcheck.solution("softmax_of_everything")


# ---------------------------------------------------------------------------------------------
# Kind messages: a cell not run yet, a misspelt name, a table that fits JupyterLab's column


def _stub_namespace(stem: str) -> dict:
    """Every graded function defined as the untouched stub (raises NotImplementedError)."""

    def stub(*args, **kwargs):
        raise NotImplementedError()

    return {name: stub for t in load_suite(stem).tests for name in t.uses}


def test_check_says_not_run_yet_for_a_function_this_kernel_lacks() -> None:
    stem = "00_orientation"
    ns = reference_namespace(stem)
    del ns["accuracy"]  # its cell was never run
    report = selfcheck.check(stem, namespace=ns, verbose=False)
    accuracy = [r for r in report.results if r.grade_id == "test_accuracy"]
    assert accuracy and {r.state for r in accuracy} == {selfcheck.NOT_RUN}
    assert {r.message for r in accuracy} == {"run its cell (exercise 2, accuracy)"}
    assert all(r.points == 0 for r in accuracy) and report.points == 2.0
    table = report.table()
    assert "not run yet" in table and "run its cell (exercise 2, accuracy)" in table
    assert "deleted" not in table and "error" not in table
    # the grader's path is unchanged: a submitted notebook lacking the function is an error
    graded = run_suite(stem, LocalStudent(ns))
    assert {r.state for r in graded if r.grade_id == "test_accuracy"} == {"error"}
    assert all("was a cell deleted, renamed or never run?" in r.message for r in graded if r.state == "error")
    assert round(sum(r.points for r in graded), 4) == report.points


def test_not_run_yet_names_every_missing_exercise() -> None:
    ns = reference_namespace("02_branchynet")
    del ns["ExitHead"], ns["BranchyResNet"]
    report = selfcheck.check("02_branchynet", "BranchyResNet", namespace=ns, verbose=False)
    assert {r.state for r in report.results} == {selfcheck.NOT_RUN}
    assert {r.message for r in report.results} == {"run their cells (exercise 2, BranchyResNet; exercise 1, ExitHead)"}


@pytest.mark.parametrize("stem", GRADED_STEMS)
def test_check_table_fits_jupyterlabs_column(stem: str) -> None:
    for ns in ({}, _stub_namespace(stem)):
        table = selfcheck.check(stem, namespace=ns, verbose=False).table()
        wide = [line for line in table.splitlines() if len(line) > selfcheck.TABLE_WIDTH]
        assert not wide, f"{stem}: lines wider than {selfcheck.TABLE_WIDTH}: {wide[:2]}"
    from autograder.suite import Result

    long = Result("a_test_name_" * 6, "test_accuracy", "failed", 0.0, 1.0, "word " * 200)
    report = selfcheck.SelfCheckReport("00_orientation", [long])
    lines = report.table().splitlines()
    assert max(map(len, lines)) <= selfcheck.TABLE_WIDTH
    assert any(line.startswith("    word") for line in lines) and any(line.endswith("...") for line in lines)


def test_hint_suggests_the_closest_name(monkeypatch) -> None:
    with pytest.raises(ValueError) as err:
        selfcheck.hint("entropi")
    assert str(err.value) == "no exercise named 'entropi': did you mean 'entropy'?"
    with pytest.raises(ValueError, match="did you mean 'accuracy'") as err:
        selfcheck.hint("acuracy", stem="00_orientation")
    # nothing close: only this notebook's names, never the names of all notebooks
    monkeypatch.setattr(course_lib.env, "_current_stem", "00_orientation")
    with pytest.raises(ValueError) as err:
        selfcheck.hint("zzz_nothing_like_it")
    assert "conv2d_macs, accuracy" in str(err.value) and "entropy" not in str(err.value)
    monkeypatch.setattr(course_lib.env, "_current_stem", None)
    with pytest.raises(ValueError, match="setup cell") as err:
        selfcheck.hint("zzz_nothing_like_it")
    assert "entropy" not in str(err.value) and "accuracy" not in str(err.value)


def test_solution_suggests_the_closest_name() -> None:
    with pytest.raises(ValueError) as err:
        selfcheck.solution("entropi")
    assert str(err.value) == "no exercise named 'entropi': did you mean 'entropy'?"
    with pytest.raises(ValueError, match="in 00_orientation: did you mean 'accuracy'\\?"):
        selfcheck.solution("acuracy", stem="00_orientation")


def test_check_exercise_suggests_the_closest_name() -> None:
    with pytest.raises(ValueError) as err:
        selfcheck.check("03_early_exit", "entropi", namespace={}, verbose=False)
    assert str(err.value) == "no exercise named 'entropi' in 03_early_exit: did you mean 'entropy'?"
    with pytest.raises(ValueError, match="exercise of 03_early_exit, not of 00_orientation"):
        selfcheck.check("00_orientation", "entropy", namespace={}, verbose=False)
    with pytest.raises(ValueError) as err:
        selfcheck.check("00_orientation", "zzz_nothing_like_it", namespace={}, verbose=False)
    assert "conv2d_macs, accuracy" in str(err.value) and "entropy" not in str(err.value)


@pytest.mark.parametrize("stem", HINT_STEMS)
def test_hints_print_within_the_column(stem: str, capsys) -> None:
    for name, levels in selfcheck.load_hints(stem).items():
        for level in range(1, len(levels) + 1):
            selfcheck.hint(name, level, stem=stem)
    wide = [line for line in capsys.readouterr().out.splitlines() if len(line) > selfcheck.TABLE_WIDTH]
    assert not wide, wide[:2]
