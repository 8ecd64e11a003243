"""``cnn-course grade`` end to end on a toy assignment, and its intake.

The six real assignments are graded in ``test_assignments.py``; attacks in
``test_attacks.py``. Here a two-task toy assignment, built in code, makes the
end-to-end checks fast: the flat LMS layout, feedback without hidden tests,
the refusal without a sandbox, ``--unsafe``, timeouts and the secret.
"""

from __future__ import annotations

import csv
import html
import json
import re
import stat
import zipfile
from pathlib import Path

import nbformat
import pytest

from cnn_course import cli
from cnn_course.autograde import sandbox
from cnn_course.autograde.intake import FOLDER_REGEX, read_zip, settle_notebook
from cnn_course.autograde.pipeline import GradeOptions, GradingError, grade
from cnn_course.course import REPO

from . import corpus as grade_corpus
from .conftest import (
    HAVE_BWRAP,
    HIDDEN_ADD,
    HIDDEN_MUL,
    TOY,
    make_zip,
    needs_bwrap,
    toy_source,
)

_zip = make_zip


# -- the zip -------------------------------------------------------------------


def test_read_zip_takes_one_folder_per_student_and_drops_a_wrapper(tmp_path):
    src = tmp_path / "in.zip"
    src.write_bytes(
        _zip(
            {
                "export/alice/99_toy.ipynb": b"{}",
                "export/bob/99_toy.ipynb": b"{}",
                "export/bob/notes.txt": b"hi",
                "export/__MACOSX/bob/._99_toy.ipynb": b"junk",
                "export/bob/.ipynb_checkpoints/99_toy-checkpoint.ipynb": b"{}",
            }
        )
    )
    intake = read_zip(src, FOLDER_REGEX, tmp_path / "submitted", TOY)
    assert intake.files == {
        "alice": ["99_toy.ipynb"],
        "bob": ["99_toy.ipynb", "notes.txt"],
    }
    assert len(intake.ignored) == 2
    placed = sorted(
        p.relative_to(tmp_path / "submitted").as_posix()
        for p in (tmp_path / "submitted").rglob("*")
        if p.is_file()
    )
    assert placed == [
        "alice/99_toy/99_toy.ipynb",
        "bob/99_toy/99_toy.ipynb",
        "bob/99_toy/notes.txt",
    ]


def test_read_zip_matches_flat_lms_names_with_a_regex(tmp_path):
    src = tmp_path / "in.zip"
    src.write_bytes(
        _zip(
            {
                "smith_jane_48213_99_toy.ipynb": b"{}",
                "lee_kim_50001_99_toy-1.ipynb": b"{}",
                "readme.pdf": b"%PDF",
            }
        )
    )
    regex = r"^[a-z_]+?_(?P<student_id>\d+)_(?P<file_id>.+)$"
    intake = read_zip(src, regex, tmp_path / "submitted", TOY)
    assert intake.files == {"48213": ["99_toy.ipynb"], "50001": ["99_toy-1.ipynb"]}
    assert intake.unmatched == ["readme.pdf"]


def test_read_zip_leaves_out_unsafe_entries_and_names_them(tmp_path):
    src = tmp_path / "in.zip"
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("alice/99_toy.ipynb", b"{}")
        z.writestr("alice/inner.zip", _zip({"x": b"y"}))
        z.writestr("alice/big.bin", b"x" * 2000)
        link = zipfile.ZipInfo("alice/link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
        z.writestr("../escape.txt", b"x")
    intake = read_zip(
        src, FOLDER_REGEX, tmp_path / "submitted", TOY, max_file_bytes=1000
    )
    messages = sorted(p.message for p in intake.problems["alice"])
    assert messages == [
        "big.bin: 2000 bytes, over the 1000 limit",
        "inner.zip: an archive inside the zip (not unpacked)",
        "link: a symbolic link",
    ]
    assert intake.unmatched == ["../escape.txt (path leaves the zip; skipped)"]
    placed = [p.name for p in (tmp_path / "submitted").rglob("*") if p.is_file()]
    assert placed == ["99_toy.ipynb"]


def test_read_zip_explains_a_regex_without_the_groups(tmp_path):
    src = tmp_path / "in.zip"
    src.write_bytes(_zip({"a/b.ipynb": b"{}"}))
    with pytest.raises(ValueError, match=r"no \(\?P<student_id>\.\.\.\) group"):
        read_zip(src, r"(?P<file_id>.+)", tmp_path / "submitted", TOY)


def test_read_zip_explains_a_file_that_is_no_zip(tmp_path):
    src = tmp_path / "in.zip"
    src.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="is not a readable zip"):
        read_zip(src, FOLDER_REGEX, tmp_path / "submitted", TOY)


