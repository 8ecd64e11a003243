"""The class report of one graded assignment: Markdown, HTML, JSON, histogram.

Written to ``OUT/reports/<assignment>/``: ``report.md`` and ``report.html``
(the same content), ``report.json`` (for scripts and tests) and
``histogram.png``. Every string that came from a student (ids, file names,
error messages, source lines, grade ids) is escaped for the format it lands
in, so a report shows it as text and never runs or renders it.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter

import numpy as np
from matplotlib.figure import Figure

__all__ = ["write", "histogram", "PROBLEMS", "PROBLEM_TITLES"]

#: Every problem code: the words the report uses, and what it means.
PROBLEMS = {
    "notebook-missing": (
        "no notebook",
        "The student's files hold no notebook; scored 0.",
    ),
    "notebook-renamed": (
        "notebook renamed",
        "The only notebook (or the one holding most of the assignment's cells) "
        "had another name or sat in a subfolder; it was graded under the right "
        "name.",
    ),
    "extra-files": (
        "extra files",
        "Files besides the notebook. They are kept in the scratch course but "
        "never given to the kernel: a cnn_course.py or numpy.py beside the "
        "notebook would otherwise replace the modules the hidden tests import.",
    ),
    "file-skipped": (
        "file left out of the zip",
        "An entry that is not safe to unpack (a symbolic link, an encrypted or "
        "oversized file, an archive inside the archive).",
    ),
    "invalid-json": ("not valid JSON", "The notebook file does not parse; scored 0."),
    "invalid-notebook": (
        "not a valid notebook",
        "JSON, but not a notebook nbformat can read; scored 0.",
    ),
    "old-format": (
        "old notebook format",
        "nbformat 3, or 4 before 4.5; converted to 4.5 and graded.",
    ),
    "test-edited": (
        "test cell edited",
        "A test cell differs from the release; nbgrader restored it from the "
        "gradebook, hidden tests included, before running it.",
    ),
    "test-deleted": (
        "test cell deleted",
        "A test cell is missing, or lost its grading metadata; it was put back "
        "after the answer it tests.",
    ),
    "locked-cell-edited": (
        "read-only cell edited",
        "A read-only cell (text or set-up code) differs from the release; restored.",
    ),
    "metadata-changed": (
        "grading metadata changed",
        "A cell's type, lock, points or grade id was changed, or had the wrong "
        "type; restored from the gradebook or removed.",
    ),
    "cell-duplicated": (
        "cell copied or split",
        "A cell's grading id appears more than once. Every copy runs; only the "
        "last keeps its grading metadata.",
    ),
    "solution-deleted": (
        "answer cell deleted",
        "An answer cell is missing; the tests of that task likely fail.",
    ),
    "suspicious-code": (
        "suspicious code",
        "The student's code touches IPython's cell handling, trace hooks, "
        "builtins, sys.modules, signals, processes, grading files, imports "
        "by name, or a library routine that computes the task (np.convolve, "
        "PyTorch's convolution or pooling). Tests run in a separate process, "
        "so none of it changes a score by itself; read the code.",
    ),
    "timeout": (
        "cell timed out",
        "A cell ran past the per-cell timeout and was interrupted; it counts "
        "as failed and the rest of the notebook ran.",
    ),
    "notebook-timeout": (
        "notebook ran out of time",
        "The whole notebook ran past its budget; the cells left were not run "
        "and their tests failed.",
    ),
    "kernel-died": (
        "kernel died",
        "The kernel exited or crashed (os._exit, a segfault); that cell and "
        "every later one failed.",
    ),
    "kernel-unresponsive": (
        "kernel unresponsive",
        "After a timeout the kernel ignored the interrupt; it was killed and "
        "every later cell failed.",
    ),
    "memory-exhausted": (
        "memory exhausted",
        "A cell raised MemoryError at the memory cap, or the student's "
        "processes together held more than the cap and were stopped.",
    ),
    "output-capped": (
        "output flooded",
        "A cell printed or displayed more than the output cap (display "
        "updates and widget messages count); the rest was dropped.",
    ),
    "reference-called": (
        "reached for a blocked routine",
        "A task's code used a module that is not available while the "
        "assignment is graded (the course's reference, scipy.signal or "
        "ndimage, or torch where the assignment blocks it), so that test "
        "failed with a GUARD: message.",
    ),
    "test-failed": (
        "test failed",
        "A test cell failed; the message is its first line.",
    ),
    "cell-error": ("cell raised an error", "A cell that is not a test raised."),
    "grading-error": (
        "grading failed",
        "A step of grading failed on this submission (its log is in "
        "course/logs/); the class went on, and the tests that could not be "
        "run scored 0.",
    ),
    "text-repaired": (
        "text repaired",
        "The notebook held characters that are not valid Unicode (lone "
        "surrogates); they were replaced before grading.",
    ),
}

#: Every problem code, with the words the report uses for it.
PROBLEM_TITLES = {code: title for code, (title, _) in PROBLEMS.items()}


def histogram(scores, max_score: float, title: str) -> Figure:
    """Bar chart of how many students got each score (bins of one point)."""
    fig = Figure(figsize=(6, 3.2), dpi=110)
    ax = fig.add_subplot()
    top = int(np.ceil(max_score))
    edges = np.arange(0, top + 2) - 0.5
    ax.hist(scores, bins=edges, color="#3a6ea5", edgecolor="white")
    ax.set_xticks(range(0, top + 1))
    ax.set_xlim(-0.5, top + 0.5)
    ax.set_xlabel(f"score (out of {max_score:g})")
    ax.set_ylabel("students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title(title)
    fig.tight_layout()
    return fig


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~>])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def md(text) -> str:
    """``text`` as literal Markdown: one line, HTML and Markdown escaped.

    >>> md("<script>x</script> *a* | b")
    '&lt;script&gt;x&lt;/script&gt; \\\\*a\\\\* \\\\| b'
    """
    text = _CONTROL.sub(" ", str(text))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _code(text) -> str:
    """``text`` in a Markdown code span, whatever backticks it holds."""
    text = _CONTROL.sub(" ", str(text)).replace("`", "'")
    return f"`{text}`"


def safe_json(data) -> str:
    """JSON that stays inert even when pasted into an HTML page."""
    text = json.dumps(data, indent=1, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _rows(result):
    yield from sorted(result.students.items())


def _markdown(result) -> str:
    rates = result.pass_rates()
    scores = [s.score for s in result.students.values()]
    counts = Counter(p.code for s in result.students.values() for p in s.problems)
    lines = [
        f"# Grading report: {result.assignment}",
        "",
        f"{len(scores)} students; mean {np.mean(scores) if scores else 0:.2f} "
        f"of {result.max_score:g} points; median "
        f"{np.median(scores) if scores else 0:g}.",
        f"Per-cell timeout {result.timeout} s, whole notebook "
        f"{result.notebook_timeout:g} s. Sandbox: {result.sandbox}.",
        f"Secret: {_secret_line(result)}",
        "",
        "![histogram of scores](histogram.png)",
        "",
        "## Scores",
        "",
        "| student | score | problems |",
        "| --- | ---: | --- |",
    ]
    for sid, s in _rows(result):
        codes = ", ".join(
            sorted({PROBLEM_TITLES.get(p.code, p.code) for p in s.problems})
        )
        lines.append(
            f"| {md(sid)} | {s.score:g} / {s.max_score:g} | {md(codes) or '—'} |"
        )
    lines += [
        "",
        "## Tests: pass rate across the class",
        "",
        "| test | points | passed |",
        "| --- | ---: | ---: |",
    ]
    for test, points in result.test_points.items():
        lines.append(f"| {md(test)} | {points:g} | {100 * rates[test]:.0f} % |")
    lines += ["", "## Problems by kind", "", "| problem | students |", "| --- | ---: |"]
    for code, title in PROBLEM_TITLES.items():
        if counts[code]:
            n = sum(
                any(p.code == code for p in s.problems)
                for s in result.students.values()
            )
            lines.append(f"| {title} (`{code}`) | {n} |")
    lines += ["", "## Problems by student", ""]
    for sid, s in _rows(result):
        if not s.problems:
            continue
        lines.append(f"### {md(sid)} ({s.score:g} / {s.max_score:g})")
        lines.append("")
        for p in s.problems:
            where = f" in {_code(p.cell)}" if p.cell else ""
            lines.append(
                f"- **{md(PROBLEM_TITLES.get(p.code, p.code))}**{where}: "
                f"{md(p.message)}"
            )
        lines.append("")
    if result.notes:
        lines += ["## Notes", ""] + [f"- {md(note)}" for note in result.notes] + [""]
    if result.unmatched:
        lines += ["## Files matching no student", ""]
        lines += [f"- {md(name)}" for name in result.unmatched] + [""]
    if result.ignored:
        lines += [f"Ignored {len(result.ignored)} hidden or `__MACOSX` entries.", ""]
    return "\n".join(lines)


CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; }
td.num { text-align: right; }
.bar { background: #3a6ea5; height: .8rem; display: inline-block; }
code { background: #f3f3f3; padding: 0 .2rem; }
li { margin: .2rem 0; }
"""


