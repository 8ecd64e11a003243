"""Grade one assignment from an LMS zip, in named steps.

``cnn-course grade`` (:mod:`cnn_course.cli`) calls :func:`grade`, which
runs these steps; each per-student step is isolated, so one submission can
never stop the class:

1. :func:`prepare`: a scratch nbgrader course in ``OUT/course``,
   ``generate_assignment`` from ``solutions/`` (the gradebook learns the
   cells and hidden tests), and the sandbox probe;
2. :func:`reference_run`: the solution runs the way students will; it must
   score full marks, and its slowest cell sets the default timeout;
3. :func:`collect`: the zip, read once (:func:`.intake.read_zip`);
4. :func:`grade_student`, for each student: settle the notebook and compare
   it with the gradebook (intake), nbgrader's sanitising preprocessors,
   :func:`execute_submission` (student cells in the sandboxed kernel, tests
   in the grader process), nbgrader's ``SaveAutoGrades`` into the gradebook,
   and the feedback page;
5. :func:`export`: ``OUT/grades.csv``, nbgrader's export;
6. the class report (:mod:`cnn_course.autograde.report`).

Only this process writes the gradebook.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import nbformat

from ..course import REPO
from . import config as nbconfig
from .execute import MAX_OUTPUT_BYTES, default_timeout, is_test_cell
from .intake import (
    FOLDER_REGEX,
    Intake,
    Problem,
    compare_with_source,
    read_zip,
    settle_notebook,
)
from .sandbox import BLOCKED_PREFIX, MEMORY_BYTES, NOBODY

__all__ = [
    "GradeOptions",
    "GradingError",
    "StudentResult",
    "ClassResult",
    "Prepared",
    "grade",
    "prepare",
    "reference_run",
    "collect",
    "grade_student",
    "execute_submission",
    "export",
    "fingerprint",
    "SECRET_ENV",
]

ASSIGNMENT = re.compile(r"^\d\d_[a-z0-9_]+$")
#: The environment variable ``cnn-course grade`` reads the secret from.
SECRET_ENV = "CNN_COURSE_SECRET"


class GradingError(RuntimeError):
    """Grading cannot start or cannot go on; the message says why."""


@dataclass
class GradeOptions:
    """Settings of one grading run (the command line's flags)."""

    regex: str | None = None
    timeout: int | None = None
    notebook_timeout: float | None = None
    memory_bytes: int = MEMORY_BYTES
    max_output_bytes: int = MAX_OUTPUT_BYTES
    unsafe: bool = False
    progress: bool = True
    solutions_dir: Path = REPO / "solutions"
    exercises_dir: Path = REPO / "exercises"
    config_file: Path | None = REPO / "nbgrader_config.py"
    extra_config: Path | None = None
    secret: str | None = None
    jobs: int = 1
    scheduler: str | None = None


@dataclass
class StudentResult:
    student_id: str
    score: float
    max_score: float
    problems: list[Problem] = field(default_factory=list)
    tests: dict[str, bool] = field(default_factory=dict)
    feedback: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "student_id": self.student_id,
            "score": self.score,
            "max_score": self.max_score,
            "problems": [p.as_dict() for p in self.problems],
            "tests": self.tests,
            "feedback": self.feedback,
        }


@dataclass
class ClassResult:
    assignment: str
    max_score: float
    students: dict[str, StudentResult]
    test_points: dict[str, float]
    timeout: int
    notebook_timeout: float
    sandbox: str
    unmatched: list[str]
    notes: list[str]
    ignored: list[str]
    out: Path
    secret: str = "none"

    @property
    def report_dir(self) -> Path:
        return self.out / "reports" / self.assignment

    def pass_rates(self) -> dict[str, float]:
        n = len(self.students) or 1
        return {
            t: sum(s.tests.get(t, False) for s in self.students.values()) / n
            for t in self.test_points
        }

    def as_dict(self) -> dict:
        return {
            "assignment": self.assignment,
            "max_score": self.max_score,
            "timeout": self.timeout,
            "notebook_timeout": self.notebook_timeout,
            "sandbox": self.sandbox,
            "secret": self.secret,
            "test_points": self.test_points,
            "pass_rates": self.pass_rates(),
            "unmatched": self.unmatched,
            "notes": self.notes,
            "ignored": self.ignored,
            "students": {k: v.as_dict() for k, v in sorted(self.students.items())},
        }


