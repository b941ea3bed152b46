"""The grader against adversarial submissions (issue 9), graded in one batch with a normal submission.

Built on the synthetic stem of tests/grading_fixtures.py, with its hidden suite in a tmp folder
passed by --hidden-dir. Each submission in tests/adversarial/submissions.py tries one attack. Must show:
every attack scores 0 on what it tried to cheat with an explicit reason; the instructor's files (every
file under autograder/, solutions/ and this test's own tree) are unchanged (sha256); nothing an attack
started is still running (a marker in the command line / environment, searched in /proc); no forged
line reaches the outputs; the normal submission gets its normal grade. Memory, file and output limits
are small here so the batch stays quick (about 2-4 minutes on a loaded 2-core machine).

Set ADVERSARIAL_SUMMARY=/path/summary.json to keep a summary for benchmarks/grader_faults_figure.py.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

import grading_fixtures as S
from adversarial.submissions import Attack, build
from autograder.grader.cli import main
from autograder.grader.report import read_results
from autograder.grader.sandbox import choose_isolation, find_marked

ROOT = Path(__file__).resolve().parent.parent
LIMITS = [
    "--workers",
    "2",
    "--test-timeout",
    "8",
    "--cell-timeout",
    "15",
    "--notebook-timeout",
    "120",
    "--memory-limit",
    "1536M",
    "--file-limit",
    "32M",
    "--output-limit",
    "64K",
    "--cpu-limit",
    "150",
    "--quiet",
]


def tree_hashes(*roots: Path, skip: tuple[Path, ...] = ()) -> dict[str, str]:
    """sha256 of every file under `roots` (bytecode caches excluded: the judge itself writes them)."""
    hashes: dict[str, str] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if "__pycache__" in path.parts or path.suffix == ".pyc" or not path.is_file() or path.is_symlink():
                continue
            if any(path == s or s in path.parents for s in skip):
                continue
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            hashes[str(path)] = digest.hexdigest()
    return hashes


class Oracle:
    """A TCP server on 127.0.0.1 that answers anyone: the network attack succeeds only if it is reachable."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            with conn:
                conn.sendall(b"answer")

    def close(self) -> None:
        self.stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("adversarial")
    hidden = base / "hidden"
    hidden.mkdir()
    hidden_file = hidden / f"{S.STEM}.py"
    hidden_file.write_text(S.SUITE_SOURCE)
    release = base / "release"
    S.write(release / f"{S.STEM}.ipynb", S.release())
    out = base / "out"
    out.mkdir()
    # Without a working bubblewrap the grader refuses to grade unless told --sandbox process (issue 17).
    consent = S.sandbox_args()
    limits = [*LIMITS, *consent]
    isolation, note = choose_isolation("process" if consent else "auto")
    mark = f"ADVMARK-{uuid.uuid4().hex}"
    oracle = Oracle()
    try:
        subs, attacks = build(base, hidden_file, out, ROOT, mark, oracle.port, isolation == "bubblewrap")
        before = tree_hashes(ROOT / "autograder", ROOT / "solutions", base, skip=(out,))
        t0 = time.monotonic()
        code = main([str(subs), "--out", str(out), "--hidden-dir", str(hidden), "--release-dir", str(release), *limits])
        seconds = time.monotonic() - t0
        after = tree_hashes(ROOT / "autograder", ROOT / "solutions", base, skip=(out,))
        time.sleep(1.0)  # a straggler forked at the very end would show up now
        left = find_marked(mark)
    finally:
        oracle.close()
    records = read_results(out / "results.jsonl")
    result = {
        "base": base,
        "out": out,
        "subs": subs,
        "attacks": attacks,
        "records": records,
        "code": code,
        "before": before,
        "after": after,
        "left": left,
        "mark": mark,
        "isolation": isolation,
        "note": note,
        "oracle_hits": oracle.hits,
        "seconds": seconds,
    }
    result["verdicts"] = {name: _verdict(attack, result) for name, attack in attacks.items()}
    summary_path = os.environ.get("ADVERSARIAL_SUMMARY")
    if summary_path:
        _write_summary(Path(summary_path), result)
    return result


