"""nbgrader's settings for one grading run, built as a traitlets ``Config``.

The course's own ``nbgrader_config.py`` (what ``make lab``'s Validate and
``make release`` use) is loaded first, then an instructor's ``--config``
file, then what a grading run must set: the scratch course's folders, the
course's autograde preprocessors with nbgrader's ``Execute`` swapped for the
two-process one (:class:`~cnn_course.autograde.execute.TwoProcessExecute`),
and feedback that hides the hidden tests and renders student content inert.
Nothing is written to a file and read back.
"""

from __future__ import annotations

from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

__all__ = ["load_file", "configured_regex", "build"]


def load_file(path: str | Path) -> Config:
    """An nbgrader configuration file, loaded as a ``Config``."""
    path = Path(path).resolve()
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


def configured_regex(*files) -> str | None:
    """The collector regex set in any of ``files`` (the last one wins)."""
    regex = None
    for cfg in files:
        if cfg is None or not Path(cfg).exists():
            continue
        loaded = load_file(cfg)
        for section in ("FileNameCollectorPlugin", "ZipNameCollector"):
            if "named_regexp" in loaded[section]:
                regex = loaded[section].named_regexp
    return regex


def build(
    course: Path,
    assignment: str,
    *,
    config_files=(),
    source_notebook: Path,
    grader_socket: str,
    memory_bytes: int,
    max_output_bytes: int,
    unsafe: bool,
    timeout: int | None = None,
    notebook_timeout: float | None = None,
    uid: int | None = None,
) -> Config:
    """The ``Config`` of one grading run in the scratch course ``course``."""
    from nbconvert.preprocessors import (
        ClearMetadataPreprocessor,
        CSSHTMLHeaderPreprocessor,
    )
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

    from .execute import TwoProcessExecute
    from .preprocessors import SanitizeStudentContent, ShortTracebacks

    c = Config()
    for cfg in config_files:
        if cfg is not None and Path(cfg).exists():
            c.merge(load_file(cfg))
    c.CourseDirectory.root = str(course)
    c.CourseDirectory.source_directory = "source"
    c.CourseDirectory.release_directory = "release"
    c.CourseDirectory.submitted_directory = "submitted"
    c.CourseDirectory.autograded_directory = "autograded"
    c.CourseDirectory.feedback_directory = "feedback"
    c.CourseDirectory.db_url = "sqlite:///" + str(course / "gradebook.db")
    # Only the assignment being graded belongs in this gradebook's export.
    c.CourseDirectory.db_assignments = []
    c.OverwriteCells.add_missing_cells = True

    # Autograde: the course's preprocessors (nbgrader's by default), with
    # nbgrader's Execute replaced by the two-process one.
    default = [
        Execute,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]
    auto = list(c.Autograde.get("autograde_preprocessors", default))
    auto = [
        TwoProcessExecute
        if p in (Execute, "nbgrader.preprocessors.Execute")
        or getattr(p, "__name__", "") == "Execute"
        else p
        for p in auto
    ]
    if TwoProcessExecute not in auto:
        auto.insert(0, TwoProcessExecute)
    c.Autograde.autograde_preprocessors = auto

    # Feedback: hidden tests removed, tracebacks cut to their message, every
    # student markdown cell and output made inert before nbconvert renders it.
    pre = [
        p
        for p in c.GenerateFeedback.get(
            "preprocessors", [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
        )
    ]
    for needed, before in ((ClearHiddenTests, 1), (ShortTracebacks, 2)):
        if needed not in pre:
            pre.insert(min(before, len(pre)), needed)
    pre.insert(pre.index(ClearHiddenTests) + 1, SanitizeStudentContent)
    c.GenerateFeedback.preprocessors = pre
    import nbgrader

    from .feedback import TEMPLATES

    nbgrader_templates = (
        Path(nbgrader.__file__).parent
        / "server_extensions"
        / "formgrader"
        / "templates"
    )
    c.HTMLExporter.template_name = "cnn_feedback"
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(nbgrader_templates)]

    x = c.TwoProcessExecute
    x.memory_bytes = memory_bytes
    x.max_output_bytes = max_output_bytes
    x.unsafe = unsafe
    x.assignment = assignment
    x.events_dir = str(course / "events" / assignment)
    x.public_dir = str(course / "release" / assignment)
    x.source_notebook = str(source_notebook)
    x.grader_socket = grader_socket
    if uid is not None:
        x.uid = uid
    if timeout is not None:
        x.timeout = timeout
    if notebook_timeout is not None:
        x.notebook_timeout = notebook_timeout
    return c
