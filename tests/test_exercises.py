"""The six nbgrader assignments: sources, release, and grading end to end.

The fast tests read the notebooks. The slow ones run nbgrader's real
command line in one temporary course folder per test session: they
generate the student versions, submit a class of made-up students for every
assignment, autograde each assignment in one nbgrader call, and read the
scores from nbgrader's gradebook. The students:

``perfect``  the instructor's solutions typed into the student notebook;
``blank``    the student notebook handed in untouched;
``cheater``  correct answers computed by the course's reference or by a
             library routine, in every task that is guarded against that;
``fooler``   answers that compare equal to anything;
``warner``   (exercise 5) the perfect answers, plus code that prints
             Python warnings to stderr during the tests;
``hacker``   (exercise 6) a hook that shows a value in every test cell, which
             nbgrader would read as partial credit.
"""

from __future__ import annotations

import ast
import html
import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest
from _course import ASSIGNMENTS

from cnn_course import release

REPO = Path(__file__).resolve().parents[1]
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def source_nb(name: str):
    return nbformat.read(REPO / "solutions" / name / f"{name}.ipynb", as_version=4)


def git_show(relative: str) -> bytes | None:
    """The committed content of a file (HEAD), or None outside a checkout."""
    try:
        result = subprocess.run(
            ["git", "show", f"HEAD:{relative}"], cwd=REPO, capture_output=True
        )
    except OSError:
        return None
    return result.stdout if result.returncode == 0 else None


def released_nb(name: str, root: Path | None = None):
    """A student notebook: the committed one, or the one under ``root``.

    Students work in exercises/ (``make lab``), so the repository's checks
    read the committed release, not the working copy.
    """
    relative = f"exercises/{name}/{name}.ipynb"
    if root is None:
        committed = git_show(relative)
        if committed is not None:
            return nbformat.reads(committed.decode(), as_version=4)
        root = REPO
    return nbformat.read(root / relative, as_version=4)


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def is_test(cell) -> bool:
    return nbgrader_meta(cell).get("grade", False) and cell.cell_type == "code"


def is_solution(cell) -> bool:
    return nbgrader_meta(cell).get("solution", False)


def strip_markers(text: str) -> str:
    return "\n".join(
        line
        for line in text.splitlines()
        if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line
    )


def outside_regions(text: str) -> list[str]:
    """The lines outside every solution and hidden-test block."""
    inside, lines = False, []
    for line in text.splitlines():
        if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
            inside = True
        elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
            inside = False
        elif not inside:
            lines.append(line)
    return lines


def region_lines(text: str, begin: str, end: str) -> list[str]:
    inside, lines = False, []
    for line in text.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines


# --------------------------------------------------------------------------
# Fast: the source notebooks are well-formed nbgrader notebooks.


def test_every_chapter_has_a_source_and_a_student_notebook():
    assert release.assignments() == ASSIGNMENTS
    for name in ASSIGNMENTS:
        assert (REPO / "exercises" / name / f"{name}.ipynb").is_file(), name
        assert (REPO / "book" / f"{name}.md").is_file(), name


