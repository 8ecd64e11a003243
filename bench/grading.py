"""Time grading a class, side by side, in one run.

    .venv/bin/python bench/grading.py [--students 16] [--jobs 1 2] [NN_topic ...]

For each assignment (default 01_convolution and 04_cnn_structure), a class
of perfect submissions (the solution as a student hands it in) is graded
by:

- **nbclient**, the floor: each notebook, hidden tests included, run top to
  bottom in a fresh local kernel, nothing else;
- **plain nbgrader**: ``nbgrader autograde`` on the class in a scratch
  course (no sandbox, tests in the student's kernel, no feedback);
- **cnn-course grade**: the whole pipeline (sandboxed kernel, tests in the
  grader process, feedback pages, report), once per ``--jobs`` value.

It prints seconds per student and each time as a multiple of the floor.
Timings on a shared machine are noisy; the ratios, measured in one run, are
what to compare. Targets: ``cnn-course grade`` at most 1.5x the floor per
student, and never slower than the single-process design it replaced
(7.88 s per student for 01 on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "autograde"))

from corpus import student_view, to_zip  # noqa: E402

from cnn_course.autograde.pipeline import GradeOptions, grade  # noqa: E402


def perfect_class(assignment: str, n: int) -> tuple[bytes, list[nbformat.NotebookNode]]:
    source = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", 4)
    nb = student_view(source)
    files = {f"s{i:03d}/{assignment}.ipynb": nbformat.writes(nb) for i in range(n)}
    from corpus import Submission

    subs = [
        Submission(k.split("/")[0], {k: v.encode()}, 0, set()) for k, v in files.items()
    ]
    return to_zip(subs), [source] * n


def floor(notebooks: list, folder: Path) -> float:
    start = time.perf_counter()
    for nb in notebooks:
        nb = nbformat.from_dict(nb)
        client = NotebookClient(
            nb, timeout=600, allow_errors=True, kernel_name="python3",
            resources={"metadata": {"path": str(folder)}},
        )  # fmt: skip
        client.execute()
    return (time.perf_counter() - start) / len(notebooks)


def plain_nbgrader(assignment: str, n: int, folder: Path) -> float:
    course = folder / "plain"
    (course / "source" / assignment).mkdir(parents=True)
    shutil.copy(
        REPO / "solutions" / assignment / f"{assignment}.ipynb",
        course / "source" / assignment,
    )
    (course / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n"
    )
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")

    def nbgrader(*args):
        subprocess.run(
            [sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
            check=True, capture_output=True,
        )  # fmt: skip

    nbgrader("generate_assignment", assignment, "--force")
    source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", 4)
    for i in range(n):
        target = course / "submitted" / f"s{i:03d}" / assignment
        target.mkdir(parents=True)
        nbformat.write(student_view(source), target / f"{assignment}.ipynb")
    start = time.perf_counter()
    nbgrader("autograde", assignment, "--force")
    return (time.perf_counter() - start) / n


def ours(assignment: str, zip_bytes: bytes, n: int, folder: Path, jobs: int) -> float:
    path = folder / f"class-{jobs}.zip"
    path.write_bytes(zip_bytes)
    options = GradeOptions(progress=False)
    if jobs != 1:
        options.jobs = jobs
    start = time.perf_counter()
    result = grade(assignment, path, folder / f"out-{jobs}", options)
    seconds = time.perf_counter() - start
    wrong = [s for s, r in result.students.items() if r.score != result.max_score]
    if wrong:
        raise SystemExit(f"perfect students did not get full marks: {wrong}")
    return seconds / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "assignment", nargs="*", default=["01_convolution", "04_cnn_structure"]
    )
    parser.add_argument("--students", type=int, default=16)
    parser.add_argument("--jobs", type=int, nargs="*", default=[1])
    args = parser.parse_args(argv)
    print(f"{args.students} perfect students per assignment; seconds per student\n")
    header = f"{'assignment':20} {'method':24} {'s/student':>10} {'x floor':>8}"
    print(header)
    print("-" * len(header))
    for assignment in args.assignment:
        zip_bytes, notebooks = perfect_class(assignment, args.students)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            base = floor(notebooks, folder)
            rows = [("nbclient (floor)", base)]
            rows.append(
                (
                    "plain nbgrader autograde",
                    plain_nbgrader(assignment, args.students, folder),
                )
            )
            for jobs in args.jobs:
                rows.append(
                    (
                        f"cnn-course grade -j{jobs}",
                        ours(assignment, zip_bytes, args.students, folder, jobs),
                    )
                )
        for method, seconds in rows:
            print(
                f"{assignment:20} {method:24} {seconds:10.2f} {seconds / base:8.2f}",
                flush=True,
            )
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
