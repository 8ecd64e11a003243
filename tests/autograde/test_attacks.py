"""A hostile class, graded for real: every attack earns its honest work only.

One class of attacks (:mod:`attacks`) on exercise 1, graded once with a
secret through the real pipeline. Then:

- each submission scores exactly what its honest work earns, and its
  problems are named;
- no hidden-test line reaches any output, feedback page or report, in plain
  text, HTML entities, base64, non-breaking spaces or SVG text;
- a disk filler wrote nowhere but its capped home folder;
- no feedback page runs a student's script or shows a fake score when
  opened in Chromium with JavaScript on;
- the machine is left as it was: no process of the class survives.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnn_course.autograde.feedback import hidden_lines
from cnn_course.autograde.pipeline import GradeOptions, grade
from cnn_course.course import BEGIN_HIDDEN, END_HIDDEN, REPO

from .attacks import SENTINEL, build_attacks
from .conftest import make_zip, needs_bwrap

pytestmark = [pytest.mark.slow, needs_bwrap]

ASSIGNMENT = "01_convolution"
TARGET = {
    "answer": "convolve2d",
    "fn": "correlate2d",
    "module": "conv",
    "args": "image, np.asarray(kernel)[::-1, ::-1]",
    "scipy": "scipy.signal.convolve2d(image, kernel, mode='valid')",
    "tests": {"test_convolve2d"},
}
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    source = nbformat.read(REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    subs = build_attacks(source, ASSIGNMENT, TARGET)
    files = {path: data for s in subs for path, data in s.files.items()}
    zip_path = tmp / "class.zip"
    zip_path.write_bytes(make_zip(files))
    before = _nobody_processes()
    result = grade(
        ASSIGNMENT,
        zip_path,
        tmp / "out",
        GradeOptions(secret="attack-test-secret", progress=False),
    )
    return {
        "source": source,
        "subs": {s.student: s for s in subs},
        "result": result,
        "out": tmp / "out",
        "before": before,
    }


def _nobody_processes() -> set[int]:
    """Processes of this interpreter running as a sandbox's user id."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        uid = re.search(r"^Uid:\s+(\d+)", text, re.M)
        mine = cmdline.startswith(sys.executable.encode())
        if mine and uid and int(uid.group(1)) >= 60000:
            found.add(int(status.parent.name))
    return found


def test_every_attack_scores_what_its_honest_work_earns(hostile):
    result, subs = hostile["result"], hostile["subs"]
    assert sorted(result.students) == sorted(subs)
    wrong = []
    for student, expected in sorted(subs.items()):
        got = result.students[student]
        codes = {p.code for p in got.problems}
        failed = {t for t, ok in got.tests.items() if not ok}
        if got.score != expected.score:
            wrong.append(
                f"{student}: {got.score}, expected {expected.score}; "
                + "; ".join(f"{p.code}: {p.message[:120]}" for p in got.problems)
            )
        if not expected.codes <= codes:
            wrong.append(f"{student}: problems {sorted(codes)} lack {expected.codes}")
        if expected.failed_tests and failed != expected.failed_tests:
            wrong.append(f"{student}: failed {sorted(failed)}")
    assert not wrong, "\n".join(wrong)


# Where the blocked import fails in the task's own code (not in a thread
# whose error the student's code swallows), the report names it.
NAMED = ("cc-attribute", "submodule-import", "source-reexecuted", "guard-switched-off",
         "scipy-signal", "other-site-packages", "torch-private", "import-time")  # fmt: skip


def test_reference_attacks_are_named_as_such(hostile):
    result = hostile["result"]
    for variant in NAMED:
        problems = result.students[f"reference-{variant}"].problems
        assert "reference-called" in {p.code for p in problems}, (variant, problems)


def _decodings(text: str):
    """``text`` as a reader, or a decoder, could see it."""
    yield text
    plain = html.unescape(text)
    yield plain
    yield plain.replace("\u00a0", " ")
    yield re.sub(r"<[^>]+>", " ", plain)
    for run in re.findall(r"[A-Za-z0-9+/=]{24,}", text):
        try:
            yield base64.b64decode(run + "=" * (-len(run) % 4)).decode(
                "utf-8", errors="ignore"
            )
        except (binascii.Error, ValueError):
            pass


def _secret_lines(source) -> set[str]:
    lines = set()
    visible = set()
    for cell in source.cells:
        lines.update(hidden_lines(cell.source, BEGIN_HIDDEN, END_HIDDEN))
        inside = False
        for line in cell.source.splitlines():
            if BEGIN_HIDDEN in line:
                inside = True
            elif END_HIDDEN in line:
                inside = False
            elif not inside:
                visible.add(line.strip())
    # a hidden line that repeats visible code is not a secret (spacing aside:
    # the feedback page's highlighting splits `mistakes={` into tokens)
    visible = {re.sub(r"\s+", "", v) for v in visible}
    return {
        line
        for line in lines
        if len(line) >= 12 and not any(re.sub(r"\s+", "", line) in v for v in visible)
    }


def _written_by(sub) -> str:
    """Every cell source of a submission's files, as one text."""
    parts = []
    for data in sub.files.values():
        try:
            cells = json.loads(data)["cells"]
        except (ValueError, KeyError, TypeError):
            parts.append(data.decode("utf-8", errors="replace"))
            continue
        for cell in cells:
            source = cell.get("source", "")
            parts.append("".join(source) if isinstance(source, list) else str(source))
    return "\n".join(parts)


