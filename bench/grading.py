"""Time grading a class, side by side, in one run.

    .venv/bin/python bench/grading.py [--students 32] [NN_topic ...]

For each assignment (default 01_convolution and 04_cnn_structure), a class
of perfect submissions (the solution as a student hands it in) is graded
by:

- **nbclient**, the floor: each notebook, hidden tests included, run top to
  bottom in a fresh local kernel, one after another, nothing else;
- **plain nbgrader**: ``nbgrader autograde`` on the class in a scratch
  course (no sandbox, tests in the student's kernel, no feedback);
- **cnn-course grade** (the whole pipeline: sandboxed kernel, tests in the
  grader process, feedback pages, report) with ``--jobs 1``, with ``--jobs
  1`` and a cold grader (a new grader process, importing NumPy and PyTorch,
  for every student: what a warm one saves), with ``--jobs 2``, and on a
  two-worker Dask ``LocalCluster``.

It prints seconds per student, each as a multiple of the floor, the
speed-ups, and an estimate for a course of 200 students and six
assignments. Timings on a shared machine are noisy; the ratios, measured in
one run, are what to compare. Targets on 2 cores: ``--jobs 2`` at least
1.6x faster than ``--jobs 1``; per student, at most 1.5x the floor.
"""

from __future__ import annotations

import argparse
import builtins
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

from corpus import Submission, student_view, to_zip  # noqa: E402

from cnn_course.autograde import pipeline  # noqa: E402
from cnn_course.autograde.pipeline import GradeOptions, grade  # noqa: E402


def perfect_class(assignment: str, n: int):
    source = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", 4)
    text = nbformat.writes(student_view(source)).encode()
    subs = [
        Submission(f"s{i:03d}", {f"s{i:03d}/{assignment}.ipynb": text}, 0, set())
        for i in range(n)
    ]
    return to_zip(subs), source


def floor(source, n: int, folder: Path) -> float:
    start = time.perf_counter()
    for _ in range(n):
        nb = nbformat.from_dict(source)
        client = NotebookClient(
            nb, timeout=600, allow_errors=True, kernel_name="python3",
            resources={"metadata": {"path": str(folder)}},
        )  # fmt: skip
        client.execute()
    return (time.perf_counter() - start) / n


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


def ours(assignment, zip_bytes, n, folder: Path, name: str, **opts) -> float:
    path = folder / f"class-{name}.zip"
    path.write_bytes(zip_bytes)
    options = GradeOptions(progress=False, **opts)
    start = time.perf_counter()
    result = grade(assignment, path, folder / f"out-{name}", options)
    seconds = time.perf_counter() - start
    wrong = [s for s, r in result.students.items() if r.score != result.max_score]
    if wrong:
        raise SystemExit(f"{name}: perfect students without full marks: {wrong}")
    return seconds / n


def cold_grader(assignment, zip_bytes, n, folder: Path) -> float:
    """--jobs 1 with a new grader process per student (no warm grader)."""
    execution = pipeline.Prepared.execution

    def cold(self):
        return dict(execution(self), grader_socket="")

    pipeline.Prepared.execution = cold
    try:
        return ours(assignment, zip_bytes, n, folder, "cold", jobs=1)
    finally:
        pipeline.Prepared.execution = execution


def local_cluster(assignment, zip_bytes, n, folder: Path) -> float:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        return ours(
            assignment, zip_bytes, n, folder, "dask",
            scheduler=cluster.scheduler_address,
        )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "assignment", nargs="*", default=["01_convolution", "04_cnn_structure"]
    )
    parser.add_argument("--students", type=int, default=32)
    parser.add_argument(
        "--save", type=Path, help="also write what is printed to this file"
    )
    args = parser.parse_args(argv)
    lines: list[str] = []

    def print(*parts, **kw):  # noqa: A001 - everything printed is also kept
        text = " ".join(str(p) for p in parts)
        lines.append(text)
        builtins.print(text, flush=True)

    n = args.students
    print(
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores ({_cpu()}); "
        f"{n} perfect students per assignment; seconds per student\n"
    )
    header = f"{'assignment':18} {'method':28} {'s/student':>9} {'x floor':>8}"
    print(header)
    print("-" * len(header))
    per_student = []
    for assignment in args.assignment:
        zip_bytes, source = perfect_class(assignment, n)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            rows = {"nbclient (the floor)": floor(source, n, folder)}
            rows["plain nbgrader autograde"] = plain_nbgrader(assignment, n, folder)
            rows["cnn-course grade -j1"] = ours(
                assignment, zip_bytes, n, folder, "j1", jobs=1
            )
            rows["  the same, cold grader"] = cold_grader(
                assignment, zip_bytes, n, folder
            )
            rows["cnn-course grade -j2"] = ours(
                assignment, zip_bytes, n, folder, "j2", jobs=2
            )
            rows["Dask LocalCluster, 2 workers"] = local_cluster(
                assignment, zip_bytes, n, folder
            )
        base = rows["nbclient (the floor)"]
        for method, seconds in rows.items():
            print(f"{assignment:18} {method:28} {seconds:9.2f} {seconds / base:8.2f}")
        j1, j2 = rows["cnn-course grade -j1"], rows["cnn-course grade -j2"]
        print(
            f"{assignment:18} speed-up of -j2 over -j1: {j1 / j2:.2f}x; warm grader "
            f"saves {rows['  the same, cold grader'] - j1:.2f} s per student\n"
        )
        per_student.append(j2)
    mean = sum(per_student) / len(per_student)
    hours = 200 * 6 * mean / 3600
    print(
        f"Estimate for 200 students x 6 assignments with -j2 on this machine: "
        f"{hours:.1f} h ({mean:.2f} s per student and assignment)"
    )
    if args.save:
        args.save.write_text("\n".join(lines) + "\n")
    return 0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
