"""Generate the student release notebooks/<stem>.ipynb from the instructor source solutions/<stem>.ipynb.

The release is made with nbgrader's own preprocessors, in the order `nbgrader generate_assignment`
applies them (without the database step), so the student copy carries exactly the metadata stock
nbgrader produces: solution regions replaced by the stub, hidden-test blocks removed, manually graded
markdown answers replaced by "YOUR ANSWER HERE", outputs and execution counts cleared, read-only and
grade cells locked, checksums and `cell_type` recorded. The JSON is written the way nbformat writes it
(sorted keys, one-space indent, trailing newline) and cell ids are kept, so regenerating is
byte-identical.

`check_repo` is what CI runs (`python -m autograder release --check`): it validates the solution
sources against the hidden suites and reports stale or missing student copies, leftover markers and
committed outputs.
"""

from __future__ import annotations

import ast
import copy
import difflib
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.suite import Suite, load_suite
from autograder.tools import claims, export, frame, publishing, tables

__all__ = [
    "ROOT",
    "BEGIN_SOLUTION",
    "END_SOLUTION",
    "BEGIN_HIDDEN",
    "END_HIDDEN",
    "CODE_STUB",
    "TEXT_STUB",
    "ReleaseError",
    "LearnerWorkError",
    "solution_stems",
    "read_notebook",
    "notebook_json",
    "nbgrader_meta",
    "is_solution_cell",
    "is_test_cell",
    "is_answer_cell",
    "defined_names",
    "validate_source",
    "make_release",
    "release_text",
    "learner_work",
    "work_at_risk",
    "write_release",
    "stamp_repo",
    "build_wheel",
    "check_repo",
    "main",
]

ROOT = Path(__file__).resolve().parents[2]
BEGIN_SOLUTION, END_SOLUTION = export.SOLUTION_MARKERS  # one definition, shared with the reference export
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
STEM_RE = re.compile(r"^\d\d_[a-z0-9_]+$")

SuiteLookup = Callable[[str], Suite]


class ReleaseError(Exception):
    """The solution source cannot be turned into a release (message says what to fix)."""


class LearnerWorkError(ReleaseError):
    """Writing the release would discard a learner's work in notebooks/ (nothing was written).

    `at_risk` maps each notebook path to what it holds that the release would discard.
    """

    def __init__(self, at_risk: dict[Path, list[str]], root: Path) -> None:
        self.at_risk = at_risk
        self.root = root
        super().__init__(_refusal_message(at_risk, root))


# ---------------------------------------------------------------------------------------------
# Reading and writing


def solution_stems(root: Path = ROOT) -> list[str]:
    """Stems of solutions/NN_topic.ipynb, sorted."""
    return sorted(p.stem for p in (Path(root) / "solutions").glob("*.ipynb") if STEM_RE.match(p.stem))


def read_notebook(path: Path | str) -> NotebookNode:
    """Read a notebook as nbformat 4 or raise ReleaseError naming the file."""
    path = Path(path)
    try:
        return nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise
    except Exception as err:
        raise ReleaseError(f"{path}: not a readable notebook ({type(err).__name__}: {err})") from err


