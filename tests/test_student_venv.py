"""A student's road from the site alone: install what it publishes, run the notebooks.

The site (the session fixture ``book_build``) publishes, in its Set up
section, ``requirements-student.txt`` and a wheel of ``cnn_course``. Here a
fresh virtual environment gets exactly those two (pip may use its local
cache and the package registries, nothing else), and then, in that
environment's own kernel, in a folder holding nothing but the notebook:

- every released notebook in ``exercises/`` runs its first cells, the ones
  before the first task, without an error: the imports a student meets
  first all work;
- every notebook of ``solutions/``, as a student would hand it in with the
  reference answers filled in (``tests/autograde/corpus.student_view``), runs from
  top to bottom with every visible test passing.

Both check first that the kernel is the student environment's and that
``cnn_course`` comes from the wheel, not from this repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from _course import ASSIGNMENTS
from conftest import REPO, BookBuild

pytestmark = pytest.mark.slow

PIP_TIMEOUT_S = 3600
NOTEBOOK_TIMEOUT_S = 1200
ANSWER_MARKERS = ("YOUR CODE HERE", "raise NotImplementedError")

# Runs inside the student environment: executes a notebook with nbclient
# (nbgrader depends on it) and writes the executed notebook back.
RUNNER = """
import sys
import nbformat
from nbclient import NotebookClient

path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
client = NotebookClient(
    nb, timeout=int(sys.argv[2]), kernel_name="python3",
    resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}},
)
try:
    client.execute()
finally:
    nbformat.write(nb, path)
"""

# The first cell of every notebook run here: whose Python, whose cnn_course.
WHERE = """import sys, cnn_course
print(sys.prefix)
print(cnn_course.__file__)"""


def _clean_env(home: Path) -> dict:
    """The environment of a student's shell: no PYTHONPATH, no Jupyter config
    of this machine, pip's own configuration (its cache and indexes) kept."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "JUPYTER"))
    }
    env.pop("VIRTUAL_ENV", None)
    for name in (
        "JUPYTER_CONFIG_DIR",
        "JUPYTER_DATA_DIR",
        "JUPYTER_RUNTIME_DIR",
        "IPYTHONDIR",
    ):
        env[name] = str(home / name.lower())
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    return env


@pytest.fixture(scope="module")
def student(book_build: BookBuild, tmp_path_factory):
    """(python, env) of a fresh venv holding only what the site publishes."""
    if not (book_build.html / "index.html").is_file():
        pytest.fail(f"the book was not built:\n{book_build.log_excerpt()}")
    packages = book_build.html / "_static" / "packages"
    (wheel,) = packages.glob("cnn_course-*.whl")
    requirements = packages / "requirements-student.txt"
    root = tmp_path_factory.mktemp("student")
    env = _clean_env(root)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-r",
            str(requirements),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=PIP_TIMEOUT_S,
    )
    assert done.returncode == 0, f"pip install failed:\n{done.stdout}\n{done.stderr}"
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "cnn-course" in installed or "cnn_course" in installed
    for tool in ("jupyter-book", "playwright", "ruff", "pytest"):
        assert tool not in installed, f"{tool} came into the student environment"
    return python, env, venv


def _run(student, nb, folder: Path, name: str):
    """Run ``nb`` in the student's kernel in ``folder``; return it executed."""
    python, env, venv = student
    nb.cells.insert(0, nbformat.v4.new_code_cell(WHERE))
    folder.mkdir(parents=True)
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    runner = folder.parent / "run_notebook.py"
    runner.write_text(RUNNER, encoding="utf-8")
    done = subprocess.run(
        [str(python), str(runner), str(path), str(NOTEBOOK_TIMEOUT_S)],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=NOTEBOOK_TIMEOUT_S + 120,
    )
    executed = nbformat.read(path, as_version=4)
    where = "".join(o.get("text", "") for o in executed.cells[0].get("outputs", []))
    assert done.returncode == 0, (
        f"{name} failed in the student's kernel:\n{done.stderr[-4000:]}"
    )
    prefix, module = where.split()
    assert Path(prefix).resolve() == venv.resolve(), f"kernel ran in {prefix}"
    assert Path(module).resolve().is_relative_to(venv.resolve()), module
    assert not Path(module).resolve().is_relative_to(REPO), module
    return executed


def _setup_cells(nb):
    """The cells before the first one a student must fill in."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(m in cell.source for m in ANSWER_MARKERS):
            return i
    return len(nb.cells)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_released_notebook_starts_in_the_student_environment(student, name, tmp_path):
    """Check the cells before the first task run, with the wheel's cnn_course."""
    nb = nbformat.read(REPO / "exercises" / name / f"{name}.ipynb", as_version=4)
    first = _setup_cells(nb)
    assert 0 < first < len(nb.cells), f"{name}: no task cell found"
    nb.cells = nb.cells[:first]
    assert any(c.cell_type == "code" for c in nb.cells), f"{name}: no set-up cell"
    _run(student, nb, tmp_path / "work", name)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_notebook_with_the_reference_answers_passes_its_visible_tests(
    student, name, tmp_path
):
    """Check the solution, handed in as a student would, runs green there."""
    from autograde.corpus import student_view

    source = nbformat.read(REPO / "solutions" / name / f"{name}.ipynb", as_version=4)
    nb = student_view(source)
    assert not any("BEGIN HIDDEN TESTS" in c.source for c in nb.cells)
    executed = _run(student, nb, tmp_path / "work", name)
    errors = [
        o
        for c in executed.cells
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert not errors, f"{name}: {errors[0]['ename']}: {errors[0]['evalue']}"
