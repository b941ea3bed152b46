"""Numbers in the text that a run produced: stored once, quoted with an annotation, checked so they cannot go stale.

A solution notebook prints its headline numbers with `course_lib.results.report` (`result: key = value (±tol)`).
`python -m benchmarks.notebook_results` executes the notebooks and stores those values, with the measured run times,
in docs/results/<stem>.json. Every number that quotes a run carries an HTML comment right after it:

    2.59x fewer MACs<!-- result mac_ratio_test -->             (in a markdown cell of solutions/<stem>.ipynb)
    **2.59x**<!-- result 03_early_exit.mac_ratio_test -->      (in README.md or docs/*.md: the stem is named)

Two checks keep text and runs together:
- `claim_problems` (release --check, so the quality gate): each annotated number is within the key's tolerance of
  the stored value (plus half a unit of the last digit the text shows);
- `drift_problems` (tests/test_solutions_execute.py, after each notebook runs): the values the fresh run printed are
  within tolerance of the stored ones, and the run printed the same keys.
The run-time phrases of the notebook tables and headers (`run_time_phrases`) come from the same stored seconds;
`stamp_run_times` writes them into each header, with the sentence that these times assume free cores.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from course_lib.results import parse_results

__all__ = [
    "RESULTS_DIR",
    "Claim",
    "claims_in",
    "claim_problems",
    "drift_problems",
    "executed_results",
    "load_stored",
    "run_time_phrases",
    "seconds_phrase",
    "SHARED_CORES_NOTE",
    "stamp_run_times",
]

RESULTS_DIR = Path("docs") / "results"
ANNOTATION = re.compile(r"<!--\s*result\s+(?P<key>(?:(?P<stem>\d\d_[a-z0-9_]+)\.)?(?P<name>[a-z][a-z0-9_]*))\s*-->")
NUMBER = re.compile(r"[-+\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+\u2212]?\.\d+")
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)
WINDOW = 16  # characters before the annotation in which its number must end
DOCS = ("README.md", "docs")
RUN_TIME_MARK = "**Expected run time**"
# Every header's run-time paragraph says this, after the sentence with the small-size phrases.
SHARED_CORES_NOTE = (
    "The small-size times are for 2 free CPU cores; they grow when the cores are shared with other work."
)


@dataclass(frozen=True)
class Claim:
    """One annotated number: where it is, which stored result it quotes, and the number as written."""

    where: str
    stem: str
    key: str
    text: str
    start: int = 0  # offset of the number in the text it was found in

    @property
    def number(self) -> float:
        return float(self.text.replace(",", "").replace("\u2212", "-"))

    @property
    def half_unit(self) -> float:
        """Half a unit of the last digit shown (a value printed as 2.59 stands for 2.585-2.595)."""
        decimals = len(self.text.split(".")[1]) if "." in self.text else 0
        return 0.5 * 10.0**-decimals


def claims_in(text: str, where: str, own_stem: str | None) -> tuple[list[Claim], list[str]]:
    """The annotated numbers of `text`, and the annotations that have no number just before them or no stem."""
    claims, problems = [], []
    text = CODE.sub(lambda code: " " * len(code[0]), text)  # examples in code spans and blocks are not claims
    for match in ANNOTATION.finditer(text):
        stem = match["stem"] or own_stem
        if stem is None:
            problems.append(
                f"{where}: '{match[0]}' must name the notebook ('<!-- result NN_topic.{match['name']} -->')"
            )
            continue
        before = text[max(0, match.start() - WINDOW) : match.start()].rsplit("\n", 1)[-1]
        numbers = list(NUMBER.finditer(before))
        if not numbers:
            problems.append(f"{where}: '{match[0]}' has no number in the {WINDOW} characters before it")
            continue
        offset = match.start() - len(before) + numbers[-1].start()
        claims.append(Claim(where, stem, match["name"], numbers[-1][0], offset))
    return claims, problems


def load_stored(root: Path, stem: str) -> dict | None:
    """docs/results/<stem>.json as a dict, or None when the notebook's results were never stored."""
    path = Path(root) / RESULTS_DIR / f"{stem}.json"
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err}); rerun `python -m benchmarks.notebook_results`") from err
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise ValueError(f"{path}: no 'results' table; rerun `python -m benchmarks.notebook_results`")
    return data


def _documents(root: Path) -> list[tuple[str, str, str | None]]:
    """(where, text, own stem) for every markdown cell of the solutions and every markdown document."""
    import nbformat

    docs: list[tuple[str, str, str | None]] = []
    for path in sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                docs.append((f"solutions/{path.name} cell {index}", cell.source, path.stem))
    for name in DOCS:
        target = root / name
        files = sorted(target.rglob("*.md")) if target.is_dir() else [target] if target.exists() else []
        for path in files:
            docs.append((str(path.relative_to(root)), path.read_text(encoding="utf-8"), None))
    return docs


