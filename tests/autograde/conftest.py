"""Fixtures of the grading tests: a toy assignment, zips, and what they need.

Grading runs student code in bubblewrap. On a machine without it, every
test that grades is skipped with the reason (``needs_bwrap``); the tests of
the codec, the grader process and the intake run everywhere.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cnn_course.autograde import sandbox

HAVE_BWRAP = Path(sandbox.BWRAP).exists()
needs_bwrap = pytest.mark.skipif(
    not HAVE_BWRAP,
    reason="bubblewrap is not installed (apt-get install bubblewrap): "
    "grading refuses to run student code without it",
)
TOY = "99_toy"
HIDDEN_ADD = 'assert add(10, 5) == 15, "add(10, 5) should be 15"'
HIDDEN_MUL = 'assert mul(4, 5) == 20, "mul(4, 5) should be 20"'


def meta(grade_id, grade=False, solution=False, locked=False, points=None) -> dict:
    data = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        data["points"] = points
    return {"nbgrader": data}


def toy_source() -> nbformat.NotebookNode:
    """A two-task assignment: add (2 points), mul (3 points)."""
    nb = new_notebook()
    nb.metadata.kernelspec = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        new_markdown_cell("# Toy: $a + b$", metadata=meta("intro", locked=True)),
        new_code_cell("import numpy as np", metadata=meta("setup", locked=True)),
        new_code_cell(
            'def add(a, b):\n    """Add."""\n    ### BEGIN SOLUTION\n'
            "    return a + b\n    ### END SOLUTION",
            metadata=meta("add", solution=True),
        ),
        new_code_cell(
            '"""Check add."""\nassert add(1, 2) == 3\n### BEGIN HIDDEN TESTS\n'
            f"{HIDDEN_ADD}\n### END HIDDEN TESTS",
            metadata=meta("test_add", grade=True, locked=True, points=2),
        ),
        new_code_cell(
            'def mul(a, b):\n    """Multiply."""\n    ### BEGIN SOLUTION\n'
            "    return a * b\n    ### END SOLUTION",
            metadata=meta("mul", solution=True),
        ),
        new_code_cell(
            '"""Check mul."""\nassert mul(2, 3) == 6\n### BEGIN HIDDEN TESTS\n'
            f"{HIDDEN_MUL}\n### END HIDDEN TESTS",
            metadata=meta("test_mul", grade=True, locked=True, points=3),
        ),
    ]
    return nb


@pytest.fixture(scope="session")
def toy_solutions(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("solutions")
    (folder / TOY).mkdir()
    nbformat.write(toy_source(), folder / TOY / f"{TOY}.ipynb")
    return folder


def make_zip(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buffer.getvalue()


def nb_bytes(nb) -> bytes:
    return nbformat.writes(nb).encode()