def test_exercises_folder_holds_the_six_notebooks_and_nothing_else():
    listed = subprocess.run(
        ["git", "ls-files", "exercises"], cwd=REPO, capture_output=True, text=True
    )
    if listed.returncode == 0 and listed.stdout.strip():
        files = sorted(
            line.removeprefix("exercises/") for line in listed.stdout.split()
        )
    else:
        files = sorted(
            p.relative_to(REPO / "exercises").as_posix()
            for p in (REPO / "exercises").rglob("*")
            if p.is_file() and ".ipynb_checkpoints" not in p.parts
        )
    assert files == [f"{n}/{n}.ipynb" for n in ASSIGNMENTS]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_source_notebook_is_saved_clean_in_nbformat_4_5(name):
    path = REPO / "solutions" / name / f"{name}.ipynb"
    raw = json.loads(path.read_text())
    assert (raw["nbformat"], raw["nbformat_minor"]) == (4, 5)
    nb = source_nb(name)
    nbformat.validate(nb)
    ids = [cell.id for cell in nb.cells]
    assert len(set(ids)) == len(ids), "cell ids must be unique"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{cell.id} has outputs"
            assert cell.execution_count is None, f"{cell.id} was executed"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_source_notebook_has_valid_nbgrader_metadata(name):
    nb = source_nb(name)
    grade_ids = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if not meta:
            continue
        assert meta["schema_version"] == 3, cell.id
        assert re.fullmatch(r"[A-Za-z0-9_-]+", meta["grade_id"]), cell.id
        grade_ids.append(meta["grade_id"])
        if meta["grade"]:
            assert meta["locked"] and not meta["solution"], cell.id
            assert isinstance(meta["points"], int) and meta["points"] > 0, cell.id
        if meta["solution"]:
            assert not meta["locked"] and not meta["grade"], cell.id
    assert len(set(grade_ids)) == len(grade_ids), "grade ids must be unique"
    tests = [c for c in nb.cells if is_test(c)]
    assert len(tests) >= 3, f"{name} has only {len(tests)} graded tasks"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_source_notebook_follows_the_house_style(name):
    """Signatures and docstrings outside the solution; tests say what they check."""
    nb = source_nb(name)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert nbgrader_meta(first_code).get("locked"), "the setup cell must be locked"
    assert "grading.start_notebook(" in first_code.source
    for cell in nb.cells:
        if is_solution(cell):
            assert all(m in cell.source for m in SOLUTION_MARKERS), cell.id
            visible = "\n".join(outside_regions(cell.source))
            tree = ast.parse(strip_markers(cell.source))
            for node in tree.body:
                if isinstance(node, ast.FunctionDef):
                    doc = ast.get_docstring(node, clean=False)
                    assert doc, f"{node.name} has no docstring"
                    assert f"def {node.name}(" in visible, (
                        f"{cell.id}: the def line of {node.name} must stay outside "
                        "the solution block"
                    )
                    assert doc.splitlines()[0] in visible, (
                        f"{node.name}: the docstring must stay outside the solution"
                    )
        if is_test(cell):
            doc = ast.get_docstring(ast.parse(cell.source.replace("### ", "# ")))
            assert doc and doc.startswith("Check"), (
                f"{cell.id} must open with 'Check …'"
            )
            assert all(m in cell.source for m in HIDDEN_MARKERS), (
                f"{cell.id} has no hidden tests"
            )
            hidden = "\n".join(region_lines(cell.source, *HIDDEN_MARKERS))
            assert "grading." in hidden, f"{cell.id}: check with cnn_course.grading"


# What a locked cell may import: it runs in the student's sandbox at grading
# time, where the course's reference modules, scipy.signal/ndimage and (but
# in 04) torch cannot be imported.
LOCKED_IMPORTS = {
    "numpy",
    "matplotlib.pyplot",
    "cnn_course.grading",
    "cnn_course.exercise_data",
}
LOCKED_IMPORTS_04 = LOCKED_IMPORTS | {"torch", "torch.nn"}


