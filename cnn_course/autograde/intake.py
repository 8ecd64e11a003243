"""From an LMS zip to one clean notebook per student, every oddity named.

Three steps, before nbgrader autogrades anything:

1. :func:`read_zip` reads the instructor's zip once, without trusting it:
   entries that escape the folder, symlinks, nested archives, encrypted or
   oversized entries are left out and named; each remaining file is matched
   to a student by a regular expression on its path inside the zip (the
   same expression nbgrader's ``FileNameCollectorPlugin.named_regexp``
   holds) and written to nbgrader's ``submitted/<student>/<assignment>/``.
2. :func:`settle_notebook` picks the student's notebook (renamed, nested or
   several), parses it (invalid JSON, old nbformat, text that is not
   Unicode, grading metadata of the wrong type), and puts it in place as
   nbformat 4.5;
3. :func:`compare_with_source` compares it with the gradebook
   (tests edited or deleted, cells copied or split) and puts deleted tests
   back.
"""

from __future__ import annotations

import json
import re
import stat
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat
from nbformat.validator import normalize

__all__ = [
    "FOLDER_REGEX",
    "Problem",
    "Intake",
    "read_zip",
    "settle_notebook",
    "compare_with_source",
    "repair_text",
    "normalise_metadata",
]

#: Default layout: one folder per student, ``STUDENT_ID/NN_topic.ipynb``.
FOLDER_REGEX = r"^(?P<student_id>[^/]+)/(?P<file_id>.+)$"
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".7z", ".rar")
MAX_FILE_BYTES = 20 * 2**20
MAX_TOTAL_BYTES = 2 * 2**30
MAX_ENTRIES = 20_000


@dataclass
class Problem:
    """One thing found in one student's submission."""

    code: str
    message: str
    cell: str | None = None

    def as_dict(self) -> dict:
        return {"code": self.code, "cell": self.cell, "message": self.message}


@dataclass
class Intake:
    """What the zip holds, by student."""

    files: dict[str, list[str]] = field(default_factory=dict)
    problems: dict[str, list[Problem]] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def add_problem(self, student: str, problem: Problem) -> None:
        self.problems.setdefault(student, []).append(problem)


def _is_junk(parts: tuple[str, ...]) -> bool:
    """macOS resource forks, hidden files, Jupyter checkpoints."""
    return parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts)


def _strip_wrapper(names: list[str], min_parts: int) -> list[str]:
    """Drop one folder that wraps everything (``export/alice/nb.ipynb``)."""
    split = [n.split("/") for n in names]
    if (
        split
        and all(len(p) >= min_parts for p in split)
        and len({p[0] for p in split}) == 1
    ):
        return ["/".join(p[1:]) for p in split]
    return names


