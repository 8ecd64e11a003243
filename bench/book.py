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

Target for the second: under 15 s on a 2-core machine.
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
# Everything a build may read; the rest of the repository is left behind.
IGNORE = shutil.ignore_patterns(
    ".venv", ".venv-student", ".git", "_build", "__pycache__", "*.egg-info",
    ".pytest_cache", ".hypothesis", ".ruff_cache", ".ipynb_checkpoints", "grading-out",
)  # fmt: skip


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

    with tempfile.TemporaryDirectory(prefix="book-bench-") as tmp:
        source = Path(tmp) / "src"
        shutil.copytree(REPO, source, ignore=IGNORE, symlinks=True)
        chapter = source / args.chapter
        if not chapter.is_file():
            sys.exit(f"--chapter: no such file {args.chapter!r} in the book")

        rows = []
        seconds, log = build(source)
        rows.append(("cold (empty build folder and cache)", seconds, log))

        os.utime(chapter)  # a new modification time, the same content
        seconds, log = build(source)
        rows.append((f"cached, after touching {args.chapter}", seconds, log))

        seconds, log = build(source)
        rows.append(("cached, nothing changed", seconds, log))

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
    touched = rows[1][1]
    verdict = "within" if touched < TARGET_S else "OVER"
    print(
        f"cached rebuild after touching one chapter: {touched:.1f} s, "
        f"{verdict} the {TARGET_S:.0f} s target"
    )


if __name__ == "__main__":
    main()
