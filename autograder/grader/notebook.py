"""Reading submitted notebooks tolerantly, identifying stem and student, and choosing the cells to run.

Nothing here executes student code: this module only parses JSON and Python source (``ast``).

Identification rules (documented for instructors, also in the grader's ``--help``):

Notebook stem, first rule that applies:
  1. notebook metadata ``course.stem`` naming a known stem, unless the file name names another known
     stem (rules 2-3) and the content disagrees with the metadata: then the stem whose graded function
     names the notebook defines more of wins (a tie keeps the metadata), and the rule text, starting
     with ``STEM_CONFLICT``, says which was graded and why (the grader adds it to the record's reasons);
  2. the file name contains a known stem (case, spaces and dashes ignored), e.g. ``03_early_exit (1).ipynb``;
  3. the file name contains a two-digit number that is the prefix of exactly one known stem, e.g. ``hw03.ipynb``;
  4. content similarity: the graded function names the notebook defines and the text of its cells,
     compared with the release notebooks (``--release-dir``) and the hidden suites' function names.

Student: the top-level entry of what was collected names the student; nothing deeper does.
``relpath`` is the path of the collected file below the folder given on the command line (or the
file's own path when it was given directly); ``member`` is the path inside an archive that lies at
``relpath``. First rule that applies:
  1. nbgrader layout ``submitted/<student>/<assignment>/...`` in ``relpath``: ``<student>``;
  2. ``relpath`` has a folder: its first component (``submissions/<student>/...``), skipping
     components named ``submissions``, ``submitted``, ``notebooks`` or the notebook's stem; whatever
     lies deeper, including the member paths of an archive in that folder, never names anyone;
  3. an archive at the top (given directly, an LMS class export, or lying at the top of the folder):
     rules 1-2 applied to the member path, so ``alice/hw.ipynb`` in the archive is alice's;
  4. the notebook's file name with the stem removed, e.g. ``03_early_exit_alice.ipynb`` or
     ``alice-03_early_exit.ipynb``;
  5. the file name itself (without ``.ipynb``).
A notebook given directly as a file uses rules 1, 4 and 5 only.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "NotebookError",
    "Cell",
    "ParsedNotebook",
    "CellPlan",
    "ReleaseInfo",
    "parse_notebook",
    "load_release",
    "identify_stem",
    "identify_student",
    "plan_cells",
    "strip_magics",
    "is_definitions_only",
    "STEM_CONFLICT",
    "binary_kind",
    "resubmission_counter",
    "name_timestamp",
]

MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024


class NotebookError(ValueError):
    """The submission cannot be read as a notebook; the message is the explicit reason."""


@dataclass
class Cell:
    """One cell of a submission, normalised across nbformat versions."""

    index: int
    cell_type: str
    source: str
    nbgrader: dict = field(default_factory=dict)
    cell_id: str = ""

    @property
    def grade_id(self) -> str:
        value = self.nbgrader.get("grade_id")
        return value if isinstance(value, str) else ""

    @property
    def is_meta_test(self) -> bool:
        return bool(self.nbgrader.get("grade")) and not bool(self.nbgrader.get("solution"))

    @property
    def is_meta_solution(self) -> bool:
        return bool(self.nbgrader.get("solution"))


@dataclass
class ParsedNotebook:
    """Cells and metadata of a submission, plus notes on what was odd about it."""

    cells: list[Cell]
    metadata: dict
    nbformat: str
    notes: list[str] = field(default_factory=list)

    @property
    def code_cells(self) -> list[Cell]:
        return [c for c in self.cells if c.cell_type == "code"]

    @property
    def has_nbgrader_metadata(self) -> bool:
        return any(c.nbgrader for c in self.cells)


def _text_field(obj: dict[str, Any], key: str, default: str) -> str:
    """obj[key] if it is a string, else `default` (a damaged notebook may hold anything)."""
    value = obj.get(key)
    return value if isinstance(value, str) else default


def _dict_field(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """A copy of obj[key] if it is an object, else an empty dict."""
    value = obj.get(key)
    return dict(value) if isinstance(value, dict) else {}


def _source_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(x for x in value if isinstance(x, str))
    return ""


# magic bytes of files that students upload instead of a notebook: (prefix, kind, what to do)
_MAGIC_BYTES = (
    (b"PK\x03\x04", "zip archive", "rename it .zip"),
    (b"PK\x05\x06", "zip archive (empty)", "rename it .zip"),
    (b"\x1f\x8b", "gzip archive", "rename it .gz"),
    (b"BZh", "bzip2 archive", "rename it .bz2"),
    (b"\xfd7zXZ\x00", "xz archive", "rename it .xz"),
    (b"7z\xbc\xaf\x27\x1c", "7-zip archive", "rename it .7z"),
    (b"Rar!\x1a\x07", "RAR archive", "rename it .rar"),
    (b"%PDF", "PDF document", "submit the .ipynb file"),
    (b"\x89PNG\r\n\x1a\n", "PNG image", "submit the .ipynb file"),
    (b"\xff\xd8\xff", "JPEG image", "submit the .ipynb file"),
)


def binary_kind(data: bytes) -> tuple[str, str] | None:
    """(kind, advice) when `data` starts with the magic bytes of an archive, PDF or image; else None."""
    for magic, kind, advice in _MAGIC_BYTES:
        if data.startswith(magic):
            return kind, advice
    return None


def parse_notebook(data: bytes) -> ParsedNotebook:
    """Parse notebook bytes of nbformat 3 or 4.x (any minor), tolerating missing fields; raise NotebookError."""
    found = binary_kind(data)
    if found is not None:
        kind, advice = found
        raise NotebookError(f"this file is a {kind}, not a notebook: {advice}")
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(
            f"notebook is too large ({len(data) / 2**20:.0f} MiB; the limit is {MAX_NOTEBOOK_BYTES / 2**20:.0f} MiB)"
        )
    if not data.strip():
        raise NotebookError("notebook file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise NotebookError(f"notebook is not UTF-8 text ({err.reason} at byte {err.start})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        truncated = err.pos >= len(text.rstrip()) - 1
        hint = " (truncated?)" if truncated else f" (line {err.lineno}, column {err.colno})"
        raise NotebookError(f"notebook is not valid JSON{hint}") from None
    if not isinstance(raw, dict):
        raise NotebookError("notebook JSON is not an object (is this an .ipynb file?)")
    notes: list[str] = []
    major = raw.get("nbformat")
    minor = raw.get("nbformat_minor")
    version = f"{major}.{minor}"
    metadata = _dict_field(raw, "metadata")
    if isinstance(raw.get("cells"), list):
        raw_cells = raw["cells"]
        if major not in (4, None):
            notes.append(f"nbformat {version} read as version 4")
    elif isinstance(raw.get("worksheets"), list):  # nbformat 3
        raw_cells = [
            c
            for ws in raw["worksheets"]
            if isinstance(ws, dict)
            for c in (ws.get("cells") or [])
            if isinstance(c, dict)
        ]
        notes.append(f"nbformat {version} (old format) converted")
    else:
        raise NotebookError("notebook JSON has no cells (is this an .ipynb file?)")
    cells: list[Cell] = []
    for i, rc in enumerate(raw_cells):
        if not isinstance(rc, dict):
            notes.append(f"cell {i} is not an object; ignored")
            continue
        cell_type = _text_field(rc, "cell_type", "raw")
        if cell_type == "heading":
            cell_type = "markdown"
        source = _source_text(rc.get("source", rc.get("input", "")))
        meta = _dict_field(rc, "metadata")
        cells.append(Cell(len(cells), cell_type, source, _dict_field(meta, "nbgrader"), _text_field(rc, "id", "")))
    if not any(c.cell_type == "code" for c in cells):
        notes.append("notebook has no code cells")
    return ParsedNotebook(cells, metadata, version, notes)


# ---------------------------------------------------------------------------------------------
# Source analysis

_MAGIC = re.compile(r"^(\s*)([%!].*)$")


def strip_magics(source: str) -> str:
    """Replace IPython magics and shell escapes (% / ! lines, %% cell magics) with `pass` lines."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return "\n".join("pass" if i == 0 else "# " + line for i, line in enumerate(lines))
    return "\n".join(_MAGIC.sub(lambda m: m.group(1) + "pass", line) for line in lines)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(strip_magics(source))
    except (SyntaxError, ValueError):
        return None