def imported_modules(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            # `from cnn_course import grading` imports the module cnn_course.grading
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_setup_cells_share_one_preamble_that_explains_a_missing_package():
    preambles = set()
    for name in ASSIGNMENTS:
        setup = next(c for c in source_nb(name).cells if c.cell_type == "code")
        preamble, _, rest = setup.source.partition("grading.start_notebook(")
        assert rest, f"{name}: the setup cell does not call grading.start_notebook"
        preambles.add(preamble)
    assert len(preambles) == 1, "the six setup cells should start the same way"
    (preamble,) = preambles
    assert "_render_traceback_" in preamble and "'Set up' section" in preamble


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_locked_cells_import_only_what_a_graded_kernel_may(name):
    allowed = LOCKED_IMPORTS_04 if name == "04_cnn_structure" else LOCKED_IMPORTS
    for cell in source_nb(name).cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or not meta.get("locked") or meta.get("grade"):
            continue
        assert imported_modules(cell.source) <= allowed, (
            cell.id,
            imported_modules(cell.source),
        )
        assert "cc." not in cell.source, f"{cell.id} uses cnn_course's reference"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_visible_checks_explain_themselves_and_work_nothing_out(name):
    """Every visible assert has a message; no visible comment does arithmetic."""
    for cell in source_nb(name).cells:
        if not is_test(cell):
            continue
        visible = cell.source.split(HIDDEN_MARKERS[0])[0]
        for node in ast.walk(ast.parse(visible)):
            if isinstance(node, ast.Assert):
                assert node.msg is not None, (
                    f"{cell.id}: a bare assert at line {node.lineno}"
                )
        for line in visible.splitlines():
            comment = line.partition("#")[2]
            assert "=" not in comment, (
                f"{cell.id}: a comment works something out: {line}"
            )
        hidden = "\n".join(region_lines(cell.source, *HIDDEN_MARKERS))
        assert "np.random" not in cell.source, (
            f"{cell.id}: draw random inputs from grading.rng, not np.random"
        )
        for forbidden in ("inspect", "__code__", "getsource"):
            assert forbidden not in hidden + visible, f"{cell.id} introspects"


def test_guarded_tasks_are_the_ones_that_implement_an_operation():
    """Every task that writes an operation calls the guard in its hidden tests."""
    for name, tasks in GUARDED.items():
        nb = source_nb(name)
        tests = {nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells if is_test(c)}
        for task in tasks:
            hidden = "\n".join(region_lines(tests[f"test_{task}"], *HIDDEN_MARKERS))
            assert f'grading.guard("{task}"' in hidden, f"{name}: {task} is not guarded"


# --------------------------------------------------------------------------
# Fast: the released notebooks leak nothing.


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_released_notebook_holds_no_solution_and_no_hidden_test(name):
    source, student = source_nb(name), released_nb(name)
    released_text = "\n".join(c.source for c in student.cells)
    for marker in SOLUTION_MARKERS + HIDDEN_MARKERS:
        assert marker not in released_text
    assert release.leaks(json.loads(nbformat.writes(student))) == []
    # Every line that appears in the source only inside a solution or a
    # hidden-test block must be absent from the release.
    secret, public = [], []
    for cell in source.cells:
        secret += region_lines(cell.source, "BEGIN SOLUTION", "END SOLUTION")
        secret += region_lines(cell.source, *HIDDEN_MARKERS)
        public += outside_regions(cell.source)
    public_set = {line.strip() for line in public}
    released_lines = {line.strip() for line in released_text.splitlines()}
    leaked = [
        line
        for line in secret
        if line.strip()
        and line.strip() not in public_set
        and line.strip() in released_lines
    ]
    assert leaked == []
    stubs = [c for c in student.cells if is_solution(c)]
    assert stubs and all("raise NotImplementedError()" in c.source for c in stubs)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_released_notebook_keeps_instructions_and_visible_tests(name):
    source, student = source_nb(name), released_nb(name)
    stale = f"exercises/{name} as committed differs: run `make release`, commit it"
    assert [c.id for c in student.cells] == [c.id for c in source.cells], stale
    for src, rel in zip(source.cells, student.cells, strict=True):
        if is_test(src):
            visible = src.source.split(HIDDEN_MARKERS[0])[0].rstrip()
            assert rel.source.rstrip() == visible, f"{src.id}: {stale}"
        elif not is_solution(src):
            assert rel.source == src.source, f"{src.id}: {stale}"


# --------------------------------------------------------------------------
# Fast: the configuration.


def load_config():
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()


def test_config_points_nbgrader_at_solutions_and_exercises():
    config = load_config()
    assert config.CourseDirectory.source_directory == "solutions"
    assert config.CourseDirectory.release_directory == "exercises"
    assert Path(config.CourseDirectory.root) == REPO


def test_ignore_pattern_lets_warnings_through_but_not_errors():
    import numpy as np
    import torch

    config = load_config()
    assert config.IgnorePattern.enabled is True  # off by default in nbgrader
    pattern = re.compile(config.IgnorePattern.pattern)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        np.float64(1.0) / np.float64(0.0)
        # PyTorch warns about this once per process, so another test may
        # have used it up: say it the way PyTorch's warnings are printed.
        warnings.warn_explicit(
            "Using padding='same' with even kernel lengths and odd dilation may "
            "require a zero-padded copy of the input be created",
            UserWarning,
            filename=torch.nn.functional.__file__,
            lineno=1,
        )
    assert len(caught) == 2
    for w in caught:
        text = warnings.formatwarning(w.message, w.category, w.filename, w.lineno)
        assert pattern.search(text), text
    not_warnings = [
        "Traceback (most recent call last):\n  File ...\nValueError: bad\n",
        "something went wrong\n",
        "AssertionError: should be 3, got 4\n",
    ]
    for text in not_warnings:
        assert not pattern.search(text), text


def test_autograde_turns_a_shown_value_in_a_test_cell_into_a_failure():
    from nbgrader.preprocessors import Execute, IgnorePattern, SaveAutoGrades

    from cnn_course.grading import NoPartialCredit

    steps = load_config().Autograde.autograde_preprocessors
    assert steps.index(Execute) < steps.index(NoPartialCredit)
    assert steps.index(NoPartialCredit) < steps.index(SaveAutoGrades)
    assert IgnorePattern in steps
    test = nbformat.v4.new_code_cell(
        "assert True", metadata={"nbgrader": {"grade": True, "points": 2}}
    )
    test.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2.0"})]
    free = nbformat.v4.new_code_cell("1 + 1")
    free.outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"})]
    nb = nbformat.v4.new_notebook(cells=[test, free])
    nb, _ = NoPartialCredit()(nb, {})
    assert [o.output_type for o in nb.cells[0].outputs] == ["error"]
    assert nb.cells[0].outputs[0].evalue.startswith("GUARD:")
    assert [o.output_type for o in nb.cells[1].outputs] == ["execute_result"]


def test_feedback_drops_hidden_tests_and_tracebacks():
    from nbgrader.preprocessors import ClearHiddenTests

    from cnn_course.grading import ShortTracebacks

    preprocessors = load_config().GenerateFeedback.preprocessors
    assert ClearHiddenTests in preprocessors and ShortTracebacks in preprocessors
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output(
            "error",
            ename="GuardError",
            evalue="GUARD: f called numpy.convolve.",
            traceback=["line 1 of a hidden test", "GuardError: GUARD: ..."],
        )
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    nb, _ = ShortTracebacks()(nb, {})  # as nbconvert calls it
    assert nb.cells[0].outputs[0].traceback == [
        "GuardError: GUARD: f called numpy.convolve."
    ]
    long = "GUARD: " + "word " * 60
    cell.outputs[0].evalue = long
    nb, _ = ShortTracebacks()(nbformat.v4.new_notebook(cells=[cell]), {})
    lines = nb.cells[0].outputs[0].traceback[0].splitlines()
    assert len(lines) > 2 and all(len(line) <= 100 for line in lines)
    assert nb.cells[0].outputs[0].evalue == long  # the message itself is kept


# --------------------------------------------------------------------------
# Slow: nbgrader itself, in a temporary course.

# Per assignment, the guarded tasks (solution grade_id; its test is
# "test_" + grade_id) and a correct answer that delegates the work, written
# the way a student might: aliases, reassigned names, modules, torch.ops.
CHEATS = {
    "01_convolution": {
        "correlate2d_loops": '''
from scipy.signal import correlate2d as tidy_helper

def correlate2d_loops(image, kernel):
    """Delegates to scipy.signal."""
    return tidy_helper(np.asarray(image, float), np.asarray(kernel, float), "valid")
''',
        "correlate2d_fast": '''
import cnn_course.conv

def correlate2d_fast(image, kernel):
    """Delegates to the reference, reached through its module."""
    ref = cnn_course.conv.correlate2d
    return ref(np.asarray(image, float), np.asarray(kernel, float))
''',
        "convolve2d": '''
import torch
from torch.nn import functional as nnf

def convolve2d(image, kernel):
    """Delegates to PyTorch with the kernel flipped."""
    x = torch.tensor(np.asarray(image, float))[None, None]
    w = torch.tensor(np.asarray(kernel, float)[::-1, ::-1].copy())[None, None]
    return nnf.conv2d(x, w)[0, 0].numpy()
''',
    },
    "02_filters": {
        "apply_filter": '''
import cnn_course as cc

f = cc.filters.apply_filter

def apply_filter(image, kernel):
    """Delegates to the reference under another name."""
    return f(image, kernel)
''',
    },
    "03_parameters": {
        "conv2d_params": '''
from torch import nn

def conv2d_params(in_channels, out_channels, kernel_size, bias=True):
    """Builds the layer and counts what PyTorch allocated."""
    layer = nn.Conv2d(in_channels, out_channels, kernel_size, bias=bias)
    return sum(p.numel() for p in layer.parameters())
''',
        "linear_params": '''
import cnn_course as cc

def linear_params(in_features, out_features, bias=True):
    """Delegates to the reference."""
    return cc.linear_params(in_features, out_features, bias=bias)
''',
        "network_params": '''
import cnn_course as cc
from torch import nn

def network_params(layers):
    """Builds the network and lets the course count it."""
    modules = []
    for layer in layers:
        if layer[0] == "conv":
            modules.append(nn.Conv2d(*layer[1:]))
        elif layer[0] == "linear":
            modules.append(nn.Linear(*layer[1:]))
    return cc.count_params(nn.Sequential(*modules))
''',
    },
    "04_cnn_structure": {
        "max_pool2d": '''
from torch.nn.functional import max_pool2d as mp

def max_pool2d(x, kernel_size, stride=None):
    """Delegates to PyTorch through an alias."""
    return mp(torch.from_numpy(np.asarray(x, float)), kernel_size, stride).numpy()
''',
        "avg_pool2d": '''
def avg_pool2d(x, kernel_size, stride=None):
    """Delegates to an nn.AvgPool2d module."""
    pool = nn.AvgPool2d(kernel_size, stride)
    return pool(torch.from_numpy(np.asarray(x, float))).numpy()
''',
    },
    "05_stride_padding": {
        "output_size": '''
import cnn_course as cc

def output_size(n, kernel_size, stride=1, padding=0, dilation=1):
    """Delegates to the reference."""
    return cc.output_size(n, kernel_size, stride, padding, dilation)
''',
        "pool_output_size": '''
from cnn_course.shapes import output_size as osz

def pool_output_size(n, kernel_size, stride, padding=0, ceil_mode=False):
    """Delegates to the reference through an alias."""
    return osz(n, kernel_size, stride, padding, ceil_mode=ceil_mode)
''',
        "same_padding": '''
import cnn_course as cc

def same_padding(kernel_size, dilation=1):
    """Delegates to the reference."""
    return cc.same_padding(kernel_size, dilation)
''',
        "conv2d": '''
import torch

def conv2d(x, weight, bias=None, stride=1, padding=0):
    """Calls PyTorch's operator directly."""
    xt = torch.from_numpy(np.asarray(x, float))
    wt = torch.from_numpy(np.asarray(weight, float))
    bt = None if bias is None else torch.from_numpy(np.asarray(bias, float))
    return torch.ops.aten.convolution(
        xt, wt, bt, [stride] * 2, [padding] * 2, [1, 1], False, [0, 0], 1
    ).numpy()
''',
    },
    "06_alexnet": {
        "conv_layer": '''
import cnn_course as cc

def conv_layer(in_shape, out, k, s, p, groups=1):
    """Delegates to the reference."""
    c, h, w = in_shape
    shape = (out, cc.output_size(h, k, s, p), cc.output_size(w, k, s, p))
    return shape, cc.conv2d_params(c, out, k, groups=groups)
''',
        "alexnet_table": '''
import cnn_course as cc

def alexnet_table(variant):
    """Copies the reference's table."""
    return [
        {"name": r["name"], "out_shape": r["out_shape"], "params": r["params"]}
        for r in cc.alexnet.layer_table(variant)
    ]
''',
    },
}
GUARDED = {name: list(tasks) for name, tasks in CHEATS.items()}

FOOL_PRELUDE = '''
class Anything:
    """Equal to everything; every attribute, item or call is another one."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def __getattr__(self, name):
        return Anything()

    def __call__(self, *args, **kwargs):
        return Anything()

    def __getitem__(self, key):
        return Anything()

    def __iter__(self):  # without it, iteration would index forever
        return iter(())

    def __len__(self):
        return 0

    def __index__(self):
        return 1

    def __float__(self):
        return 1.0

    def __bool__(self):
        return True
'''

WARN_PRELUDE = """
import sys
import warnings

def _to_stderr(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

warnings.showwarning = _to_stderr      # undo the notebook's warnings_to_stdout
warnings.simplefilter("always")
"""

WARN_LINE = (
    '    warnings.warn("a harmless warning", UserWarning)\n'
    "    np.float64(1.0) / np.float64(0.0)   # NumPy's RuntimeWarning\n"
)


def fool_source(perfect: str, first: bool) -> str:
    """Replace every function and variable a solution cell defines."""
    lines = [FOOL_PRELUDE] if first else []
    for node in ast.parse(perfect).body:
        if isinstance(node, ast.FunctionDef):
            lines.append(f"def {node.name}(*args, **kwargs):\n    return Anything()\n")
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    lines.append(f"{target.id} = Anything()")
    return "\n".join(lines)


def warn_source(perfect: str, first: bool) -> str:
    """The perfect answer, each function printing warnings to stderr first."""
    lines = perfect.splitlines(keepends=True)
    for node in sorted(
        (n for n in ast.parse(perfect).body if isinstance(n, ast.FunctionDef)),
        key=lambda n: n.lineno,
        reverse=True,
    ):
        after_docstring = node.body[0].end_lineno
        lines.insert(after_docstring, WARN_LINE)
    return (WARN_PRELUDE if first else "") + "".join(lines)


# Registers an IPython hook that shows a value in every cell run after it:
# nbgrader would read that value in a test cell as partial credit.
HACK = """
def _show_a_score(*args, **kwargs):
    get_ipython().displayhook(1.0)

get_ipython().events.register("pre_run_cell", _show_a_score)
"""

STUDENTS = ["perfect", "blank", "cheater", "fooler"]
EXTRA_STUDENTS = {"05_stride_padding": ["warner"], "06_alexnet": ["hacker"]}


def submission(name: str, student: str, released) -> nbformat.NotebookNode:
    nb = nbformat.from_dict(json.loads(nbformat.writes(released)))
    perfect = {
        nbgrader_meta(c)["grade_id"]: strip_markers(c.source)
        for c in source_nb(name).cells
        if is_solution(c)
    }
    first = True
    for cell in nb.cells:
        if not is_solution(cell):
            continue
        gid = nbgrader_meta(cell)["grade_id"]
        if student == "perfect":
            cell.source = perfect[gid]
        elif student == "cheater":
            cell.source = CHEATS[name].get(gid, perfect[gid]).strip("\n")
        elif student == "fooler":
            cell.source = fool_source(perfect[gid], first)
        elif student == "warner":
            cell.source = warn_source(perfect[gid], first)
        elif student == "hacker" and first:
            cell.source = HACK
        first = False
    return nb


def run_nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        capture_output=True,
        text=True,
        env=release.nbgrader_env(),
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A course folder: the solutions, the configuration, the generated release."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(REPO / "solutions", root / "solutions")
    shutil.copyfile(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    run_nbgrader(root, "generate_assignment", "*", "--log-level=WARN")
    return root


@pytest.fixture(scope="module")
def graded(course: Path) -> dict:
    """Autograde the class, one nbgrader call per assignment; read the gradebook."""
    from nbgrader.api import Gradebook

    for name in ASSIGNMENTS:
        released = released_nb(name, course)
        students = STUDENTS + EXTRA_STUDENTS.get(name, [])
        for student in students:
            folder = course / "submitted" / student / name
            folder.mkdir(parents=True)
            nbformat.write(
                submission(name, student, released), folder / f"{name}.ipynb"
            )
        run_nbgrader(course, "autograde", name, "--log-level=WARN")
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for name in ASSIGNMENTS:
            for sub in gb.assignment_submissions(name):
                nb = sub.notebooks[0]
                scores[name, sub.student.id] = {
                    g.cell.name: (g.score, g.max_score) for g in nb.grades
                }
    return scores


def autograded(course: Path, student: str, name: str):
    path = course / "autograded" / student / name / f"{name}.ipynb"
    return nbformat.read(path, as_version=4)


def errors_by_cell(nb) -> dict[str, list[str]]:
    found = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                found.setdefault(cell.id, []).append(f"{out.ename}: {out.evalue}")
            if out.output_type == "stream" and out.name == "stderr":
                found.setdefault(cell.id, []).append(f"stderr: {out.text}")
    return found


def committed_copy(relative: str, folder: Path) -> Path:
    """The file as committed (HEAD), or as it is when this is not a checkout.

    A student who works in exercises/ with `make lab` changes these files;
    what must match nbgrader's output is the committed release.
    """
    committed = git_show(relative)
    if committed is None:
        return REPO / relative
    target = folder / "committed" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(committed)
    return target


@pytest.mark.slow
def test_committed_release_is_what_nbgrader_generates_now(course):
    for name in ASSIGNMENTS:
        fresh = course / "exercises" / name / f"{name}.ipynb"
        committed = committed_copy(f"exercises/{name}/{name}.ipynb", course)
        assert release.normalised(fresh) == release.normalised(committed), (
            f"exercises/{name} is out of date: run `make release` and commit it"
        )
    generated = sorted(p.name for p in (course / "exercises").rglob("*") if p.is_file())
    assert generated == [f"{n}.ipynb" for n in ASSIGNMENTS]


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solutions_run_clean_and_score_full_marks(graded, course, name):
    grades = graded[name, "perfect"]
    assert grades, "no grades recorded"
    for grade_id, (score, max_score) in grades.items():
        assert score == max_score, f"{grade_id}: {score}/{max_score}"
    assert errors_by_cell(autograded(course, "perfect", name)) == {}


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_released_notebook_runs_and_scores_zero(graded, course, name):
    grades = graded[name, "blank"]
    assert sum(score for score, _ in grades.values()) == 0, grades
    nb = autograded(course, "blank", name)
    errors = errors_by_cell(nb)
    for cell in nb.cells:
        if is_solution(cell) and "def " in cell.source:
            assert errors.get(cell.id) is None, "defining a stub must not fail"
        if is_test(cell):
            assert errors.get(cell.id), f"{cell.id} should fail on the stub"
    assert any("NotImplementedError" in e for errs in errors.values() for e in errs)


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_delegating_the_work_scores_zero_on_guarded_tasks_only(graded, course, name):
    grades = graded[name, "cheater"]
    errors = errors_by_cell(autograded(course, "cheater", name))
    cells = {
        nbgrader_meta(c)["grade_id"]: c.id
        for c in source_nb(name).cells
        if nbgrader_meta(c)
    }
    guarded_tests = {f"test_{task}" for task in GUARDED[name]}
    for grade_id, (score, max_score) in grades.items():
        if grade_id in guarded_tests:
            assert score == 0, f"{grade_id} scored {score} for delegated work"
            message = " ".join(errors.get(cells[grade_id], []))
            assert "GuardError: GUARD:" in message, message
        else:
            assert score == max_score, f"{grade_id}: {score}/{max_score}"


@pytest.mark.slow
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_answers_that_equal_anything_score_nothing(graded, name):
    grades = graded[name, "fooler"]
    assert grades and all(score == 0 for score, _ in grades.values()), grades


@pytest.mark.slow
def test_warnings_on_stderr_do_not_fail_a_test(graded, course):
    name = "05_stride_padding"
    grades = graded[name, "warner"]
    for grade_id, (score, max_score) in grades.items():
        assert score == max_score, f"{grade_id}: {score}/{max_score}"
    # the warnings did run: they are gone from the test cells only because
    # autograde's IgnorePattern removed them
    nb = autograded(course, "warner", name)
    assert any("warnings.warn" in c.source for c in nb.cells if is_solution(c))


@pytest.mark.slow
def test_a_value_shown_in_a_test_cell_buys_no_partial_credit(graded, course):
    name = "06_alexnet"
    grades = graded[name, "hacker"]
    assert grades and all(score == 0 for score, _ in grades.values()), grades
    nb = autograded(course, "hacker", name)
    errors = errors_by_cell(nb)
    for cell in nb.cells:
        if is_test(cell):
            assert any(
                "GUARD: this test cell showed a value" in e
                for e in errors.get(cell.id, [])
            ), cell.id


@pytest.mark.slow
def test_feedback_shows_messages_but_no_hidden_test(graded, course):
    name = "01_convolution"
    run_nbgrader(course, "generate_feedback", name, "--log-level=WARN")
    page = (course / "feedback" / "cheater" / name / f"{name}.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    assert "GUARD: correlate2d_loops called scipy.signal" in text
    # lines only the hidden tests have (a hidden test may repeat visible code)
    public = "\n".join(
        line for cell in source_nb(name).cells for line in outside_regions(cell.source)
    )
    hidden = [
        line.strip()
        for cell in source_nb(name).cells
        for line in region_lines(cell.source, *HIDDEN_MARKERS)
        if len(line.strip()) > 20 and line.strip() not in public
    ]
    assert len(hidden) > 20, "control: the hidden tests have lines of their own"
    graded_sources = "\n".join(
        c.source for c in autograded(course, "cheater", name).cells
    )
    assert all(line in graded_sources for line in hidden), "control: tests restored"
    assert [line for line in hidden if line in text] == []
    assert "HIDDEN TESTS" not in text
