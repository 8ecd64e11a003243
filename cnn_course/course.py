"""The course's facts, written down once: where it lives, its assignments.

Used by the grading side (:mod:`cnn_course.autograde`), ``make release``
and the tests. Each assignment declares here what its students' code may
not import while it is graded: the sandboxed kernel is built so that these
modules cannot be imported at all (see :mod:`cnn_course.autograde.sandbox`).

>>> [a.name for a in ASSIGNMENTS][:2]
['01_convolution', '02_filters']
>>> "torch" in assignment("04_cnn_structure").blocked
False
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "REPO",
    "MARKERS",
    "BEGIN_SOLUTION",
    "END_SOLUTION",
    "BEGIN_HIDDEN",
    "END_HIDDEN",
    "REFERENCE_MODULES",
    "Assignment",
    "ASSIGNMENTS",
    "assignment",
]

#: The repository's top folder (where ``nbgrader_config.py`` lives).
REPO = Path(__file__).resolve().parent.parent

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
#: Markers that must never appear in a student notebook.
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")

#: ``cnn_course`` modules that compute what some assignment asks students to
#: compute. None of them is importable in any grading sandbox; a student's
#: kernel gets ``grading``, ``tables``, ``exercise_data`` and the stubs.
REFERENCE_MODULES = (
    "alexnet",
    "conv",
    "experiments",
    "filters",
    "params",
    "plotting",
    "pooling",
    "shapes",
    "summary",
)

# Third-party modules that compute a convolution, a pooling or a filter.
_SCIPY = ("scipy.signal", "scipy.ndimage")


@dataclass(frozen=True)
class Assignment:
    """One exercise notebook, and what its graded kernel cannot import.

    Parameters
    ----------
    name : str
        ``NN_topic``: the folder and notebook name in ``solutions/``.
    chapter : str
        The book page it goes with.
    blocked : tuple of str
        Modules (besides ``cnn_course``'s reference modules) that the
        student's kernel cannot import while this assignment is graded.
    why : str
        One sentence for the student who tries: what the assignment asks
        them to write themselves.
    """

    name: str
    chapter: str
    blocked: tuple[str, ...]
    why: str


ASSIGNMENTS = (
    Assignment(
        "01_convolution",
        "book/01_convolution",
        ("torch", *_SCIPY),
        "this exercise asks you to compute the convolution yourself",
    ),
    Assignment(
        "02_filters",
        "book/02_filters",
        ("torch", *_SCIPY),
        "this exercise asks you to write the kernels and the filter yourself",
    ),
    Assignment(
        "03_parameters",
        "book/03_parameters",
        ("torch", *_SCIPY),
        "this exercise asks you to count the parameters yourself; the tests "
        "compare your counts with PyTorch's",
    ),
    # Chapter 4 builds models with torch.nn, so torch stays importable; its
    # pooling tasks are checked by reading the code (autograde.static).
    Assignment(
        "04_cnn_structure",
        "book/04_cnn_structure",
        _SCIPY,
        "this exercise asks you to write pooling and the parameter split yourself",
    ),
    Assignment(
        "05_stride_padding",
        "book/05_stride_padding",
        ("torch", *_SCIPY),
        "this exercise asks you to compute sizes and the convolution yourself",
    ),
    Assignment(
        "06_alexnet",
        "book/06_alexnet",
        ("torch", *_SCIPY),
        "this exercise asks you to count AlexNet yourself",
    ),
)


def assignment(name: str) -> Assignment:
    """The :class:`Assignment` called ``name``.

    Raises
    ------
    KeyError
        Naming the valid assignments.
    """
    for a in ASSIGNMENTS:
        if a.name == name:
            return a
    raise KeyError(
        f"assignment {name!r} is not one of the course's: "
        + ", ".join(a.name for a in ASSIGNMENTS)
    )
