"""Generate autograder/course/<stem>/reference.py from the solution cells of solutions/<stem>.ipynb.

The nbdev export idea: the solution cells are the one copy of every answer, and the reference module the
hidden tests compare against is derived from them. `export_reference(stem, root)` returns the module's
source; `python -m autograder release` writes it and `release --check` fails when the committed file
differs. The module holds, in notebook order:

- the imports of the notebook's imports cell (nbgrader grade_id "imports") that the code below uses;
- every graded solution cell (grade_id ending in "_impl"), whole, with its solution markers removed;
- the given code of other cells that the graded code uses by name (transitively), and given classes and
  functions that build on the graded code (e.g. 04's GatedResNet), when everything they need is exportable.

Only definitions are exported: function and class definitions, imports, and assignments of literal
constants (the imports cell may also assign cheap set-up values such as `device`). Demo code that
trains a model or loads data is never exported, so importing a reference module stays cheap and
side-effect free. Graded code that uses a value the notebook computes at run time cannot be exported:
`ExportError` says which name and which cell.
"""

from __future__ import annotations

import ast
import builtins
import symtable
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = [
    "ExportError",
    "ROOT",
    "SOLUTION_MARKERS",
    "GRADED_SUFFIX",
    "IMPORTS_ID",
    "SETUP_ID",
    "reference_path",
    "export_reference",
    "reference_problems",
    "write_references",
]

ROOT = Path(__file__).resolve().parents[2]
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")  # release.py takes its markers from here
GRADED_SUFFIX = "_impl"
IMPORTS_ID = "imports"
SETUP_ID = "setup"
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_IMPORTS = (ast.Import, ast.ImportFrom)


class ExportError(Exception):
    """The solution notebook's graded code cannot be exported as a reference module (message says why)."""


@dataclass(frozen=True)
class _Statement:
    """One top-level statement of a code cell, with the module-level names it defines and uses."""

    index: int  # position in the notebook's order of statements
    cell_id: str
    role: str  # "imports", "graded" or "given"
    node: ast.stmt
    text: str
    defines: frozenset[str]
    uses: frozenset[str]

    @property
    def exportable(self) -> bool:
        """Definitions only: running it defines names and has no other effect worth mentioning."""
        if isinstance(self.node, _DEFINITIONS + _IMPORTS):
            return True
        if isinstance(self.node, (ast.Assign, ast.AnnAssign)) and self.node.value is not None:
            return self.role == "imports" or _is_literal(self.node.value)
        return False


def reference_path(stem: str, root: Path = ROOT) -> Path:
    """Where the generated reference module of `stem` lives under `root`."""
    return Path(root) / "autograder" / "course" / stem / "reference.py"


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _without_markers(source: str) -> str:
    """A solution cell's code with its `### BEGIN/END SOLUTION` lines removed."""
    kept = [line for line in source.splitlines() if line.strip() not in SOLUTION_MARKERS]
    return "\n".join(kept).strip("\n")


def _bound_names(node: ast.stmt) -> frozenset[str]:
    """Module-level names a top-level statement binds."""
    if isinstance(node, _DEFINITIONS):
        return frozenset({node.name})
    if isinstance(node, _IMPORTS):
        return frozenset((alias.asname or alias.name).split(".")[0] for alias in node.names)
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = list(node.targets)
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
        targets = [node.target]
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        targets = [item.optional_vars for item in node.items if item.optional_vars is not None]
    return frozenset(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))


def _free_names(text: str) -> frozenset[str]:
    """Module-level names a statement reads (symtable's scoping: parameters and locals are not counted)."""
    found: set[str] = set()

    def visit(table: symtable.SymbolTable, top: bool) -> None:
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (top or symbol.is_global()):
                found.add(symbol.get_name())
        for child in table.get_children():
            visit(child, False)

    visit(symtable.symtable(text, "<cell>", "exec"), True)
    return frozenset(found - set(dir(builtins)))


def _segment(lines: list[str], node: ast.stmt) -> str:
    """The source lines of a top-level statement, decorators included."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[first - 1 : node.end_lineno])


def _statements(nb: nbformat.NotebookNode, where: str) -> list[_Statement]:
    """Every top-level statement of the notebook's imports, solution and given code cells, in order."""
    found: list[_Statement] = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader") or {}
        grade_id = str(meta.get("grade_id") or "")
        if cell.cell_type != "code" or grade_id == SETUP_ID or meta.get("grade"):
            continue  # the setup cell installs packages; test cells check, they define nothing to export
        if meta.get("solution"):
            if not grade_id.endswith(GRADED_SUFFIX):
                continue
            role, source = "graded", _without_markers(cell.source)
        else:
            role, source = ("imports" if grade_id == IMPORTS_ID else "given"), cell.source
        label = f"{where} cell {cell.get('id')}"
        try:
            tree = ast.parse(source)
        except SyntaxError as err:
            if role == "given":
                continue  # e.g. IPython magics in a demo cell: nothing in it can be exported anyway
            raise ExportError(f"{label} ({grade_id}) does not parse: {err}") from err
        lines = source.splitlines()
        for node in tree.body:
            text = _segment(lines, node)
            found.append(
                _Statement(len(found), str(cell.get("id")), role, node, text, _bound_names(node), _free_names(text))
            )
    return found


def _graded_names(statements: list[_Statement]) -> set[str]:
    return {n for s in statements if s.role == "graded" for n in s.defines}