def notebook_json(nb: NotebookNode) -> str:
    """The canonical text of a notebook: nbformat's writer (sorted keys, indent 1) plus a final newline."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


# ---------------------------------------------------------------------------------------------
# Cell kinds


def nbgrader_meta(cell: NotebookNode) -> dict:
    """The cell's nbgrader metadata ({} when it has none)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_solution_cell(cell: NotebookNode) -> bool:
    """A code cell students fill in (nbgrader solution, not graded)."""
    m = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(m.get("solution")) and not m.get("grade")


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell (nbgrader grade, code)."""
    m = nbgrader_meta(cell)
    return cell.cell_type == "code" and bool(m.get("grade")) and not m.get("solution")


def is_answer_cell(cell: NotebookNode) -> bool:
    """A manually graded markdown answer (nbgrader solution + grade, markdown)."""
    m = nbgrader_meta(cell)
    return cell.cell_type == "markdown" and bool(m.get("solution")) and bool(m.get("grade"))


def defined_names(source: str) -> list[str]:
    """Top-level function and class names defined by a code cell (empty if it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def _region_problems(source: str, begin: str, end: str) -> list[str]:
    """Unbalanced or nested begin/end markers in one cell's source."""
    problems, depth = [], 0
    for line in source.splitlines():
        text = line.strip()
        if text == begin:
            if depth:
                problems.append(f"nested '{begin}'")
            depth += 1
        elif text == end:
            if not depth:
                problems.append(f"'{end}' without '{begin}'")
            depth = max(depth - 1, 0)
        elif begin in text or end in text:
            problems.append(f"marker not alone on its line: {text[:60]!r}")
    if depth:
        problems.append(f"'{begin}' without '{end}'")
    return problems


# ---------------------------------------------------------------------------------------------
# Validating the instructor source


def _default_suite(stem: str) -> Suite:
    return load_suite(stem)


def validate_source(nb: NotebookNode, stem: str, suite: Suite | None | SuiteLookup = _default_suite) -> list[str]:
    """Problems in solutions/<stem>.ipynb (empty when it is a valid source).

    `suite` is the hidden suite, a function stem -> Suite, or None to skip the points check.
    """
    problems: list[str] = []
    where = f"solutions/{stem}.ipynb"
    course = nb.metadata.get("course", {})
    if course.get("stem") != stem:
        problems.append(f"{where}: notebook metadata course.stem is {course.get('stem')!r}, expected {stem!r}")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        problems.append(f"{where}: kernelspec must be python3")
    grade_ids: dict[str, int] = {}
    ids: dict[str, int] = {}
    tests: dict[str, float] = {}
    for index, cell in enumerate(nb.cells):
        label = f"{where} cell {index}" + (f" (id {cell.get('id')})" if cell.get("id") else "")
        cid = cell.get("id")
        if not cid:
            problems.append(f"{label}: has no stable cell id")
        elif cid in ids:
            problems.append(f"{label}: cell id {cid!r} repeats cell {ids[cid]}")
        else:
            ids[cid] = index
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            problems.append(f"{label}: committed outputs or execution count (clear them)")
        if "AUTOTEST" in cell.source:
            problems.append(f"{label}: nbgrader AUTOTEST directives are not used in this course")
        meta = nbgrader_meta(cell)
        if not meta:
            for marker in MARKERS:
                if marker in cell.source:
                    problems.append(f"{label}: '{marker}' in a cell without nbgrader metadata")
            continue
        gid = meta.get("grade_id")
        if not gid:
            problems.append(f"{label}: nbgrader cell without grade_id")
            continue
        if gid in grade_ids:
            problems.append(f"{label}: grade_id {gid!r} repeats cell {grade_ids[gid]}")
        grade_ids[gid] = index
        if meta.get("schema_version") != 3:
            problems.append(f"{label}: nbgrader schema_version must be 3")
        problems += [f"{label}: {p}" for p in _region_problems(cell.source, BEGIN_SOLUTION, END_SOLUTION)]
        problems += [f"{label}: {p}" for p in _region_problems(cell.source, BEGIN_HIDDEN, END_HIDDEN)]
        if is_solution_cell(cell):
            if meta.get("locked"):
                problems.append(f"{label}: a solution cell must not be locked")
            if BEGIN_SOLUTION not in cell.source:
                problems.append(f"{label}: solution cell {gid!r} has no '{BEGIN_SOLUTION}' region (no stub)")
            if BEGIN_HIDDEN in cell.source:
                problems.append(f"{label}: hidden tests in a solution cell")
        elif is_test_cell(cell):
            if not meta.get("locked"):
                problems.append(f"{label}: test cell {gid!r} must be locked")
            try:
                points = float(meta.get("points", 0))
            except (TypeError, ValueError):
                points = -1.0
            if points <= 0:
                problems.append(f"{label}: test cell {gid!r} needs positive points")
            tests[gid] = points
            if BEGIN_SOLUTION in cell.source:
                problems.append(f"{label}: solution region in a test cell")
            if BEGIN_HIDDEN not in cell.source:
                problems.append(f"{label}: test cell {gid!r} has no hidden-test block")
            elif not re.search(
                rf"run_cell\(\s*['\"]{re.escape(stem)}['\"]\s*,\s*['\"]{re.escape(gid)}['\"]", cell.source
            ):
                problems.append(f"{label}: the hidden block must call run_cell({stem!r}, {gid!r}, globals())")
        elif is_answer_cell(cell):
            if not float(meta.get("points", 0) or 0) > 0:
                problems.append(f"{label}: answer cell {gid!r} needs positive points")
        elif cell.cell_type == "code" and meta.get("solution") and meta.get("grade"):
            problems.append(f"{label}: code cells that are both solution and grade are not used here")
        else:  # read-only cell
            for marker in MARKERS:
                if marker in cell.source:
                    problems.append(f"{label}: '{marker}' in a read-only cell")
    problems += frame.frame_problems(stem, nb)
    if suite is None:
        return problems
    try:
        resolved = suite(stem) if callable(suite) and not isinstance(suite, Suite) else suite
    except Exception as err:  # noqa: BLE001 - hidden-suite code may fail in any way; report it as a problem
        problems.append(f"{where}: cannot load the hidden suite: {type(err).__name__}: {err}")
        return problems
    hidden = resolved.points_by_grade_id()
    for gid, points in tests.items():
        if gid not in hidden:
            problems.append(f"{where}: test cell {gid!r} has no hidden tests in autograder/course/{stem}/tests.py")
        elif abs(hidden[gid] - points) > 1e-9:
            problems.append(
                f"{where}: test cell {gid!r} is worth {points:g} points but its hidden tests sum to {hidden[gid]:g}"
            )
    for gid in hidden:
        if gid not in tests:
            problems.append(
                f"autograder/course/{stem}/tests.py: hidden tests for {gid!r}, which is not a test cell of {where}"
            )
    return problems


# ---------------------------------------------------------------------------------------------
# Making the release


def _preprocessors() -> list:
    """nbgrader generate_assignment's pipeline, minus the header, AUTOTEST and database steps."""
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearHiddenTests,
        ClearMarkScheme,
        ClearOutput,
        ClearSolutions,
        ComputeChecksums,
        LockCells,
    )

    return [
        LockCells(),
        ClearSolutions(code_stub={"python": CODE_STUB}, text_stub=TEXT_STUB),
        ClearOutput(),
        CheckCellMetadata(),
        ComputeChecksums(),
        ClearHiddenTests(),
        ClearMarkScheme(),
        ComputeChecksums(),
        CheckCellMetadata(),
    ]


