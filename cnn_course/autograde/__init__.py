"""The instructor's side: grading a class, never imported by a notebook.

``from cnn_course.autograde import grade, GradeOptions`` runs the whole
pipeline (:mod:`cnn_course.autograde.pipeline`). The modules, in the order
data flows through them:

- :mod:`.intake`: the zip, read once; each notebook settled and compared;
- :mod:`.sandbox`: bubblewrap, limits and import blocks for a kernel;
- :mod:`.execute`: student cells in the student's kernel, tests in the
  grader (:mod:`.grader`), connected by the data-only channel
  (:mod:`.channel`, with :mod:`.agent` on the student's side);
- :mod:`.preprocessors`: every nbconvert/nbgrader preprocessor of the course;
- :mod:`.config`: nbgrader's settings, built as a traitlets ``Config``;
- :mod:`.feedback` and :mod:`.report`: what people open afterwards.

Importing this package imports none of them: a student's kernel imports
:mod:`.agent` and :mod:`.channel` alone.
"""

__all__ = ["grade", "GradeOptions", "GradingError", "ClassResult", "StudentResult"]


def __getattr__(name):
    if name in __all__:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
