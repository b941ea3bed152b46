"""`python -m autograder <command> ...`: one entry point for the course's instructor tools.

Commands (each module is imported only when its command runs, so a missing optional part, e.g.
nbgrader on Colab, never breaks the others):

  release [--check]           generate notebooks/ from solutions/ (or check that it is up to date)
  start [DIR]                 copy the student notebooks into your own work folder (default work/)
  new NN_topic                scaffold a notebook: solutions/NN_topic.ipynb and autograder/course/NN_topic/
  nbgrader-course DIR         build a stock nbgrader course folder from this repository
  samples OUT                 write sample submissions and OUT/expected.json
  execute [--stems] [--out]   run solution notebooks top to bottom at the current run size
  grade ...                   grade submissions with the course's grader
  report ...                  summarize graded results
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "release": ("autograder.tools.release", "main", "generate notebooks/ from solutions/ (--check for CI)"),
    "start": ("autograder.tools.student_copy", "main", "copy the student notebooks into your work folder (work/)"),
    "new": ("autograder.tools.scaffold", "main", "scaffold a new notebook (solution + grading folder)"),
    "nbgrader-course": ("autograder.tools.nbgrader_course", "main", "build a stock nbgrader course folder"),
    "samples": ("autograder.tools.samples", "main", "write the sample submissions and expected.json"),
    "execute": ("autograder.tools.execute", "main", "execute solution notebooks with nbclient"),
    "grade": ("autograder.grader.cli", "main", "grade submissions with the course's grader"),
    "report": ("autograder.grader.cli", "report_main", "summarize graded results"),
}


def usage() -> str:
    lines = ["usage: python -m autograder <command> [options]", "", "commands:"]
    lines += [f"  {name:<16} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines += ["", "`python -m autograder <command> --help` shows a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the command's `main(argv)` and return its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, func_name, _ = COMMANDS[command]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and (module_name == err.name or module_name.startswith(err.name + ".")):
            print(
                f"`{command}` is not available: module {module_name} is not installed in this checkout", file=sys.stderr
            )
            return 2
        raise
    func = getattr(module, func_name, None)
    if func is None:
        print(f"`{command}` is not available: {module_name} has no {func_name}()", file=sys.stderr)
        return 2
    result = func(rest)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