def make_release(source: NotebookNode) -> NotebookNode:
    """The student copy of a solution notebook (a new object; `source` is not modified)."""
    nb = copy.deepcopy(source)
    resources: dict = {}
    try:
        for step in _preprocessors():
            nb, resources = step.preprocess(nb, resources)
    except Exception as err:
        raise ReleaseError(f"nbgrader could not process the notebook: {type(err).__name__}: {err}") from err
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def release_text(stem: str, root: Path = ROOT) -> str:
    """The canonical JSON text of notebooks/<stem>.ipynb generated from solutions/<stem>.ipynb."""
    return notebook_json(make_release(read_notebook(Path(root) / "solutions" / f"{stem}.ipynb")))


# ---------------------------------------------------------------------------------------------
# Never overwriting a learner's work


def learner_work(current: NotebookNode, release: NotebookNode) -> list[str]:
    """What `current` (a notebook in notebooks/) holds that writing `release` over it would discard.

    Work is: outputs or execution counts; an exercise cell (solution or answer cell) whose source is neither
    the release's nor the stub it was released with (nbgrader's recorded checksum); a cell with source that the
    learner added (its id is not a cell of the release and it has no nbgrader metadata) and that is not a
    course cell that the instructor removed since (course cells are named `NN-...` after the notebook).
    An untouched notebook, even one released from an older solution, holds none.
    """
    from nbgrader.utils import compute_checksum

    released = {cell.get("id"): cell for cell in release.cells}
    stem = release.metadata.get("course", {}).get("stem", "")
    course_prefix = f"{stem[:2]}-" if STEM_RE.match(stem) else None
    ran = [
        cell.get("id") or str(index)
        for index, cell in enumerate(current.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
    edited, added = [], []
    for index, cell in enumerate(current.cells):
        cid = cell.get("id")
        if is_solution_cell(cell) or is_answer_cell(cell):
            same = cid in released and released[cid].source == cell.source
            recorded = nbgrader_meta(cell).get("checksum")
            if not same and not (recorded and compute_checksum(cell) == recorded):
                edited.append(nbgrader_meta(cell).get("grade_id") or cid or str(index))
        elif cid not in released and not nbgrader_meta(cell) and cell.source.strip():
            if not (course_prefix and str(cid).startswith(course_prefix)):
                added.append(cid or str(index))
    found = []
    if edited:
        found.append(f"edited exercise cells {edited}")
    if added:
        found.append(f"{len(added)} cell(s) you added")
    if ran:
        found.append(f"outputs in {len(ran)} cell(s)")
    return found


def _same_as_committed(path: Path, root: Path) -> bool:
    """True when `path` is byte-identical to its version in git HEAD (nothing would be lost: git keeps it)."""
    import subprocess

    try:
        rel = path.resolve().relative_to(Path(root).resolve()).as_posix()
        committed = subprocess.run(
            ["git", "-C", str(root), "show", f"HEAD:{rel}"], capture_output=True, timeout=30, check=False
        )
    except (OSError, ValueError, subprocess.SubprocessError):
        return False
    return committed.returncode == 0 and committed.stdout == path.read_bytes()


def work_at_risk(stems: Iterable[str], root: Path = ROOT) -> dict[Path, list[str]]:
    """{notebooks/<stem>.ipynb: what it holds} for every notebook that writing the release would lose work in.

    A notebook identical to what git has committed is never at risk; a source that cannot be released is
    skipped here (validation reports it).
    """
    root = Path(root)
    at_risk: dict[Path, list[str]] = {}
    for stem in stems:
        path = root / "notebooks" / f"{stem}.ipynb"
        source_path = root / "solutions" / f"{stem}.ipynb"
        if not path.exists() or not source_path.exists():
            continue
        try:
            current = read_notebook(path)
        except ReleaseError:
            current = None
        if current is None:
            found = ["not a readable notebook (a learner's file?)"]
        else:
            try:
                release = make_release(read_notebook(source_path))
            except ReleaseError:
                continue
            found = learner_work(current, release)
        if found and not _same_as_committed(path, root):
            at_risk[path] = found
    return at_risk


def _refusal_message(at_risk: dict[Path, list[str]], root: Path) -> str:
    def shown(path: Path) -> str:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            return str(path)

    stems = " ".join(path.stem for path in at_risk)
    lines = [f"writing it would overwrite work in {len(at_risk)} notebook(s) in notebooks/ (nothing was written):"]
    lines += [f"  {shown(path)}: {'; '.join(found)}" for path, found in at_risk.items()]
    lines += [
        f"To keep it: run `python -m autograder start --stems {stems}`, which copies the notebook(s) as they are",
        "  into work/ (release never touches work/; start never overwrites a notebook already there), work in work/",
        "  from now on, then rerun with --force to restore notebooks/.",
        "To discard it: rerun with --force: `python -m autograder release --force`.",
    ]
    return "\n".join(lines)


def write_release(
    stems: Iterable[str] | None = None,
    root: Path = ROOT,
    suite: Suite | None | SuiteLookup = _default_suite,
    force: bool = False,
) -> list[Path]:
    """Validate and write notebooks/<stem>.ipynb and the generated autograder/course/<stem>/reference.py for each
    stem; raise ReleaseError on invalid sources.

    Unless `force`, first raise LearnerWorkError, writing nothing at all, when a notebook in notebooks/ holds a
    learner's work (`learner_work`) that the release would overwrite.
    """
    root = Path(root)
    stems = list(stems) if stems is not None else solution_stems(root)
    if not force:
        at_risk = work_at_risk(stems, root)
        if at_risk:
            raise LearnerWorkError(at_risk, root)
    stamp_repo(root)
    problems: list[str] = []
    texts: dict[str, str] = {}
    references: dict[str, str] = {}
    for stem in stems:
        nb = read_notebook(root / "solutions" / f"{stem}.ipynb")
        found = validate_source(nb, stem, suite)
        try:
            references[stem] = export.export_reference(stem, root)
        except export.ExportError as err:
            found.append(str(err))
        if found:
            problems += found
            continue
        texts[stem] = notebook_json(make_release(nb))
    if problems:
        raise ReleaseError("invalid solution sources:\n  " + "\n  ".join(problems))
    (root / "notebooks").mkdir(exist_ok=True)
    written = []
    for stem, text in texts.items():
        path = root / "notebooks" / f"{stem}.ipynb"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written + export.write_references(references, root)


# ---------------------------------------------------------------------------------------------
# Stamping the install source (pyproject.toml [tool.course]) into the files that name it


def _stamped_files(root: Path) -> dict[Path, str]:
    """{path: text it should have} for every file the publication settings are stamped into (empty without them)."""
    info = publishing.course_info(root)
    if info is None:
        return {}
    wanted: dict[Path, str] = {root / publishing.RELEASE_INFO_PATH: publishing.release_info_text(info)}
    for stem in solution_stems(root):
        path = root / "solutions" / f"{stem}.ipynb"
        nb = read_notebook(path)
        publishing.stamp_notebook(nb, stem, info)
        claims.stamp_run_times(nb, root, stem)
        wanted[path] = notebook_json(nb)
    grading = root / publishing.GRADING_NOTEBOOK
    if grading.exists():
        nb = read_notebook(grading)
        for cell in nb.cells:
            if cell.get("id") == "install":
                cell.source = publishing.grading_install_source(info)
        nb.metadata.setdefault("course", {})["version"] = info.version
        wanted[grading] = notebook_json(nb)
    for rel in publishing.LINKED_DOCS:
        if (root / rel).exists():
            wanted[root / rel] = publishing.stamp_links((root / rel).read_text(encoding="utf-8"), info)
    return wanted


def _read_or_none(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def stamp_repo(root: Path = ROOT) -> list[Path]:
    """Write the install source and version into setup cells, badges, links and release_info; return changed files."""
    changed = []
    for path, text in _stamped_files(Path(root)).items():
        if _read_or_none(path) != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed + tables.write_tables(Path(root), solution_stems(Path(root)))


def build_wheel(out_dir: Path, root: Path = ROOT) -> Path:
    """Build the installable course package (a wheel an instructor can host, e.g. on Drive) into out_dir."""
    import subprocess
    import sys

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    before = set(out_dir.glob("*.whl"))
    import importlib.util

    # Build with this environment's setuptools when it has one (offline, fast); else pip fetches it.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            *isolation,
            "-q",
            "-w",
            str(out_dir),
            str(Path(root).resolve()),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise ReleaseError(f"pip wheel failed:\n{(done.stdout + done.stderr).strip()[-2000:]}")
    info = publishing.course_info(Path(root))
    version = info.version if info else "*"
    wheels = sorted(out_dir.glob(f"dynamic_inference_course-{version}-*.whl"), key=lambda p: p.stat().st_mtime)
    if not wheels:
        raise ReleaseError(
            f"pip wheel finished but wrote no course wheel into {out_dir} "
            f"(new files: {sorted(p.name for p in set(out_dir.glob('*.whl')) - before)})"
        )
    return wheels[-1]


# ---------------------------------------------------------------------------------------------
# The CI check


def _cell_diff(expected: str, actual: str) -> str:
    """A short description of how a committed release differs from the regenerated one."""
    try:
        exp, act = nbformat.reads(expected, as_version=4), nbformat.reads(actual, as_version=4)
    except Exception:  # noqa: BLE001 - JSON, nbformat or validation error: all mean the same here
        return "the committed file is not a readable notebook"
    exp_cells = {c.get("id"): c for c in exp.cells}
    act_cells = {c.get("id"): c for c in act.cells}
    parts = []
    missing = [i for i in exp_cells if i not in act_cells]
    extra = [i for i in act_cells if i not in exp_cells]
    if missing:
        parts.append(f"cells missing: {missing[:5]}")
    if extra:
        parts.append(f"cells not in the source: {extra[:5]}")
    changed = [i for i in exp_cells if i in act_cells and exp_cells[i] != act_cells[i]]
    if changed:
        parts.append(f"cells differ: {changed[:5]}")
    if [c.get("id") for c in exp.cells] != [c.get("id") for c in act.cells] and not (missing or extra):
        parts.append("cell order differs")
    if exp.metadata != act.metadata:
        parts.append("notebook metadata differs")
    if not parts:
        lines = list(
            difflib.unified_diff(
                actual.splitlines(), expected.splitlines(), "committed", "regenerated", n=0, lineterm=""
            )
        )
        parts.append("formatting differs: " + " | ".join(lines[2:6]))
    return "; ".join(parts)


def _output_problems(path: Path, nb: NotebookNode, rel: str) -> list[str]:
    bad = [
        c.get("id") or str(i)
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]
    return [f"{rel}: committed outputs or execution counts in cells {bad[:8]}"] if bad else []


def check_repo(root: Path = ROOT, suite: Suite | None | SuiteLookup = _default_suite) -> list[str]:
    """Everything CI rejects about solutions/ and notebooks/ (empty list: all good)."""
    root = Path(root)
    problems: list[str] = []
    stems = solution_stems(root)
    if not stems:
        problems.append("solutions/: no NN_topic.ipynb notebooks")
    try:
        stamped = _stamped_files(root)
    except (ValueError, ReleaseError) as err:
        problems.append(f"pyproject.toml [tool.course]: {err}")
        stamped = {}
    for path, text in stamped.items():
        if _read_or_none(path) != text:
            problems.append(
                f"{path.relative_to(root)} does not carry the install source and version of "
                f"pyproject.toml [tool.course] (run `python -m autograder release`)"
            )
    problems += tables.table_problems(root, stems)
    try:
        problems += claims.claim_problems(root)
    except ValueError as err:
        problems.append(str(err))
    for stem in stems:
        rel = f"solutions/{stem}.ipynb"
        try:
            source = read_notebook(root / rel)
        except ReleaseError as err:
            problems.append(str(err))
            continue
        problems += validate_source(source, stem, suite)
        problems += export.reference_problems([stem], root)
        student = root / "notebooks" / f"{stem}.ipynb"
        if not student.exists():
            problems.append(f"notebooks/{stem}.ipynb is missing (run `python -m autograder release`)")
            continue
        try:
            expected = notebook_json(make_release(source))
        except ReleaseError as err:
            problems.append(f"{rel}: {err}")
            continue
        actual = student.read_text(encoding="utf-8")
        if actual != expected:
            problems.append(
                f"notebooks/{stem}.ipynb is out of date with {rel} "
                f"({_cell_diff(expected, actual)}); run `python -m autograder release`"
            )
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        rel = f"notebooks/{path.name}"
        if path.stem not in stems:
            problems.append(f"{rel} has no source solutions/{path.name} (stale student copy)")
        try:
            nb = read_notebook(path)
        except ReleaseError as err:
            problems.append(str(err))
            continue
        problems += _output_problems(path, nb, rel)
        for i, cell in enumerate(nb.cells):
            for marker in MARKERS:
                if marker in cell.source:
                    problems.append(f"{rel} cell {i} (id {cell.get('id')}): leftover '{marker}'")
    return problems


def main(argv: list[str] | None = None) -> int:
    """`python -m autograder release [--check] [--stems ...]`."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m autograder release", description="Generate notebooks/ from solutions/ (student release)."
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate in memory and fail on any difference, marker or committed output",
    )
    parser.add_argument("--stems", nargs="+", help="only these notebook stems (default: all in solutions/)")
    parser.add_argument(
        "--wheel",
        type=Path,
        nargs="?",
        const=ROOT / "dist",
        metavar="DIR",
        help="also build the installable course package into DIR (default dist/): host it "
        "(e.g. on Drive) and point COURSE_INSTALL at it",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite notebooks in notebooks/ even when they hold work (filled exercise cells, added cells, "
        "outputs); without it the release refuses and writes nothing",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.check:
        problems = check_repo(args.root)
        if args.stems:
            problems = [p for p in problems if any(s in p for s in args.stems)]
        if problems:
            print(f"release check FAILED ({len(problems)} problem(s)):")
            for p in problems:
                print(f"  - {p}")
            return 1
        print(f"release check passed: {len(solution_stems(args.root))} notebook(s) up to date")
        return 0
    try:
        written = write_release(args.stems, args.root, force=args.force)
    except LearnerWorkError as err:
        print(f"release REFUSED: {err}")
        return 1
    except (ReleaseError, FileNotFoundError) as err:
        print(f"release FAILED: {err}")
        return 1
    for path in written:
        print(f"wrote {path.relative_to(args.root)}")
    if args.wheel is not None:
        try:
            wheel = build_wheel(args.wheel, args.root)
        except ReleaseError as err:
            print(f"release FAILED: {err}")
            return 1
        print(f"wrote {wheel}\n  in a notebook: %env COURSE_INSTALL={wheel}   (a cell above the setup cell)")
    return 0
