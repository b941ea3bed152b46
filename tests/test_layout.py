"""The layout keeps its promises: no import cycle, one by-path loader, one grading folder per notebook."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

from autograder import content
from autograder.tools.release import ROOT, solution_stems

PACKAGES = ("autograder", "course_lib")
BY_PATH_IMPORTS = ("spec_from_file_location", "module_from_spec", "SourceFileLoader", "run_path")


def _tracked_python_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "*.py"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    return [ROOT / rel for rel in listed if (ROOT / rel).is_file()]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.Module, module: str, known: set[str]) -> set[str]:
    """Modules of `known` that `module` imports anywhere (lazy imports count; `if TYPE_CHECKING:` blocks do not)."""
    found: set[str] = set()
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if _is_type_checking_block(node):
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: -node.level]
                base = ".".join([*package, base] if base else package)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            names = []
        # importing a submodule always runs its parent packages first: an edge to one's own ancestor is not a choice
        found.update(name for name in names if name in known and not module.startswith(name + "."))
        todo.extend(ast.iter_child_nodes(node))
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the course modules it imports, for every module of the course's packages."""
    files = {
        _module_name(p): p
        for p in _tracked_python_files()
        if p.relative_to(ROOT).parts[0] in PACKAGES and "course" not in p.relative_to(ROOT).parts[1:2]
    }
    known = set(files)
    graph = {}
    for module, path in files.items():
        imported = _imports(ast.parse(path.read_text(encoding="utf-8")), module, known)
        graph[module] = imported
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_course_packages() -> None:
    graph = import_graph()
    assert "autograder.suite" in graph and "autograder.grader.judge" in graph, sorted(graph)[:10]
    assert cycles(graph) == []


def test_the_content_loader_is_the_only_by_path_import() -> None:
    offenders = []
    for path in _tracked_python_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel in ("autograder/content.py", "tests/test_layout.py"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{rel}: {name}" for name in BY_PATH_IMPORTS if name in text]
    assert offenders == [], "load per-notebook modules with autograder.content.load(stem, kind)"


def test_every_solution_notebook_has_one_grading_folder() -> None:
    stems = solution_stems(ROOT)
    assert stems and stems == content.stems()
    for stem in stems:
        for kind in ("tests", "reference", "mutants", "hints"):
            assert content.has(stem, kind), f"autograder/course/{stem}/{kind}.py is missing"
    leftovers = [
        name for name in ("hidden", "reference", "mutants", "probes", "hints") if (ROOT / "autograder" / name).exists()
    ]
    assert leftovers == [], f"per-kind folders are gone: move {leftovers} into autograder/course/<stem>/"