_SAFE_CALL_ROOTS = ("torch.", "np.", "numpy.", "math.", "cl.env.", "course_lib.env.", "pathlib.")
_SAFE_CALLS = {
    "dict",
    "list",
    "tuple",
    "set",
    "frozenset",
    "range",
    "int",
    "float",
    "str",
    "bool",
    "len",
    "sorted",
    "zip",
    "enumerate",
    "min",
    "max",
    "sum",
    "abs",
    "round",
    "Path",
    "namedtuple",
    "dataclass",
    "field",
    "TypeVar",
    "object",
    "slice",
    "reversed",
    "map",
    "isinstance",
}


def _dotted(node: ast.AST) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _simple_expression(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(sub, (ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)):
            return False
        if isinstance(sub, ast.Call):
            name = _dotted(sub.func)
            if not name or not (name in _SAFE_CALLS or name.startswith(_SAFE_CALL_ROOTS)):
                return False
    return True


def _definition_statement(stmt: ast.stmt) -> bool:
    if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Pass)):
        return True
    if isinstance(stmt, ast.Expr):  # a docstring, or a cheap setup call such as cl.env.set_seed(0)
        return isinstance(stmt.value, ast.Constant) or (
            isinstance(stmt.value, ast.Call) and _simple_expression(stmt.value)
        )
    if isinstance(stmt, ast.Assign):
        return _simple_expression(stmt.value)
    if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        return stmt.value is None or _simple_expression(stmt.value)
    if isinstance(stmt, ast.Try):
        blocks = [stmt.body, stmt.orelse, stmt.finalbody] + [h.body for h in stmt.handlers]
        return all(_definition_statement(s) for block in blocks for s in block)
    if isinstance(stmt, ast.If):
        return _simple_expression(stmt.test) and all(_definition_statement(s) for s in stmt.body + stmt.orelse)
    return False


