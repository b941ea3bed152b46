"""Results on disk: results.jsonl (appended as grading goes), grades.csv, feedback, stats, gradebook."""

from __future__ import annotations

import csv
import json
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path

from autograder.grader.records import GradeRecord, record_key
from autograder.suite import STATES

__all__ = [
    "ResultsLog",
    "read_records",
    "read_results",
    "latest_records",
    "write_outputs",
    "gradebook_table",
    "record_key",
]


class ResultsLog:
    """Append-only results.jsonl: one JSON line per graded submission x notebook, flushed and fsynced."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._repair()

    def _repair(self) -> None:
        """A run killed mid-write can leave a partial last line: cut it so appends stay valid JSON lines."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            with open(self.path, "r+b") as fh:
                fh.truncate(cut)

    def append(self, record: GradeRecord) -> None:
        line = json.dumps(record.to_json(), ensure_ascii=False, sort_keys=True) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())


def read_records(path: Path) -> list[GradeRecord]:
    """All complete records of results.jsonl, old or new (a damaged line is skipped)."""
    records: list[GradeRecord] = []
    path = Path(path)
    if not path.exists():
        return records
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("source"), str):
                records.append(GradeRecord.from_json(record))
    return records


def read_results(path: Path) -> list[dict]:
    """The records of results.jsonl as JSON objects (`GradeRecord.to_json()`), for tools that want plain data."""
    return [record.to_json() for record in read_records(path)]


def latest_records(records: Iterable[GradeRecord]) -> list[GradeRecord]:
    """One record per (student, notebook): the last graded wins (a resubmission replaces the old one)."""
    chosen: dict[tuple[str, str], GradeRecord] = {}
    for record in records:
        chosen[(record.student or "?", record.stem or "?")] = record
    return sorted(chosen.values(), key=lambda r: (str(r.student), str(r.stem)))


def _fmt(x: float) -> str:
    return f"{x:g}"


def _safe_name(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.@+-]+", "_", str(text)).strip("._")
    return cleaned[:100] or "unknown"


def write_outputs(out: Path, records: list[GradeRecord]) -> None:
    """grades.csv, feedback/<student>/<stem>.md, stats.csv and stats.md from the graded records."""
    out = Path(out)
    latest = latest_records(records)
    grade_ids: list[str] = []
    for record in latest:
        for t in record.tests:
            if t["grade_id"] not in grade_ids:
                grade_ids.append(t["grade_id"])
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "notebook", "points", "max_points", *grade_ids, "reasons"])
        for record in latest:
            per: dict[str, float] = {}
            for t in record.tests:
                per[t["grade_id"]] = per.get(t["grade_id"], 0.0) + float(t["points"])
            writer.writerow(
                [
                    record.student,
                    record.stem or "",
                    _fmt(record.points),
                    _fmt(record.max_points),
                    *[_fmt(per[g]) if g in per else "" for g in grade_ids],
                    "; ".join(record.reasons)[:1000],
                ]
            )
    for record in latest:
        folder = out / "feedback" / _safe_name(record.student or "unknown")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{_safe_name(record.stem or 'unknown')}.md").write_text(feedback_markdown(record), encoding="utf-8")
    _write_stats(out, latest)


def feedback_markdown(record: GradeRecord) -> str:
    """Feedback for one student and notebook: test names, states, points, messages (never test code)."""
    lines = [
        f"# {record.stem or 'unidentified notebook'}: {_fmt(record.points)} / {_fmt(record.max_points)} points",
        "",
        f"- student: {record.student} ({record.student_rule})",
        f"- file: {record.source}",
        f"- notebook identified by: {record.stem_rule}",
    ]
    if record.device:
        lines.append(f"- graded on: {record.device}")
    for reason in record.reasons:
        lines.append(f"- note: {reason}")
    lines += ["", "| test | cell | state | points | message |", "|---|---|---|---|---|"]
    for t in record.tests:
        message = str(t.get("message", "")).replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {t['test']} | {t['grade_id']} | {t['state']} | {_fmt(t['points'])} / "
            f"{_fmt(t['max_points'])} | {message} |"
        )
    cells = record.cells
    failed = [d for d in cells.get("details", []) if d.get("status") == "failed"]
    lines += [
        "",
        f"Cells executed by the grader: {len(cells.get('ran', [])) + len(cells.get('failed', []))}, "
        f"skipped: {len(cells.get('skipped', []))} (demo, plot and test cells are not run).",
    ]
    for d in failed:
        lines.append(f"- cell {'+'.join(map(str, d['cells']))} failed: {d.get('error', '')}")
    lines += [
        "",
        "Hidden tests call your functions on fresh inputs; 'not attempted' means the stub still raises "
        "NotImplementedError.",
        "",
    ]
    return "\n".join(lines)


def _write_stats(out: Path, latest: list[GradeRecord]) -> None:
    rows: dict[tuple[str, str], dict] = {}
    for record in latest:
        for t in record.tests:
            row = rows.setdefault(
                (record.stem or "?", t["test"]),
                {
                    "notebook": record.stem or "?",
                    "test": t["test"],
                    "grade_id": t["grade_id"],
                    "max_points": float(t["max_points"]),
                    "n": 0,
                    "points": 0.0,
                    **{s: 0 for s in STATES},
                },
            )
            row["n"] += 1
            row["points"] += float(t["points"])
            if t["state"] in row:
                row[t["state"]] += 1
    table = []
    for row in rows.values():
        n = row["n"]
        table.append(
            {
                "notebook": row["notebook"],
                "test": row["test"],
                "grade_id": row["grade_id"],
                "n": n,
                "pass_rate": round(row["passed"] / n, 4) if n else 0.0,
                "mean_points": round(row["points"] / n, 4) if n else 0.0,
                "max_points": row["max_points"],
                **{s: row[s] for s in STATES},
            }
        )
    fields = ["notebook", "test", "grade_id", "n", "pass_rate", "mean_points", "max_points", *STATES]
    with open(out / "stats.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(table)
    md = ["# Per-test class statistics", "", "| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    for row in table:
        md.append(
            "| " + " | ".join(f"{row[f]:.2f}" if isinstance(row[f], float) else str(row[f]) for f in fields) + " |"
        )
    (out / "stats.md").write_text("\n".join(md) + "\n", encoding="utf-8")


def gradebook_table(records: list[GradeRecord]) -> str:
    """A plain-text gradebook: one line per student and notebook, with state counts."""
    latest = latest_records(records)
    header = ["student", "notebook", "points", "states", "notes"]
    body = []
    devices = sorted({r.device for r in latest if r.device})
    for record in latest:
        counts: dict[str, int] = {}
        for t in record.tests:
            counts[t["state"]] = counts.get(t["state"], 0) + 1
        states = ", ".join(f"{n} {s}" for s, n in counts.items()) or "-"
        notes = "; ".join(record.reasons)
        body.append(
            [
                str(record.student),
                str(record.stem or "?"),
                f"{_fmt(record.points)}/{_fmt(record.max_points)}",
                states,
                notes[:70] + ("..." if len(notes) > 70 else ""),
            ]
        )
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    lines.append(f"{len(body)} graded notebook(s); device: {', '.join(devices) or 'n/a'}")
    return "\n".join(lines)
