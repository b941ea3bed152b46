"""Execute solution notebooks top to bottom with nbclient at the current run size.

    python -m autograder execute [--stems 00_orientation ...] [--out runs/executed] [--timeout SECONDS]
                                 [--no-figures]

The run size is COURSE_SIZE (default small), inherited by the kernel. Executed copies (with outputs)
go to OUT/<stem>.ipynb, never back into solutions/; the kernel's working folder is OUT so stray files
land there too. The kernel draws with matplotlib's inline backend (headless, whatever MPLBACKEND says
here), so every plot stays in the copy as an image/png output; --no-figures draws with Agg and keeps
none. A failing cell stops that notebook: the command prints the cell and the error, goes on with the
next notebook, and exits non-zero.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.tools.release import ROOT, read_notebook, solution_stems

__all__ = ["INLINE_BACKEND", "ExecutionResult", "kernel_env", "execute_notebook", "execute_stems", "main"]

DEFAULT_OUT = ROOT / "runs" / "executed"
# Per-cell limits by run size: a full-size training cell on a Colab T4 may take several minutes.
CELL_TIMEOUT = {"small": 900, "full": 3600}
DEFAULT_TIMEOUT = CELL_TIMEOUT["small"]
# Jupyter's own headless backend: plt.show() (and a figure left open at the end of a cell) becomes a PNG output.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def kernel_env(figures: bool = True) -> dict[str, str]:
    """The executing kernel's environment: this one, with MPLBACKEND set to the inline backend or to Agg."""
    return dict(os.environ, MPLBACKEND=INLINE_BACKEND if figures else "Agg")


def default_timeout() -> int:
    """The per-cell limit for the current run size (COURSE_SIZE)."""
    from course_lib.env import run_size

    return CELL_TIMEOUT[run_size()]


@dataclass
class ExecutionResult:
    """How one notebook run went."""

    stem: str
    ok: bool
    seconds: float
    output: Path | None
    error: str = ""
    cell_index: int | None = None
    cell_source: str = ""


def _summarize_error(err: Exception) -> str:
    """The error part of an nbclient CellExecutionError (its own text repeats the cell source)."""
    ename = getattr(err, "ename", type(err).__name__)
    evalue = getattr(err, "evalue", str(err))
    return f"{ename}: {evalue}".strip()


def execute_notebook(
    path: Path | str,
    out_dir: Path | str = DEFAULT_OUT,
    timeout: int = DEFAULT_TIMEOUT,
    kernel_name: str = "python3",
    figures: bool = True,
) -> ExecutionResult:
    """Run one notebook in a fresh kernel; write the executed copy to out_dir/<name>; never raise for cell errors.

    With `figures`, plots stay in the copy as inline PNG outputs (see `kernel_env`).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path).resolve()
    out_dir = Path(out_dir).resolve()
    if out_dir == path.parent:
        raise ValueError(f"refusing to write executed notebooks into the source folder {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    nb = read_notebook(path)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=kernel_name, allow_errors=False, resources={"metadata": {"path": str(out_dir)}}
    )
    start = time.perf_counter()
    error, index, source = "", None, ""
    try:
        client.execute(env=kernel_env(figures))
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        error = (
            _summarize_error(err)
            if isinstance(err, CellExecutionError)
            else f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        )
        # the failing cell is the last one that started executing
        started = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count")]
        index = started[-1] if started else None
        if isinstance(err, (CellTimeoutError, DeadKernelError)):
            index = getattr(client, "_current_cell_index", index)
        source = nb.cells[index].source if index is not None else ""
    seconds = time.perf_counter() - start
    target = out_dir / path.name
    target.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return ExecutionResult(path.stem, not error, seconds, target, error, index, source)


def execute_stems(
    stems: Iterable[str] | None = None,
    out_dir: Path | str = DEFAULT_OUT,
    timeout: int | None = None,
    root: Path = ROOT,
    echo: bool = True,
    figures: bool = True,
) -> list[ExecutionResult]:
    """Execute solutions/<stem>.ipynb for each stem (all by default), printing wall time per notebook.

    `timeout` is the per-cell limit in seconds (default: by run size, CELL_TIMEOUT); `figures` keeps the plots.
    """
    root = Path(root)
    timeout = timeout or default_timeout()
    known = solution_stems(root)
    stems = list(stems) if stems else known
    unknown = [s for s in stems if s not in known]
    if unknown:
        raise FileNotFoundError(f"no solutions/<stem>.ipynb for {', '.join(unknown)} (known: {', '.join(known)})")
    size = os.environ.get("COURSE_SIZE", "small") or "small"
    if echo:
        print(f"[execute] per-cell limit {timeout} s", flush=True)
    results = []
    for stem in stems:
        if echo:
            print(f"[execute] {stem} (COURSE_SIZE={size}) ...", flush=True)
        result = execute_notebook(root / "solutions" / f"{stem}.ipynb", out_dir, timeout, figures=figures)
        results.append(result)
        if echo:
            status = "ok" if result.ok else "FAILED"
            print(f"[execute] {stem}: {status} in {result.seconds:.1f} s -> {result.output}", flush=True)
            if not result.ok:
                print(f"  cell {result.cell_index}:")
                for line in result.cell_source.splitlines()[:40]:
                    print(f"    | {line}")
                print(f"  error: {result.error}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    """`python -m autograder execute`."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m autograder execute",
        description="Execute solution notebooks top to bottom (COURSE_SIZE run size).",
    )
    parser.add_argument("--stems", nargs="+", help="notebook stems (default: every solution notebook)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for executed copies (runs/executed)")
    parser.add_argument(
        "--timeout", type=int, default=None, help=f"per-cell limit in seconds (default by COURSE_SIZE: {CELL_TIMEOUT})"
    )
    parser.add_argument(
        "--no-figures", action="store_true", help="draw with Agg: the executed copies keep no images (a little faster)"
    )
    args = parser.parse_args(argv)
    try:
        results = execute_stems(args.stems, args.out, args.timeout, figures=not args.no_figures)
    except (FileNotFoundError, ValueError) as err:
        print(f"execute FAILED: {err}", file=sys.stderr)
        return 2
    total = sum(r.seconds for r in results)
    failed = [r.stem for r in results if not r.ok]
    print(
        f"[execute] {len(results) - len(failed)}/{len(results)} notebooks ran cleanly in {total:.1f} s"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0