def claim_problems(root: Path) -> list[str]:
    """Every annotated number that disagrees with its stored result, or quotes a result that was never stored."""
    root = Path(root)
    problems: list[str] = []
    stored: dict[str, dict | None] = {}
    for where, text, own in _documents(root):
        claims, bad = claims_in(text, where, own)
        problems += bad
        for claim in claims:
            if claim.stem not in stored:
                try:
                    stored[claim.stem] = load_stored(root, claim.stem)
                except ValueError as err:
                    problems.append(str(err))
                    stored[claim.stem] = None
                    continue
            data = stored[claim.stem]
            rerun = f"`python -m benchmarks.notebook_results --stems {claim.stem}`"
            if data is None:
                problems.append(
                    f"{where}: quotes {claim.stem}.{claim.key}, but {claim.stem}'s results are not stored ({rerun})"
                )
                continue
            entry = data["results"].get(claim.key)
            if entry is None:
                problems.append(
                    f"{where}: quotes result {claim.key!r}, which {claim.stem}'s run does not report "
                    f"(stored: {', '.join(sorted(data['results'])) or 'none'})"
                )
                continue
            allowed = float(entry["tol"]) + claim.half_unit
            if abs(claim.number - float(entry["value"])) > allowed + 1e-12:
                problems.append(
                    f"{where}: says {claim.text} for {claim.stem}.{claim.key}, the stored run measured "
                    f"{entry['value']:.6g} (±{entry['tol']:.6g}): update the text to what the run prints"
                )
    return problems


def executed_results(nb: NotebookNode) -> dict[str, dict]:
    """The results an executed notebook printed (stdout of its code cells), as `parse_results` gives them."""
    found: dict[str, dict] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                found.update(parse_results(output.get("text", "")))
    return found


def drift_problems(stem: str, fresh: dict[str, dict], stored: dict | None) -> list[str]:
    """How a fresh run's results differ from the stored ones beyond their tolerance (empty: none)."""
    rerun = f"rerun `python -m benchmarks.notebook_results --stems {stem}` and update the text it flags"
    if stored is None:
        return [f"{stem}: no stored results in docs/results/{stem}.json; {rerun}"] if fresh else []
    old = stored["results"]
    problems = []
    if set(fresh) != set(old):
        new_keys, gone = sorted(set(fresh) - set(old)), sorted(set(old) - set(fresh))
        problems.append(f"{stem}: the run reports {new_keys or 'no new keys'}, no longer {gone or 'nothing'}; {rerun}")
    for key in sorted(set(fresh) & set(old)):
        entry = old[key]
        if not entry.get("checked", True):
            continue
        value, tol = fresh[key]["value"], float(entry["tol"])
        if not math.isfinite(value) or abs(value - float(entry["value"])) > tol + 1e-12:
            problems.append(
                f"{stem}: result {key} = {value:.6g} in this run, stored {entry['value']:.6g} (±{tol:.6g}); {rerun}"
            )
    return problems


def seconds_phrase(seconds: float) -> str:
    """A measured duration as the notebook tables say it: 'about 20 s', 'about 1 min', 'about 2.5 min'."""
    if seconds < 12.5:
        return "about 10 s"
    if seconds < 52.5:
        return f"about {int(5 * round(seconds / 5))} s"
    if seconds < 75:
        return "about 1 min"
    return f"about {round(seconds / 30) / 2:g} min"


def run_time_phrases(root: Path, stem: str) -> dict[str, str]:
    """{'small_first': ..., 'small_rerun': ...} from the stored seconds of `stem` (empty when none are stored)."""
    data = load_stored(root, stem)
    seconds = (data or {}).get("seconds") or {}
    phrases = {}
    for key, name in (("small_first", "first"), ("small_rerun", "rerun")):
        if isinstance(seconds.get(name), (int, float)):
            phrases[key] = seconds_phrase(float(seconds[name]))
    return phrases


def stamp_run_times(nb: NotebookNode, root: Path, stem: str) -> bool:
    """Write the measured run-time phrases into metadata.course.run_time and the first cell's run-time paragraph,
    and the shared-cores note (SHARED_CORES_NOTE) into that paragraph.

    The header quotes the metadata verbatim (autograder/tools/frame.py), so each old phrase is replaced in place:
    the first-run phrase first, then the re-run phrase after it. True when something changed.
    """
    phrases = run_time_phrases(root, stem)
    run_time = nb.metadata.setdefault("course", {}).setdefault("run_time", {})
    if not nb.cells:
        return False
    changed = False
    first = nb.cells[0]
    start = first.source.find(RUN_TIME_MARK)
    position = start
    for key in ("small_first", "small_rerun"):
        old, new = run_time.get(key), phrases.get(key)
        if new is None or old == new:
            if isinstance(old, str) and start >= 0 and old in first.source[position:]:
                position = first.source.index(old, position) + len(old)
            continue
        if isinstance(old, str) and start >= 0 and old in first.source[position:]:
            at = first.source.index(old, position)
            first.source = first.source[:at] + new + first.source[at + len(old) :]
            position = at + len(new)
        run_time[key] = new
        changed = True
    return _stamp_shared_cores_note(first, position) or changed


