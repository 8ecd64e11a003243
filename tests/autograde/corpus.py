"""A class of synthetic submissions that exercise every grading problem.

Built from an assignment's solution notebook, so it follows the real
assignments wherever they change: the test-suite grades it for all six and
checks each score and each reported problem; an instructor can grade it to
see the report before a real class arrives.

Every submission starts from the *student view* of the solution (solution
markers removed, hidden tests removed, as a student who solved everything
would hand it in) or from the *release* (the stubs), and breaks one thing.
Where it breaks a task, it breaks the **last** task of the notebook, so the
tests that lose their points are exactly the test cells after the last
answer cell: no later task depends on it. :class:`Submission` carries the
expected score and problem codes, derived from the notebook's structure.
"""

from __future__ import annotations

import copy
import io
import json
import re
import zipfile
from dataclasses import dataclass, field

import nbformat
from nbformat.v4 import new_code_cell

__all__ = ["Submission", "student_view", "release_view", "build_corpus", "to_zip"]

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


@dataclass
class Submission:
    """One student's files and what grading must make of them."""

    student: str
    files: dict[str, bytes]
    score: float
    codes: set[str]
    failed_tests: set[str] = field(default_factory=set)
    note: str = ""


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _is_test(cell) -> bool:
    return (
        cell.cell_type == "code"
        and _meta(cell).get("grade")
        and not _meta(cell).get("solution")
    )


def _is_answer(cell) -> bool:
    return cell.cell_type == "code" and bool(_meta(cell).get("solution"))


def _replace_region(source: str, begin: str, end: str, body: str | None) -> str:
    """Replace each marked region by ``body`` (indented like the marker).

    ``body=None`` keeps the region's lines and drops only the markers.
    """
    out, inside, indent = [], False, ""
    for line in source.split("\n"):
        if begin in line:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            if body is not None:
                out += [indent + b if b else b for b in body.split("\n")]
        elif end in line:
            inside = False
        elif not inside or body is None:
            out.append(line)
    return "\n".join(out)


def student_view(source_nb) -> nbformat.NotebookNode:
    """The solution as a student would hand it in: no markers, no hidden tests."""
    nb = copy.deepcopy(source_nb)
    for cell in nb.cells:
        if _is_answer(cell):
            cell.source = _replace_region(
                cell.source, BEGIN_SOLUTION, END_SOLUTION, None
            )
        if _is_test(cell):
            cell.source = _replace_region(cell.source, BEGIN_HIDDEN, END_HIDDEN, "")
            cell.source = cell.source.rstrip("\n")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def release_view(source_nb) -> nbformat.NotebookNode:
    """The notebook students received: stubs instead of solutions."""
    nb = student_view(source_nb)
    original = {id(c): s for c, s in zip(nb.cells, source_nb.cells, strict=True)}
    for cell in nb.cells:
        if _is_answer(cell):
            cell.source = _replace_region(
                original[id(cell)].source, BEGIN_SOLUTION, END_SOLUTION, STUB
            )
    return nb


def _break_last_answer(source_nb, body: str) -> nbformat.NotebookNode:
    """Student view whose last answer's solution region is ``body``."""
    index = max(i for i, c in enumerate(source_nb.cells) if _is_answer(c))
    return _break_answer(source_nb, index, body)


def _break_answer(source_nb, index: int, body: str) -> nbformat.NotebookNode:
    """Student view whose answer cell ``index`` has ``body`` as its solution."""
    nb = student_view(source_nb)
    nb.cells[index].source = _replace_region(
        source_nb.cells[index].source, BEGIN_SOLUTION, END_SOLUTION, body
    )
    return nb


def _dump(nb, version: int = 4) -> bytes:
    if version != 4:
        nb = nbformat.convert(copy.deepcopy(nb), version)
    return nbformat.writes(nb, version=version).encode()


def _add_cell(nb, source: str) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    nb.cells.append(new_code_cell(source))
    return nb


