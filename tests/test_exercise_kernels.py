"""The released notebooks in a student's own kernel, as Validate runs them.

Each test runs a released notebook top to bottom with nbclient in a fresh
``python3`` kernel (the executor under ``nbgrader validate``), with the
instructor's answers typed into the answer cells, or one typical mistake,
or a missing package, and reads what the student would see: the outputs,
the error's name and message, and its traceback.
"""

from __future__ import annotations

import re

import _notebooks as nbrun
import nbformat
import pytest
from _course import ASSIGNMENTS
from nbclient import NotebookClient
from test_exercise_mistakes import CATALOGUE
from test_exercises import released_nb

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(nb, tmp_path) -> nbformat.NotebookNode:
    client = NotebookClient(
        nb,
        timeout=120,
        allow_errors=True,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    return nb


def with_answers(name: str, answers: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(released_nb(name)), 4))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = answers[grade_id]
    return nb


def problems(nb) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                found.setdefault(cell.id, []).append(f"{out.ename}: {out.evalue}")
            elif out.output_type == "stream" and out.name == "stderr":
                found.setdefault(cell.id, []).append(f"stderr: {out.text}")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_solutions_typed_into_the_release_pass_every_visible_test(name, tmp_path):
    nb = run(with_answers(name, nbrun.solutions(name)), tmp_path)
    assert problems(nb) == {}


FIRST_MISTAKES = {
    notebook: next(m for m in CATALOGUE if m.notebook == notebook and not m.fix_first)
    for notebook in ("01_convolution", "03_parameters", "05_stride_padding")
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FIRST_MISTAKES))
def test_a_mistake_shows_its_message_and_a_traceback_without_library_frames(
    name, tmp_path
):
    mistake = FIRST_MISTAKES[name]
    nb = run(
        with_answers(name, {**nbrun.solutions(name), **mistake.answers()}), tmp_path
    )
    failing = {
        cell.metadata["nbgrader"]["grade_id"]: out
        for cell in nb.cells
        for out in cell.get("outputs", [])
        if out.output_type == "error"
    }
    assert list(failing) == [mistake.fails]
    error = failing[mistake.fails]
    assert error.ename == "AssertionError"
    for phrase in mistake.says:
        assert phrase in error.evalue
    traceback = ANSI.sub("", "\n".join(error.traceback))
    assert "Cell In[" in traceback  # the student's own line is shown
    for library in ("site-packages/numpy", "cnn_course/grading.py", "contextlib.py"):
        assert library not in traceback, traceback


@pytest.mark.slow
def test_the_first_cell_says_what_to_do_when_cnn_course_is_missing(tmp_path):
    nb = released_nb("01_convolution")
    setup = next(c for c in nb.cells if c.cell_type == "code")
    hide = nbformat.v4.new_code_cell("import sys\nsys.modules['cnn_course'] = None")
    nb = run(nbformat.v4.new_notebook(cells=[hide, setup]), tmp_path)
    (error,) = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert error.ename == "ModuleNotFoundError"
    # the message alone, no traceback around it
    assert len(error.traceback) == 1
    assert "'cnn_course'" in error.traceback[0]
    assert "'Set up' section of the course site" in error.traceback[0]


@pytest.mark.slow
def test_the_first_cell_says_what_to_install_when_a_package_is_missing(tmp_path):
    nb = released_nb("02_filters")
    setup = next(c for c in nb.cells if c.cell_type == "code")
    hide = nbformat.v4.new_code_cell("import sys\nsys.modules['matplotlib'] = None")
    nb = run(nbformat.v4.new_notebook(cells=[hide, setup]), tmp_path)
    (error,) = [o for o in nb.cells[1].outputs if o.output_type == "error"]
    assert error.ename == "SetupError"
    (text,) = error.traceback
    assert text.startswith("This notebook needs matplotlib")
    assert "%pip install -r requirements-student.txt" in text
    assert "Restart Kernel" in text