def _html(result) -> str:
    e = html.escape
    rates = result.pass_rates()
    scores = [s.score for s in result.students.values()]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Grading report: {e(result.assignment)}</title><style>{CSS}</style>",
        "</head><body>",
        f"<h1>Grading report: {e(result.assignment)}</h1>",
        f"<p>{len(scores)} students; mean {np.mean(scores) if scores else 0:.2f} of "
        f"{result.max_score:g} points; median {np.median(scores) if scores else 0:g}. "
        f"Per-cell timeout {result.timeout} s, whole notebook "
        f"{result.notebook_timeout:g} s. Sandbox: {e(result.sandbox)}.</p>",
        f"<p>Secret: {e(_secret_line(result))}</p>",
        "<img src='histogram.png' alt='histogram of scores' width='600'>",
        "<h2>Scores</h2><table><tr><th>student</th><th>score</th><th>problems</th></tr>",
    ]
    for sid, s in _rows(result):
        codes = ", ".join(
            sorted({PROBLEM_TITLES.get(p.code, p.code) for p in s.problems})
        )
        link = f"<a href='#{e(sid)}'>{e(codes)}</a>" if codes else "—"
        parts.append(
            f"<tr><td>{e(sid)}</td><td class='num'>{s.score:g} / {s.max_score:g}</td>"
            f"<td>{link}</td></tr>"
        )
    parts.append("</table><h2>Tests: pass rate across the class</h2>")
    parts.append("<table><tr><th>test</th><th>points</th><th>passed</th><th></th></tr>")
    for test, points in result.test_points.items():
        r = rates[test]
        parts.append(
            f"<tr><td><code>{e(test)}</code></td><td class='num'>{points:g}</td>"
            f"<td class='num'>{100 * r:.0f} %</td>"
            f"<td><span class='bar' style='width:{10 * r:.2f}rem'></span></td></tr>"
        )
    parts.append("</table><h2>Problems by student</h2>")
    for sid, s in _rows(result):
        if not s.problems:
            continue
        parts.append(
            f"<h3 id='{e(sid)}'>{e(sid)} ({s.score:g} / {s.max_score:g})</h3><ul>"
        )
        for p in s.problems:
            where = f" in <code>{e(p.cell)}</code>" if p.cell else ""
            parts.append(
                f"<li><b>{e(PROBLEM_TITLES.get(p.code, p.code))}</b>{where}: "
                f"{e(p.message)}</li>"
            )
        parts.append("</ul>")
    if result.notes:
        parts.append("<h2>Notes</h2><ul>")
        parts += [f"<li>{e(note)}</li>" for note in result.notes]
        parts.append("</ul>")
    if result.unmatched:
        parts.append("<h2>Files matching no student</h2><ul>")
        parts += [f"<li>{e(n)}</li>" for n in result.unmatched]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _secret_line(result) -> str:
    secret = getattr(result, "secret", "none")
    if secret == "none":
        return (
            "none: the hidden tests used the public seeds of solutions/ "
            "(pass --secret for graded work)"
        )
    return (
        f"fingerprint {secret} (the same secret gives the same fingerprint and the "
        "same grades)"
    )


def write(result) -> None:
    """Write report.md, report.html, report.json and histogram.png."""
    folder = result.report_dir
    folder.mkdir(parents=True, exist_ok=True)
    scores = [s.score for s in result.students.values()]
    fig = histogram(scores, result.max_score, f"{result.assignment}: scores")
    fig.savefig(folder / "histogram.png")
    (folder / "report.md").write_text(_markdown(result) + "\n")
    (folder / "report.html").write_text(_html(result) + "\n")
    (folder / "report.json").write_text(safe_json(result.as_dict()) + "\n")