def fingerprint(secret: str | None) -> str:
    """A short fingerprint of the secret for the report, never the secret.

    Slow on purpose (PBKDF2), so that a guessable secret is not found from
    its fingerprint quickly; two runs with the same secret show the same
    fingerprint.

    >>> fingerprint("correct horse") == fingerprint("correct horse")
    True
    >>> fingerprint(None)
    'none'
    """
    if not secret:
        return "none"
    digest = hashlib.pbkdf2_hmac(
        "sha256", secret.encode(), b"cnn-course-secret-fingerprint", 200_000
    )
    return digest[:6].hex()


# -- 1. prepare ----------------------------------------------------------------


@dataclass
class Prepared:
    """Everything the per-student steps need, computed once."""

    assignment: str
    out: Path
    course: Path
    options: GradeOptions
    config: object
    coursedir: object
    db_url: str
    source_path: Path
    source_nb: nbformat.NotebookNode
    source_cells: list
    release_nb: nbformat.NotebookNode
    known_ids: set[str]
    max_score: float
    test_points: dict[str, float]
    notes: list[str]
    sandbox: str
    regex: str
    timeout: int = 60
    notebook_timeout: float = 300.0
    grader_socket: str = ""
    uid: int = NOBODY

    @property
    def logs(self) -> Path:
        return self.course / "logs" / self.assignment

    def execution(self) -> dict:
        """The settings the execution step needs, as plain data."""
        public = self.course / "release" / self.assignment
        return {
            "assignment": self.assignment,
            "timeout": self.timeout,
            "notebook_timeout": self.notebook_timeout,
            "memory_bytes": self.options.memory_bytes,
            "max_output_bytes": self.options.max_output_bytes,
            "unsafe": self.options.unsafe,
            "public_dir": str(public),
            "source_notebook": str(self.source_path),
            "grader_socket": self.grader_socket,
            "uid": self.uid,
        }


def _check_out(out: Path) -> None:
    """Refuse an output folder inside the repository's tracked tree."""
    out = out.resolve()
    if not out.is_relative_to(REPO) or not (REPO / ".git").exists():
        return
    ignored = subprocess.run(
        ["git", "-C", str(REPO), "check-ignore", "-q", str(out)], capture_output=True
    )
    if ignored.returncode != 0:
        raise GradingError(
            f"--out {out} is inside the repository and not git-ignored; choose a "
            "folder outside it, or grading-out/ (ignored)"
        )


def _cells_by_id(nb) -> dict[str, str]:
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source.strip()
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade_id")
    }


def _release_given(course: Path, assignment: str, exercises: Path):
    """The student notebook the class received, and a note if it is stale.

    That is ``exercises/`` when it holds the assignment, since students got
    that file; a test cell is "edited" when it differs from it. If it
    differs from what ``solutions/`` generates now, the report says so.
    """
    name = f"{assignment}.ipynb"
    fresh = nbformat.read(course / "release" / assignment / name, as_version=4)
    given_path = Path(exercises) / assignment / name
    if not given_path.exists():
        return fresh, []
    given = nbformat.read(given_path, as_version=4)
    ours, theirs = _cells_by_id(fresh), _cells_by_id(given)
    differ = sorted(
        k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k)
    )
    if not differ:
        return given, []
    return given, [
        f"{given_path} differs from what solutions/ generates now, in "
        f"{', '.join(differ)}. Cells were compared with {given_path.name} as "
        "students received it; nbgrader restores tests from the current "
        "solutions. Run `make release` before the next class."
    ]


def _quiet_logger(name: str) -> logging.Logger:
    log = logging.getLogger(f"cnn_course.autograde.{name}")
    log.propagate = False
    log.setLevel(logging.INFO)
    return log