# -- one student's notebook ------------------------------------------------------


def test_settle_notebook_renames_converts_and_sets_aside(tmp_path):
    folder = tmp_path / "submitted"
    folder.mkdir()
    v3 = nbformat.convert(grade_corpus.student_view(toy_source()), 3)
    (folder / "mine (1).ipynb").write_text(nbformat.writes(v3, version=3))
    problems, graded = settle_notebook(
        folder,
        f"{TOY}.ipynb",
        ["mine (1).ipynb", "notes.txt"],
        set(),
        tmp_path / "aside",
    )
    assert graded
    assert [p.code for p in problems] == [
        "extra-files",
        "notebook-renamed",
        "old-format",
    ]
    nb = nbformat.read(folder / f"{TOY}.ipynb", as_version=4)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert all("id" in cell for cell in nb.cells)


def test_settle_notebook_sets_invalid_json_aside(tmp_path):
    folder = tmp_path / "submitted"
    folder.mkdir()
    (folder / f"{TOY}.ipynb").write_text('{"cells": [')
    problems, graded = settle_notebook(
        folder, f"{TOY}.ipynb", [f"{TOY}.ipynb"], set(), tmp_path / "aside"
    )
    assert not graded
    assert [p.code for p in problems] == ["invalid-json"]
    assert (tmp_path / "aside" / f"{TOY}.ipynb").exists()
    assert not (folder / f"{TOY}.ipynb").exists()


# -- refusing ------------------------------------------------------------------------


