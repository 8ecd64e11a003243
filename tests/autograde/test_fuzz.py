"""One student's malformed notebook never stops the class.

Hypothesis draws malformed notebooks (grading metadata of the wrong type,
lone surrogates, deeply nested JSON, missing keys, huge cells, junk bytes)
and puts them in one zip between perfect students. ``cnn-course grade``
must exit 0, list every student in ``grades.csv`` and the report, and give
the perfect students full marks.
"""

from __future__ import annotations

import copy
import csv
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnn_course import cli

from . import corpus as grade_corpus
from .conftest import TOY, make_zip, needs_bwrap, toy_source

pytestmark = [pytest.mark.slow, needs_bwrap]

PERFECT = json.loads(json.dumps(grade_corpus.student_view(toy_source()), default=dict))
WRONG = st.one_of(
    st.text(max_size=8),
    st.integers(-(10**12), 10**12),
    st.floats(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.booleans(),
)
FIELDS = ["points", "grade_id", "grade", "solution", "locked", "schema_version"]


def _deep(n: int):
    value: object = "x"
    for _ in range(n):
        value = {"a": value}
    return value


@st.composite
def malformed(draw) -> bytes:
    """The bytes of one broken submission."""
    kind = draw(
        st.sampled_from(
            ["metadata", "surrogate", "deep", "missing", "huge", "junk", "celltype"]
        )
    )
    nb = copy.deepcopy(PERFECT)
    cells = nb["cells"]
    if kind == "metadata":
        for _ in range(draw(st.integers(1, 3))):
            cell = cells[draw(st.integers(0, len(cells) - 1))]
            meta = cell["metadata"].setdefault("nbgrader", {})
            meta[draw(st.sampled_from(FIELDS))] = draw(WRONG)
        if draw(st.booleans()):
            cells[draw(st.integers(0, len(cells) - 1))]["metadata"]["nbgrader"] = draw(
                WRONG
            )
    elif kind == "surrogate":
        place = draw(st.sampled_from(["source", "metadata", "output", "key"]))
        text = "x\ud800y\udfff"
        cell = cells[draw(st.integers(0, len(cells) - 1))]
        if place == "source":
            cell["source"] = text
        elif place == "metadata":
            cell["metadata"]["note"] = text
        elif place == "key":
            cell["metadata"][text] = 1
        else:
            cells[2]["outputs"] = [{"output_type": "stream", "name": "stdout",
                                    "text": text}]  # fmt: skip
    elif kind == "deep":
        cells[0]["metadata"]["deep"] = _deep(draw(st.integers(2_000, 50_000)))
    elif kind == "missing":
        key = draw(st.sampled_from(["cells", "metadata", "nbformat", "source", "cell"]))
        if key in ("cells", "metadata", "nbformat"):
            nb.pop(key, None)
        elif key == "source":
            cells[2].pop("source")
        else:
            cells[3] = draw(WRONG)
    elif kind == "huge":
        cells[draw(st.integers(0, len(cells) - 1))]["source"] = "# " + "x" * (4 * 2**20)
    elif kind == "celltype":
        cells[draw(st.integers(0, len(cells) - 1))]["cell_type"] = draw(WRONG)
    else:
        return draw(st.binary(min_size=0, max_size=200))
    try:
        return json.dumps(nb).encode()
    except (RecursionError, ValueError):
        return b'{"cells": ' * 5000


@settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(malformed(), min_size=8, max_size=8))
def test_a_class_with_malformed_notebooks_is_graded_in_full(tmp_path_factory, broken):
    tmp = tmp_path_factory.mktemp("fuzz")
    perfect = json.dumps(PERFECT).encode()
    files = {"first/99_toy.ipynb": perfect, "last/99_toy.ipynb": perfect}
    for i, data in enumerate(broken):
        files[f"broken{i:02d}/99_toy.ipynb"] = data
    zip_path = tmp / "class.zip"
    zip_path.write_bytes(make_zip(files))
    solutions = tmp / "solutions"
    (solutions / TOY).mkdir(parents=True)
    (solutions / TOY / f"{TOY}.ipynb").write_text(json.dumps(toy_source()))
    out = tmp / "out"
    code = cli.main(
        ["grade", "--assignment", TOY, "--submissions", str(zip_path), "--out",
         str(out), "--solutions", str(solutions), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    students = {f"broken{i:02d}" for i in range(len(broken))} | {"first", "last"}
    with open(out / "grades.csv") as f:
        rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    assert set(rows) == students
    assert rows["first"] == rows["last"] == 5.0
    report = json.loads((out / "reports" / TOY / "report.json").read_text())
    assert set(report["students"]) == students