def _run_converter(cls, config, coursedir, assignment, student, log_file: Path, **kw):
    """Run one nbgrader converter in-process; return (success, log text)."""
    from nbgrader.utils import capture_log, temp_attrs

    kwargs = {"assignment_id": assignment}
    if student is not None:
        kwargs["student_id"] = student
    with temp_attrs(coursedir, **kwargs):
        app = cls(coursedir=coursedir, config=config)
        app.log = _quiet_logger(cls.__name__)
        for key, value in kw.items():
            setattr(app, key, value)
        result = capture_log(app)
    text = result.get("log", "") + result.get("error", "")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text(text, errors="replace")
    return result["success"], text


def _reset_assignment(course: Path, assignment: str, db_url: str) -> None:
    """Forget an earlier grading of the same assignment in this folder."""
    from nbgrader.api import Gradebook, MissingEntry

    for step in ("submitted", "autograded", "feedback"):
        for folder in (course / step).glob(f"*/{assignment}"):
            shutil.rmtree(folder)
    for folder in (course / "events" / assignment, course / "set_aside" / assignment):
        shutil.rmtree(folder, ignore_errors=True)
    if (course / "gradebook.db").exists():
        with Gradebook(db_url) as gb:
            try:
                gb.remove_assignment(assignment)
            except MissingEntry:
                pass


def prepare(assignment: str, out: Path, options: GradeOptions) -> Prepared:
    """Check the inputs, probe the sandbox, set up the scratch course."""
    from nbgrader.api import Gradebook
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    from .sandbox import SandboxConfig, SandboxUnavailable, check_sandbox

    solutions = Path(options.solutions_dir).resolve()
    available = sorted(
        p.name for p in solutions.glob("*") if (p / f"{p.name}.ipynb").exists()
    )
    if not ASSIGNMENT.match(assignment or "") or assignment not in available:
        raise GradingError(
            f"assignment {assignment!r} not found in {solutions}; expected one of "
            f"{', '.join(available) or '(none)'}"
        )
    out = Path(out).resolve()
    _check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    course = out / "course"
    course.mkdir(exist_ok=True)

    if options.unsafe:
        sandbox_note = (
            "none (--unsafe): student code could read solutions and hidden tests"
        )
    else:
        secrets = [str(solutions), str(out), str(REPO / ".git")]
        try:
            check_sandbox(
                [s for s in secrets if Path(s).exists()],
                SandboxConfig(assignment=assignment),
            )
        except SandboxUnavailable as err:
            raise GradingError(
                f"refusing to grade: no safe sandbox for student code ({err}). "
                "Without one, student code could read the solutions, the hidden "
                "tests and other students' work. Fix the sandbox, or pass --unsafe "
                "to grade anyway on a machine and class you trust."
            ) from err
        sandbox_note = (
            "bubblewrap: own filesystem view, no network, unprivileged uid; "
            "tests run in a separate grader process"
        )

    regex = (
        options.regex
        or nbconfig.configured_regex(options.config_file, options.extra_config)
        or FOLDER_REGEX
    )
    source_path = course / "source" / assignment / f"{assignment}.ipynb"
    config = nbconfig.build(
        course,
        assignment,
        config_files=(options.config_file, options.extra_config),
        source_notebook=source_path,
        grader_socket="",
        memory_bytes=options.memory_bytes,
        max_output_bytes=options.max_output_bytes,
        unsafe=options.unsafe,
    )
    coursedir = CourseDirectory(config=config)
    db_url = coursedir.db_url
    _reset_assignment(course, assignment, db_url)
    source_dir = course / "source" / assignment
    shutil.rmtree(source_dir, ignore_errors=True)
    shutil.copytree(solutions / assignment, source_dir)
    logs = course / "logs" / assignment
    ok, text = _run_converter(
        GenerateAssignment,
        config,
        coursedir,
        assignment,
        None,
        logs / "generate_assignment.log",
        force=True,
        create_assignment=True,
    )
    if not ok:
        raise GradingError(f"nbgrader generate_assignment failed:\n{text[-3000:]}")
    with Gradebook(db_url) as gb:
        notebook = gb.find_notebook(assignment, assignment)
        source_cells = [
            SimpleNamespace(
                name=c.name, cell_type=c.cell_type, locked=c.locked, source=c.source
            )
            for c in notebook.source_cells
        ]
        max_score = float(gb.find_assignment(assignment).max_score)
        test_points = {
            g.name: float(g.max_score)
            for g in notebook.grade_cells
            if g.cell_type == "code"
        }
    release_nb, notes = _release_given(course, assignment, options.exercises_dir)
    return Prepared(
        assignment=assignment,
        out=out,
        course=course,
        options=options,
        config=config,
        coursedir=coursedir,
        db_url=db_url,
        source_path=source_path,
        source_nb=nbformat.read(source_path, as_version=4),
        source_cells=source_cells,
        release_nb=release_nb,
        known_ids={c.name for c in source_cells},
        max_score=max_score,
        test_points=test_points,
        notes=notes,
        sandbox=sandbox_note,
        regex=regex,
    )