def read_zip(
    path: str | Path,
    regex: str,
    submitted: str | Path,
    assignment: str,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> Intake:
    """Read the submissions zip once; put each student's files in place.

    Parameters
    ----------
    path : path of the zip the LMS exported.
    regex : regular expression with groups ``student_id`` and ``file_id``,
        matched against each path inside the zip (after dropping one folder
        that wraps every entry).
    submitted : nbgrader's ``submitted`` folder: each file goes to
        ``submitted/<student_id>/<assignment>/<file_id>``.
    assignment : the assignment being graded.

    Raises
    ------
    ValueError
        If ``path`` is not a zip, is too large in all, or ``regex`` lacks a
        group.
    """
    try:
        pattern = re.compile(regex)
    except re.error as err:
        raise ValueError(
            f"regex {regex!r} is not a regular expression: {err}"
        ) from None
    for group in ("student_id", "file_id"):
        if group not in pattern.groupindex:
            raise ValueError(
                f"regex {regex!r} has no (?P<{group}>...) group; it needs both "
                "student_id and file_id"
            )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(
            f"submissions {str(path)!r} is not a readable zip: {err}"
        ) from err
    intake = Intake()
    submitted = Path(submitted)
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > MAX_ENTRIES:
            raise ValueError(
                f"submissions zip has {len(infos)} entries; at most {MAX_ENTRIES}"
            )
        total = sum(i.file_size for i in infos)
        if total > MAX_TOTAL_BYTES:
            raise ValueError(
                f"submissions zip unpacks to {total} bytes; at most "
                f"{MAX_TOTAL_BYTES} allowed"
            )
        entries = []
        for info in infos:
            name = info.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            if name.startswith("/") or ".." in parts or not parts:
                intake.unmatched.append(f"{name} (path leaves the zip; skipped)")
                continue
            if _is_junk(parts):
                intake.ignored.append(name)
                continue
            entries.append((info, "/".join(parts)))
        min_parts = 3 if regex == FOLDER_REGEX else 2
        stripped = _strip_wrapper([n for _, n in entries], min_parts)
        seen: set[tuple[str, str]] = set()
        for (info, _), name in zip(entries, stripped, strict=True):
            match = pattern.match(name)
            if not match:
                intake.unmatched.append(name)
                continue
            student = match.group("student_id")
            file_id = match.group("file_id") or ""
            if not STUDENT_ID.match(student or ""):
                intake.unmatched.append(f"{name} (student id {student!r} not allowed)")
                continue
            file_parts = PurePosixPath(file_id).parts
            if not file_parts or ".." in file_parts or file_id.startswith("/"):
                intake.unmatched.append(f"{name} (file name {file_id!r} not allowed)")
                continue
            file_id = "/".join(file_parts)
            n, key = 1, (student, file_id)
            while key in seen:
                n += 1
                key = (student, f"duplicate-{n}-{file_id}")
            seen.add(key)
            file_id = key[1]
            files = intake.files.setdefault(student, [])
            mode = info.external_attr >> 16
            reason = None
            if stat.S_ISLNK(mode):
                reason = "a symbolic link"
            elif info.flag_bits & 0x1:
                reason = "encrypted"
            elif info.file_size > max_file_bytes:
                reason = f"{info.file_size} bytes, over the {max_file_bytes} limit"
            elif file_id.lower().endswith(ARCHIVE_SUFFIXES):
                reason = "an archive inside the zip (not unpacked)"
            if reason:
                intake.add_problem(
                    student, Problem("file-skipped", f"{file_id}: {reason}")
                )
                continue
            try:
                with archive.open(info) as src:
                    data = src.read(max_file_bytes + 1)
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as err:
                intake.add_problem(
                    student, Problem("file-skipped", f"{file_id}: unreadable ({err})")
                )
                continue
            if len(data) > max_file_bytes:
                intake.add_problem(
                    student,
                    Problem(
                        "file-skipped", f"{file_id}: over the {max_file_bytes} limit"
                    ),
                )
                continue
            target = submitted / student / assignment / file_id
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            files.append(file_id)
    return intake


def _grade_ids(text: str) -> set[str]:
    try:
        data = json.loads(text)
        return {
            c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            for c in data.get("cells", [])
        } - {None}
    except (ValueError, AttributeError, RecursionError):
        return set()


_SURROGATE = re.compile("[\ud800-\udfff]")
GRADE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_FLAGS = ("grade", "solution", "locked", "task")
CELL_TYPES = ("code", "markdown", "raw")


def repair_text(data, _depth: int = 0):
    """``data`` with lone surrogates replaced by U+FFFD; and how many strings."""
    count = 0

    def fix(value, depth):
        nonlocal count
        if depth > 200:
            raise RecursionError
        if isinstance(value, str):
            if _SURROGATE.search(value):
                count += 1
                return _SURROGATE.sub("\ufffd", value)
            return value
        if isinstance(value, list):
            return [fix(v, depth + 1) for v in value]
        if isinstance(value, dict):
            return {fix(k, depth + 1): fix(v, depth + 1) for k, v in value.items()}
        return value

    return fix(data, _depth), count


def normalise_metadata(data: dict, known_ids: set[str]) -> list[Problem]:
    """Check every cell's type and grading metadata before nbgrader reads them.

    nbgrader trusts these fields; a string in ``points`` or a list as a
    ``grade_id`` would stop it. A field of the wrong type, or a grade id that
    is not this assignment's, loses the cell's grading metadata (nbgrader
    then restores the real cells from the gradebook); a cell of an unknown
    type is dropped. ``data`` is changed in place.
    """
    problems: list[Problem] = []
    cells = data.get("cells")
    if "worksheets" in data and cells is None:
        return problems  # nbformat 3: converted, and checked after conversion
    if not isinstance(cells, list):
        data["cells"] = []
        return [Problem("metadata-changed", "the notebook's cell list was not a list")]
    kept = []
    for index, cell in enumerate(cells):
        label = f"cell {index + 1}"
        if not isinstance(cell, dict) or cell.get("cell_type") not in CELL_TYPES:
            problems.append(
                Problem("metadata-changed", f"{label} is not a notebook cell; dropped")
            )
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(x, str) for x in source):
            source = "".join(source)
        if not isinstance(source, str):
            problems.append(
                Problem("metadata-changed", f"{label}'s source is not text; emptied")
            )
            source = ""
        cell["source"] = source
        meta = cell.get("metadata")
        if not isinstance(meta, dict):
            meta = cell["metadata"] = {}
        if "nbgrader" in meta:
            why = _bad_nbgrader(meta["nbgrader"], known_ids)
            if why:
                problems.append(
                    Problem(
                        "metadata-changed",
                        f"{label}: {why}; its grading metadata was removed",
                    )
                )
                del meta["nbgrader"]
        kept.append(cell)
    data["cells"] = kept
    return problems