def is_definitions_only(source: str) -> bool:
    """True when the cell's top level only imports, defines functions/classes and assigns simple values."""
    tree = _parse(source)
    if tree is None or not tree.body:
        return False
    return all(_definition_statement(s) for s in tree.body)


def defined_names(source: str) -> set[str]:
    """Top-level function and class names a cell defines (empty when it does not parse)."""
    tree = _parse(source)
    if tree is None:
        # fall back to a regex so a solution cell with a syntax error is still recognised
        return set(re.findall(r"^(?:def|class)\s+([A-Za-z_]\w*)", source, flags=re.M))
    return {s.name for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _normalise(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines() if line.strip())


# ---------------------------------------------------------------------------------------------
# Release notebooks and identification


@dataclass
class ReleaseInfo:
    """What the grader needs from a release notebook: solution names, test and setup cell texts."""

    stem: str
    solution_names: set[str] = field(default_factory=set)
    test_sources: list[str] = field(default_factory=list)
    setup_sources: list[str] = field(default_factory=list)
    all_text: str = ""


def load_release(release_dir: Path | None, stems: Iterable[str]) -> dict[str, ReleaseInfo]:
    """Read `<release_dir>/<stem>.ipynb` for each known stem (missing or unreadable ones are skipped)."""
    infos: dict[str, ReleaseInfo] = {}
    for stem in stems:
        info = ReleaseInfo(stem)
        path = release_dir / f"{stem}.ipynb" if release_dir is not None else None
        if path is not None and path.is_file():
            try:
                nb = parse_notebook(path.read_bytes())
            except (OSError, NotebookError):
                nb = None
            if nb is not None:
                for cell in nb.code_cells:
                    if cell.is_meta_solution:
                        info.solution_names |= defined_names(cell.source)
                    elif cell.is_meta_test:
                        info.test_sources.append(_normalise(cell.source))
                    elif cell.nbgrader.get("locked"):
                        info.setup_sources.append(_normalise(cell.source))
                info.all_text = "\n".join(c.source for c in nb.cells)
        infos[stem] = info
    return infos


def _canon(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.lower())


STEM_CONFLICT = "file name and notebook metadata disagree"


def _name_stem(filename: str, known: dict[str, set[str]]) -> tuple[str | None, str]:
    """Rules 2-3: the stem the file name names, if any."""
    name = _canon(PurePosixPath(filename).name)
    hits = [s for s in known if _canon(s) in name]
    if len(hits) >= 1:
        return max(hits, key=len), "file name"
    numbers = set(re.findall(r"(?<!\d)(\d{2})(?!\d)", name))
    by_number = [s for s in known if s[:2] in numbers]
    if len(by_number) == 1:
        return by_number[0], "number in the file name"
    return None, ""


def _defined(nb: ParsedNotebook) -> set[str]:
    defined: set[str] = set()
    for cell in nb.code_cells:
        defined |= defined_names(cell.source)
    return defined


def _graded_names(stem: str, known: dict[str, set[str]], releases: dict[str, ReleaseInfo]) -> set[str]:
    return set(known.get(stem, set())) | (releases[stem].solution_names if stem in releases else set())


def identify_stem(
    nb: ParsedNotebook | None, filename: str, known: dict[str, set[str]], releases: dict[str, ReleaseInfo] | None = None
) -> tuple[str | None, str]:
    """Return (stem or None, how it was found). `known` maps each stem to its graded function names."""
    releases = releases or {}
    name_stem, name_rule = _name_stem(filename, known)
    if nb is not None:
        course = nb.metadata.get("course")
        stem = course.get("stem") if isinstance(course, dict) else None
        if isinstance(stem, str) and stem in known:
            if name_stem is None or name_stem == stem:
                return stem, "notebook metadata course.stem"
            defined = _defined(nb)
            meta_names, file_names = _graded_names(stem, known, releases), _graded_names(name_stem, known, releases)
            meta_hits, file_hits = len(meta_names & defined), len(file_names & defined)
            meta_score = meta_hits / len(meta_names) if meta_names else 0.0
            file_score = file_hits / len(file_names) if file_names else 0.0
            counts = (
                f"it defines {file_hits}/{len(file_names)} graded functions of {name_stem} "
                f"and {meta_hits}/{len(meta_names)} of {stem}"
            )
            if file_score > meta_score:
                return name_stem, (
                    f"{STEM_CONFLICT}: the {name_rule} says {name_stem}, metadata course.stem says {stem}; "
                    f"graded as {name_stem} because {counts}"
                )
            return stem, (
                f"{STEM_CONFLICT}: the {name_rule} says {name_stem}, metadata course.stem says {stem}; "
                f"graded as {stem} (the metadata) because {counts}"
            )
    if name_stem is not None:
        return name_stem, name_rule
    if nb is not None:
        defined = _defined(nb)
        text = "\n".join(c.source for c in nb.cells)
        best, best_score = None, 0.0
        for stem in known:
            names = _graded_names(stem, known, releases)
            score = len(names & defined) / len(names) if names else 0.0
            if stem in releases and releases[stem].all_text:
                ratio = difflib.SequenceMatcher(
                    None, text[:20000], releases[stem].all_text[:20000], autojunk=False
                ).quick_ratio()
                score = max(score, ratio * 0.9)
            if score > best_score:
                best, best_score = stem, score
        if best is not None and best_score >= 0.5:
            return best, f"content similarity ({best_score:.2f})"
    return None, "no course.stem metadata, no known stem in the file name, no similar release notebook"


_NOISE = re.compile(r"(copy[ _]of|\(\d+\)|_?\d+$|final|submission|untitled)", re.I)


_CONTAINERS = ("submissions", "submitted", "notebooks")


def _owner_folder(parts: Sequence[str], stem: str | None) -> tuple[str, str] | None:
    """Rules 1-2 on the folders of a path: the nbgrader layout, else the first folder that is not a container."""
    folders = list(parts[:-1])
    lowered = [p.lower() for p in folders]
    if "submitted" in lowered:
        i = lowered.index("submitted")
        if i + 1 < len(folders):
            return folders[i + 1], "nbgrader submitted/<student>/ layout"
    for folder in folders:
        if folder in ("", ".", "..") or _canon(folder) in _CONTAINERS:
            continue
        if stem is not None and _canon(folder) == _canon(stem):
            continue
        return folder, "top-level folder of the submission"
    return None


def identify_student(
    relpath: str, stem: str | None, root_is_container: bool = True, member: str = ""
) -> tuple[str, str]:
    """Return (student, rule) for a file at `relpath` below the collected folder (see the module docstring).

    `member` is the path inside the archive at `relpath` when the notebook is an archive member;
    `root_is_container` is False for a file given directly on the command line (no folder rule then).
    """
    parts = PurePosixPath(relpath.replace("\\", "/")).parts
    member_parts = PurePosixPath(member.replace("\\", "/")).parts if member else ()
    found = _owner_folder(parts, stem)
    if found is not None and (root_is_container or found[1].startswith("nbgrader")):
        return found
    if root_is_container and member_parts and len(parts) <= 1:  # an archive at the top: its members name students
        found = _owner_folder(member_parts, stem)
        if found is not None:
            return found[0], f"{found[1]} inside the archive"
    file_parts = member_parts or parts
    base = PurePosixPath(file_parts[-1]).stem if file_parts else relpath
    if stem is not None:
        canon_base = _canon(base)
        canon_stem = _canon(stem)
        if canon_stem in canon_base:
            rest = canon_base.replace(canon_stem, " ")
            rest = _NOISE.sub(" ", rest)
            rest = re.sub(r"[\s_.]+", "_", rest).strip("_")
            if rest:
                return rest, "file name <stem>_<student>"
    return base, "file name"


_COUNTER = (re.compile(r"^(.*?)\s*\((\d{1,4})\)$"), re.compile(r"^(.*\D)-(\d{1,2})$"))
_STAMP = re.compile(
    r"(?<!\d)(20\d\d)[-_.]?(0[1-9]|1[0-2])[-_.]?([0-3]\d)[-_T ]?([0-2]\d)[-_.:h]?([0-5]\d)(?:[-_.:m]?([0-5]\d))?(?!\d)"
)


def resubmission_counter(filename: str) -> int:
    """The LMS/browser resubmission counter of a file name: `hw (2).ipynb` -> 2, `hw-3.ipynb` -> 3, else 0."""
    base = PurePosixPath(filename.replace("\\", "/")).stem.strip()
    for pattern in _COUNTER:
        m = pattern.match(base)
        if m:
            return int(m.group(2))
    return 0


def name_timestamp(filename: str) -> str:
    """An LMS submission timestamp in the file name as YYYYMMDDHHMMSS (`..._2024-03-05-14-30-00_...`), else ''."""
    m = _STAMP.search(PurePosixPath(filename.replace("\\", "/")).name)
    if not m:
        return ""
    return "".join(m.group(i) or "00" for i in range(1, 7))


# ---------------------------------------------------------------------------------------------
# Cell selection


@dataclass
class CellPlan:
    """A code cell (or cells joined after a split) and whether the grader runs it."""

    indices: tuple[int, ...]
    source: str
    kind: str  # setup, solution, definitions, test, other
    run: bool
    reason: str

    def label(self) -> str:
        return "+".join(str(i) for i in self.indices)


def _looks_like_test(cell: Cell, release: ReleaseInfo | None) -> str:
    if cell.is_meta_test:
        return f"nbgrader test cell {cell.grade_id or ''}".strip()
    if "run_cell(" in cell.source:
        return "contains the hidden-test call run_cell("
    if ("checks.passed(" in cell.source or "checks.exercise(" in cell.source) and not defined_names(cell.source):
        return "visible check cell (checks.exercise or checks.passed)"
    if release is not None and release.test_sources:
        norm = _normalise(cell.source)
        for test_source in release.test_sources:
            if norm == test_source or (
                norm and difflib.SequenceMatcher(None, norm, test_source, autojunk=False).ratio() >= 0.85
            ):
                return "matches a test cell of the release notebook"
    return ""


def plan_cells(
    nb: ParsedNotebook, mode: str = "definitions", graded_names: Sequence[str] = (), release: ReleaseInfo | None = None
) -> list[CellPlan]:
    """Decide, per code cell, whether it runs: see the module docstring and docs for the rules."""
    if mode not in ("definitions", "all"):
        raise ValueError(f"cell selection must be 'definitions' or 'all', got {mode!r}")
    wanted = set(graded_names) | (release.solution_names if release else set())
    code = nb.code_cells
    plans: list[CellPlan] = []
    i = 0
    while i < len(code):
        cell = code[i]
        indices: tuple[int, ...] = (cell.index,)
        source = cell.source
        # a cell split in two by the student: join with the next cells when only the join parses
        if _parse(source) is None and not _looks_like_test(cell, release):
            joined = source
            for j in range(i + 1, min(i + 3, len(code))):
                if _looks_like_test(code[j], release):
                    break
                joined = joined.rstrip("\n") + "\n" + code[j].source
                if _parse(joined) is not None:
                    indices = tuple(c.index for c in code[i : j + 1])
                    source = joined
                    i = j
                    break
        i += 1
        test_reason = _looks_like_test(cell, release)
        if (
            not test_reason
            and len(indices) == 1
            and _parse(source) is None
            and plans
            and plans[-1].kind != "test"
            and code.index(cell) > 0
            and plans[-1].indices[-1] == code[code.index(cell) - 1].index
        ):
            # the second half of a split cell: join it to the cell before when only the join parses
            joined = plans[-1].source.rstrip("\n") + "\n" + source
            if _parse(joined) is not None:
                indices = plans[-1].indices + indices
                source = joined
                plans.pop()
        if test_reason:
            plans.append(CellPlan(indices, source, "test", False, f"test cell ({test_reason}): never run"))
            continue
        joined_note = f" (cells {'+'.join(map(str, indices))} joined: split cell)" if len(indices) > 1 else ""
        if cell.is_meta_solution:
            plans.append(CellPlan(indices, source, "solution", True, "nbgrader solution cell" + joined_note))
            continue
        names = defined_names(source)
        if names & wanted:
            plans.append(
                CellPlan(
                    indices,
                    source,
                    "solution",
                    True,
                    f"defines graded {', '.join(sorted(names & wanted))}" + joined_note,
                )
            )
            continue
        norm = _normalise(source)
        if (
            (cell.nbgrader.get("locked") and not cell.nbgrader.get("grade"))
            or "setup_notebook(" in source
            or (release is not None and norm and norm in release.setup_sources)
        ):
            plans.append(CellPlan(indices, source, "setup", True, "setup cell" + joined_note))
            continue
        if not source.strip():
            plans.append(CellPlan(indices, source, "other", False, "empty cell"))
            continue
        before_exercises = not any(p.kind == "solution" for p in plans)
        tree = _parse(source)
        if (
            before_exercises
            and tree is not None
            and any(isinstance(st, (ast.Import, ast.ImportFrom)) for st in tree.body)
        ):
            plans.append(CellPlan(indices, source, "setup", True, "imports before the first exercise" + joined_note))
            continue
        if is_definitions_only(source):
            plans.append(CellPlan(indices, source, "definitions", True, "only definitions" + joined_note))
            continue
        if mode == "all":
            plans.append(CellPlan(indices, source, "other", True, "--cells all" + joined_note))
        else:
            why = "does not parse" if _parse(source) is None else "has top-level calls (demo/training/plots)"
            plans.append(CellPlan(indices, source, "other", False, f"skipped: {why}"))
    return plans