# -- the execution step (the part a worker can run) ----------------------------


def execute_submission(nb, settings: dict, student: str = "reference"):
    """Run one sanitised notebook: student cells sandboxed, tests in the grader.

    ``settings`` is :meth:`Prepared.execution` (plain data, so that another
    machine can run this step). Runs the execution preprocessors of the
    course's autograde list, up to nbgrader's ``SaveAutoGrades``, which
    writes the gradebook and so stays with the coordinator.

    Returns
    -------
    nb, events, durations
    """
    from nbgrader.preprocessors import SaveAutoGrades
    from traitlets.config import Config

    from .execute import TwoProcessExecute
    from .preprocessors import NoPartialCredit

    # nbclient re-reads its settings from the config when it starts a
    # notebook, so this run's settings go into (a copy of) the config.
    config = Config(settings.get("config") or {})
    config.TwoProcessExecute = Config(config.get("TwoProcessExecute", {}))
    for key in (
        "assignment",
        "timeout",
        "notebook_timeout",
        "memory_bytes",
        "max_output_bytes",
        "unsafe",
        "public_dir",
        "source_notebook",
        "grader_socket",
        "uid",
    ):
        config.TwoProcessExecute[key] = settings[key]
    executor = TwoProcessExecute(config=config)
    resources = {"nbgrader": {"student": student}, "metadata": {"path": "."}}
    chain = settings.get("after_execute") or [NoPartialCredit]
    nb, resources = executor.preprocess(nb, resources)
    for cls in chain:
        if cls is SaveAutoGrades:
            break
        pre = cls(config=config)
        nb, resources = pre(nb, resources)
    return nb, executor.events, executor.durations


def _after_execute(config) -> list:
    """The autograde preprocessors that follow the execution, up to SaveAutoGrades."""
    from .execute import TwoProcessExecute

    chain = list(config.Autograde.autograde_preprocessors)
    index = chain.index(TwoProcessExecute)
    return chain[index + 1 :]


def _settings(prepared: Prepared) -> dict:
    settings = prepared.execution()
    settings["config"] = prepared.config
    settings["after_execute"] = _after_execute(prepared.config)
    return settings


# -- 2. the reference run ------------------------------------------------------


