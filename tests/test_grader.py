"""The course's grader on a synthetic notebook (fast batch) and on the real notebooks (slow).

One batch of synthetic submissions is graded once (2 workers) and the tests below read its results:
each submission exercises one thing students do (see SUBMISSIONS). Runner start-up dominates the time
(each runner imports torch); on a loaded 2-core machine the batch takes one to two minutes.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

import grading_fixtures as S
from autograder import content
from autograder.grader import notebook as nbmod
from autograder.grader.cli import collect_submissions, main, report_main
from autograder.grader.report import read_results

ROOT = Path(__file__).resolve().parent.parent

SPOOF = """class AlwaysEqual:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
def scale(x, k):
    return AlwaysEqual()"""

MONKEY = """import torch
import course_lib.checks
from autograder import student as student_api, suite as fw
torch.allclose = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
course_lib.checks.check_close = lambda *a, **k: None
fw.expect = fw.expect_close = lambda *a, **k: None
def add(a, b):
    return a - b"""

SUBCLASS = """class Spoof(torch.Tensor):
    pass
def scale(x, k):
    return (x * 0).as_subclass(Spoof)"""

# student -> (points, {test: state}) for the submissions built in `batch`
EXPECTED = {
    "alice": (4, {}),
    "bob": (
        0,
        {
            "add_tensors": "not attempted",
            "add_broadcast": "not attempted",
            "scale_by_k": "not attempted",
            "model_has_two_linear": "not attempted",
        },
    ),
    "carol": (2, {"scale_by_k": "not attempted", "model_has_two_linear": "not attempted"}),
    "dave": (3, {"scale_by_k": "timeout"}),
    "erin": (4, {}),
    "frank": (3, {"scale_by_k": "error"}),
    "grace": (4, {}),
    "heidi": (4, {}),
    "ivan": (0, {t: "error" for t in ("add_tensors", "add_broadcast", "scale_by_k", "model_has_two_linear")}),
    "judy": (4, {}),
    "mallory": (3, {"scale_by_k": "error"}),
    "niaj": (2, {"scale_by_k": "error", "model_has_two_linear": "error"}),
    "olivia": (3, {"scale_by_k": "kernel died"}),
    "peggy": (2, {"scale_by_k": "error", "model_has_two_linear": "not attempted"}),
    "rupert": (1, {"add_tensors": "failed", "add_broadcast": "failed", "scale_by_k": "error"}),
    "sybil": (4, {}),
    "trent": (4, {}),
}


def build_batch(base: Path) -> tuple[Path, Path]:
    """Write the hidden suite and every synthetic submission; return (hidden dir, submissions dir)."""
    hidden = base / "hidden"
    hidden.mkdir(parents=True)
    (hidden / f"{S.STEM}.py").write_text(S.SUITE_SOURCE)
    subs = base / "submissions"
    full = S.notebook()
    S.write(subs / "alice" / f"{S.STEM}.ipynb", full)  # full marks
    S.write(subs / "bob" / f"{S.STEM}.ipynb", S.release())  # untouched
    S.write(
        subs / "carol" / f"{S.STEM}.ipynb",  # partial
        S.notebook(scale=S.stub(S.SCALE), model=S.stub(S.MODEL)),
    )
    S.write(
        subs / "dave" / f"{S.STEM}.ipynb",  # loop in a function
        S.notebook(scale="def scale(x, k):\n    while True:\n        pass"),
    )
    S.write(
        subs / "erin" / f"{S.STEM}.ipynb",  # loop at top level
        S.notebook(scale=S.SCALE + "\nwhile True:\n    pass"),
    )
    S.write(
        subs / "frank" / f"{S.STEM}.ipynb",  # exception at import
        S.notebook(scale="import not_a_real_module_xyz\n" + S.SCALE),
    )
    grace = S.notebook()
    grace["cells"] = [c for c in grace["cells"] if c["id"] != "scale-test"]  # deleted test cell
    S.write(subs / "grace" / f"{S.STEM}.ipynb", grace)
    S.write(subs / "heidi" / "homework (1).ipynb", S.strip_metadata(full))  # stripped + renamed
    text = json.dumps(full, indent=1)
    S.write(subs / f"{S.STEM}_ivan.ipynb", text[: len(text) // 2])  # truncated JSON
    judy = S.notebook()
    extra = [c for c in judy["cells"] if c["id"] in ("add-impl", "add-test")]
    judy["cells"] += json.loads(json.dumps(extra))  # duplicated cells
    S.write(subs / "judy" / f"{S.STEM}.ipynb", judy)
    S.write(
        subs / "mallory" / f"{S.STEM}.ipynb",  # os._exit in a cell
        S.notebook(scale=S.SCALE + "\nimport os\nos._exit(7)"),
    )
    S.write(
        subs / "niaj" / f"{S.STEM}.ipynb",  # sys.exit in cell/function
        S.notebook(scale="import sys\ndef scale(x, k):\n    sys.exit(0)", model="import sys\nsys.exit(1)\n" + S.MODEL),
    )
    S.write(
        subs / "olivia" / f"{S.STEM}.ipynb",  # os._exit in a function
        S.notebook(scale="import os\ndef scale(x, k):\n    os._exit(3)"),
    )
    S.write(subs / "peggy" / f"{S.STEM}.ipynb", S.notebook(scale=SPOOF, model=S.stub(S.MODEL)))  # == always True
    S.write(
        subs / "rupert" / f"{S.STEM}.ipynb",  # monkeypatching
        S.notebook(add=MONKEY, scale=SUBCLASS),
    )
    sybil = S.notebook()  # nbformat 4.0, Colab
    sybil["nbformat_minor"] = 0
    sybil["metadata"]["colab"] = {"provenance": [], "name": "Copy of 90_synthetic.ipynb"}
    sybil["metadata"]["accelerator"] = "GPU"
    for cell in sybil["cells"]:
        del cell["id"]
        cell["source"] = cell["source"].splitlines(keepends=True)
    S.write(subs / "sybil" / f"Copy of {S.STEM}.ipynb", sybil)
    with zipfile.ZipFile(subs / "upload.zip", "w") as zf:  # zip, with a bad member
        zf.writestr(f"trent/{S.STEM}.ipynb", json.dumps(full))
        zf.writestr("../evil.ipynb", json.dumps(full))
    return hidden, subs


# generous limits: on a loaded machine importing course_lib in a cell can take seconds
ARGS = ["--workers", "2", "--test-timeout", "8", "--cell-timeout", "12", "--quiet", *S.sandbox_args()]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("grader")
    hidden, subs = build_batch(base)
    release_dir = base / "release"
    S.write(release_dir / f"{S.STEM}.ipynb", S.release())
    out = base / "out"
    code = main([str(subs), "--out", str(out), "--hidden-dir", str(hidden), "--release-dir", str(release_dir), *ARGS])
    assert code == 0
    records = read_results(out / "results.jsonl")
    return {
        "base": base,
        "hidden": hidden,
        "subs": subs,
        "out": out,
        "release": release_dir,
        "records": records,
        "by_student": {r["student"]: r for r in records},
    }


def _states(record: dict) -> dict:
    return {t["test"]: t["state"] for t in record["tests"]}


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_submission_grade(batch: dict, student: str) -> None:
    points, states = EXPECTED[student]
    record = batch["by_student"].get(student)
    assert record is not None, f"no record for {student}: {sorted(batch['by_student'])}"
    got = _states(record)
    want = {t: states.get(t, "passed") for t in got}
    assert got == want, (record["reasons"], record["tests"], record["cells"]["details"])
    assert record["points"] == points
    assert record["max_points"] == 4


def test_every_submission_has_a_record_and_reason(batch: dict) -> None:
    records = batch["records"]
    assert len(records) == len(EXPECTED) + 1  # + the refused zip member
    refused = [r for r in records if r["source"].endswith("!../evil.ipynb")]
    assert refused and "refused" in " ".join(refused[0]["reasons"]) and refused[0]["points"] == 0
    ivan = batch["by_student"]["ivan"]
    assert all("not valid JSON" in t["message"] for t in ivan["tests"])
    assert ivan["stem_rule"] == "file name"


def test_reasons_explain_odd_submissions(batch: dict) -> None:
    by = batch["by_student"]
    assert any("test_scale" in r and "missing" in r for r in by["grace"]["reasons"])
    assert any("duplicated" in r for r in by["judy"]["reasons"])
    assert by["heidi"]["stem_rule"].startswith("content similarity")
    assert any("metadata" in r for r in by["heidi"]["reasons"])
    assert by["sybil"]["stem_rule"] == "notebook metadata course.stem"
    erin_failed = [d for d in by["erin"]["cells"]["details"] if d["status"] == "failed"]
    assert erin_failed and "timed out" in erin_failed[0]["error"]
    mallory = " ".join(by["mallory"]["reasons"])
    assert "killed the student's process" in mallory and "status 7" in mallory
    frank_failed = [d for d in by["frank"]["cells"]["details"] if d["status"] == "failed"]
    assert frank_failed and "ModuleNotFoundError" in frank_failed[0]["error"]
    assert "timeout" in _states(by["dave"]).values()
    assert "longer than 8" in [t for t in by["dave"]["tests"] if t["state"] == "timeout"][0]["message"]


def test_test_and_demo_cells_never_run(batch: dict) -> None:
    alice = batch["by_student"]["alice"]
    kinds = {d["kind"]: d["status"] for d in alice["cells"]["details"]}
    assert kinds["test"] == "skipped" and kinds["other"] == "skipped"
    assert kinds["solution"] == "ran" and kinds["setup"] == "ran" and kinds["definitions"] == "ran"


def test_outputs_written(batch: dict) -> None:
    out = batch["out"]
    grades = (out / "grades.csv").read_text().splitlines()
    assert grades[0].startswith("student,notebook,points,max_points,test_add,test_scale,test_model")
    assert any(line.startswith("alice,90_synthetic,4,4,2,1,1") for line in grades)
    assert any(line.startswith("carol,90_synthetic,2,4,2,0,0") for line in grades)
    stats = (out / "stats.csv").read_text()
    assert "add_tensors" in stats and "pass_rate" in stats
    assert (out / "stats.md").exists()
    for student in EXPECTED:
        text = (out / "feedback" / student / f"{S.STEM}.md").read_text()
        for secret in ("student.call", "expect_close(", "manual_seed", "def add_tensors", "count_linear"):
            assert secret not in text, f"feedback of {student} leaks hidden test code ({secret})"
    assert "not attempted" in (out / "feedback" / "bob" / f"{S.STEM}.md").read_text()


def test_report_prints_gradebook(batch: dict, capsys: pytest.CaptureFixture) -> None:
    assert report_main([str(batch["out"])]) == 0
    text = capsys.readouterr().out
    assert "alice" in text and "4/4" in text and "device: cpu" in text


def test_rerun_skips_and_resume_after_partial_log(batch: dict) -> None:
    out = batch["base"] / "resume"
    out.mkdir()
    lines = (batch["out"] / "results.jsonl").read_text().splitlines()
    kept = [line for line in lines if json.loads(line)["student"] not in ("alice", "ivan")]
    (out / "results.jsonl").write_text("\n".join(kept) + "\n" + kept[0][:40])  # a run killed mid-write
    code = main([str(batch["subs"]), "--out", str(out), "--hidden-dir", str(batch["hidden"]), *ARGS])
    assert code == 0
    records = read_results(out / "results.jsonl")
    assert len(records) == len(lines)
    new = [r["student"] for r in records[len(kept) :]]
    assert sorted(new) == ["alice", "ivan"]
    assert {r["student"]: r["points"] for r in records}["alice"] == 4
    # nothing left to do: a second rerun appends nothing
    assert main([str(batch["subs"]), "--out", str(out), "--hidden-dir", str(batch["hidden"]), *ARGS]) == 0
    assert len(read_results(out / "results.jsonl")) == len(lines)


# ---------------------------------------------------------------------------------------------
# Unit tests of the notebook reader (no processes)


def test_parse_tolerates_formats() -> None:
    with pytest.raises(nbmod.NotebookError, match="truncated"):
        nbmod.parse_notebook(b'{"cells": [')
    with pytest.raises(nbmod.NotebookError, match="empty"):
        nbmod.parse_notebook(b"  ")
    with pytest.raises(nbmod.NotebookError, match="no cells"):
        nbmod.parse_notebook(b'{"a": 1}')
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {},
        "worksheets": [{"cells": [{"cell_type": "code", "input": ["x = 1\n", "y = 2"]}]}],
    }
    nb = nbmod.parse_notebook(json.dumps(v3).encode())
    assert nb.code_cells[0].source == "x = 1\ny = 2" and nb.notes


def test_definitions_rule() -> None:
    assert nbmod.is_definitions_only("import torch\nX = 3\nY = torch.tensor([1.0])\ndef f():\n    return 1")
    assert nbmod.is_definitions_only("%matplotlib inline\nimport numpy as np")
    assert nbmod.is_definitions_only("import course_lib as cl\ncl.env.set_seed(0)\ndevice = cl.env.get_device()")
    assert not nbmod.is_definitions_only("model = train(net)")
    assert not nbmod.is_definitions_only("print(1)")
    assert not nbmod.is_definitions_only("def f(:\n  pass")


def test_split_cell_is_joined() -> None:
    nb = S.notebook()
    cells = nb["cells"]
    i = next(k for k, c in enumerate(cells) if c["id"] == "scale-impl")
    first, second = S.SCALE.split("    ### BEGIN SOLUTION\n")
    cells[i]["source"] = first.rstrip("\n")
    cells.insert(
        i + 1,
        {
            "cell_type": "code",
            "id": "split",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": "    ### BEGIN SOLUTION\n" + second,
        },
    )
    plans = nbmod.plan_cells(nbmod.parse_notebook(json.dumps(nb).encode()), "definitions", ["add", "scale"])
    joined = [p for p in plans if len(p.indices) == 2]
    assert joined and joined[0].run and "def scale" in joined[0].source and "return x * k" in joined[0].source
    # split right after the signature: the first half does not parse either
    cells[i]["source"] = "def scale(x, k):"
    cells[i + 1]["source"] = "    return x * k"
    plans = nbmod.plan_cells(nbmod.parse_notebook(json.dumps(nb).encode()), "definitions", ["add", "scale"])
    joined = [p for p in plans if len(p.indices) == 2]
    assert joined and joined[0].run and joined[0].kind == "solution"


@pytest.mark.parametrize(
    "relpath,stem,student",
    [
        ("submitted/alice/hw3/03_early_exit.ipynb", "03_early_exit", "alice"),
        ("bob/03_early_exit.ipynb", "03_early_exit", "bob"),
        ("03_early_exit_carol.ipynb", "03_early_exit", "carol"),
        ("dave-03_early_exit (1).ipynb", "03_early_exit", "dave"),
        ("erin.ipynb", None, "erin"),
    ],
)
def test_identify_student(relpath: str, stem: str | None, student: str) -> None:
    assert nbmod.identify_student(relpath, stem)[0] == student


def test_identify_stem_from_name_and_number() -> None:
    known = {"03_early_exit": {"entropy"}, "04_layer_skipping": {"gate"}}
    assert nbmod.identify_stem(None, "Copy of 03_Early-Exit.ipynb", known)[0] == "03_early_exit"
    assert nbmod.identify_stem(None, "hw04.ipynb", known)[0] == "04_layer_skipping"
    assert nbmod.identify_stem(None, "mystery.ipynb", known)[0] is None


def test_zip_members_are_checked(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok/x.ipynb", "{}")
        zf.writestr("/abs.ipynb", "{}")
        zf.writestr("a/../../up.ipynb", "{}")
        zf.writestr("__MACOSX/._x.ipynb", "{}")
        zf.writestr("notes.txt", "hi")
    subs, _ = collect_submissions([str(archive)])
    errors = {s.relpath: s.error for s in subs}
    assert set(errors) == {"ok/x.ipynb", "/abs.ipynb", "a/../../up.ipynb"}
    assert errors["ok/x.ipynb"] == "" and "absolute" in errors["/abs.ipynb"] and ".." in errors["a/../../up.ipynb"]
    assert not (tmp_path / "up.ipynb").exists() and not Path("/abs.ipynb").exists()


def test_bad_arguments_give_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main([str(tmp_path / "nothing"), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "no .ipynb submissions" in capsys.readouterr().err
    assert main([str(tmp_path), "--out", str(tmp_path / "o"), "--workers", "0"]) == 2
    assert report_main([str(tmp_path / "missing")]) == 2


# ---------------------------------------------------------------------------------------------
# Real notebooks (slow): solutions get full marks, released copies get 0 with "not attempted"

REAL_STEMS = content.stems()


@pytest.mark.slow
@pytest.mark.parametrize("stem", REAL_STEMS or ["00_orientation"])
def test_real_notebook_solution_and_release(stem: str, tmp_path: Path) -> None:
    solution, release = ROOT / "solutions" / f"{stem}.ipynb", ROOT / "notebooks" / f"{stem}.ipynb"
    if not (solution.exists() and release.exists() and content.has(stem, "tests")):
        pytest.skip(f"{stem}: solution, release or hidden suite not written yet")
    subs = tmp_path / "subs"
    shutil.copy(solution, (subs / "solution").mkdir(parents=True) or subs / "solution" / f"{stem}.ipynb")
    shutil.copy(release, (subs / "release").mkdir(parents=True) or subs / "release" / f"{stem}.ipynb")
    out = tmp_path / "out"
    assert (
        main(
            [str(subs), "--out", str(out), "--workers", "2", "--quiet", "--release-dir", str(ROOT / "notebooks")]
            + S.sandbox_args()
        )
        == 0
    )
    by = {r["student"]: r for r in read_results(out / "results.jsonl")}
    sol, rel = by["solution"], by["release"]
    assert sol["points"] == sol["max_points"] > 0, [t for t in sol["tests"] if t["state"] != "passed"]
    assert rel["points"] == 0
    assert {t["state"] for t in rel["tests"]} == {"not attempted"}, rel["tests"]