def _sentence_end(text: str, begin: int, end: int) -> int | None:
    """The index of the first full stop in text[begin:end] that ends a sentence outside parentheses, or None."""
    depth = 0
    for at in range(max(begin, 0), end):
        char = text[at]
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "." and depth <= 0 and (at + 1 == end or text[at + 1].isspace()):
            return at
    return None


def _stamp_shared_cores_note(cell: NotebookNode, after: int) -> bool:
    """Put SHARED_CORES_NOTE on its own line after the sentence that holds position `after` (the small-size
    phrases) of the run-time paragraph, or at its end; False when it is there already or there is no paragraph."""
    source = cell.source
    start = source.find(RUN_TIME_MARK)
    if start < 0:
        return False
    end = source.find("\n\n", start)
    end = len(source) if end < 0 else end
    if SHARED_CORES_NOTE in " ".join(source[start:end].split()):  # also when a line break falls inside it
        return False
    stop = _sentence_end(source, max(after, start + len(RUN_TIME_MARK)), end)
    if stop is None or stop + 1 == end:
        cell.source = source[:end].rstrip() + "\n" + SHARED_CORES_NOTE + source[end:]
    else:  # the rest of the paragraph goes on on the next line
        rest = source[stop + 1 :].lstrip(" ")
        rest = rest[1:] if rest.startswith("\n") else rest
        cell.source = source[: stop + 1] + "\n" + SHARED_CORES_NOTE + "\n" + rest
    return True


def _written_as(claim: Claim, value: float) -> str:
    """`value` written with as many decimals as the claim shows (and its minus sign, if it used U+2212)."""
    decimals = len(claim.text.split(".")[1]) if "." in claim.text else 0
    text = f"{value:.{decimals}f}"
    if float(text) == 0:
        text = text.lstrip("-")  # no "-0.0"
    if claim.text.lstrip()[:1] == "+" and value >= 0:
        text = "+" + text
    if "\u2212" in claim.text:
        text = text.replace("-", "\u2212")
    if "," in claim.text:
        whole, _, frac = text.partition(".")
        text = f"{int(whole):,}" + (f".{frac}" if frac else "")
    return text


def update_text(text: str, where: str, own_stem: str | None, stored: dict[str, dict | None]) -> str:
    """`text` with every annotated number rewritten to its stored value (prose around it is left to the author)."""
    claims, _ = claims_in(text, where, own_stem)
    for claim in sorted(claims, key=lambda c: c.start, reverse=True):
        data = stored.get(claim.stem)
        entry = (data or {}).get("results", {}).get(claim.key)
        if entry is not None:
            new = _written_as(claim, float(entry["value"]))
            text = text[: claim.start] + new + text[claim.start + len(claim.text) :]
    return text


def update_claims(root: Path) -> list[str]:
    """Rewrite every annotated number of the solutions and docs to its stored value; return the files changed."""
    import nbformat

    root = Path(root)
    stored: dict[str, dict | None] = {}
    for path in sorted((root / RESULTS_DIR).glob("*.json")):
        stored[path.stem] = load_stored(root, path.stem)
    changed = []
    for path in sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        edited = False
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                new = update_text(cell.source, f"{path.name} cell {index}", path.stem, stored)
                edited |= new != cell.source
                cell.source = new
        if edited:
            text = nbformat.writes(nb, version=4)  # release.notebook_json's canonical form (no import cycle)
            path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
            changed.append(str(path.relative_to(root)))
    for name in DOCS:
        target = root / name
        for path in sorted(target.rglob("*.md")) if target.is_dir() else [target] if target.exists() else []:
            old = path.read_text(encoding="utf-8")
            new = update_text(old, str(path), None, stored)
            if new != old:
                path.write_text(new, encoding="utf-8")
                changed.append(str(path.relative_to(root)))
    return changed


def main(argv: list[str] | None = None) -> int:
    """`python -m autograder.tools.claims [--update]`: list the drifted numbers, or rewrite them to the stored runs."""
    import argparse

    parser = argparse.ArgumentParser(description="Check (or --update) the annotated numbers against docs/results/.")
    parser.add_argument("--update", action="store_true", help="rewrite each annotated number to its stored value")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[2]
    if args.update:
        for rel in update_claims(root):
            print(f"updated {rel}: re-read the sentences around the numbers")
    problems = claim_problems(root)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