def _bad_nbgrader(meta, known_ids: set[str]) -> str | None:
    if not isinstance(meta, dict):
        return "grading metadata that is not a mapping"
    grade_id = meta.get("grade_id")
    if grade_id is not None:
        if not isinstance(grade_id, str) or not GRADE_ID.match(grade_id):
            return f"grade id {str(grade_id)[:40]!r} is not a plain name"
        if known_ids and grade_id not in known_ids:
            return f"grade id {grade_id!r} is not a cell of this assignment"
    for flag in _FLAGS:
        if flag in meta and not isinstance(meta[flag], bool):
            return f"{flag} = {str(meta[flag])[:30]!r} is not true or false"
    if "points" in meta:
        points = meta["points"]
        if isinstance(points, bool) or not isinstance(points, int | float):
            return f"points = {str(points)[:30]!r} is not a number"
        if not (0 <= points < 1e6):
            return f"points = {points!r} is out of range"
    if "schema_version" in meta and not isinstance(meta["schema_version"], int):
        return "schema_version is not a number"
    if (meta.get("grade") or meta.get("solution")) and grade_id is None:
        return "a graded cell without a grade id"
    return None


def _read_v4(data: dict):
    """A notebook dict as a valid nbformat 4.5 notebook (cell ids added)."""
    nb = nbformat.reads(json.dumps(data), as_version=4)
    nb.nbformat_minor = max(nb.nbformat_minor, 5)
    _, nb = normalize(nb, version=4, version_minor=5)
    nb = nbformat.from_dict(nb)
    nbformat.validate(nb)
    return nb


def settle_notebook(
    folder: Path,
    expected: str,
    file_ids: list[str],
    known_ids: set[str],
    set_aside: Path,
) -> tuple[list[Problem], bool]:
    """Leave exactly ``folder/expected`` as a valid nbformat 4.5 notebook.

    ``folder`` is the student's ``submitted/<id>/<assignment>`` folder after
    ``zip_collect``; ``file_ids`` are all the student's files in the zip.
    Other notebooks are moved to ``set_aside``.

    Returns
    -------
    problems, graded
        ``graded`` is False when no usable notebook is left (the student
        then scores 0 through nbgrader's "no submitted file" rule).
    """
    problems: list[Problem] = []
    notebooks = (
        sorted(p for p in folder.rglob("*.ipynb") if p.is_file())
        if folder.exists()
        else []
    )
    extras = [f for f in file_ids if not f.lower().endswith(".ipynb")]
    target = folder / expected
    chosen: Path | None = None
    if target in notebooks:
        chosen = target
    elif len(notebooks) == 1:
        chosen = notebooks[0]
    elif notebooks:
        # Several notebooks, none with the right name: take the one that holds
        # most of this assignment's cells.
        chosen = max(
            notebooks,
            key=lambda p: len(_grade_ids(p.read_text(errors="replace")) & known_ids),
        )
    for other in notebooks:
        if other != chosen:
            extras.append(other.relative_to(folder).as_posix())
            set_aside.mkdir(parents=True, exist_ok=True)
            other.replace(set_aside / other.name)
    if extras:
        problems.append(
            Problem(
                "extra-files",
                "not given to the kernel: " + ", ".join(sorted(extras)),
            )
        )
    if chosen is None:
        problems.append(
            Problem("notebook-missing", f"no notebook; expected {expected}")
        )
        return problems, False
    if chosen != target:
        problems.append(
            Problem(
                "notebook-renamed",
                f"graded {chosen.relative_to(folder).as_posix()} as {expected}",
            )
        )
        chosen.replace(target)
    raw = target.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except RecursionError:
        problems.append(
            Problem("invalid-json", f"{expected} is nested too deeply to read")
        )
        set_aside.mkdir(parents=True, exist_ok=True)
        target.replace(set_aside / expected)
        return problems, False
    except (UnicodeDecodeError, ValueError) as err:
        problems.append(Problem("invalid-json", f"{expected} is not valid JSON: {err}"))
        set_aside.mkdir(parents=True, exist_ok=True)
        target.replace(set_aside / expected)
        return problems, False
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        problems.append(
            Problem("invalid-notebook", f"{expected} is JSON but no notebook")
        )
        set_aside.mkdir(parents=True, exist_ok=True)
        target.replace(set_aside / expected)
        return problems, False
    data, repaired = repair_text(data)
    if repaired:
        problems.append(
            Problem(
                "text-repaired",
                f"{repaired} string(s) held characters that are not valid Unicode "
                "(lone surrogates); each was replaced by U+FFFD",
            )
        )
    problems += normalise_metadata(data, known_ids)
    version = (data.get("nbformat"), data.get("nbformat_minor"))
    try:
        with warnings.catch_warnings():
            # nbformat warns of what it repairs; what matters is reported below
            warnings.simplefilter("ignore")
            nb = _read_v4(data)
        problems += normalise_metadata(nb, known_ids)
    except Exception as err:  # nbformat raises many kinds
        problems.append(
            Problem("invalid-notebook", f"{expected} is not a valid notebook: {err}")
        )
        set_aside.mkdir(parents=True, exist_ok=True)
        target.replace(set_aside / expected)
        return problems, False
    if (
        version != (4, 5)
        and version[0] is not None
        and (version[0], version[1] or 0) < (4, 5)
    ):
        problems.append(
            Problem(
                "old-format",
                f"nbformat {version[0]}.{version[1]} converted to 4.5",
            )
        )
    nbformat.write(nb, target)
    return problems, True


