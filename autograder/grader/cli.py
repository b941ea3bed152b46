"""Command line: `python -m autograder grade ...` (main) and `python -m autograder report DIR` (report_main)."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import stat
import sys
import time
import traceback
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from autograder.grader import notebook as nbmod
from autograder.grader import report as rep
from autograder.grader.judge import GradeOptions, NotebookContext, grade_notebook_bytes
from autograder.grader.records import GradeRecord
from autograder.grader.sandbox import SandboxConfig, SandboxUnavailable, parse_size
from autograder.grader.suites import HIDDEN_ENV_VAR, find_suites, load_suite

__all__ = ["main", "report_main", "collect_submissions", "Submission", "grade"]

ZIP_MEMBER_LIMIT = 64 * 1024 * 1024
ZIP_TOTAL_LIMIT = 1024 * 1024 * 1024
ZIP_MAX_MEMBERS = 5000
FILE_LIMIT = nbmod.MAX_NOTEBOOK_BYTES

RULES = """\
Which notebook: notebook metadata course.stem; else a known stem in the file name; else a two-digit
number in the file name that starts exactly one known stem; else content similarity with the release
notebooks (--release-dir) and the graded function names of the hidden suites.
If the metadata and the file name name different known notebooks, the one whose graded functions
the notebook defines more of is graded (a tie keeps the metadata), and the record says so.
Which student: the top-level entry of what was collected, nothing deeper: nbgrader
submitted/<student>/<assignment>/<file>; else the first folder below the folder given on the command
line (folders named submissions, submitted, notebooks or after the notebook are skipped), whatever
lies deeper, including the member paths of an archive in that folder (an archive in a student's
folder speaks only for that student); for a zip given directly (an LMS export) or lying at the top
of the folder, the same rules on each member path; else the file name without the stem
(03_early_exit_alice.ipynb -> alice); else the file name. A notebook given directly as a file uses
its file name only (or the nbgrader layout of its full path).
Two or more files of one student for one notebook (--duplicates): newest (default) counts the file
with the latest LMS timestamp in its name (2024-03-05-14-30-00 style), else the highest resubmission
counter (name (1).ipynb, name-2.ipynb), else the latest modification time, ties broken by the path;
best grades all and counts the highest score (ties: newest). Every file keeps its record in
results.jsonl; the gradebook (gradebook.txt) lists which file counted and which were set aside.
Exit status 3 when no submission could be identified as a known notebook.
Cells run (--cells definitions): setup cells, solution cells (nbgrader metadata, or cells defining a
graded function when metadata is lost) and cells whose top level only imports/defines/assigns;
test cells never run. --cells all: every cell that is not a test cell."""


@dataclass
class Submission:
    """One notebook file to grade: where it came from and how to read its bytes."""

    source: str
    relpath: str  # what the record shows: the path below the collected folder, `<archive>!<member>` in an archive
    read: Callable[[], bytes]
    error: str = ""
    container: str = ""  # an archive member: the archive's path below the collected folder (its name if given)
    member: str = ""  # an archive member: its path inside the archive
    mtime: float | None = None  # the file's (or archive member's) modification time
    given: bool = False  # a file given directly on the command line (no folder names its student)

    def student(self, stem: str | None) -> tuple[str, str]:
        """Who this submission belongs to (notebook.identify_student's rules on where it was collected)."""
        if self.member:
            return nbmod.identify_student(self.container, stem, member=self.member)
        return nbmod.identify_student(self.relpath, stem, root_is_container=not self.given)


def _file_reader(path: Path) -> Callable[[], bytes]:
    def read() -> bytes:
        size = path.stat().st_size
        if size > FILE_LIMIT:
            raise ValueError(f"file is too large ({size / 2**20:.0f} MiB)")
        return path.read_bytes()

    return read


def _unsafe_member(name: str) -> str:
    posix = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in posix.parts:
        return "'..' in the path"
    return ""


def _zip_submissions(path: Path, shown: str, container: str = "") -> list[Submission]:
    """The notebooks of an archive; `container` is its path below the collected folder ('' if given directly)."""
    subs: list[Submission] = []
    inner = len(PurePosixPath(container).parts) > 1  # lies in a (student's) folder: show where
    owner = container or path.name
    try:
        zf = zipfile.ZipFile(path)
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as err:
        return [
            Submission(shown, owner, lambda: b"", f"not a readable zip archive ({err})", container=owner, member="")
        ]
    total = 0
    count = 0
    for info in infos:
        name = info.filename
        if info.is_dir() or not name.lower().endswith(".ipynb"):
            continue
        parts = PurePosixPath(name.replace("\\", "/")).parts
        why = _unsafe_member(name)
        if not why and any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue  # hidden files and macOS resource forks
        source = f"{shown}!{name}"
        relpath = f"{container}!{name}" if inner else name
        try:
            mtime: float | None = time.mktime((*info.date_time, 0, 0, -1))
        except (OverflowError, ValueError):
            mtime = None
        mode = info.external_attr >> 16
        if not why and stat.S_ISLNK(mode):
            why = "symbolic link"
        count += 1
        if not why and count > ZIP_MAX_MEMBERS:
            why = f"more than {ZIP_MAX_MEMBERS} notebooks in the archive"
        total += info.file_size
        if not why and info.file_size > ZIP_MEMBER_LIMIT:
            why = f"member too large ({info.file_size / 2**20:.0f} MiB)"
        if not why and total > ZIP_TOTAL_LIMIT:
            why = "archive expands beyond the size limit"
        if why:
            subs.append(Submission(source, relpath, lambda: b"", f"zip member refused: {why}", owner, name, mtime))
            continue

        def read(info: zipfile.ZipInfo = info) -> bytes:
            with zipfile.ZipFile(path) as z, z.open(info) as fh:
                data = fh.read(ZIP_MEMBER_LIMIT + 1)
            if len(data) > ZIP_MEMBER_LIMIT:
                raise ValueError("zip member expands beyond the size limit")
            return data

        subs.append(Submission(source, relpath, read, "", owner, name, mtime))
    zf.close()
    return subs


def collect_submissions(paths: list[str]) -> tuple[list[Submission], list[str]]:
    """Expand files, folders (recursively) and zip archives into submissions; also return warnings."""
    subs: list[Submission] = []
    warnings: list[str] = []
    for arg in paths:
        path = Path(arg)
        if not path.exists():
            warnings.append(f"{arg}: no such file or folder")
            continue
        if path.is_dir():
            for item in sorted(path.rglob("*")):
                rel = item.relative_to(path)
                if any(p.startswith(".") or p == "__MACOSX" for p in rel.parts) or not item.is_file():
                    continue
                if item.suffix.lower() == ".ipynb":
                    subs.append(Submission(str(item), rel.as_posix(), _file_reader(item), mtime=_mtime(item)))
                elif item.suffix.lower() == ".zip":
                    subs += _zip_submissions(item, str(item), rel.as_posix())
        elif path.suffix.lower() == ".zip":
            subs += _zip_submissions(path, str(path))
        else:
            parts = path.resolve().parts
            lowered = [p.lower() for p in parts]
            relpath = "/".join(parts[lowered.index("submitted") :]) if "submitted" in lowered[:-1] else path.name
            if path.suffix.lower() != ".ipynb":
                warnings.append(f"{arg}: not a .ipynb file; graded anyway")
            subs.append(Submission(str(path), relpath, _file_reader(path), mtime=_mtime(path), given=True))
    return subs, warnings


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder grade",
        description="Grade notebook submissions with the hidden tests.",
        epilog=RULES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("submissions", nargs="+", help=".ipynb files, folders (recursive) or .zip archives")
    parser.add_argument("--out", required=True, help="output folder (results.jsonl, grades.csv, feedback/, stats)")
    parser.add_argument("--workers", type=int, default=1, help="submissions graded at a time (default 1)")
    parser.add_argument("--test-timeout", type=float, default=60.0, help="seconds per hidden test (default 60)")
    parser.add_argument("--cell-timeout", type=float, default=300.0, help="seconds per executed cell (default 300)")
    parser.add_argument(
        "--notebook-timeout",
        type=float,
        default=1800.0,
        help="seconds for one notebook, cells and tests together (default 1800)",
    )
    parser.add_argument(
        "--cells",
        choices=("definitions", "all"),
        default="definitions",
        help="which non-test cells run (default: definitions)",
    )
    parser.add_argument(
        "--release-dir",
        default="notebooks",
        help="release notebooks used to recognise cells and notebooks (default notebooks/)",
    )
    parser.add_argument(
        "--hidden-dir",
        action="append",
        default=[],
        help=f"extra folder searched first for hidden suites <stem>.py (also ${HIDDEN_ENV_VAR})",
    )
    parser.add_argument("--force", action="store_true", help="regrade submissions already in results.jsonl")
    parser.add_argument(
        "--duplicates",
        choices=rep.DUPLICATE_RULES,
        default="newest",
        help="which of a student's files for one notebook counts: newest (LMS timestamp or resubmission "
        "counter in the name, else modification time; the default) or best (highest score)",
    )
    parser.add_argument("--no-ipython", action="store_true", help="run cells with exec instead of IPython")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no gradebook table")
    box = parser.add_argument_group("sandbox (docs/grader_security.md)")
    box.add_argument(
        "--sandbox",
        choices=("auto", "bubblewrap", "process"),
        default="auto",
        help="isolation of the student's process: bubblewrap, required by auto (the default) and bubblewrap; "
        "process: process isolation and limits only, no filesystem or network isolation, the only way to "
        "grade without bubblewrap (explicit consent: the students' code could read the hidden tests)",
    )
    box.add_argument("--memory-limit", default="6G", help="memory of the student's process (RLIMIT_DATA; default 6G)")
    box.add_argument(
        "--cpu-limit",
        type=float,
        default=None,
        help="CPU seconds of the student's process (default: notebook timeout x threads + 60)",
    )
    box.add_argument("--file-limit", default="1G", help="largest file the student's code may write (default 1G)")
    box.add_argument(
        "--nproc-limit", type=int, default=512, help="processes/threads of the student's uid (default 512)"
    )
    box.add_argument(
        "--output-limit",
        default="256K",
        help="printed output kept per runner, head and tail (default 256K; the rest is dropped)",
    )
    return parser


def _release_dir(arg: str) -> Path | None:
    path = Path(arg)
    if path.is_dir():
        return path
    fallback = Path(__file__).resolve().parents[2] / arg
    return fallback if fallback.is_dir() else None


def _grade_one(sub: Submission, ctx: NotebookContext) -> GradeRecord:
    try:
        data = b"" if sub.error else sub.read()
        error = sub.error
    except Exception as err:  # noqa: BLE001 - unreadable file: still a record
        data, error = b"", f"could not read the file ({err})"
    relpath = sub.relpath
    # an unsafe member name of an archive at the top never names a student ('x/../../alice/..'); in a
    # student's folder the folder names the student anyway
    anonymous = error.startswith("zip member refused") and len(PurePosixPath(sub.container).parts) <= 1
    if anonymous:
        relpath = (
            f"refused-zip-member-{hashlib.sha1(sub.source.encode()).hexdigest()[:8]}/"
            f"{PurePosixPath(sub.member.replace(chr(92), '/')).name or 'member'}"
        )
    try:
        record = grade_notebook_bytes(data, relpath, sub.source, ctx, read_error=error)
        if not anonymous:
            record.student, record.student_rule = sub.student(record.stem)
        record.mtime = sub.mtime
        if record.stem_rule.startswith(nbmod.STEM_CONFLICT):
            record.reasons.insert(0, record.stem_rule)
        return record
    except Exception as err:  # noqa: BLE001 - a grader bug must not stop the batch
        tb = traceback.format_exc(limit=3)
        print(f"internal grader error on {sub.source}:\n{tb}", file=sys.stderr)
        return GradeRecord(
            source=sub.source,
            relpath=sub.relpath,
            sha256=hashlib.sha256(data).hexdigest(),
            student=sub.student(None)[0],
            mtime=sub.mtime,
            reasons=[f"internal grader error ({type(err).__name__}: {err}); please report"],
        )


def _masks(submissions: list[Submission], out: Path, hidden_dirs: list[str]) -> tuple[str, ...]:
    """Paths the student's process must not see: the output folder, extra hidden suites, the submissions."""
    paths: list[Path] = [out, *(Path(h) for h in hidden_dirs)]
    paths += [Path(d) for d in os.environ.get("AUTOGRADER_HIDDEN_DIR", "").split(os.pathsep) if d.strip()]
    for sub in submissions:
        file = (
            Path(sub.source.split("!", 1)[0])
            if "!" in sub.source and not Path(sub.source).exists()
            else Path(sub.source)
        )
        paths.append(file.parent if file.parent != Path(".") else file)
    unique: list[str] = []
    for p in paths:
        try:
            text = str(p.resolve())
        except OSError:
            continue
        if text not in unique:
            unique.append(text)
    return tuple(unique)


def grade(
    submissions: list[Submission],
    out: Path,
    options: GradeOptions,
    workers: int = 1,
    hidden_dirs: list[str] | None = None,
    release_dir: Path | None = None,
    force: bool = False,
    progress: bool = True,
    duplicates: str = "newest",
) -> list[GradeRecord]:
    """Grade submissions into `out`; return every record in results.jsonl (old and new).

    `duplicates` ("newest" or "best") chooses which of one student's files for one notebook counts."""
    if duplicates not in rep.DUPLICATE_RULES:
        raise ValueError(f"duplicates must be one of {', '.join(rep.DUPLICATE_RULES)}, got {duplicates!r}")
    options.isolation()  # raises SandboxUnavailable before anything is graded (no silent process fallback)
    out.mkdir(parents=True, exist_ok=True)
    masks = _masks(submissions, out, list(hidden_dirs or []))
    options = dataclasses.replace(
        options, sandbox=dataclasses.replace(options.sandbox, masks=tuple(options.sandbox.masks) + masks)
    )
    log = rep.ResultsLog(out / "results.jsonl")
    done = set() if force else {record.key for record in rep.read_records(log.path)}
    suite_files = find_suites(hidden_dirs or [])
    suites = {}
    for stem, path in suite_files.items():
        try:
            suites[stem] = load_suite(stem, path)
        except Exception as err:  # noqa: BLE001 - a broken suite must not stop other notebooks
            print(f"warning: hidden suite {path} could not be loaded: {err}", file=sys.stderr)
    ctx = NotebookContext(suites, nbmod.load_release(release_dir, suites), options)
    todo = []
    for sub in submissions:
        if not force:
            try:
                digest = hashlib.sha256(b"" if sub.error else sub.read()).hexdigest()
            except Exception:  # noqa: BLE001
                digest = hashlib.sha256(b"").hexdigest()
            if rep.record_key(sub.source, digest) in done:
                continue
        todo.append(sub)
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc="grading", unit="nb", file=sys.stderr, mininterval=1.0)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(_grade_one, sub, ctx) for sub in todo]
        for future in as_completed(futures):
            log.append(future.result())
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    skipped = len(submissions) - len(todo)
    if skipped and progress:
        print(f"{skipped} submission(s) already graded (same content); use --force to regrade", file=sys.stderr)
    records = rep.read_records(log.path)
    rep.write_outputs(out, records, duplicates=duplicates)
    return records


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m autograder grade`; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.workers < 1 or min(args.test_timeout, args.cell_timeout, args.notebook_timeout) <= 0:
        print("error: --workers and the timeouts must be positive", file=sys.stderr)
        return 2
    subs, warnings = collect_submissions(args.submissions)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if not subs:
        print("error: no .ipynb submissions found", file=sys.stderr)
        return 2
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    try:
        sandbox = SandboxConfig(
            mode=args.sandbox,
            memory_bytes=parse_size(args.memory_limit),
            cpu_seconds=args.cpu_limit,
            nproc=args.nproc_limit,
            file_bytes=parse_size(args.file_limit),
            output_bytes=parse_size(args.output_limit),
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    options = GradeOptions(
        test_timeout=args.test_timeout,
        cell_timeout=args.cell_timeout,
        notebook_timeout=args.notebook_timeout,
        cells=args.cells,
        use_ipython=not args.no_ipython,
        threads=threads,
        sandbox=sandbox,
    )
    try:  # no silent fallback: without a working bubblewrap only an explicit --sandbox process grades
        isolation, note = options.isolation()
    except SandboxUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if isolation == "process" and not args.quiet:
        print(f"warning: {note}", file=sys.stderr)
    out = Path(args.out)
    t0 = time.monotonic()
    records = grade(
        subs,
        out,
        options,
        workers=args.workers,
        hidden_dirs=args.hidden_dir,
        release_dir=_release_dir(args.release_dir),
        force=args.force,
        progress=not args.quiet,
        duplicates=args.duplicates,
    )
    if not args.quiet:
        print(rep.gradebook_table(records, duplicates=args.duplicates))
        print(f"results in {out} ({time.monotonic() - t0:.1f} s)")
    sources = {sub.source for sub in subs}
    if not any(r.stem for r in records if r.source in sources):
        print(
            f"error: none of the {len(subs)} submission(s) could be identified as a known notebook "
            "(see the reasons in results.jsonl and the rules in --help); nothing was graded",
            file=sys.stderr,
        )
        return 3
    return 0


def report_main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m autograder report DIR`: print the gradebook again (--rebuild rewrites files)."""
    parser = argparse.ArgumentParser(
        prog="python -m autograder report", description="Print the gradebook of a grading output folder."
    )
    parser.add_argument("out", help="the --out folder of a grading run")
    parser.add_argument("--rebuild", action="store_true", help="also rewrite grades.csv, feedback and stats")
    parser.add_argument(
        "--duplicates", choices=rep.DUPLICATE_RULES, default="newest", help="as for grade (default newest)"
    )
    args = parser.parse_args(argv)
    path = Path(args.out) / "results.jsonl"
    if not path.exists():
        print(f"error: {path} not found (was `grade --out {args.out}` run?)", file=sys.stderr)
        return 2
    records = rep.read_records(path)
    if args.rebuild:
        rep.write_outputs(Path(args.out), records, duplicates=args.duplicates)
    print(rep.gradebook_table(records, duplicates=args.duplicates))
    return 0
