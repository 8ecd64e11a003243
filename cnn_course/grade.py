"""Grade one assignment from an LMS zip: nbgrader's steps, sandboxed, reported.

``cnn-course grade`` (see :mod:`cnn_course.cli`) calls :func:`grade`. It
builds a scratch nbgrader course in ``OUT/course`` from the repository's
``nbgrader_config.py`` and ``solutions/``, then runs nbgrader's own steps:

1. ``generate_assignment`` (the gradebook learns the cells and hidden tests);
2. a reference run of the solution notebook in the sandbox, which must score
   full marks, and whose slowest cell sets the default per-cell timeout;
3. ``zip_collect`` on a clean copy of the zip
   (:func:`cnn_course.grade_intake.read_zip`);
4. per student: settle the notebook, compare it with the gradebook,
   ``autograde`` with the kernel in the sandbox
   (:class:`cnn_course.grade_execute.SandboxExecute`), ``generate_feedback``
   with hidden tests removed;
5. ``export`` to ``OUT/grades.csv``;
6. the class report in ``OUT/reports/<assignment>/``
   (:mod:`cnn_course.grade_report`).

Grading several assignments into the same ``OUT`` keeps one gradebook, so
``grades.csv`` then lists every assignment.
"""

from __future__ import annotations

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
from sqlalchemy.exc import SAWarning

from .grade_execute import MAX_OUTPUT_BYTES
from .grade_intake import (
    FOLDER_REGEX,
    Problem,
    compare_with_source,
    read_zip,
    settle_notebook,
)
from .sandbox import MEMORY_BYTES

__all__ = [
    "REPO",
    "GradeOptions",
    "GradingError",
    "StudentResult",
    "ClassResult",
    "grade",
]

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENT = re.compile(r"^\d\d_[a-z0-9_]+$")


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
            "test_points": self.test_points,
            "pass_rates": self.pass_rates(),
            "unmatched": self.unmatched,
            "notes": self.notes,
            "ignored": self.ignored,
            "students": {k: v.as_dict() for k, v in sorted(self.students.items())},
        }


# -- set-up -------------------------------------------------------------------


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


def _write_config(
    course: Path, assignment: str, options: GradeOptions, regex: str
) -> Path:
    lines = [
        "# Written by cnn-course grade: the course's nbgrader configuration,",
        "# pointed at this scratch course. nbgrader commands run here use it.",
        "c = get_config()  # noqa: F821",
    ]
    for cfg in (options.config_file, options.extra_config):
        if cfg is not None and Path(cfg).exists():
            lines.append(f"load_subconfig({str(Path(cfg).resolve())!r})  # noqa: F821")
    root = str(course)
    extracted = str(course / "downloaded" / assignment / "extracted" / "submissions")
    lines += [
        "from nbconvert.preprocessors import (ClearMetadataPreprocessor,",
        "    CSSHTMLHeaderPreprocessor)",
        "from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata,",
        "    ClearHiddenTests, Execute, GetGrades, IgnorePattern, LimitOutput,",
        "    SaveAutoGrades)",
        "from cnn_course.grade_execute import SandboxExecute",
        "from cnn_course.grade_feedback import RedactHiddenOutputs",
        f"c.CourseDirectory.root = {root!r}",
        "c.CourseDirectory.source_directory = 'source'",
        "c.CourseDirectory.release_directory = 'release'",
        "c.CourseDirectory.submitted_directory = 'submitted'",
        "c.CourseDirectory.autograded_directory = 'autograded'",
        "c.CourseDirectory.feedback_directory = 'feedback'",
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(course / 'gradebook.db')!r}",
        "c.ZipCollectApp.collector_plugin = 'cnn_course.grade_intake.ZipNameCollector'",
        f"c.ZipNameCollector.named_regexp = {regex!r}",
        f"c.ZipNameCollector.root = {extracted!r}",
        "c.ExtractorPlugin.force = True",
        "c.OverwriteCells.add_missing_cells = True",
        "# Autograde: the course's preprocessors (nbgrader's by default), with",
        "# nbgrader's Execute replaced by the sandboxed one.",
        "_auto = list(c.Autograde.get('autograde_preprocessors', [Execute,",
        "    IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,",
        "    AssignLatePenalties, CheckCellMetadata]))",
        "_auto = [SandboxExecute if p in (Execute, 'nbgrader.preprocessors.Execute')",
        "    else p for p in _auto]",
        "if SandboxExecute not in _auto:",
        "    _auto.insert(0, SandboxExecute)",
        "c.Autograde.autograde_preprocessors = _auto",
        "# Feedback: the course's preprocessors, with hidden-test lines also",
        "# redacted from outputs before ClearHiddenTests removes them from cells.",
        "_pre = list(c.GenerateFeedback.get('preprocessors',",
        "    [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]))",
        "if ClearHiddenTests not in _pre:",
        "    _pre.insert(1, ClearHiddenTests)",
        "_pre.insert(_pre.index(ClearHiddenTests), RedactHiddenOutputs)",
        "c.GenerateFeedback.preprocessors = _pre",
        "# Only the assignment being graded belongs in this gradebook's export.",
        "c.CourseDirectory.db_assignments = []",
        f"c.SandboxExecute.memory_bytes = {options.memory_bytes}",
        f"c.SandboxExecute.max_output_bytes = {options.max_output_bytes}",
        f"c.SandboxExecute.unsafe = {options.unsafe}",
        f"c.SandboxExecute.events_dir = {str(course / 'events' / assignment)!r}",
        f"c.SandboxExecute.public_dir = {str(course / 'release' / assignment)!r}",
    ]
    path = course / "nbgrader_config.py"
    path.write_text("\n".join(lines) + "\n")
    return path