def compare_with_source(nb_path: Path, source_cells, release_nb) -> list[Problem]:
    """Compare a settled notebook with the gradebook's cells; put tests back.

    Parameters
    ----------
    nb_path : the student's notebook (rewritten in place).
    source_cells : ``Gradebook.find_notebook(...).source_cells``.
    release_nb : the release version of the notebook (what students got),
        whose cells are put back where a test cell was deleted; nbgrader
        then restores their hidden tests from the gradebook.
    """
    nb = nbformat.read(nb_path, as_version=4)
    problems: list[Problem] = []
    by_id: dict[str, list] = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            by_id.setdefault(grade_id, []).append(cell)
    release = {
        c.metadata["nbgrader"]["grade_id"]: c
        for c in release_nb.cells
        if c.metadata.get("nbgrader", {}).get("grade_id")
    }
    order = [c.name for c in source_cells]
    changed = False
    for source in source_cells:
        name = source.name
        copies = by_id.get(name, [])
        is_test = (
            source.locked
            and source.cell_type == "code"
            and name in release
            and (release[name].metadata["nbgrader"].get("grade", False))
        )
        if len(copies) > 1:
            # Keep the grading metadata on the last copy only, as nbgrader's
            # DeduplicateIds would, but remove it entirely: nbgrader's
            # add_missing_cells fails on the empty metadata DeduplicateIds leaves.
            for extra in copies[:-1]:
                del extra.metadata["nbgrader"]
            changed = True
            kind = (
                "test cell"
                if is_test
                else "solution cell"
                if not source.locked
                else "cell"
            )
            problems.append(
                Problem(
                    "cell-duplicated",
                    f"{kind} appears {len(copies)} times (copied or split); all copies "
                    "run, the last keeps the grading metadata",
                    name,
                )
            )
        if not copies:
            if is_test:
                problems.append(
                    Problem(
                        "test-deleted",
                        "test cell deleted; put back from the gradebook",
                        name,
                    )
                )
                position = _insert_position(nb, order, name)
                nb.cells.insert(
                    position, nbformat.from_dict(json.loads(json.dumps(release[name])))
                )
                changed = True
            elif not source.locked:
                problems.append(
                    Problem(
                        "solution-deleted",
                        "answer cell gone (deleted, or its grading metadata "
                        "removed); code in other cells still runs",
                        name,
                    )
                )
            continue
        cell = copies[-1]
        if source.locked:
            meta = cell.metadata["nbgrader"]
            if cell.cell_type != source.cell_type or not meta.get("locked"):
                problems.append(
                    Problem(
                        "metadata-changed", "cell type or lock changed; restored", name
                    )
                )
            elif (
                name in release and cell.source.strip() != release[name].source.strip()
            ):
                kind = "test-edited" if is_test else "locked-cell-edited"
                what = "test cell" if is_test else "read-only cell"
                problems.append(
                    Problem(kind, f"{what} edited; restored from the gradebook", name)
                )
        if name in release and "points" in release[name].metadata["nbgrader"]:
            points = cell.metadata["nbgrader"].get("points")
            if points is not None and float(points) != float(
                release[name].metadata["nbgrader"]["points"]
            ):
                problems.append(
                    Problem(
                        "metadata-changed",
                        f"points changed to {points}; restored",
                        name,
                    )
                )
    if changed:
        nbformat.write(nb, nb_path)
    return problems


def _insert_position(nb, order: list[str], name: str) -> int:
    """After the nearest earlier source cell still present, else at the top."""
    present = {}
    for i, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            present[grade_id] = i
    for earlier in reversed(order[: order.index(name)]):
        if earlier in present:
            return present[earlier] + 1
    return 0