def reference_run(prepared: Prepared, workers=None) -> None:
    """Run the solution as a student's notebook; it must score full marks.

    It runs where students will (``workers``, or here). Sets the per-cell
    timeout from its slowest cell (unless given).
    """
    from nbgrader.utils import determine_grade, is_grade, is_solution

    nb = nbformat.read(prepared.source_path, as_version=4)
    limits = {"timeout": 600, "notebook_timeout": 1800}
    if workers is None:
        settings = dict(_settings(prepared), **limits)
        nb, events, durations = execute_submission(nb, settings)
    else:
        nb, events, durations = workers.submit("reference", nb, **limits).result()
    failures = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and is_grade(cell) and not is_solution(cell):
            score, points = determine_grade(cell)
            if score != points:
                failures.append(
                    (cell.metadata.nbgrader["grade_id"], _first_failure(cell))
                )
        elif cell.cell_type == "code":
            for out in cell.get("outputs", []):
                if out.output_type == "error":
                    failures.append((f"cell {index + 1}", _error_line(out)))
    failures += [(e["cell"], e["message"]) for e in events]
    if failures:
        listed = "; ".join(f"{c}: {m}" for c, m in failures)
        raise GradingError(
            f"the solution of {prepared.assignment} does not pass in the grading "
            f"sandbox, so students cannot be graded fairly: {listed}"
        )
    options = prepared.options
    slowest = max(durations.values(), default=0.0)
    prepared.timeout = options.timeout or default_timeout(slowest)
    prepared.notebook_timeout = options.notebook_timeout or max(
        5.0 * prepared.timeout, 3.0 * sum(durations.values()) + 2.0 * prepared.timeout
    )


def _error_line(out) -> str:
    """``Name: first line of the message`` of an error output."""
    lines = (out.get("evalue") or "").strip().splitlines()
    return (f"{out.get('ename')}: {lines[0]}" if lines else str(out.get("ename")))[:300]


def _first_failure(cell) -> str:
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            return _error_line(out)
    for out in cell.get("outputs", []):
        if out.output_type == "stream" and out.name == "stderr":
            return "wrote to stderr: " + out.text.strip().splitlines()[0][:250]
    return "failed"


# -- 3. collect ----------------------------------------------------------------


def collect(prepared: Prepared, submissions: Path) -> Intake:
    """Read the zip once; each student's files land in ``submitted/``."""
    try:
        return read_zip(
            submissions,
            prepared.regex,
            prepared.course / "submitted",
            prepared.assignment,
        )
    except ValueError as err:
        raise GradingError(str(err)) from err


# -- 4. one student ------------------------------------------------------------

SUSPICIOUS = [
    (
        r"input_transformers|ast_transformers|events\.register",
        "changes how IPython runs cells",
    ),
    (r"sys\.settrace|sys\.setprofile|threading\.settrace", "installs a trace hook"),
    (r"sys\.modules", "edits sys.modules"),
    (r"\b__builtins__\b|\bbuiltins\.", "touches builtins"),
    (r"\bos\._exit\b|\bsys\.exit\b", "stops the kernel"),
    (r"\bsignal\.signal\b", "changes signal handling"),
    (
        r"\bctypes\b|\bsubprocess\b|\bos\.system\b|\bos\.fork\b",
        "starts processes or loads C",
    ),
    (r"\.ipynb\b|gradebook|solutions/", "names a grading file"),
    (
        r"\b__import__\b|\bimportlib\b|\bexec\s*\(|\beval\s*\(",
        "imports or runs code by name",
    ),
    (
        r"\bnp\.convolve\b|\bnp\.correlate\b|\bnumpy\.convolve\b|\bnumpy\.correlate\b",
        "calls NumPy's 1-D convolution",
    ),
    (
        r"\bF\.(?:conv|max_pool|avg_pool)|functional\.(?:conv|max_pool|avg_pool)"
        r"|\bnn\.(?:MaxPool|AvgPool)2d\([^)]*\)\s*\(",
        "computes with PyTorch's convolution or pooling",
    ),
]


def _suspicious(nb) -> list[Problem]:
    found = []
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("locked"):
            continue
        label = meta.get("grade_id") or f"cell {index + 1}"
        for pattern, what in SUSPICIOUS:
            for lineno, line in enumerate(cell.source.splitlines(), 1):
                if re.search(pattern, line):
                    found.append(
                        Problem(
                            "suspicious-code",
                            f"{what} (line {lineno}: {line.strip()[:80]}); check it",
                            label,
                        )
                    )
                    break
    return found