def test_no_hidden_line_reaches_any_output_in_any_encoding(hostile):
    secret = _secret_lines(hostile["source"])
    assert len(secret) > 10
    out = hostile["out"]
    texts = []  # (student or None, text)
    for path in (out / "course" / "autograded").rglob("*.ipynb"):
        nb = nbformat.read(path, 4)
        student = path.relative_to(out / "course" / "autograded").parts[0]
        texts.append((student, json.dumps([c.get("outputs", []) for c in nb.cells])))
    for path in (out / "feedback").rglob("*.html"):
        texts.append((path.relative_to(out / "feedback").parts[0], path.read_text()))
    for path in (out / "reports").rglob("report.*"):
        texts.append((None, path.read_text(errors="replace")))
    written = {name: _written_by(sub) for name, sub in hostile["subs"].items()}
    everyone = "\n".join(written.values())
    leaks = []
    for student, text in texts:
        # what the student wrote themselves is theirs, not a leak; the report
        # quotes every student
        own = written.get(student, "") if student is not None else everyone
        own = re.sub(r"\s+", "", own)
        mine = {line for line in secret if re.sub(r"\s+", "", line) in own}
        for variant in _decodings(text):
            squeezed = re.sub(r"\s+", " ", variant)
            for line in secret - mine:
                if re.sub(r"\s+", " ", line) in squeezed:
                    leaks.append((student, line))
    assert not leaks, leaks[:5]


def test_the_disk_filler_wrote_only_into_its_capped_home(hostile):
    nb = nbformat.read(
        hostile["out"]
        / "course/autograded/limits-disk-filler"
        / ASSIGNMENT
        / f"{ASSIGNMENT}.ipynb",
        4,
    )
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    results = dict(eval(text.strip().splitlines()[-1]))  # noqa: S307 - our own print
    for folder, what in results.items():
        if folder != "/home/student":
            assert what != "wrote", (folder, results)
    assert results["/home/student"] in ("OSError", "wrote")


def test_the_fork_bomb_is_stopped_and_its_processes_are_gone(hostile):
    problems = hostile["result"].students["limits-fork-bomb"].problems
    assert any("held more than" in p.message for p in problems), problems
    assert _nobody_processes() <= hostile["before"]


def test_outputs_stay_within_the_cap(hostile):
    out = hostile["out"] / "course" / "autograded"
    for student in ("limits-display-update-flood", "limits-comm-flood"):
        path = out / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        assert path.stat().st_size < 3 * 10**6, (student, path.stat().st_size)


@pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM}")
def test_no_feedback_page_runs_student_script_or_shows_a_fake_score(hostile):
    from playwright.sync_api import sync_playwright

    result = hostile["result"]
    pages = {
        s: hostile["out"] / "feedback" / s / ASSIGNMENT / f"{ASSIGNMENT}.html"
        for s in result.students
        if s.startswith(("active-", "leak-"))
    }
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        for student, path in sorted(pages.items()):
            context = browser.new_context(java_script_enabled=True)
            page = context.new_page()
            requests, messages = [], []
            page.on("request", lambda r, out=requests: out.append(r.url))
            page.on("console", lambda m, out=messages: out.append(m.text))
            page.goto(path.as_uri())
            page.wait_for_function("() => window.MathJax && MathJax.startup")
            page.evaluate("() => MathJax.startup.promise")
            title = page.title()
            header = page.locator("h4").first
            box = header.bounding_box()
            on_top = page.evaluate(
                "([x, y]) => document.elementFromPoint(x, y).tagName",
                [box["x"] + 5, box["y"] + box["height"] / 2],
            )
            fixed = page.evaluate(
                "() => [...document.querySelectorAll('body *')].filter(e => "
                "['fixed', 'absolute'].includes(getComputedStyle(e).position) && "
                "!e.closest('mjx-container')).length"
            )
            expected = f"(Score: {result.students[student].score:.1f} / 8.0)"
            if SENTINEL in title or title != ASSIGNMENT:
                problems.append((student, "title", title))
            if expected not in header.inner_text():
                problems.append((student, "score", header.inner_text()))
            if on_top not in ("H4", "SPAN"):
                problems.append((student, "covered by", on_top))
            if fixed:
                problems.append((student, "positioned elements", fixed))
            others = [u for u in requests if not u.startswith(("file:", "data:"))]
            if others:
                problems.append((student, "requests", others[:3]))
            if any(SENTINEL in m for m in messages):
                problems.append((student, "console", messages))
            math = page.locator("mjx-container").count()
            if math == 0:
                problems.append((student, "no math typeset", math))
            context.close()
        browser.close()
    assert not problems, problems


def test_every_student_is_in_grades_csv_and_the_report(hostile):
    out, result = hostile["out"], hostile["result"]
    rows = (out / "grades.csv").read_text().splitlines()[1:]
    assert {r.split(",")[3] for r in rows} == set(result.students)
    report = json.loads((result.report_dir / "report.json").read_text())
    assert set(report["students"]) == set(result.students)
    md = (result.report_dir / "report.md").read_text()
    assert "<script" not in md and "<img" not in md
    assert report["secret"] == result.secret != "none"
    leftover = subprocess.run(
        ["pgrep", "-f", "cnngrader-"], capture_output=True, text=True
    ).stdout.split()
    assert not leftover  # the grader server is gone with its run


def test_a_snooping_student_finds_no_solution_gradebook_or_grader_file(hostile):
    nb = nbformat.read(
        hostile["out"]
        / "course/autograded/classic-snoop"
        / ASSIGNMENT
        / f"{ASSIGNMENT}.ipynb",
        4,
    )
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert text.strip() == "SNOOP []"
