"""docs/figures/grader_faults.png from the adversarial run's summary (tests/test_adversarial.py).

    ADVERSARIAL_SUMMARY=/tmp/adv_summary.json .venv/bin/pytest -q tests/test_adversarial.py
    .venv/bin/python benchmarks/grader_faults_figure.py /tmp/adv_summary.json [--before OLD.json] [--out PNG]

Left: per weakness class (docs/grader_security.md; class 0 = the earlier attacks on code, format and names),
attacks tried and attacks held (zero points on the cheated items with a reason, nothing lost); with
`--before` (the same batch graded by an older grader, e.g. a worktree of an earlier commit) also how many
that grader held. Right: one row per attack, the number of its hidden tests in each state.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASSES = {
    0: "earlier attacks\n(code, format, names)",
    1: "1 sandbox\nallow-list",
    2: "2 forged\nevidence",
    3: "3 identity\nin archives",
    4: "4 library\nanswers",
    5: "5 reference\nin feedback",
    6: "6 metadata\nvs content",
    7: "7 forged\nreplies",
    8: "8 formulas\nin CSV",
    9: "9 zip named\n.ipynb",
}
STATE_COLOURS = {
    "passed": "#4c9a2a",
    "failed": "#d98c1f",
    "error": "#c0392b",
    "timeout": "#7d3c98",
    "kernel died": "#34495e",
    "not attempted": "#95a5a6",
}


def _load(path: Path) -> dict:
    if not path.exists():
        raise SystemExit(f"error: {path} not found; run the adversarial suite with ADVERSARIAL_SUMMARY={path}")
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary", help="JSON written by tests/test_adversarial.py (ADVERSARIAL_SUMMARY)")
    parser.add_argument("--before", help="the same kind of summary from an older grader, for comparison")
    parser.add_argument("--out", default=str(ROOT / "docs" / "figures" / "grader_faults.png"))
    args = parser.parse_args(argv)
    summary = _load(Path(args.summary))
    before = _load(Path(args.before)) if args.before else None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    attacks = summary["attacks"]
    classes = sorted({int(a.get("klass", 0)) for a in attacks})
    fig, (ax, ax2) = plt.subplots(
        1, 2, figsize=(14, max(6.5, 0.16 * len(attacks) + 2)), gridspec_kw={"width_ratios": [1.3, 1]}
    )
    series = [("tried", "#5d6d7e", lambda a: True), ("held now", "#4c9a2a", lambda a: a["held"] is True)]
    old_by_name = {a["name"]: a for a in before["attacks"]} if before else {}
    if before is not None:
        series.append(
            ("held by the older grader", "#c0392b", lambda a: old_by_name.get(a["name"], {}).get("held") is True)
        )
    w = 0.8 / len(series)
    for j, (label, colour, keep) in enumerate(series):
        values = [sum(1 for a in attacks if int(a.get("klass", 0)) == c and keep(a)) for c in classes]
        rects = ax.bar([i + (j - (len(series) - 1) / 2) * w for i in range(len(classes))], values, w, label=label)
        for r in rects:
            r.set_color(colour)
        ax.bar_label(rects, padding=2, fontsize=6)
    ax.set_xticks(range(len(classes)), [CLASSES.get(c, str(c)) for c in classes], fontsize=7, rotation=35, ha="right")
    ax.set_ylabel("attacks")
    ax.legend(frameon=False, loc="upper right", fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    normal = f"{summary.get('normal_points', 0):g}/{summary.get('normal_max', 0):g}"
    ax.set_title(
        f"{len(attacks)} attacks + normal submissions, one batch; isolation: {summary['isolation']}\n"
        f"normal submission (alice): {normal}; instructor files changed: {len(summary['files_changed'])}; "
        f"processes left running: {summary['processes_left']}",
        fontsize=9,
    )
    names = [str(a["name"])[:38] for a in attacks]
    for row, a in enumerate(attacks):
        left = 0
        counts: dict[str, int] = {}
        for state in a["states"].values():
            counts[state] = counts.get(state, 0) + 1
        for state, colour in STATE_COLOURS.items():
            n = counts.get(state, 0)
            if n:
                ax2.barh(row, n, left=left, color=colour, height=0.7)
                left += n
        mark = "held" if a["held"] else ("not checked" if a["held"] is None else "NOT HELD")
        ax2.text(left + 0.3, row, mark, va="center", fontsize=6, color="#4c9a2a" if a["held"] else "#c0392b")
    ax2.set_yticks(range(len(attacks)), names, fontsize=6)
    ax2.invert_yaxis()
    ax2.set_xlabel("hidden tests of the attacked notebook")
    from matplotlib.patches import Patch

    handles = [Patch(color=colour, label=state) for state, colour in STATE_COLOURS.items()]
    ax2.legend(handles=handles, fontsize=7, frameon=False, loc="upper right", ncol=2)
    ax2.set_title("state of the hidden tests per adversarial submission", fontsize=9)
    ax2.spines[["top", "right"]].set_visible(False)
    held = sum(a["held"] is True for a in attacks)
    lost = sum(bool(a["lost"]) for a in attacks)
    title = f"Grader under attack: {held} of {len(attacks)} attacks held, {lost} results lost"
    if before is not None:
        old_held = sum(old_by_name.get(a["name"], {}).get("held") is True for a in attacks)
        title += f" (the older grader held {old_held})"
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)
    print(f"wrote {out}: {len(attacks)} attacks, {held} held, {lost} lost, isolation {summary['isolation']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