def _outcomes(nb) -> list[Problem]:
    """Failing tests and erroring cells of an executed notebook."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        label = meta.get("grade_id") or f"cell {index + 1}"
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        stderr = [
            o
            for o in cell.get("outputs", [])
            if o.output_type == "stream" and o.name == "stderr"
        ]
        if is_test_cell(cell):
            if not errors and not stderr:
                continue
            message = _first_failure(cell)
            guard = any(BLOCKED_PREFIX in (o.get("evalue") or "") for o in errors)
            code = "reference-called" if guard else "test-failed"
            problems.append(Problem(code, message, label))
        elif errors:
            problems.append(Problem("cell-error", _error_line(errors[0]), label))
    return problems


def _scores(db_url: str, assignment: str, student: str):
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return 0.0, {}
        tests = {}
        for notebook in submission.notebooks:
            for g in notebook.grades:
                if g.cell_type == "code" and g.auto_score is not None:
                    tests[g.name] = g.score == g.max_score
        return float(submission.score), tests


def _resources(prepared: Prepared, student: str) -> dict:
    return {
        "nbgrader": {
            "student": student,
            "assignment": prepared.assignment,
            "notebook": prepared.assignment,
            "db_url": prepared.db_url,
        },
        "metadata": {"path": "."},
    }


def _sanitize(prepared: Prepared, nb, student: str):
    """nbgrader's own sanitising step of autograde (it reads the gradebook)."""
    from nbgrader.converters import Autograde

    chain = list(prepared.config.Autograde.get("sanitize_preprocessors", []))
    if not chain:
        chain = Autograde.class_traits()["sanitize_preprocessors"].default()
    resources = _resources(prepared, student)
    for cls in chain:
        nb, resources = cls(config=prepared.config)(nb, resources)
    return nb