def _load_config(path: Path):
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


def _configured_regex(options: GradeOptions) -> str | None:
    """The collector regex set in the course's or the extra nbgrader config."""
    regex = None
    for cfg in (options.config_file, options.extra_config):
        if cfg is None or not Path(cfg).exists():
            continue
        loaded = _load_config(Path(cfg).resolve())
        for section in ("FileNameCollectorPlugin", "ZipNameCollector"):
            if "named_regexp" in loaded[section]:
                regex = loaded[section].named_regexp
    return regex


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
    log = logging.getLogger(f"cnn_course.grade.{name}")
    log.propagate = False
    log.setLevel(logging.INFO)
    return log


def _run_converter(
    cls, config, coursedir, assignment, student, log_file: Path, **attrs
):
    """Run one nbgrader converter in-process; return (success, log text)."""
    from nbgrader.utils import capture_log, temp_attrs

    kwargs = {"assignment_id": assignment}
    if student is not None:
        kwargs["student_id"] = student
    with temp_attrs(coursedir, **kwargs):
        app = cls(coursedir=coursedir, config=config)
        app.log = _quiet_logger(cls.__name__)
        for key, value in attrs.items():
            setattr(app, key, value)
        result = capture_log(app)
    text = result.get("log", "") + result.get("error", "")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text(text)
    return result["success"], text


