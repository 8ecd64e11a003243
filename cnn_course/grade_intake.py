"""From an LMS zip to one clean notebook per student, every oddity named.

Three steps, before nbgrader autogrades anything:

1. :func:`read_zip` reads the instructor's zip without trusting it: entries
   that escape the folder, symlinks, nested archives, encrypted or oversized
   entries are left out and named; each remaining file is matched to a
   student by a regular expression on its path inside the zip. It writes a
   clean copy of the zip for ``nbgrader zip_collect``.
2. ``nbgrader zip_collect`` (run by :mod:`cnn_course.grade`) extracts that
   copy and moves each student's notebooks to ``submitted/`` using
   :class:`ZipNameCollector`, the same regular expression.
3. :func:`settle_notebook` picks the student's notebook (renamed, nested or
   several), parses it (invalid JSON, old nbformat), and puts it in place as
   nbformat 4.5; :func:`compare_with_source` compares it with the gradebook
   (tests edited or deleted, cells copied or split) and puts deleted tests
   back.
"""

from __future__ import annotations

import json
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat
from nbformat.validator import normalize
from nbgrader.plugins import FileNameCollectorPlugin
from traitlets import Unicode

__all__ = [
    "FOLDER_REGEX",
    "Problem",
    "Intake",
    "read_zip",
    "ZipNameCollector",
    "settle_notebook",
    "compare_with_source",
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
    clean_zip: str | Path,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> Intake:
    """Read the submissions zip; write a clean copy for ``zip_collect``.

    Parameters
    ----------
    path : path of the zip the LMS exported.
    regex : regular expression with groups ``student_id`` and ``file_id``,
        matched against each path inside the zip (after dropping one folder
        that wraps every entry).
    clean_zip : where to write the copy holding only the files that are safe
        to extract and belong to a student.

    Raises
    ------
    ValueError
        If ``path`` is not a zip, is too large in all, or ``regex`` lacks a
        group.
    """
    pattern = re.compile(regex)
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
        Path(clean_zip).parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(clean_zip, "w", zipfile.ZIP_DEFLATED) as out:
            for (info, _), name in zip(entries, stripped, strict=True):
                match = pattern.match(name)
                if not match:
                    intake.unmatched.append(name)
                    continue
                student = match.group("student_id")
                file_id = match.group("file_id")
                if not STUDENT_ID.match(student or ""):
                    intake.unmatched.append(
                        f"{name} (student id {student!r} not allowed)"
                    )
                    continue
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
                files.append(file_id)
                with archive.open(info) as src:
                    out.writestr(name, src.read(max_file_bytes + 1))
    return intake


class ZipNameCollector(FileNameCollectorPlugin):
    """nbgrader's collector, with the regex matched inside the zip.

    nbgrader's own plugin matches the absolute path of each extracted file;
    this one matches the path relative to ``root`` (the folder the clean zip
    was extracted to), which is what instructors see when they open the zip.
    Duplicate names get a ``duplicate-N-`` prefix instead of stopping
    ``zip_collect`` for everyone.
    """

    root = Unicode("", help="Folder the zip was extracted to").tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._seen: set[tuple[str, str]] = set()

    def collect(self, submitted_file: str):
        relative = Path(submitted_file).relative_to(self.root).as_posix()
        info = super().collect(relative)
        if info is None:
            return None
        key = (info["student_id"], info["file_id"])
        n = 1
        while key in self._seen:
            n += 1
            key = (info["student_id"], f"duplicate-{n}-{info['file_id']}")
        self._seen.add(key)
        info["file_id"] = key[1]
        return info


def _grade_ids(text: str) -> set[str]:
    try:
        data = json.loads(text)
        return {
            c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            for c in data.get("cells", [])
        } - {None}
    except (ValueError, AttributeError):
        return set()


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
    version = (data.get("nbformat"), data.get("nbformat_minor"))
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
        nb.nbformat_minor = max(nb.nbformat_minor, 5)
        _, nb = normalize(nb, version=4, version_minor=5)
        nb = nbformat.from_dict(nb)
        nbformat.validate(nb)
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
                        "answer cell deleted (its code is missing)",
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