def _record_for(attack: Attack, records: list[dict]) -> dict | None:
    if attack.student.startswith("zip:"):
        hits = [r for r in records if r.get("source", "").endswith("!" + attack.relpath_hint)]
    elif attack.relpath_hint:
        hits = [r for r in records if r.get("relpath", "").startswith(attack.relpath_hint)]
    else:
        hits = [r for r in records if r.get("student") == attack.student]
    return hits[-1] if hits else None


def _verdict(attack: Attack, batch: dict) -> dict:
    """Did the grader hold against this attack? {'held': bool, 'problems': [...], 'record': ...}."""
    record = _record_for(attack, batch["records"])
    problems: list[str] = []
    if record is None:
        return {"held": False, "problems": ["no record (result lost)"], "lost": True, "skipped": False}
    sandboxed = batch["isolation"] == "bubblewrap"
    if attack.needs_sandbox and not sandboxed:
        return {"held": None, "problems": ["needs bubblewrap; not checked"], "lost": False, "skipped": True}
    tests = {t["test"]: t for t in record.get("tests", [])}
    for name in attack.zero:
        t = tests.get(name)
        if t is None:
            if attack.category == "code":
                problems.append(f"{name}: no result")
            continue
        if t["state"] == "passed" or float(t["points"]) != 0:
            problems.append(f"{name}: {t['state']} with {t['points']} points")
        if not str(t.get("message", "")).strip():
            problems.append(f"{name}: no reason given")
    if attack.category != "code" and float(record.get("points", 0)) != 0:
        problems.append(f"record has {record.get('points')} points")
    if (
        attack.category != "code"
        and not record.get("reasons")
        and not any(str(t.get("message", "")).strip() for t in tests.values())
    ):
        problems.append("no explicit reason")
    if attack.reason and attack.reason not in " ".join(record.get("reasons", [])) + " ".join(
        str(t.get("message", "")) for t in tests.values()
    ):
        problems.append(f"reason does not mention {attack.reason!r}: {record.get('reasons')}")
    for name in attack.normal:
        t = tests.get(name)
        if t is None or t["state"] != "passed":
            problems.append(f"honest part {name} did not pass: {t}")
    if attack.check is not None:
        problems += attack.check(record, batch)
    return {
        "held": not problems,
        "problems": problems,
        "lost": False,
        "skipped": False,
        "states": {k: v["state"] for k, v in tests.items()},
    }


def _write_summary(path: Path, batch: dict) -> None:
    rows = []
    for name, attack in batch["attacks"].items():
        v = batch["verdicts"][name]
        rows.append(
            {
                "name": name,
                "what": attack.what,
                "category": attack.category,
                "klass": attack.klass,
                "stem": attack.stem,
                "held": v["held"],
                "lost": v["lost"],
                "skipped": v["skipped"],
                "problems": v["problems"],
                "states": v.get("states", {}),
            }
        )
    alice = next((r for r in batch["records"] if r.get("student") == "alice"), {})
    summary = {
        "isolation": batch["isolation"],
        "note": batch["note"],
        "seconds": round(batch["seconds"], 1),
        "submissions": len(batch["attacks"]) + 1,
        "records": len(batch["records"]),
        "normal_points": alice.get("points"),
        "normal_max": alice.get("max_points"),
        "files_changed": sorted(k for k in batch["before"] if batch["before"][k] != batch["after"].get(k)),
        "processes_left": len(batch["left"]),
        "oracle_hits": batch["oracle_hits"],
        "attacks": rows,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=1, ensure_ascii=False))


# ---------------------------------------------------------------------------------------------


def test_batch_completed(batch: dict) -> None:
    assert batch["code"] == 0
    sources = {r["source"] for r in batch["records"]}
    assert len(sources) == len(batch["records"]), "a submission was graded twice"
    lost = [n for n, v in batch["verdicts"].items() if v["lost"]]
    assert not lost, f"results lost: {lost}"


