"""Time each solution notebook, run top to bottom as nbgrader runs it.

    .venv/bin/python bench/exercises.py [--repeat 2] [NN_topic ...]

Each notebook of ``solutions/`` (hidden tests included) runs in a fresh
``python3`` kernel with nbclient, the executor under ``nbgrader autograde``
and ``nbgrader validate``. Two times are printed: the whole run, kernel
start-up included (what a grading run pays per student), and the cells alone.
With ``--repeat`` the median of several runs is shown. A notebook that
leaves an error or stderr output in any cell is reported as failing.

Target: under 10 s a notebook on a 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 10.0


def run(path: Path) -> tuple[float, float, list[str]]:
    """Run one notebook; return (total s, cells-only s, problems)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=120,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    with client.setup_kernel():
        cells_start = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        cells = time.perf_counter() - cells_start
    total = time.perf_counter() - start
    problems = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                problems.append(f"{cell.id}: {out.ename}: {out.evalue[:120]}")
            elif out.output_type == "stream" and out.name == "stderr":
                problems.append(f"{cell.id}: stderr: {out.text[:120]}")
    return total, cells, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment", nargs="*", help="default: all of solutions/")
    parser.add_argument("--repeat", type=int, default=1, help="runs per notebook")
    args = parser.parse_args(argv)
    names = args.assignment or sorted(
        d.name for d in (REPO / "solutions").iterdir() if d.is_dir()
    )
    print(f"{'notebook':20} {'total s':>8} {'cells s':>8}  result")
    failed = False
    for name in names:
        path = REPO / "solutions" / name / f"{name}.ipynb"
        runs = [run(path) for _ in range(max(1, args.repeat))]
        total = statistics.median(r[0] for r in runs)
        cells = statistics.median(r[1] for r in runs)
        problems = runs[-1][2]
        verdict = "ok" if total < TARGET_S else f"over the {TARGET_S:.0f} s target"
        if problems:
            verdict = f"FAILING ({len(problems)} problem(s))"
            failed = True
        print(f"{name:20} {total:8.1f} {cells:8.1f}  {verdict}", flush=True)
        for problem in problems:
            print(f"    {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