def _provider(name: str, statements: list[_Statement], graded: set[str]) -> _Statement | None:
    """The statement the exported module takes `name` from: a graded one, else the notebook's last binding."""
    binders = [s for s in statements if name in s.defines]
    if not binders:
        return None
    if name in graded:
        return [s for s in binders if s.role == "graded"][-1]
    return binders[-1]


def _closure(roots: list[_Statement], statements: list[_Statement], graded: set[str]) -> tuple[set[int], list[str]]:
    """Statement indices `roots` need (transitively), and the problems: names bound only by run-time code."""
    keep: set[int] = set()
    problems: list[str] = []
    todo = list(roots)
    while todo:
        statement = todo.pop()
        if statement.index in keep:
            continue
        keep.add(statement.index)
        for name in sorted(statement.uses):
            provider = _provider(name, statements, graded)
            if provider is None or provider.index in keep:
                continue
            if not provider.exportable:
                problems.append(
                    f"`{name}` (used by cell {statement.cell_id}) is computed at run time by cell "
                    f"{provider.cell_id}: pass it as an argument or define it in a cell of "
                    f"definitions only"
                )
                continue
            todo.append(provider)
    return keep, problems


def _builds_on_graded(statement: _Statement, graded: set[str]) -> bool:
    return statement.role == "given" and isinstance(statement.node, _DEFINITIONS) and bool(statement.uses & graded)


def _header(stem: str) -> str:
    return f'''"""GENERATED from solutions/{stem}.ipynb: the reference implementations of its graded functions.

Do not edit: edit the solution cells and run `python -m autograder release` (autograder/tools/export.py), which
writes this file from the imports of the notebook's imports cell that the code uses, every graded solution cell
(grade_id `*_impl`) with its solution markers removed, and the given notebook code that the graded code uses or
that builds on it. `python -m autograder release --check` fails when this file differs from what the solutions
generate. Hand-written helpers that only the hidden tests need go in helpers.py beside this file.
"""'''


def _import_block(imports: list[_Statement]) -> str:
    """The import statements, one a line, with the blank lines between their groups kept from the cell."""
    lines: list[str] = []
    for i, statement in enumerate(imports):
        if i and statement.node.lineno > (imports[i - 1].node.end_lineno or 0) + 1:
            lines.append("")
        lines.append(statement.text)
    return "\n".join(lines)


def export_reference(stem: str, root: Path = ROOT) -> str:
    """The source of autograder/course/<stem>/reference.py, generated from solutions/<stem>.ipynb."""
    where = f"solutions/{stem}.ipynb"
    path = Path(root) / where
    try:
        nb = nbformat.read(str(path), as_version=4)
    except (OSError, ValueError) as err:
        raise ExportError(f"{where}: cannot read the solution notebook ({type(err).__name__}: {err})") from err
    statements = _statements(nb, where)
    graded = _graded_names(statements)
    roots = [s for s in statements if s.role == "graded"]
    for statement in roots:
        if not statement.exportable:
            raise ExportError(
                f"{where} cell {statement.cell_id}: a graded solution cell may only hold definitions "
                f"(def, class, import, constants); move {statement.text.splitlines()[0][:60]!r} "
                f"to a cell of its own"
            )
    keep, problems = _closure(roots, statements, graded)
    if problems:
        raise ExportError(f"{where}: the graded code cannot be exported:\n  " + "\n  ".join(problems))
    for statement in statements:  # given definitions built on the graded code (e.g. a model that uses them)
        if statement.index not in keep and _builds_on_graded(statement, graded):
            extra, blocked = _closure([statement], statements, graded)
            if not blocked:
                keep |= extra
    kept = [s for s in statements if s.index in keep]
    used = set().union(*(s.uses for s in kept)) if kept else set()
    imports = [s for s in statements if s.role == "imports" and isinstance(s.node, _IMPORTS) and s.defines & used]
    keep -= {s.index for s in imports}
    parts = [_header(stem) + "\n\n" + _import_block(imports)]
    cell_of_part = None
    for statement in statements:
        if statement.index not in keep:
            continue
        if statement.cell_id != cell_of_part:
            parts.append(f"# cell {statement.cell_id}\n{statement.text}")
            cell_of_part = statement.cell_id
        else:
            parts[-1] += (
                f"\n\n\n{statement.text}" if isinstance(statement.node, _DEFINITIONS) else f"\n{statement.text}"
            )
    return "\n\n\n".join(p for p in parts if p) + "\n"


def reference_problems(stems: list[str], root: Path = ROOT) -> list[str]:
    """`release --check`: committed reference modules that differ from what the solution cells generate."""
    problems = []
    for stem in stems:
        path = reference_path(stem, root)
        rel = path.relative_to(Path(root))
        try:
            expected = export_reference(stem, root)
        except ExportError as err:
            problems.append(str(err))
            continue
        if not path.exists():
            problems.append(f"{rel} is missing (run python -m autograder release)")
        elif path.read_text(encoding="utf-8") != expected:
            problems.append(
                f"{rel} differs from what solutions/{stem}.ipynb generates: it is generated, do not "
                f"edit it (edit the solution cells and run python -m autograder release)"
            )
    return problems


def write_references(texts: dict[str, str], root: Path = ROOT) -> list[Path]:
    """Write each stem's generated reference module text (from `export_reference`); return the files."""
    written = []
    for stem, text in texts.items():
        path = reference_path(stem, root)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