def test_normal_submission_keeps_its_grade(batch: dict) -> None:
    alice = [r for r in batch["records"] if r.get("student") == "alice"]
    assert len(alice) == 1, [r["source"] for r in alice]  # a zip member named '../alice/..' is not alice
    record = alice[0]
    assert record["points"] == record["max_points"] == 4, record["tests"]
    assert {t["state"] for t in record["tests"]} == {"passed"}
    assert record["isolation"] == batch["isolation"]


def test_every_attack_scores_zero_with_a_reason(batch: dict) -> None:
    failed = {n: v["problems"] for n, v in batch["verdicts"].items() if v["held"] is False}
    assert not failed, json.dumps(failed, indent=1, ensure_ascii=False)[:4000]


def test_instructor_files_unchanged(batch: dict) -> None:
    before, after = batch["before"], batch["after"]
    changed = sorted(k for k in before if before[k] != after.get(k))
    added = sorted(set(after) - set(before))
    assert not changed and not added, f"changed: {changed}, added: {added}"
    for path in (ROOT / "autograder").rglob("*.py"):
        assert batch["mark"] not in path.read_text(encoding="utf-8", errors="replace"), path


def test_nothing_left_running(batch: dict) -> None:
    assert batch["left"] == [], f"processes carrying the attack marker are still running: {batch['left']}"


def test_outputs_not_forged(batch: dict) -> None:
    out = batch["out"]
    for path in out.rglob("*"):
        if path.is_file():
            assert batch["mark"] not in path.read_text(encoding="utf-8", errors="replace"), path
    with open(out / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    alice = [r for r in rows if r["student"] == "alice"]
    assert len(alice) == 1 and alice[0]["points"] == "4", alice  # the CSV-injection folder name forged nothing
    stems = {"90_synthetic", ""} | {a.stem for a in batch["attacks"].values()}  # attacks on real notebooks too
    assert all(r["notebook"] in stems for r in rows), sorted({r["notebook"] for r in rows} - stems)
    feedback = out / "feedback"
    for path in feedback.rglob("*"):
        assert feedback in path.resolve().parents, f"feedback written outside its folder: {path}"


def test_output_is_bounded(batch: dict) -> None:
    record = next(r for r in batch["records"] if r.get("student") == "a06_print_gigabytes")
    mib = batch["attacks"]["a06_print_gigabytes"].extra["print_mib"]
    assert record["output_bytes"] >= mib * 2**20
    assert any("printed" in reason for reason in record["reasons"]), record["reasons"]
    assert (batch["out"] / "results.jsonl").stat().st_size < 2 * 2**20


def test_network_and_files_isolated(batch: dict) -> None:
    if batch["isolation"] != "bubblewrap":
        pytest.skip(f"bubblewrap unavailable here: {batch['note']}")
    assert batch["oracle_hits"] == 0, "a submission reached a server on the grader's loopback"
    by = {r.get("student"): r for r in batch["records"]}
    for student in ("a01_read_secrets", "a08_socket", "a03_forge_results"):
        scale = next(t for t in by[student]["tests"] if t["test"] == "scale_by_k")
        assert scale["state"] in ("error", "not attempted"), scale


# ---------------------------------------------------------------------------------------------
# Unit checks (no processes): what the judge ships to a sandboxed runner


def test_shipped_reference_is_minimal() -> None:
    from autograder import content
    from autograder.grader.trusted import closure_source, reference_closure

    src = "import math\nA = 2\ndef f(x):\n    return g(x) * A\ndef g(x):\n    return math.sqrt(x)\ndef secret():\n    return 42\n"
    shipped = closure_source(src, ["f"])
    assert "def f" in shipped and "def g" in shipped and "A = 2" in shipped and "secret" not in shipped
    with pytest.raises(KeyError):
        closure_source(src, ["missing"])
    probes = content.load("03_early_exit", "probes")
    assert probes.reference_helpers("call_isolated", ("threshold_sweep", ("entropy", "threshold_sweep"))) == (
        "entropy",
    )  # the function under test is never shipped
    code = reference_closure("03_early_exit", ["entropy"])
    assert "def entropy" in code and "def threshold_sweep" not in code and "def choose_threshold" not in code
