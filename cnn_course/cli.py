"""``cnn-course``: the course's command line (console script).

    cnn-course grade --assignment 01_convolution --submissions class.zip --out DIR

See ``book/instructors.md`` for the whole road from release to grades.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

__all__ = ["main", "parser", "help_text"]


def _size(text: str) -> int:
    """``4G``, ``512M`` or plain bytes -> bytes."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"expected a size such as 4G, 512M or 1000000, got {text!r}"
        ) from err


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(
                f"expected a number, got {text!r}"
            ) from err
        if value <= 0:
            raise argparse.ArgumentTypeError(
                f"expected a positive number, got {text!r}"
            )
        return value

    return parse


def parser(width: int | None = None) -> argparse.ArgumentParser:
    """The argument parser; ``width`` fixes the help's line width."""
    from .autograde.execute import MAX_OUTPUT_BYTES
    from .autograde.pipeline import SECRET_ENV
    from .autograde.sandbox import MEMORY_BYTES

    formatter = functools.partial(argparse.HelpFormatter, width=width)
    top = argparse.ArgumentParser(
        prog="cnn-course", description="Tools of the CNN basics course."
    )
    sub = top.add_subparsers(dest="command", required=True)
    g = sub.add_parser(
        "grade",
        formatter_class=formatter,
        help="grade an LMS zip of submissions with nbgrader, in a sandbox",
        description=(
            "Grade every submission in a zip with nbgrader: student code runs in a "
            "bubblewrap sandbox, tests in a separate grader process. Writes "
            "OUT/grades.csv, OUT/feedback/<student>/, and "
            "OUT/reports/<assignment>/report.{html,md,json} with histogram.png."
        ),
    )
    g.add_argument("--assignment", required=True, help="e.g. 01_convolution")
    g.add_argument("--submissions", required=True, type=Path, help="the zip to grade")
    g.add_argument("--out", required=True, type=Path, help="output folder")
    g.add_argument(
        "--regex",
        help=(
            "regular expression with groups student_id and file_id, matched "
            "against each path in the zip; default: one folder per student, "
            r"'^(?P<student_id>[^/]+)/(?P<file_id>.+)$'"
        ),
    )
    g.add_argument("--config", type=Path, help="extra nbgrader_config.py to load last")
    g.add_argument(
        "--solutions",
        type=Path,
        help="folder of instructor notebooks, NN_topic/NN_topic.ipynb "
        "(default: the course's solutions/)",
    )
    g.add_argument(
        "--timeout",
        type=_positive(int),
        help="seconds per cell (default: 3 times the solution's slowest cell "
        "plus 10, at least 20)",
    )
    g.add_argument(
        "--notebook-timeout", type=_positive(float), help="seconds for a whole notebook"
    )
    g.add_argument(
        "--memory",
        type=_size,
        default=MEMORY_BYTES,
        help=(
            "memory cap of a student's processes together, e.g. 2G "
            f"(default {MEMORY_BYTES / 2**30:g}G)"
        ),
    )
    g.add_argument(
        "--max-output",
        type=_size,
        default=MAX_OUTPUT_BYTES,
        help="output kept per cell, in bytes (default %(default)s)",
    )
    g.add_argument(
        "--unsafe",
        action="store_true",
        help="grade without a sandbox (student code can read solutions and tests)",
    )
    g.add_argument(
        "--secret",
        help=(
            "the instructor's secret: hidden tests draw their inputs from it, so "
            "the public test source does not give them away; the same secret "
            f"gives the same grades (default: ${SECRET_ENV}; without either, the "
            "public seeds, and the report says so)"
        ),
    )
    g.add_argument(
        "--jobs",
        "-j",
        type=_positive(int),
        default=os.cpu_count() or 1,
        help="students graded at once, each in its own sandbox (default: the "
        "number of cores, %(default)s here)",
    )
    g.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the notebooks on a Dask cluster, e.g. tcp://10.0.0.5:8786 "
        "(see the instructors' page, 'Large classes'); --jobs is then unused",
    )
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    return top


def help_text(command: str = "grade") -> str:
    """The ``--help`` text of a subcommand, for the instructors' page."""
    top = parser(width=64)
    for action in top._subparsers._group_actions:
        if command in action.choices:
            return action.choices[command].format_help()
    raise ValueError(f"command {command!r} not found; expected 'grade'")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from .autograde.pipeline import SECRET_ENV, GradeOptions, GradingError, grade

    options = GradeOptions(
        regex=args.regex,
        timeout=args.timeout,
        notebook_timeout=args.notebook_timeout,
        memory_bytes=args.memory,
        max_output_bytes=args.max_output,
        unsafe=args.unsafe,
        progress=not args.no_progress,
        extra_config=args.config,
        **({"solutions_dir": args.solutions} if args.solutions else {}),
        secret=args.secret or os.environ.get(SECRET_ENV) or None,
        jobs=args.jobs,
        scheduler=args.scheduler,
    )
    if args.unsafe:
        print(
            "WARNING: --unsafe: student code runs without a sandbox and can read "
            "the solutions, the hidden tests and other students' work.",
            file=sys.stderr,
        )
    try:
        result = grade(args.assignment, args.submissions, args.out, options)
    except GradingError as err:
        print(f"cnn-course grade: error: {err}", file=sys.stderr)
        return 2
    folder = result.report_dir
    scores = [s.score for s in result.students.values()]
    print(
        f"graded {len(scores)} students of {result.assignment}; "
        f"report: {folder / 'report.html'}; grades: {result.out / 'grades.csv'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