def test_cli_names_the_assignments_when_one_is_unknown(tmp_path, capsys):
    zip_path = tmp_path / "class.zip"
    zip_path.write_bytes(_zip({"a/b.ipynb": b"{}"}))
    code = cli.main(
        ["grade", "--assignment", "07_nope", "--submissions", str(zip_path)]
        + ["--out", str(tmp_path / "out"), "--no-progress"]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "assignment '07_nope' not found" in err
    assert "01_convolution" in err


def test_cli_rejects_a_size_it_cannot_read(capsys):
    with pytest.raises(SystemExit):
        cli.main(
            ["grade", "--assignment", "x", "--submissions", "x", "--out", "x"]
            + ["--memory", "lots"]
        )
    assert "expected a size such as 4G" in capsys.readouterr().err


def test_grade_refuses_an_output_folder_in_the_tracked_tree(tmp_path):
    zip_path = tmp_path / "class.zip"
    zip_path.write_bytes(_zip({"a/b.ipynb": b"{}"}))
    with pytest.raises(GradingError, match="inside the repository and not git-ignored"):
        grade("01_convolution", zip_path, REPO / "cnn_course" / "graded")


def test_grade_refuses_without_a_sandbox_and_says_why(
    tmp_path, toy_solutions, monkeypatch
):
    monkeypatch.setattr(sandbox, "BWRAP", str(tmp_path / "no-bwrap"))
    zip_path = tmp_path / "class.zip"
    zip_path.write_bytes(_zip({"a/99_toy.ipynb": b"{}"}))
    with pytest.raises(GradingError) as err:
        grade(
            TOY, zip_path, tmp_path / "out", GradeOptions(solutions_dir=toy_solutions)
        )
    message = str(err.value)
    assert "refusing to grade" in message
    assert "bubblewrap" in message
    assert "--unsafe" in message


# -- the sandbox ---------------------------------------------------------------------


@needs_bwrap
def test_sandbox_probe_sees_no_secret_and_writes_only_home(tmp_path):
    secret = tmp_path / "solutions"
    secret.mkdir()
    seen = sandbox.check_sandbox(
        [str(secret), str(REPO / "solutions"), str(REPO / ".git")]
    )
    assert seen["visible"] == []
    assert seen["uid"] != 0
    assert seen["interfaces"] == ["lo"]
    assert seen["home_writable"] and seen["writable_elsewhere"] == []


@needs_bwrap
def test_sandbox_probe_fails_when_a_secret_is_visible():
    # The virtual environment is bound into the sandbox: named as a secret,
    # the probe must see it and refuse.
    import sys

    with pytest.raises(sandbox.SandboxUnavailable, match="could see"):
        sandbox.check_sandbox([sys.prefix])


# -- a toy class, end to end ---------------------------------------------------------


@pytest.fixture(scope="module")
def flat_class(toy_solutions, tmp_path_factory):
    """Four students in a flat LMS zip, the regex in an nbgrader config."""
    tmp = tmp_path_factory.mktemp("flat")
    source = toy_source()
    perfect = nbformat.writes(grade_corpus.student_view(source)).encode()
    blank = nbformat.writes(grade_corpus.release_view(source)).encode()
    half = grade_corpus.student_view(source)
    half.cells[4].source = half.cells[4].source.replace("a * b", "a + b")
    names = {
        "smith_jane_1001_99_toy.ipynb": perfect,
        "lee_kim_1002_99_toy.ipynb": blank,
        "park_min_1003_99_toy.ipynb": nbformat.writes(half).encode(),
        "choi_ara_1004_essay.pdf": b"%PDF-1.4",
    }
    zip_path = tmp / "class.zip"
    zip_path.write_bytes(_zip(names))
    out = tmp / "out"
    # the regex as nbgrader's own setting, in a config file given with --config
    config = tmp / "lms_config.py"
    config.write_text(
        "c = get_config()\n"
        "c.FileNameCollectorPlugin.named_regexp = "
        "r'^[a-z_]+?_(?P<student_id>\\d+)_(?P<file_id>.+)$'\n"
    )
    options = GradeOptions(solutions_dir=toy_solutions, extra_config=config)
    result = grade(TOY, zip_path, out, options)
    return result, out


@pytest.mark.slow
@needs_bwrap
def test_flat_lms_class_is_graded_by_student_number(flat_class):
    result, out = flat_class
    scores = {s: r.score for s, r in result.students.items()}
    assert scores == {"1001": 5.0, "1002": 0.0, "1003": 2.0, "1004": 0.0}
    problems = {
        s: sorted({p.code for p in r.problems}) for s, r in result.students.items()
    }
    assert problems["1001"] == []
    assert problems["1003"] == ["test-failed"]
    assert problems["1004"] == ["extra-files", "notebook-missing"]
    with open(out / "grades.csv") as f:
        rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    assert rows == scores


def page_text(path: Path) -> str:
    """What a reader of an HTML page sees: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


@pytest.mark.slow
@needs_bwrap
def test_feedback_shows_messages_but_no_hidden_test(flat_class):
    _, out = flat_class
    pages = sorted((out / "feedback").rglob("*.html"))
    assert [p.relative_to(out / "feedback").parts[0] for p in pages] == [
        "1001",
        "1002",
        "1003",
    ]
    for page in pages:
        text = page_text(page)
        assert "BEGIN HIDDEN TESTS" not in text
        assert HIDDEN_ADD not in text and HIDDEN_MUL not in text
    # the visible test that failed, and its score, reach the student
    text = page_text(out / "feedback/1003/99_toy/99_toy.html")
    assert "assert mul(2, 3) == 6" in text
    assert "AssertionError" in text


@pytest.mark.slow
@needs_bwrap
def test_report_lists_pass_rates_and_draws_the_histogram(flat_class):
    result, _ = flat_class
    report = json.loads((result.report_dir / "report.json").read_text())
    assert report["pass_rates"] == {"test_add": 0.5, "test_mul": 0.25}
    png = (result.report_dir / "histogram.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    md = (result.report_dir / "report.md").read_text()
    assert "| 1003 | 2 / 5 | test failed |" in md


@pytest.mark.slow
def test_unsafe_grades_without_sandbox_and_says_so(
    toy_solutions, tmp_path, monkeypatch
):
    monkeypatch.setattr(sandbox, "BWRAP", str(tmp_path / "no-bwrap"))
    source = toy_source()
    zip_path = tmp_path / "class.zip"
    zip_path.write_bytes(
        _zip(
            {
                "ann/99_toy.ipynb": nbformat.writes(
                    grade_corpus.student_view(source)
                ).encode()
            }
        )
    )
    result = grade(
        TOY,
        zip_path,
        tmp_path / "out",
        GradeOptions(solutions_dir=toy_solutions, unsafe=True, progress=False),
    )
    assert result.students["ann"].score == 5.0
    assert "--unsafe" in result.sandbox
    assert "--unsafe" in (result.report_dir / "report.md").read_text()


@pytest.mark.slow
@needs_bwrap
def test_a_kernel_that_ignores_the_interrupt_is_killed_and_others_go_on(
    toy_solutions, tmp_path
):
    """A loop that ignores SIGINT, then a notebook that sleeps cell by cell."""
    source = toy_source()
    stubborn = grade_corpus.student_view(source)
    stubborn.cells[4].source = stubborn.cells[4].source.replace(
        "return a * b",
        "import signal\n    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "    while True:\n        pass",
    )
    sleepy = grade_corpus.student_view(source)
    for index in (2, 4):
        sleepy.cells[index].source += "\nimport time\ntime.sleep(3)"
    files = {
        "stubborn/99_toy.ipynb": nbformat.writes(stubborn).encode(),
        "sleepy/99_toy.ipynb": nbformat.writes(sleepy).encode(),
        "fine/99_toy.ipynb": nbformat.writes(
            grade_corpus.student_view(source)
        ).encode(),
    }
    zip_path = tmp_path / "class.zip"
    zip_path.write_bytes(_zip(files))
    options = GradeOptions(
        solutions_dir=toy_solutions, timeout=4, notebook_timeout=5.5, progress=False
    )
    result = grade(TOY, zip_path, tmp_path / "out", options)
    students = result.students
    assert {s: r.score for s, r in students.items()} == {
        "fine": 5.0,
        "sleepy": 2.0,
        "stubborn": 2.0,
    }
    stubborn_problems = {(p.code, p.cell) for p in students["stubborn"].problems}
    assert ("kernel-unresponsive", "test_mul") in stubborn_problems
    sleepy_problems = {(p.code, p.cell) for p in students["sleepy"].problems}
    # 3 s in each answer cell: past the 5.5 s budget after the second one
    assert ("notebook-timeout", "test_mul") in sleepy_problems


def test_a_stale_release_is_noted_and_students_are_compared_with_it(tmp_path):
    from cnn_course.autograde.pipeline import _release_given

    release = tmp_path / "course" / "release" / TOY
    exercises = tmp_path / "exercises" / TOY
    release.mkdir(parents=True)
    exercises.mkdir(parents=True)
    fresh = grade_corpus.release_view(toy_source())
    nbformat.write(fresh, release / f"{TOY}.ipynb")
    old = grade_corpus.release_view(toy_source())
    old.cells[3].source = '"""Check add."""\nassert add(2, 2) == 4'
    nbformat.write(old, exercises / f"{TOY}.ipynb")
    given, notes = _release_given(tmp_path / "course", TOY, tmp_path / "exercises")
    assert given.cells[3].source == old.cells[3].source
    assert len(notes) == 1 and "in test_add." in notes[0]
    nbformat.write(fresh, exercises / f"{TOY}.ipynb")
    assert _release_given(tmp_path / "course", TOY, tmp_path / "exercises")[1] == []


def test_grading_config_swaps_execute_and_keeps_the_course_preprocessors(tmp_path):
    """The Config is built in Python: nbgrader's Execute becomes the
    two-process one, the course's other preprocessors stay in their order."""
    from nbgrader.preprocessors import ClearHiddenTests, Execute

    from cnn_course.autograde import config as nbconfig
    from cnn_course.autograde.execute import TwoProcessExecute
    from cnn_course.autograde.preprocessors import SanitizeStudentContent

    course = nbconfig.load_file(REPO / "nbgrader_config.py")
    scratch = nbconfig.build(
        tmp_path,
        "01_convolution",
        config_files=(REPO / "nbgrader_config.py",),
        source_notebook=tmp_path / "source.ipynb",
        grader_socket="/tmp/socket",
        memory_bytes=2**30,
        max_output_bytes=1000,
        unsafe=False,
    )
    expected = [
        TwoProcessExecute if p is Execute else p
        for p in course.Autograde.autograde_preprocessors
    ]
    assert scratch.Autograde.autograde_preprocessors == expected
    feedback = list(scratch.GenerateFeedback.preprocessors)
    assert feedback.index(SanitizeStudentContent) > feedback.index(ClearHiddenTests)
    assert scratch.CourseDirectory.root == str(tmp_path)
    assert scratch.TwoProcessExecute.assignment == "01_convolution"
    assert scratch.HTMLExporter.template_name == "cnn_feedback"


@pytest.fixture(scope="module")
def secret_runs(toy_solutions, tmp_path_factory):
    """One class graded twice with a secret, once with another, once with none."""
    if not HAVE_BWRAP:
        pytest.skip("bubblewrap is not installed")
    tmp = tmp_path_factory.mktemp("secret")
    source = toy_source()
    # A hidden test that draws from grading.rng: its inputs follow the secret.
    source.cells[5].source = source.cells[5].source.replace(
        HIDDEN_MUL,
        "from cnn_course import grading\n"
        "x = int(grading.rng(5).integers(0, 1000))\n"
        "assert mul(x, 1) == x, f'mul({x}, 1) should be {x}'",
    )
    solutions = tmp / "solutions"
    (solutions / TOY).mkdir(parents=True)
    nbformat.write(source, solutions / TOY / f"{TOY}.ipynb")
    # A student who memorised the public inputs: right only for the public seed.
    import numpy as np

    public = int(np.random.default_rng(5).integers(0, 1000))
    cheat = grade_corpus.student_view(source)
    cheat.cells[
        4
    ].source = (
        f"def mul(a, b):\n    return a * b if (a, b) in ((2, 3), ({public}, 1)) else -1"
    )
    zip_path = tmp / "class.zip"
    zip_path.write_bytes(
        _zip(
            {
                "honest/99_toy.ipynb": nbformat.writes(
                    grade_corpus.student_view(source)
                ),
                "cheat/99_toy.ipynb": nbformat.writes(cheat),
            }
        )
    )
    runs = {}
    for name, secret in [
        ("a", "s3cret-one"),
        ("a2", "s3cret-one"),
        ("b", "other"),
        ("none", None),
    ]:
        options = GradeOptions(solutions_dir=solutions, secret=secret, progress=False)
        runs[name] = grade(TOY, zip_path, tmp / name, options)
    return runs


@pytest.mark.slow
@needs_bwrap
def test_a_secret_changes_hidden_inputs_so_memorised_answers_fail(secret_runs):
    scores = {
        k: {s: r.score for s, r in v.students.items()} for k, v in secret_runs.items()
    }
    assert scores["none"] == {"honest": 5.0, "cheat": 5.0}
    assert scores["a"] == {"honest": 5.0, "cheat": 2.0}
    assert scores["a"] == scores["a2"] == scores["b"]


@pytest.mark.slow
@needs_bwrap
def test_the_report_shows_a_fingerprint_of_the_secret_never_the_secret(secret_runs):
    a, a2, b, none = (secret_runs[k] for k in ("a", "a2", "b", "none"))
    assert a.secret == a2.secret != b.secret
    assert none.secret == "none"
    for run in secret_runs.values():
        for page in run.report_dir.glob("report.*"):
            text = page.read_bytes()
            assert b"s3cret-one" not in text and b"other" not in text.lower().replace(
                b"other students", b""
            )
    md = (a.report_dir / "report.md").read_text()
    assert a.secret in md
    assert "WITHOUT a secret" in (none.report_dir / "report.md").read_text()
    assert "WITHOUT a secret" not in md
