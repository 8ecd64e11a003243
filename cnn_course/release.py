"""Regenerate the student notebooks: ``make release``.

``python -m cnn_course.release`` runs ``nbgrader generate_assignment`` for
every assignment in ``solutions/`` with the course's ``nbgrader_config.py``,
into a temporary course folder, then replaces ``exercises/`` with the result.
Working in a temporary folder keeps nbgrader's gradebook and logs out of
the repository, and leaves ``exercises/`` untouched when any assignment
fails to generate.

Only the student notebooks are copied back: nothing else from
``solutions/`` can reach ``exercises/``, and notebooks that contain a
solution or hidden-test marker are refused.

``--out DIR`` writes the release into ``DIR`` instead of ``exercises/`` (the
tests use it to check that the committed release is up to date).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = [
    "ROOT",
    "assignments",
    "generate",
    "normalised",
    "leaks",
    "main",
    "nbgrader_env",
]

#: The repository's top folder (where nbgrader_config.py lives).
ROOT = Path(__file__).resolve().parent.parent

#: Markers that must never appear in a student notebook.
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def assignments(root: Path = ROOT) -> list[str]:
    """Names of the assignments in ``solutions/``, sorted.

    An assignment is a folder ``solutions/NAME`` holding ``NAME.ipynb``.
    """
    source = Path(root) / "solutions"
    return sorted(
        d.name
        for d in source.iterdir()
        if d.is_dir() and (d / f"{d.name}.ipynb").is_file()
    )


def nbgrader_env() -> dict[str, str]:
    """The environment to run nbgrader in: this Python's scripts first on PATH.

    nbgrader's gradebook runs the ``alembic`` script by name, which is found
    only when the virtualenv's ``bin`` is on ``PATH`` (``make`` does not put
    it there).
    """
    env = dict(os.environ)
    scripts = os.path.dirname(sys.executable)
    env["PATH"] = scripts + os.pathsep + env.get("PATH", "")
    return env


def _nbgrader(args: list[str], cwd: Path) -> None:
    cmd = [sys.executable, "-m", "nbgrader", *args]
    result = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, env=nbgrader_env()
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"`{' '.join(args[:2])}` failed (exit {result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


def leaks(notebook: dict) -> list[str]:
    """Where a notebook still holds a solution or hidden-test marker.

    Examples
    --------
    >>> nb = {"cells": [{"id": "a", "source": "x = 1\\n### BEGIN SOLUTION\\n"}]}
    >>> leaks(nb)
    ["cell a: 'BEGIN SOLUTION'"]
    """
    found = []
    for cell in notebook.get("cells", []):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        for marker in MARKERS:
            if marker in source:
                found.append(f"cell {cell.get('id', '?')}: {marker!r}")
    return found


def generate(
    out: Path, root: Path = ROOT, names: list[str] | None = None
) -> list[Path]:
    """Generate the student notebooks of ``names`` (default: all) into ``out``.

    Returns the paths written, ``out/NAME/NAME.ipynb``. Raises
    ``RuntimeError`` if nbgrader fails or a generated notebook still holds a
    solution or hidden test; ``out`` is then left as it was.
    """
    root = Path(root).resolve()
    names = assignments(root) if names is None else names
    out = Path(out)
    written = []
    with tempfile.TemporaryDirectory(prefix="cnn-course-release-") as tmp:
        course = Path(tmp)
        shutil.copytree(root / "solutions", course / "solutions")
        # nbgrader reads nbgrader_config.py from its working folder; the copy
        # sets the course root to the folder it sits in.
        shutil.copyfile(root / "nbgrader_config.py", course / "nbgrader_config.py")
        # One nbgrader run for all assignments when all are asked for: its
        # start-up costs more than generating a notebook.
        patterns = ["*"] if names == assignments(root) else names
        for pattern in patterns:
            _nbgrader(
                [
                    "generate_assignment",
                    pattern,
                    f"--CourseDirectory.root={course}",
                    "--force",
                    "--log-level=WARN",
                ],
                cwd=course,
            )
        staged = []
        for name in names:
            nb_path = course / "exercises" / name / f"{name}.ipynb"
            if not nb_path.is_file():
                raise RuntimeError(f"nbgrader wrote no {nb_path.relative_to(course)}")
            notebook = json.loads(nb_path.read_text())
            found = leaks(notebook)
            if found:
                raise RuntimeError(f"{name}: the student version leaks {found}")
            staged.append((name, nb_path))
        for name, nb_path in staged:
            target_dir = out / name
            if target_dir.exists():
                shutil.rmtree(target_dir)
            target_dir.mkdir(parents=True)
            target = target_dir / f"{name}.ipynb"
            shutil.copyfile(nb_path, target)
            written.append(target)
    return written


def normalised(path: Path) -> dict:
    """A notebook as JSON with the metadata that changes run to run removed.

    Used to compare a fresh release with the committed one. nbgrader's
    generated notebooks hold nothing volatile today; ``widgets`` state,
    execution counts and the details JupyterLab adds to ``language_info`` are
    dropped in case a notebook was opened and saved.
    """
    notebook = json.loads(Path(path).read_text())
    metadata = notebook.get("metadata", {})
    metadata.pop("widgets", None)
    # JupyterLab fills in language_info (version, lexer, ...) when it saves
    if "language_info" in metadata:
        metadata["language_info"] = {"name": metadata["language_info"].get("name")}
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        cell.get("metadata", {}).pop("execution", None)
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnn_course.release",
        description="Regenerate exercises/ from solutions/ with nbgrader.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "exercises",
        help="where to write the student notebooks (default: exercises/)",
    )
    parser.add_argument(
        "assignment",
        nargs="*",
        help="assignments to release (default: every folder of solutions/)",
    )
    args = parser.parse_args(argv)
    known = assignments()
    unknown = [a for a in args.assignment if a not in known]
    if unknown:
        parser.error(f"unknown assignment(s) {unknown}; expected some of {known}")
    names = args.assignment or known
    written = generate(args.out, names=names)
    for path in written:
        print(os.path.relpath(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
