"""Grade a class of twenty students on all six assignments, sandboxed.

Each student hands in one kind of submission on every assignment (a perfect
one, the untouched release, an edited test, an infinite loop, a kernel that
kills itself, a tampering attempt, a snoop, ...), built from the assignment's
own solution notebook by ``corpus.py`` beside this file. The six gradings run
once per session through the installed ``cnn-course`` command, two at a
time, and every test below reads their results: each exact score, each
failing test, each reported problem, the class's ``grades.csv``, the
feedback pages and what the snooping student could see.
"""

from __future__ import annotations

import csv
import html
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from _course import ASSIGNMENTS

from cnn_course.autograde import sandbox
from cnn_course.autograde.feedback import hidden_lines

from .corpus import build_corpus, to_zip

REPO = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "cnn-course"

# For each assignment: an answer cell, a body for it that hands the work to
# the course's reference, and the tests that must then fail. Hand-checked
# against the notebooks: the tests whose `grading.guard` the call runs under.
REFERENCE_CALLS = {
    "01_convolution": (
        "convolve2d",
        "import cnn_course as cc\n"
        "return cc.correlate2d(image, np.asarray(kernel)[::-1, ::-1])",
        {"test_convolve2d"},
    ),
    "02_filters": (
        "apply_filter",
        "import cnn_course as cc\nreturn cc.filters.apply_filter(image, kernel)",
        {"test_apply_filter"},
    ),
    "03_parameters": (
        "network_params",
        "import cnn_course as cc\n"
        "return sum(cc.conv2d_params(l[1], l[2], l[3]) if l[0] == 'conv'\n"
        "           else cc.linear_params(l[1], l[2]) if l[0] == 'linear' else 0\n"
        "           for l in layers)",
        {"test_network_params"},
    ),
    "04_cnn_structure": (
        "avg_pool2d",
        "import cnn_course as cc\nreturn cc.avg_pool2d(x, kernel_size, stride)",
        {"test_avg_pool2d"},
    ),
    "05_stride_padding": (
        "conv2d",
        "import cnn_course as cc\n"
        "return cc.conv2d(x, weight, bias=bias, stride=stride, padding=padding)",
        {"test_conv2d"},
    ),
    "06_alexnet": (
        "conv_layer",
        "import cnn_course as cc\n"
        "size = lambda n: cc.output_size(n, k, stride=s, padding=p)\n"
        "params = cc.conv2d_params(in_shape[0], out, k, groups=groups)\n"
        "return (out, size(in_shape[1]), size(in_shape[2])), params",
        {"test_conv_layer", "test_alexnet_table", "test_slide"},
    ),
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(sandbox.BWRAP).exists(),
        reason="bubblewrap is not installed (apt-get install bubblewrap)",
    ),
]


def _secret_paths(assignment: str, out: Path, zip_path: Path) -> list[str]:
    """What the snooping student tries to read, list and write."""
    course = out / "course"
    nb = f"{assignment}.ipynb"
    return [
        str(REPO / "solutions"),
        str(REPO / "solutions" / assignment / nb),
        str(REPO / ".git"),
        str(course),
        str(course / "gradebook.db"),
        str(course / "source" / assignment / nb),
        str(course / "autograded" / "snoop" / assignment / nb),
        str(course / "submitted" / "perfect" / assignment / nb),
        str(course / "submitted"),
        str(zip_path),
    ]


def _grade_one(assignment: str, root: Path):
    source = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", 4)
    out = root / assignment
    zip_path = root / f"{assignment}.zip"
    corpus = build_corpus(
        source,
        assignment,
        _secret_paths(assignment, out, zip_path),
        REFERENCE_CALLS[assignment],
    )
    zip_path.write_bytes(to_zip(corpus))
    proc = subprocess.run(
        [str(CLI), "grade", "--assignment", assignment]
        + ["--submissions", str(zip_path), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    return {
        "assignment": assignment,
        "source": source,
        "corpus": {s.student: s for s in corpus},
        "out": out,
        "proc": proc,
    }


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """All six assignments graded, two at a time, through the real command."""
    root = tmp_path_factory.mktemp("grade-six")
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda a: _grade_one(a, root), ASSIGNMENTS))
    return {run["assignment"]: run for run in runs}


