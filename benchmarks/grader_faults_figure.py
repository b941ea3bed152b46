"""docs/figures/grader_faults.png from the adversarial run's summary (tests/test_adversarial.py).

    ADVERSARIAL_SUMMARY=/tmp/adv_summary.json .venv/bin/pytest -q tests/test_adversarial.py
    .venv/bin/python benchmarks/grader_faults_figure.py /tmp/adv_summary.json [--out docs/figures/grader_faults.png]

Left: per category of attack, submissions tried, faults survived (the grader held: zero points on the
cheated items with a reason) and results lost (no record; must be 0). Right: one row per attack with the
states its items got.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LABELS = {"code": "code in\nthe notebook", "format": "notebook\nformat", "names": "file names,\nzip paths"}
STATE_COLOURS = {
    "passed": "#4c9a2a",
    "failed": "#d98c1f",
    "error": "#c0392b",
    "timeout": "#7d3c98",
    "kernel died": "#34495e",
    "not attempted": "#95a5a6",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary", help="JSON written by tests/test_adversarial.py (ADVERSARIAL_SUMMARY)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "figures" / "grader_faults.png"))
    args = parser.parse_args(argv)
    path = Path(args.summary)
    if not path.exists():
        print(f"error: {path} not found; run the adversarial suite with ADVERSARIAL_SUMMARY={path}", file=sys.stderr)
        return 2
    summary = json.loads(path.read_text())
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    attacks = summary["attacks"]
    cats = [c for c in LABELS if any(a["category"] == c for a in attacks)]
    tried = [sum(a["category"] == c for a in attacks) for c in cats]
    held = [sum(a["category"] == c and a["held"] is True for a in attacks) for c in cats]
    lost = [sum(a["category"] == c and a["lost"] for a in attacks) for c in cats]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 6.5), gridspec_kw={"width_ratios": [1, 1.5]})
    x = range(len(cats))
    w = 0.27
    bars = [
        (tried, "submissions tried", "#5d6d7e", -w),
        (held, "faults survived", "#4c9a2a", 0),
        (lost, "results lost", "#c0392b", w),
    ]
    for values, label, colour, dx in bars:
        rects = ax.bar([i + dx for i in x], values, w, label=label, color=colour)
        ax.bar_label(rects, padding=2, fontsize=9)
    ax.set_xticks(list(x), [LABELS[c] for c in cats], fontsize=9)
    ax.set_ylabel("submissions")
    ax.set_ylim(0, max(tried) * 1.25 + 1)
    ax.legend(frameon=False, loc="upper right")
    ax.spines[["top", "right"]].set_visible(False)
    normal = f"{summary.get('normal_points', 0):g}/{summary.get('normal_max', 0):g}"
    ax.set_title(
        f"{len(attacks)} attacks + 1 normal submission, one batch\n"
        f"isolation: {summary['isolation']}; normal submission: {normal}\n"
        f"instructor files changed: {len(summary['files_changed'])}; "
        f"processes left running: {summary['processes_left']}",
        fontsize=9,
    )

    tests = sorted({t for a in attacks for t in a["states"]})
    names = [
        (a["name"] if a["category"] != "names" or a["name"].startswith("zip:") else a["what"])[:40] for a in attacks
    ]
    for row, a in enumerate(attacks):
        for col, test in enumerate(tests):
            state = a["states"].get(test)
            if state is None:
                ax2.scatter(col, row, marker="x", color="#bbbbbb", s=20)
                continue
            ax2.scatter(col, row, marker="s", s=70, color=STATE_COLOURS.get(state, "black"))
        mark = "held" if a["held"] else ("not checked" if a["held"] is None else "BROKEN")
        ax2.text(len(tests) - 0.4, row, mark, va="center", fontsize=7, color="#4c9a2a" if a["held"] else "#c0392b")
    ax2.set_yticks(range(len(attacks)), names, fontsize=7)
    ax2.set_xticks(range(len(tests)), [t.replace("_", "_\n", 1) for t in tests], fontsize=8)
    ax2.set_xlim(-0.6, len(tests) + 0.4)
    ax2.invert_yaxis()
    for state, colour in STATE_COLOURS.items():
        ax2.scatter([], [], marker="s", color=colour, label=state)
    ax2.scatter([], [], marker="x", color="#bbbbbb", label="no test run (refused)")
    ax2.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4)
    ax2.set_title("state of each hidden test per adversarial submission", fontsize=9)
    ax2.spines[["top", "right"]].set_visible(False)
    fig.suptitle(
        f"Grader under attack: {sum(held)} of {len(attacks)} attacks held, {sum(lost)} results lost", fontsize=11
    )
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130)
    print(f"wrote {out}: {len(attacks)} attacks, {sum(held)} held, {sum(lost)} lost, isolation {summary['isolation']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
