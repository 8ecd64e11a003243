"""nbgrader configuration of the CNN basics course.

nbgrader reads ``nbgrader_config.py`` from the folder it runs in, and the
course root set below is the folder this file sits in. So ``make lab`` (its
Validate button) runs from the repository's top folder, and every tool that
runs nbgrader elsewhere (``make release``, the tests' temporary course
folders, ``cnn-course grade``) copies or loads this file there: what is
graded is what students validated against. Every setting is a course-wide
decision, explained where it is made.

Layout (``CourseDirectory.directory_structure`` is nbgrader's default,
``{nbgrader_step}/{student_id}/{assignment_id}``):

* ``solutions/NN_topic/NN_topic.ipynb``: the instructor version (nbgrader's
  "source" step), with ``### BEGIN SOLUTION`` and ``### BEGIN HIDDEN TESTS``.
* ``exercises/NN_topic/NN_topic.ipynb``: the student version (the "release"
  step), written by ``nbgrader generate_assignment`` (``make release``) and
  committed.
* ``submitted/``, ``autograded/``, ``feedback/`` and ``gradebook.db``: made
  by a grading run under ``CourseDirectory.root`` and never committed.
"""

import os

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    Execute,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from cnn_course.autograde.preprocessors import NoPartialCredit, ShortTracebacks

c = get_config()  # noqa: F821 -- injected by traitlets when it loads this file

HERE = os.path.dirname(os.path.abspath(__file__))

# -- where things are ---------------------------------------------------------
c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "cnn-basics"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
# Only notebooks go from solutions/ to exercises/: nothing else in an
# assignment folder (notes, data, checkpoints) may reach students.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "*.py",
    "*.md",
]

# -- the student version --------------------------------------------------------
# nbgrader's defaults, spelled out because the notebooks' instructions quote
# them ("replace `raise NotImplementedError()`").
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.begin_solution_delimeter = "BEGIN SOLUTION"
c.ClearSolutions.end_solution_delimeter = "END SOLUTION"
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"

# -- running a notebook (validate and autograde) ------------------------------
# Every solution notebook runs in well under 10 s; a cell that takes a
# minute is stuck. A grading sandbox may lower this.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
# nbgrader scores a test cell 0 when anything at all reaches stderr. Python
# warnings (PyTorch's and NumPy's UserWarning, RuntimeWarning, ...) are
# printed there as "<file>:<line>: <Category>Warning: <message>"; they say
# nothing about the answer, so autograde drops such stderr outputs before
# scoring. Errors are "error" outputs, not stderr, and still fail the cell.
# (`nbgrader validate` has no such hook: the notebooks' setup cell sends
# warnings to stdout instead, see cnn_course.grading.warnings_to_stdout.)
# IgnorePattern is off unless enabled (nbconvert skips disabled preprocessors).
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(?m)^\S[^\n]*:\d+: [A-Za-z]*Warning: "
# nbgrader reads a value shown by a test cell (an execute_result) as partial
# credit, before any error that follows. The course's tests pass or fail and
# show no value, so a shown value can only come from student code hooked
# into the test cell: NoPartialCredit turns it into a failing GUARD: error.
# nbgrader's own list otherwise, in its order.
c.Autograde.autograde_preprocessors = [
    Execute,
    IgnorePattern,
    NoPartialCredit,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# Floods of output (a print in a loop) are cut, not stored in the gradebook.
c.LimitOutput.max_lines = 500
c.LimitOutput.max_traceback = 100

# -- feedback ---------------------------------------------------------------------
# nbgrader's feedback shows hidden tests by default (jupyter/nbgrader#917).
# Remove them, and cut every traceback down to its last line, since a
# traceback quotes the test code around the failing line. The messages of
# the hidden tests are written to be read on their own.
c.GenerateFeedback.preprocessors = [
    GetGrades,
    ClearHiddenTests,
    ShortTracebacks,
    CSSHTMLHeaderPreprocessor,
]