def _nbgrader(course: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise GradingError(
            f"nbgrader {args[0]} failed:\n{proc.stdout}{proc.stderr}"[-3000:]
        )
    return proc.stdout + proc.stderr


def _reset_assignment(course: Path, assignment: str, db_url: str) -> None:
    """Forget an earlier grading of the same assignment in this folder."""
    from nbgrader.api import Gradebook, MissingEntry

    for step in ("submitted", "autograded", "feedback"):
        for folder in (course / step).glob(f"*/{assignment}"):
            shutil.rmtree(folder)
    for folder in (course / "downloaded" / assignment, course / "events" / assignment):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(course / "set_aside" / assignment, ignore_errors=True)
    if (course / "gradebook.db").exists():
        with Gradebook(db_url) as gb:
            try:
                gb.remove_assignment(assignment)
            except MissingEntry:
                pass


# -- the reference run ----------------------------------------------------------


def _reference_run(source_nb: Path, config, course: Path) -> tuple[dict, list]:
    """Run the solution in the sandbox; return durations and failing tests."""
    from nbgrader.preprocessors import IgnorePattern
    from nbgrader.utils import determine_grade, is_grade, is_solution

    from .grade_execute import SandboxExecute

    nb = nbformat.read(source_nb, as_version=4)
    executor = SandboxExecute(config=config)
    executor.timeout = 600
    executor.notebook_timeout = 1800
    executor.events_dir = ""
    executor.preprocess(nb, {"metadata": {"path": str(course)}})
    nb, _ = IgnorePattern(config=config).preprocess(nb, {})
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
    failures += [(e["cell"], e["message"]) for e in executor.events]
    return executor.durations, failures


def _error_line(out) -> str:
    """``Name: first line of the message`` of an error output."""
    lines = (out.evalue or "").strip().splitlines()
    return (f"{out.ename}: {lines[0]}" if lines else out.ename)[:300]


def _first_failure(cell) -> str:
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            return _error_line(out)
    for out in cell.get("outputs", []):
        if out.output_type == "stream" and out.name == "stderr":
            return "wrote to stderr: " + out.text.strip().splitlines()[0][:250]
    return "failed"


# -- after autograde -------------------------------------------------------------

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
    (r"\b(?:testing\.)?assert_\w+\s*=[^=]", "reassigns a test function"),
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


def _outcomes(autograded: Path) -> list[Problem]:
    """Failing tests and erroring cells of an autograded notebook."""
    from nbgrader.utils import is_grade, is_solution

    from .grading import PREFIX

    nb = nbformat.read(autograded, as_version=4)
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
        if is_grade(cell) and not is_solution(cell):
            if not errors and not stderr:
                continue
            message = _first_failure(cell)
            guard = any(PREFIX in (o.evalue or "") for o in errors)
            code = "reference-called" if guard else "test-failed"
            problems.append(Problem(code, message, label))
        elif errors:
            problems.append(Problem("cell-error", _error_line(errors[0]), label))
    return problems


def _scores(
    db_url: str, assignment: str, student: str
) -> tuple[float, dict[str, bool]]:
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


# -- the whole run ------------------------------------------------------------------


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
    bindir = str(Path(sys.executable).parent)
    saved_path = os.environ.get("PATH", "")
    if bindir not in saved_path.split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + saved_path
    try:
        with warnings.catch_warnings():
            # nbgrader's gradebook code trips SQLAlchemy's autoflush warnings.
            warnings.simplefilter("ignore", SAWarning)
            return _grade(assignment, submissions, out, options)
    finally:
        os.environ["PATH"] = saved_path


def _grade(assignment, submissions, out, options: GradeOptions) -> ClassResult:
    from nbgrader.api import Gradebook
    from nbgrader.converters import Autograde, GenerateAssignment, GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from tqdm import tqdm

    from . import grade_report
    from .sandbox import SandboxUnavailable, check_sandbox

    solutions = Path(options.solutions_dir).resolve()
    available = sorted(
        p.name for p in solutions.glob("*") if (p / f"{p.name}.ipynb").exists()
    )
    if not ASSIGNMENT.match(assignment or "") or assignment not in available:
        raise GradingError(
            f"assignment {assignment!r} not found in {solutions}; expected one of "
            f"{', '.join(available) or '(none)'}"
        )
    submissions = Path(submissions).resolve()
    if not submissions.is_file():
        raise GradingError(
            f"submissions {str(submissions)!r} is not a file; expected a zip"
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
        secrets = [str(solutions), str(out), str(submissions), str(REPO / ".git")]
        try:
            check_sandbox([s for s in secrets if Path(s).exists()])
        except SandboxUnavailable as err:
            raise GradingError(
                f"refusing to grade: no safe sandbox for student code ({err}). "
                "Without one, student code could read the solutions, the hidden "
                "tests and other students' work. Fix the sandbox, or pass --unsafe "
                "to grade anyway on a machine and class you trust."
            ) from err
        sandbox_note = "bubblewrap: own filesystem view, no network, unprivileged uid"

    regex = options.regex or _configured_regex(options) or FOLDER_REGEX
    config_path = _write_config(course, assignment, options, regex)
    config = _load_config(config_path)
    coursedir = CourseDirectory(config=config)
    db_url = coursedir.db_url
    logs = course / "logs" / assignment

    _reset_assignment(course, assignment, db_url)
    source_dir = course / "source" / assignment
    shutil.rmtree(source_dir, ignore_errors=True)
    shutil.copytree(solutions / assignment, source_dir)
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

    # The solution must pass in the sandbox; its timing sets the timeout.
    durations, failures = _reference_run(
        source_dir / f"{assignment}.ipynb", config, course
    )
    if failures:
        listed = "; ".join(f"{c}: {m}" for c, m in failures)
        raise GradingError(
            f"the solution of {assignment} does not pass in the grading sandbox, "
            f"so students cannot be graded fairly: {listed}"
        )
    from .grade_execute import default_timeout

    slowest = max(durations.values(), default=0.0)
    timeout = options.timeout or default_timeout(slowest)
    notebook_timeout = options.notebook_timeout or max(
        5.0 * timeout, 3.0 * sum(durations.values()) + 2.0 * timeout
    )
    with open(config_path, "a") as f:
        f.write(f"c.SandboxExecute.timeout = {timeout}\n")
        f.write(f"c.SandboxExecute.notebook_timeout = {notebook_timeout}\n")
    config = _load_config(config_path)
    coursedir = CourseDirectory(config=config)

    # Collect: a clean copy of the zip, then nbgrader's zip_collect.
    archive = course / "downloaded" / assignment / "archive" / "submissions.zip"
    try:
        intake = read_zip(submissions, regex, archive)
    except ValueError as err:
        raise GradingError(str(err)) from err
    if intake.files:
        _nbgrader(course, "zip_collect", assignment, "--force")

    with Gradebook(db_url) as gb:
        notebook = gb.find_notebook(assignment, assignment)
        source_cells = [
            SimpleNamespace(
                name=c.name, cell_type=c.cell_type, locked=c.locked, source=c.source
            )
            for c in notebook.source_cells
        ]
        for student in set(intake.files) | set(intake.problems):
            gb.update_or_create_student(student)
        max_score = float(gb.find_assignment(assignment).max_score)
        test_points = {
            g.name: float(g.max_score)
            for g in notebook.grade_cells
            if g.cell_type == "code"
        }
    release_nb, notes = _release_given(course, assignment, options.exercises_dir)
    known_ids = {c.name for c in source_cells}

    results: dict[str, StudentResult] = {}
    students = sorted(set(intake.files) | set(intake.problems))
    bar = tqdm(
        students,
        desc=f"grading {assignment}",
        unit="student",
        disable=not options.progress,
    )
    for student in bar:
        problems = list(intake.problems.get(student, []))
        folder = course / "submitted" / student / assignment
        found, graded = settle_notebook(
            folder,
            f"{assignment}.ipynb",
            intake.files.get(student, []),
            known_ids,
            course / "set_aside" / assignment / student,
        )
        problems += found
        tests: dict[str, bool] = {}
        feedback: list[str] = []
        if graded:
            nb_path = folder / f"{assignment}.ipynb"
            problems += compare_with_source(nb_path, source_cells, release_nb)
            problems += _suspicious(nbformat.read(nb_path, as_version=4))
            ok, text = _run_converter(
                Autograde,
                config,
                coursedir,
                assignment,
                student,
                logs / f"{student}.autograde.log",
                force=True,
                create_student=True,
            )
            events_file = course / "events" / assignment / f"{student}.json"
            if events_file.exists():
                for e in json.loads(events_file.read_text())["events"]:
                    problems.append(Problem(e["code"], e["message"], e["cell"]))
            autograded = (
                course / "autograded" / student / assignment / f"{assignment}.ipynb"
            )
            if ok and autograded.exists():
                problems += _outcomes(autograded)
                ok_fb, _ = _run_converter(
                    GenerateFeedback,
                    config,
                    coursedir,
                    assignment,
                    student,
                    logs / f"{student}.feedback.log",
                    force=True,
                )
                source_fb = course / "feedback" / student / assignment
                if ok_fb and source_fb.exists():
                    target = out / "feedback" / student / assignment
                    shutil.rmtree(target, ignore_errors=True)
                    shutil.copytree(source_fb, target)
                    feedback = sorted(
                        p.relative_to(out).as_posix() for p in target.rglob("*.html")
                    )
            else:
                last = text.strip().splitlines()[-1] if text.strip() else "no log"
                problems.append(
                    Problem(
                        "grading-error",
                        f"nbgrader autograde failed ({last[:200]}); scored 0",
                    )
                )
        score, tests = _scores(db_url, assignment, student)
        results[student] = StudentResult(
            student, score, max_score, problems, tests, feedback
        )
    bar.close()

    _nbgrader(course, "export", "--to", str(out / "grades.csv"))
    result = ClassResult(
        assignment=assignment,
        max_score=max_score,
        students=results,
        test_points=test_points,
        timeout=timeout,
        notebook_timeout=notebook_timeout,
        sandbox=sandbox_note,
        unmatched=intake.unmatched,
        notes=notes,
        ignored=intake.ignored,
        out=out,
    )
    grade_report.write(result)
    return result
