"""Results on disk: results.jsonl (appended as grading goes), grades.csv, feedback, stats, gradebook."""
from __future__ import annotations

import csv
import json
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path

from autograder.suite import STATES

__all__ = ["ResultsLog", "read_results", "latest_records", "write_outputs", "gradebook_table", "record_key"]


def record_key(source: str, sha256: str) -> str:
    """Identity of a graded submission file: where it came from and its content hash."""
    return f"{source}#{sha256}"


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

    def append(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())


def read_results(path: Path) -> list[dict]:
    """All complete records of results.jsonl (a damaged line is skipped)."""
    records: list[dict] = []
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
            if isinstance(record, dict) and "source" in record:
                records.append(record)
    return records


def latest_records(records: Iterable[dict]) -> list[dict]:
    """One record per (student, notebook): the last graded wins (a resubmission replaces the old one)."""
    chosen: dict[tuple, dict] = {}
    for record in records:
        chosen[(record.get("student") or "?", record.get("stem") or "?")] = record
    return sorted(chosen.values(), key=lambda r: (str(r.get("student")), str(r.get("stem"))))


def _fmt(x: float) -> str:
    return f"{x:g}"


def _safe_name(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.@+-]+", "_", str(text)).strip("._")
    return cleaned[:100] or "unknown"


def write_outputs(out: Path, records: list[dict]) -> None:
    """grades.csv, feedback/<student>/<stem>.md, stats.csv and stats.md from the graded records."""
    out = Path(out)
    latest = latest_records(records)
    grade_ids: list[str] = []
    for record in latest:
        for t in record.get("tests", []):
            if t["grade_id"] not in grade_ids:
                grade_ids.append(t["grade_id"])
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", "notebook", "points", "max_points", *grade_ids, "reasons"])
        for record in latest:
            per: dict[str, float] = {}
            for t in record.get("tests", []):
                per[t["grade_id"]] = per.get(t["grade_id"], 0.0) + float(t["points"])
            writer.writerow([record.get("student"), record.get("stem") or "", _fmt(record.get("points", 0)),
                             _fmt(record.get("max_points", 0)),
                             *[_fmt(per[g]) if g in per else "" for g in grade_ids],
                             "; ".join(record.get("reasons", []))[:1000]])
    for record in latest:
        folder = out / "feedback" / _safe_name(record.get("student", "unknown"))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{_safe_name(record.get('stem') or 'unknown')}.md").write_text(feedback_markdown(record),
                                                                                 encoding="utf-8")
    _write_stats(out, latest)


def feedback_markdown(record: dict) -> str:
    """Feedback for one student and notebook: test names, states, points, messages (never test code)."""
    lines = [f"# {record.get('stem') or 'unidentified notebook'}: {_fmt(record.get('points', 0))} / "
             f"{_fmt(record.get('max_points', 0))} points", "",
             f"- student: {record.get('student')} ({record.get('student_rule', '')})",
             f"- file: {record.get('source')}",
             f"- notebook identified by: {record.get('stem_rule', '')}"]
    if record.get("device"):
        lines.append(f"- graded on: {record['device']}")
    for reason in record.get("reasons", []):
        lines.append(f"- note: {reason}")
    lines += ["", "| test | cell | state | points | message |", "|---|---|---|---|---|"]
    for t in record.get("tests", []):
        message = str(t.get("message", "")).replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {t['test']} | {t['grade_id']} | {t['state']} | {_fmt(t['points'])} / "
                     f"{_fmt(t['max_points'])} | {message} |")
    cells = record.get("cells") or {}
    failed = [d for d in cells.get("details", []) if d.get("status") == "failed"]
    lines += ["", f"Cells executed by the grader: {len(cells.get('ran', [])) + len(cells.get('failed', []))}, "
                  f"skipped: {len(cells.get('skipped', []))} (demo, plot and test cells are not run)."]
    for d in failed:
        lines.append(f"- cell {'+'.join(map(str, d['cells']))} failed: {d.get('error', '')}")
    lines += ["", "Hidden tests call your functions on fresh inputs; 'not attempted' means the stub still raises "
                  "NotImplementedError.", ""]
    return "\n".join(lines)


def _write_stats(out: Path, latest: list[dict]) -> None:
    rows: dict[tuple[str, str], dict] = {}
    for record in latest:
        for t in record.get("tests", []):
            row = rows.setdefault((record.get("stem") or "?", t["test"]),
                                  {"notebook": record.get("stem") or "?", "test": t["test"],
                                   "grade_id": t["grade_id"], "max_points": float(t["max_points"]), "n": 0,
                                   "points": 0.0, **{s: 0 for s in STATES}})
            row["n"] += 1
            row["points"] += float(t["points"])
            if t["state"] in row:
                row[t["state"]] += 1
    table = []
    for row in rows.values():
        n = row["n"]
        table.append({"notebook": row["notebook"], "test": row["test"], "grade_id": row["grade_id"],
                      "n": n, "pass_rate": round(row["passed"] / n, 4) if n else 0.0,
                      "mean_points": round(row["points"] / n, 4) if n else 0.0,
                      "max_points": row["max_points"], **{s: row[s] for s in STATES}})
    fields = ["notebook", "test", "grade_id", "n", "pass_rate", "mean_points", "max_points", *STATES]
    with open(out / "stats.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(table)
    md = ["# Per-test class statistics", "", "| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    for row in table:
        md.append("| " + " | ".join(f"{row[f]:.2f}" if isinstance(row[f], float) else str(row[f])
                                    for f in fields) + " |")
    (out / "stats.md").write_text("\n".join(md) + "\n", encoding="utf-8")


def gradebook_table(records: list[dict]) -> str:
    """A plain-text gradebook: one line per student and notebook, with state counts."""
    latest = latest_records(records)
    header = ["student", "notebook", "points", "states", "notes"]
    body = []
    devices = sorted({r.get("device") for r in latest if r.get("device")})
    for record in latest:
        counts: dict[str, int] = {}
        for t in record.get("tests", []):
            counts[t["state"]] = counts.get(t["state"], 0) + 1
        states = ", ".join(f"{n} {s}" for s, n in counts.items()) or "-"
        notes = "; ".join(record.get("reasons", []))
        body.append([str(record.get("student")), str(record.get("stem") or "?"),
                     f"{_fmt(record.get('points', 0))}/{_fmt(record.get('max_points', 0))}", states,
                     notes[:70] + ("..." if len(notes) > 70 else "")])
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in body]
    lines.append(f"{len(body)} graded notebook(s); device: {', '.join(devices) or 'n/a'}")
    return "\n".join(lines)