def _report(run) -> dict:
    return json.loads(
        (run["out"] / "reports" / run["assignment"] / "report.json").read_text()
    )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_command_succeeds_and_shows_progress(graded, assignment):
    proc = graded[assignment]["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "graded 20 students" in proc.stdout
    # tqdm's bar on stderr, ending at 20 of 20 students
    assert re.search(rf"grading {assignment}: 100%.*20/20", proc.stderr)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_submission_gets_its_exact_score_and_problems(graded, assignment):
    run = graded[assignment]
    report = _report(run)
    assert sorted(report["students"]) == sorted(run["corpus"])
    wrong = []
    for student, expected in sorted(run["corpus"].items()):
        got = report["students"][student]
        codes = {p["code"] for p in got["problems"]}
        failed = {t for t, ok in got["tests"].items() if not ok}
        if got["score"] != expected.score:
            wrong.append(f"{student}: score {got['score']}, expected {expected.score}")
        if not expected.codes <= codes:
            wrong.append(
                f"{student}: problems {sorted(codes)} lack {expected.codes - codes}"
            )
        if expected.failed_tests and failed != expected.failed_tests:
            wrong.append(
                f"{student}: failed {sorted(failed)}, not {expected.failed_tests}"
            )
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_perfect_scores_full_marks_with_no_problem_and_blank_scores_zero(
    graded, assignment
):
    report = _report(graded[assignment])
    perfect, blank = report["students"]["perfect"], report["students"]["blank"]
    assert perfect["score"] == report["max_score"] > 0
    assert perfect["problems"] == []
    assert blank["score"] == 0
    assert set(blank["tests"].values()) == {False}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_problem_is_named_in_the_report(graded, assignment):
    report = _report(graded[assignment])
    messages = {
        s: " | ".join(f"{p['code']}: {p['message']}" for p in v["problems"])
        for s, v in report["students"].items()
    }
    assert "kernel died (exit status 1)" in messages["kernel-killed"]
    assert "ran longer than" in messages["infinite-loop"]
    assert "MemoryError" in messages["memory-hog"]
    assert "printed more than 1000000 bytes" in messages["output-flood"]
    assert "GUARD:" in messages["reference-call"]
    assert f"graded {assignment} (1).ipynb as {assignment}.ipynb" in messages["renamed"]
    assert "cnn_course.py" in messages["extra-files"]
    assert "nbformat 3.0 converted to 4.5" in messages["old-format"]
    assert "is not valid JSON" in messages["invalid-json"]
    md = (graded[assignment]["out"] / "reports" / assignment / "report.md").read_text()
    for student in report["students"]:
        assert f"| {student} |" in md


def test_class_of_twenty_across_six_assignments_in_grades_csv(graded):
    table = {}
    for assignment, run in graded.items():
        with open(run["out"] / "grades.csv") as f:
            rows = list(csv.DictReader(f))
        assert {r["assignment"] for r in rows} == {assignment}
        for r in rows:
            table[(r["student_id"], assignment)] = float(r["score"])
    students = {s for s, _ in table}
    assert len(students) == 20
    assert len(table) == 20 * len(ASSIGNMENTS)
    for (student, assignment), score in table.items():
        assert score == graded[assignment]["corpus"][student].score, (
            student,
            assignment,
        )


def _snooped(run) -> dict:
    nb = nbformat.read(
        run["out"]
        / "course"
        / "autograded"
        / "snoop"
        / run["assignment"]
        / f"{run['assignment']}.ipynb",
        4,
    )
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    return json.loads(text.split("SNOOP", 1)[1])


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_snooping_student_reads_no_solution_test_or_other_work(graded, assignment):
    found = _snooped(graded[assignment])
    assert found == {"read": [], "listed": [], "wrote": []}


def _outside_hidden(source: str) -> list[str]:
    """The stripped lines of a cell outside its hidden-test regions."""
    lines, inside = [], False
    for line in source.splitlines():
        if "BEGIN HIDDEN TESTS" in line:
            inside = True
        elif "END HIDDEN TESTS" in line:
            inside = False
        elif not inside:
            lines.append(line.strip())
    return lines


def _visible_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_exists_for_each_graded_student_without_hidden_tests(
    graded, assignment
):
    run = graded[assignment]
    source = run["source"]
    secret = set()
    for cell in source.cells:
        secret.update(
            hidden_lines(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
        )
    visible = {line for cell in source.cells for line in _outside_hidden(cell.source)}
    # a hidden line that repeats visible code (part of a visible line) is
    # not a secret
    secret = {s for s in secret if len(s) >= 12 and not any(s in v for v in visible)}
    assert secret, "the solution notebook should have hidden tests"
    pages = sorted((run["out"] / "feedback").rglob("*.html"))
    students = {p.relative_to(run["out"] / "feedback").parts[0] for p in pages}
    assert students == set(run["corpus"]) - {"missing", "invalid-json"}
    for page in pages:
        text = _visible_text(page)
        assert "HIDDEN TESTS" not in text, page
        # what the student wrote themselves is theirs, not a leak
        student = page.relative_to(run["out"] / "feedback").parts[0]
        own = set()
        for data in run["corpus"][student].files.values():
            try:
                cells = json.loads(data)["cells"]
            except (ValueError, KeyError, TypeError):
                continue
            for cell in cells:
                source = cell.get("source", "")
                source = "".join(source) if isinstance(source, list) else source
                own |= {line.strip() for line in source.splitlines()}
        leaked = [s for s in secret - own if s in text]
        assert not leaked, (page, leaked[:3])