def _record(prepared: Prepared, nb, student: str) -> Path:
    """Save the executed notebook's grades: the gradebook is written here only."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import SaveAutoGrades

    with Gradebook(prepared.db_url) as gb:
        gb.update_or_create_student(student)
        gb.update_or_create_submission(prepared.assignment, student)
    chain = list(prepared.config.Autograde.autograde_preprocessors)
    resources = _resources(prepared, student)
    for cls in chain[chain.index(SaveAutoGrades) :]:
        nb, resources = cls(config=prepared.config)(nb, resources)
    target = prepared.course / "autograded" / student / prepared.assignment
    target.mkdir(parents=True, exist_ok=True)
    for path in (prepared.course / "source" / prepared.assignment).iterdir():
        if path.is_file() and path.suffix != ".ipynb":
            shutil.copy(path, target / path.name)
    path = target / f"{prepared.assignment}.ipynb"
    nbformat.write(nb, path)
    return path


def _record_missing(prepared: Prepared, student: str) -> None:
    """No usable notebook: every test scores 0 (nbgrader's own rule)."""
    from nbgrader.api import Gradebook

    with Gradebook(prepared.db_url) as gb:
        gb.update_or_create_student(student)
        gb.update_or_create_submission(prepared.assignment, student)
        submission = gb.find_submission_notebook(
            prepared.assignment, prepared.assignment, student
        )
        for grade in submission.grades:
            grade.auto_score = 0
            grade.needs_manual_grade = False
        gb.db.commit()


def _feedback(prepared: Prepared, student: str) -> list[str]:
    from nbgrader.converters import GenerateFeedback

    from .feedback import finish_page

    ok, text = _run_converter(
        GenerateFeedback,
        prepared.config,
        prepared.coursedir,
        prepared.assignment,
        student,
        prepared.logs / f"{student}.feedback.log",
        force=True,
    )
    source = prepared.course / "feedback" / student / prepared.assignment
    if not ok or not source.exists():
        last = text.strip().splitlines()[-1] if text.strip() else "no log"
        raise RuntimeError(f"nbgrader generate_feedback failed ({last[:200]})")
    target = prepared.out / "feedback" / student / prepared.assignment
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    pages = sorted(target.rglob("*.html"))
    for page in pages:
        finish_page(page)
    return [p.relative_to(prepared.out).as_posix() for p in pages]


def _step(problems: list[Problem], what: str, fn, *args):
    """Run one per-student step; an exception becomes a ``grading-error``."""
    try:
        return fn(*args)
    except Exception as err:  # any failure of one student's step
        problems.append(
            Problem(
                "grading-error",
                f"{what} failed: {type(err).__name__}: {str(err)[:300]}; see "
                "course/logs/",
            )
        )
        return None


@dataclass
class Admitted:
    """One student after intake: the problems so far, the notebook to run."""

    student: str
    problems: list[Problem]
    notebook: nbformat.NotebookNode | None


def admit(prepared: Prepared, student: str, intake: Intake) -> Admitted:
    """Intake of one student: settle, compare, flag, sanitise (no execution)."""
    problems = list(intake.problems.get(student, []))
    name = f"{prepared.assignment}.ipynb"
    folder = prepared.course / "submitted" / student / prepared.assignment
    settled = _step(
        problems,
        "reading the notebook",
        settle_notebook,
        folder,
        name,
        intake.files.get(student, []),
        prepared.known_ids,
        prepared.course / "set_aside" / prepared.assignment / student,
    )
    found, graded = settled if settled is not None else ([], False)
    problems += found
    nb = None
    if graded:
        nb_path = folder / name
        problems += (
            _step(
                problems,
                "comparing with the gradebook",
                compare_with_source,
                nb_path,
                prepared.source_cells,
                prepared.release_nb,
            )
            or []
        )
        nb = _step(problems, "reading the notebook", nbformat.read, nb_path, 4)
        if nb is not None:
            problems += _suspicious(nb)
            nb = _step(problems, "sanitising", _sanitize, prepared, nb, student)
    return Admitted(student, problems, nb)


def conclude(prepared: Prepared, admitted: Admitted, run) -> StudentResult:
    """Save one student's grades, name the problems, write the feedback.

    ``run`` is what :func:`execute_submission` returned, None when the
    notebook was not run, or an exception it raised.
    """
    student, problems = admitted.student, list(admitted.problems)
    executed, feedback = None, []
    if isinstance(run, BaseException):
        problems.append(
            Problem(
                "grading-error",
                f"running the notebook failed: {type(run).__name__}: "
                f"{str(run)[:300]}; see course/logs/",
            )
        )
    elif run is not None:
        executed, events, _ = run
        for e in events:
            problems.append(Problem(e["code"], e["message"], e["cell"]))
    if executed is not None:
        recorded = _step(
            problems, "saving the grades", _record, prepared, executed, student
        )
        if recorded is not None:
            problems += _outcomes(executed)
            feedback = (
                _step(problems, "writing feedback", _feedback, prepared, student) or []
            )
        else:
            executed = None
    if executed is None:
        _step(problems, "scoring", _record_missing, prepared, student)
    score, tests = _step(
        problems,
        "reading the score",
        _scores,
        prepared.db_url,
        prepared.assignment,
        student,
    ) or (0.0, {})
    return StudentResult(student, score, prepared.max_score, problems, tests, feedback)


def grade_student(prepared: Prepared, student: str, intake: Intake) -> StudentResult:
    """Grade one student here and now: :func:`admit`, run, :func:`conclude`."""
    admitted = admit(prepared, student, intake)
    run = None
    if admitted.notebook is not None:
        try:
            run = execute_submission(admitted.notebook, _settings(prepared), student)
        except Exception as err:  # the execution step broke for this student
            run = err
    return conclude(prepared, admitted, run)


# -- 5. export -----------------------------------------------------------------


def export(prepared: Prepared) -> Path:
    """nbgrader's CSV export of the gradebook to ``OUT/grades.csv``."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    path = prepared.out / "grades.csv"
    plugin = CsvExportPlugin(config=prepared.config)
    plugin.log = _quiet_logger("export")
    plugin.to = str(path)
    with Gradebook(prepared.db_url) as gb:
        plugin.export(gb)
    return path


# -- the whole run -------------------------------------------------------------


def grade(
    assignment: str,
    submissions: str | os.PathLike,
    out: str | os.PathLike,
    options: GradeOptions | None = None,
) -> ClassResult:
    """Grade ``submissions`` (a zip) for ``assignment`` into the folder ``out``.

    Raises
    ------
    GradingError
        If the assignment, the zip or the output folder is unusable, the
        sandbox cannot be had (and ``options.unsafe`` is off), or the
        solution itself fails in the sandbox.
    """
    options = options or GradeOptions()
    # nbgrader runs its own tools (alembic) by name: find them in this venv.
    bindir = str(Path(os.path.abspath(sys.executable)).parent)
    saved_path = os.environ.get("PATH", "")
    if bindir not in saved_path.split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + saved_path
    try:
        with warnings.catch_warnings():
            from sqlalchemy.exc import SAWarning

            # nbgrader's gradebook code trips SQLAlchemy's autoflush warnings.
            warnings.simplefilter("ignore", SAWarning)
            return _grade(assignment, submissions, out, options)
    finally:
        os.environ["PATH"] = saved_path


def _workers(prepared: Prepared, options: GradeOptions):
    """Where the notebooks run: a Dask cluster, or this machine's threads."""
    from .workers import DaskWorkers, LocalWorkers

    settings = _settings(prepared)
    if options.scheduler:
        try:
            return DaskWorkers(settings, options.scheduler, options.secret)
        except (OSError, TimeoutError) as err:
            raise GradingError(
                f"cannot reach the Dask scheduler at {options.scheduler}: {err}"
            ) from err
    return LocalWorkers(settings, options.jobs)


def _grade(assignment, submissions, out, options: GradeOptions) -> ClassResult:
    from tqdm import tqdm

    from . import report
    from .grader import GraderServer

    submissions = Path(submissions).resolve()
    if not submissions.is_file():
        raise GradingError(
            f"submissions {str(submissions)!r} is not a file; expected a zip"
        )
    if options.jobs < 1:
        raise GradingError(f"--jobs must be at least 1, got {options.jobs}")
    prepared = prepare(assignment, out, options)
    results: dict[str, StudentResult] = {}
    server = None if options.scheduler else GraderServer(options.secret)
    try:
        if server is not None:
            prepared.grader_socket = server.path
        with _workers(prepared, options) as workers:
            reference_run(prepared, workers)
            # the timeouts the reference run set reach the workers
            workers.settings_update(
                timeout=prepared.timeout, notebook_timeout=prepared.notebook_timeout
            )
            intake = collect(prepared, submissions)
            students = sorted(set(intake.files) | set(intake.problems))
            bar = tqdm(
                total=len(students),
                desc=f"grading {assignment}",
                unit="student",
                disable=not options.progress,
            )
            pending = {}
            for student in students:
                admitted = admit(prepared, student, intake)
                if admitted.notebook is None:
                    results[student] = conclude(prepared, admitted, None)
                    bar.update()
                else:
                    future = workers.submit(student, admitted.notebook)
                    pending[future] = admitted
            for future in workers.as_completed(list(pending)):
                admitted = pending[future]
                try:
                    run = future.result()
                except Exception as err:  # the execution step broke, or its worker
                    run = err
                results[admitted.student] = conclude(prepared, admitted, run)
                bar.update()
            bar.close()
    finally:
        if server is not None:
            server.close()
    results = dict(sorted(results.items()))
    export(prepared)
    notes = list(prepared.notes)
    if not options.secret:
        notes.insert(
            0,
            "Graded WITHOUT a secret: the hidden tests drew their inputs from the "
            "public seeds in solutions/, which anyone with the course repository "
            f"can read. Pass --secret (or set {SECRET_ENV}) for graded work.",
        )
    result = ClassResult(
        assignment=assignment,
        max_score=prepared.max_score,
        students=results,
        test_points=prepared.test_points,
        timeout=prepared.timeout,
        notebook_timeout=prepared.notebook_timeout,
        sandbox=prepared.sandbox,
        unmatched=intake.unmatched,
        notes=notes,
        ignored=intake.ignored,
        out=prepared.out,
        secret=fingerprint(options.secret),
    )
    report.write(result)
    (prepared.course / "events" / assignment).mkdir(parents=True, exist_ok=True)
    (prepared.course / "events" / assignment / "run.json").write_text(
        json.dumps({"timeout": prepared.timeout}) + "\n"
    )
    return result
