"""Time the book's build: cold, then cached after touching one chapter.

    .venv/bin/python bench/book.py [--chapter book/01_convolution.md]

The book's sources are copied into a temporary folder first, so the timings
start from an empty build folder and an empty execution cache, and neither the
repository's files nor the developer's ``_build`` are touched. Three builds
run there with the flags of ``make book``:

1. cold: every chapter executed, every page written;
2. cached, after touching one chapter (its modification time only): Sphinx
   reads that page again, myst-nb finds its outputs in the execution cache;
3. cached, with nothing changed.

Targets on a 2-core machine: the cold build under 90 s, the second under
15 s, with the experiment's seeds cached. Chapter 4's experiment keeps each
seed's numbers in :func:`cnn_course.experiments.digits.default_cache`; the
bench fills that cache first (untimed, and only where it lacks a seed) and
says how long training took, which is what a first build on a new machine
adds. The sources copied are those a fresh clone has (``git ls-files``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLAGS = ("--warningiserror", "--nitpick", "--keep-going")
TARGET_S = 15.0
COLD_TARGET_S = 90.0
# Everything a build may read; the rest of the repository is left behind.
IGNORE = shutil.ignore_patterns(
    ".venv", ".venv-student", ".git", "_build", "__pycache__", "*.egg-info",
    ".pytest_cache", ".hypothesis", ".ruff_cache", ".ipynb_checkpoints", "grading-out",
)  # fmt: skip


def copy_sources(destination: Path) -> None:
    """Copy what a fresh clone holds (``git ls-files``), else all but IGNORE."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO, capture_output=True, check=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        shutil.copytree(REPO, destination, ignore=IGNORE, symlinks=True)
        return
    for name in filter(None, done.stdout.decode().split("\0")):
        if (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)


def build(source: Path) -> tuple[float, str]:
    """Build the book in ``source``; return (seconds, log). Exit on failure."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jupyter_book), "build", str(source), *FLAGS]
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=source, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    seconds = time.perf_counter() - start
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        sys.exit(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{log[-4000:]}")
    return seconds, log


def count(log: str, needle: str) -> int:
    return sum(needle in line for line in log.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--chapter",
        default="book/01_convolution.md",
        help="the chapter to touch before the cached rebuild",
    )
    args = parser.parse_args()

    from cnn_course.experiments import digits

    start = time.perf_counter()
    digits.compare(cache=digits.default_cache())
    primed = time.perf_counter() - start

    with tempfile.TemporaryDirectory(prefix="book-bench-") as tmp:
        source = Path(tmp) / "src"
        copy_sources(source)
        chapter = source / args.chapter
        if not chapter.is_file():
            sys.exit(f"--chapter: no such file {args.chapter!r} in the book")

        rows = []
        seconds, log = build(source)
        rows.append(("cold (empty build folder, experiment cached)", seconds, log))

        os.utime(chapter)  # a new modification time, the same content
        seconds, log = build(source)
        rows.append((f"cached, after touching {args.chapter}", seconds, log))

        seconds, log = build(source)
        rows.append(("cached, nothing changed", seconds, log))

    print(
        f"chapter 4's experiment: {primed:.1f} s to find or train its seeds "
        f"in {digits.default_cache()}\n"
    )
    print(f"{'build':<52} {'seconds':>8} {'executed':>9} {'from cache':>11}")
    for label, seconds, log in rows:
        executed = count(log, "Executed notebook")
        cached = count(log, "Using cached notebook")
        print(f"{label:<52} {seconds:8.1f} {executed:9d} {cached:11d}")
    print("\nexecution time of each chapter in the cold build:")
    for page, secs in re.findall(
        r"([\w/.-]+\.md): Executed notebook in ([\d.]+) seconds", rows[0][2]
    ):
        print(f"  {Path(page).name:<30} {float(secs):6.1f} s")
    cold, touched = rows[0][1], rows[1][1]
    for label, seconds, target in (
        ("cold build", cold, COLD_TARGET_S),
        ("cached rebuild after touching one chapter", touched, TARGET_S),
    ):
        verdict = "within" if seconds < target else "OVER"
        print(f"{label}: {seconds:.1f} s, {verdict} the {target:.0f} s target")
    print(f"load average while building: {os.getloadavg()[0]:.1f} (2 cores)")


if __name__ == "__main__":
    main()