SNOOP = r"""
import json, os
secrets = json.loads({paths!r})
found = {{"read": [], "listed": [], "wrote": []}}
for path in secrets:
    try:
        if os.path.isdir(path):
            found["listed"].append([path, os.listdir(path)])
        else:
            with open(path, "rb") as f:
                found["read"].append([path, len(f.read())])
    except OSError:
        pass
skip = ("/proc", "/sys", "/dev", "/usr")
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in skip
               and not os.path.join(top, d).endswith((".venv", "/versions"))]
    for name in files:
        if name.endswith((".ipynb", ".db", ".zip")):
            found["listed"].append(os.path.join(top, name))
# Write only where a broken sandbox would not soil the repository.
targets = [p for p in secrets if "/course" in p and os.path.isdir(p)]
for folder in targets + ["/", "/etc", "/work", os.path.dirname(os.__file__)]:
    try:
        with open(os.path.join(folder, "planted.txt"), "w") as f:
            f.write("x")
        found["wrote"].append(folder)
    except OSError:
        pass
print("SNOOP" + json.dumps(found))
"""


def build_corpus(
    source_nb,
    assignment: str,
    secret_paths: list[str] | None = None,
    reference_call: tuple[str, str, set[str]] | None = None,
) -> list[Submission]:
    """Twenty submissions of ``assignment``, one per kind of problem.

    Parameters
    ----------
    source_nb : the solution notebook (with markers and hidden tests).
    secret_paths : paths the ``snoop`` submission tries to read; it also
        tries to write into those of them under a ``course`` folder (the
        scratch course), and into ``/``, ``/etc`` and the standard library.
    reference_call : ``(answer_id, body, failing_tests)``: a body for the
        answer cell ``answer_id`` that calls the course's reference, and the
        tests that must then fail (hand-checked: those whose guard the call
        runs under). Without it, no ``reference-call`` submission is made.
    """
    name = f"{assignment}.ipynb"
    tests = [c for c in source_nb.cells if _is_test(c)]
    points = {_meta(c)["grade_id"]: float(_meta(c)["points"]) for c in tests}
    total = sum(points.values())
    last = max(i for i, c in enumerate(source_nb.cells) if _is_answer(c))
    last_tests = {
        _meta(c)["grade_id"] for c in source_nb.cells[last + 1 :] if _is_test(c)
    }
    broken = total - sum(points[t] for t in last_tests)
    perfect = student_view(source_nb)
    first_test = next(i for i, c in enumerate(perfect.cells) if _is_test(c))
    first_answer = next(i for i, c in enumerate(perfect.cells) if _is_answer(c))

    def folder(student, nb_bytes, extra=None, filename=name):
        files = {f"{student}/{filename}": nb_bytes}
        for fname, data in (extra or {}).items():
            files[f"{student}/{fname}"] = data
        return files

    corpus = []

    def add(student, files, score, codes, failed=frozenset(), note=""):
        corpus.append(Submission(student, files, score, set(codes), set(failed), note))

    add("perfect", folder("perfect", _dump(perfect)), total, set(), note="full marks")
    add(
        "blank",
        folder("blank", _dump(release_view(source_nb))),
        0.0,
        {"test-failed"},
        set(points),
        "the release, untouched",
    )

    nb = copy.deepcopy(perfect)
    nb.cells[first_test].source = "pass"
    add("edited-test", folder("edited-test", _dump(nb)), total, {"test-edited"})

    nb = copy.deepcopy(perfect)
    del nb.cells[first_test]
    add("deleted-test", folder("deleted-test", _dump(nb)), total, {"test-deleted"})

    nb = copy.deepcopy(perfect)
    nb.cells.insert(first_answer + 1, copy.deepcopy(nb.cells[first_answer]))
    nb.cells[first_answer + 1].id = "copiedcell"
    add("copied-answer", folder("copied-answer", _dump(nb)), total, {"cell-duplicated"})

    nb = copy.deepcopy(perfect)
    half = copy.deepcopy(nb.cells[last])
    half.source, half.id = "checked_by_me = True", "splitcell"
    nb.cells.insert(last + 1, half)
    add("split-answer", folder("split-answer", _dump(nb)), total, {"cell-duplicated"})

    add(
        "renamed",
        folder("renamed", _dump(perfect), filename=f"{assignment} (1).ipynb"),
        total,
        {"notebook-renamed"},
    )
    add(
        "missing",
        {"missing/notes.txt": b"I could not upload my notebook\n"},
        0.0,
        {"notebook-missing", "extra-files"},
    )
    shadow = b"def correlate2d(*a, **k):\n    raise SystemExit('shadowed')\n"
    add(
        "extra-files",
        folder(
            "extra-files",
            _dump(perfect),
            {"cnn_course.py": shadow, "numpy.py": shadow, "data.csv": b"1,2\n"},
        ),
        total,
        {"extra-files"},
        note="files that would shadow imports, kept out",
    )
    add(
        "invalid-json",
        folder("invalid-json", _dump(perfect)[:-200]),
        0.0,
        {"invalid-json"},
    )
    add(
        "old-format",
        folder("old-format", _dump(perfect, version=3)),
        total,
        {"old-format"},
    )
    add(
        "infinite-loop",
        folder(
            "infinite-loop",
            _dump(_break_last_answer(source_nb, "while True:\n    pass")),
        ),
        broken,
        {"timeout"},
        last_tests,
    )
    add(
        "kernel-killed",
        folder(
            "kernel-killed",
            _dump(_break_last_answer(source_nb, "import os\nos._exit(1)")),
        ),
        broken,
        {"kernel-died", "suspicious-code"},
        last_tests,
    )
    add(
        "memory-hog",
        folder(
            "memory-hog",
            _dump(_break_last_answer(source_nb, "hog = bytearray(64 * 2**30)")),
        ),
        broken,
        {"memory-exhausted"},
        last_tests,
    )
    add(
        "output-flood",
        folder(
            "output-flood",
            _dump(
                _add_cell(perfect, "for i in range(60_000):\n    print(i, 'spam' * 6)")
            ),
        ),
        total,
        {"output-capped"},
    )
    always = (
        "class AlwaysEqual:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "    __array_priority__ = 1000\n"
        "answer = AlwaysEqual()"
    )
    nb = _break_last_answer(source_nb, always)
    body = nb.cells[last].source
    if re.search(r"^\s*def ", body, re.M):
        nb.cells[last].source = body.replace(
            "answer = AlwaysEqual()", "return AlwaysEqual()"
        )
    else:
        # a value to set: set every upper-case name the stub assigned
        names = re.findall(
            r"^([A-Z_][A-Z0-9_]*)\s*=", source_nb.cells[last].source, re.M
        )
        nb.cells[last].source = body + "".join(f"\n{n} = answer" for n in names)
    add(
        "always-equal",
        folder("always-equal", _dump(nb)),
        broken,
        {"test-failed"},
        last_tests,
    )
    add(
        "wrong-last",
        folder("wrong-last", _dump(_break_last_answer(source_nb, "wrong = None"))),
        broken,
        {"test-failed"},
        last_tests,
        "partial credit: last task not done",
    )
    # Before the first answer, a cell that turns every later cell into `pass`:
    # when tests ran in the student's kernel, every test passed. Now the
    # tests run in the grader, and find nothing of the student's.
    tamper = release_view(source_nb)
    tamper.cells.insert(
        first_answer,
        new_code_cell(
            "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])"
        ),
    )
    add(
        "tamper",
        folder("tamper", _dump(tamper)),
        0.0,
        {"test-failed", "suspicious-code"},
        set(points),
        "all cells rewritten to 'pass': the tests, run elsewhere, find nothing",
    )
    if secret_paths is not None:
        snoop = _add_cell(perfect, SNOOP.format(paths=json.dumps(secret_paths)))
        add(
            "snoop",
            folder("snoop", _dump(snoop)),
            total,
            {"suspicious-code"},
            note="tries to read solutions, hidden tests and others' work",
        )
    if reference_call is not None:
        answer_id, body, failing = reference_call
        index = next(
            i
            for i, c in enumerate(source_nb.cells)
            if _meta(c).get("grade_id") == answer_id
        )
        add(
            "reference-call",
            folder("reference-call", _dump(_break_answer(source_nb, index, body))),
            total - sum(points[t] for t in failing),
            {"reference-called"},
            failing,
        )
    return corpus


def to_zip(submissions: list[Submission]) -> bytes:
    """All files of ``submissions`` in one zip, one folder per student."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for sub in submissions:
            for path, data in sub.files.items():
                z.writestr(path, data)
    return buffer.getvalue()
