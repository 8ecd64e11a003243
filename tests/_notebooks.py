"""Run an exercise notebook's cells in this process, as grading will run them.

The grading contract (issue 8): student cells run in the student's kernel;
the set-up cell and the other locked cells run there and, from the source
notebook, in a grader process; test cells run only in the grader. A test
cell reaches the student's names through a data-only channel: plain data
arrives as a copy, a function as a remote callable whose arguments and
result cross as data (with in-place changes of array arguments mirrored
back), an exception as the same built-in type with its message, anything
else as an opaque value that shows only its type name.

:func:`run` emulates that in one process, with two namespaces and a
:class:`Channel` between them, so that the tests can check, for many
answers, which test cells fail and with what message, in milliseconds per
notebook. It also makes the test cells keep the contract: a test that hands
a student function something other than data fails here.

Each test cell is run three ways: its visible part (what a student's
Validate runs), its hidden part alone (after the visible part, whose
failure is ignored, so that its definitions exist), and whole (what
grading scores).
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import dataclasses
import dis
import io
import os
import types
import warnings
from pathlib import Path

import nbformat
import numpy as np

REPO = Path(__file__).resolve().parents[1]
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


@dataclasses.dataclass
class Cell:
    id: str
    kind: str  # "markdown", "locked", "solution", "test" or "free"
    grade_id: str | None
    source: str
    points: int = 0

    @property
    def visible(self) -> str:
        return self.source.split(HIDDEN_BEGIN)[0]

    @property
    def hidden(self) -> str:
        if HIDDEN_BEGIN not in self.source:
            return ""
        return self.source.split(HIDDEN_BEGIN)[1].split(HIDDEN_END)[0]


def strip_solution_markers(text: str) -> str:
    return "\n".join(
        line
        for line in text.splitlines()
        if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line
    )


def cells(name: str, folder: str = "solutions") -> list[Cell]:
    """The cells of ``folder/name/name.ipynb``, each with its role."""
    nb = nbformat.read(REPO / folder / name / f"{name}.ipynb", as_version=4)
    found = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown":
            kind = "markdown"
        elif not meta:
            kind = "free"
        elif meta.get("grade"):
            kind = "test"
        elif meta.get("solution"):
            kind = "solution"
        else:
            kind = "locked"
        found.append(
            Cell(
                cell.id, kind, meta.get("grade_id"), cell.source, meta.get("points", 0)
            )
        )
    return found


def solutions(name: str) -> dict[str, str]:
    """The instructor's answer of every solution cell, markers removed."""
    return {
        c.grade_id: strip_solution_markers(c.source)
        for c in cells(name)
        if c.kind == "solution"
    }


def stubs(name: str) -> dict[str, str]:
    """Every solution cell as the released notebook has it (the stub)."""
    return {
        c.grade_id: c.source for c in cells(name, "exercises") if c.kind == "solution"
    }


# --------------------------------------------------------------------------
# The channel between the student's namespace and the grader's.


class Opaque:
    """What arrives for a value that cannot cross as data."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} (opaque)>"


def _opaque(value) -> Opaque:
    return type(type(value).__name__, (Opaque,), {})()


class ContractBroken(Exception):
    """A test cell did something the grading channel cannot carry."""


def _torch():
    import sys

    return sys.modules.get("torch")


def _standard_module(module) -> bool:
    return all(
        type(m).__module__.startswith("torch.nn.modules") for m in module.modules()
    )


class Channel:
    """Copies values from the student's side to the grader's, as data only."""

    def to_grader(self, value):
        t = type(value)
        if value is None or t in (bool, int, float, complex, str):
            return value
        if isinstance(value, np.generic) and t.__module__ == "numpy":
            return value
        if t is np.ndarray:
            return value.copy() if value.dtype.kind != "O" else _opaque(value)
        if t in (list, tuple):
            return t(self.to_grader(v) for v in value)
        if t is dict:
            return {self.to_grader(k): self.to_grader(v) for k, v in value.items()}
        torch = _torch()
        if torch is not None:
            if t is torch.Tensor:
                return value.detach().clone()
            if isinstance(value, torch.nn.Module) and _standard_module(value):
                return copy.deepcopy(value)
        if isinstance(value, types.FunctionType):
            return RemoteFunction(value, self)
        return _opaque(value)

    def to_student(self, value, path: str = "argument"):
        """An argument sent to a student function: data only."""
        t = type(value)
        if value is None or t in (bool, int, float, complex, str):
            return value
        if isinstance(value, np.generic) and t.__module__ == "numpy":
            return value
        if t is np.ndarray:
            if value.dtype.kind == "O":
                raise ContractBroken(f"{path}: an object array cannot cross")
            return value.copy()
        if t in (list, tuple):
            return t(self.to_student(v, f"{path}[{i}]") for i, v in enumerate(value))
        if t is dict:
            return {k: self.to_student(v, f"{path}[{k!r}]") for k, v in value.items()}
        torch = _torch()
        if torch is not None:
            if t is torch.Tensor:
                return value.detach().clone()
            if isinstance(value, torch.nn.Module) and _standard_module(value):
                return copy.deepcopy(value)
        raise ContractBroken(
            f"{path} is a {t.__name__}: a test may send only data to a student's "
            "function"
        )


def _builtin_error(err: BaseException) -> BaseException:
    for cls in type(err).__mro__:
        if cls.__module__ == "builtins":
            try:
                return cls(str(err))
            except Exception:
                return RuntimeError(str(err))
    return RuntimeError(str(err))


class RemoteFunction:
    """A student's function as the grader sees it: data in, data out."""

    def __init__(self, fn, channel: Channel):
        self._fn = fn
        self._channel = channel

    def __call__(self, *args, **kwargs):
        sent_args = [
            self._channel.to_student(a, f"argument {i}") for i, a in enumerate(args)
        ]
        sent_kwargs = {k: self._channel.to_student(v, k) for k, v in kwargs.items()}
        try:
            result = self._fn(*sent_args, **sent_kwargs)
        except Exception as err:
            from cnn_course.grading import GuardError

            if isinstance(err, GuardError):  # the test's own guard, in this process
                raise
            raise _builtin_error(err) from None
        finally:
            pairs = list(zip(args, sent_args, strict=True)) + [
                (kwargs[k], sent_kwargs[k]) for k in kwargs
            ]
            for original, sent in pairs:
                _mirror(original, sent)
        return self._channel.to_grader(result)


def _mirror(original, sent) -> None:
    """Copy in-place changes of an argument back onto the grader's value."""
    if type(original) is np.ndarray and type(sent) is np.ndarray:
        if original.shape == sent.shape and not np.array_equal(
            original, sent, equal_nan=original.dtype.kind in "fc"
        ):
            np.copyto(original, sent, casting="unsafe")
    elif type(original) in (list, tuple) and type(sent) is type(original):
        for o, s in zip(original, sent, strict=True):
            _mirror(o, s)


# --------------------------------------------------------------------------
# Running a notebook.


@dataclasses.dataclass
class Outcome:
    """How one test cell went: None for passed, else ``"Name: message"``."""

    visible: str | None
    hidden_alone: str | None
    whole: str | None
    output: str

    @property
    def passed(self) -> bool:
        return self.whole is None


def _error_text(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def _exec(source: str, namespace: dict, label: str) -> str | None:
    """Run ``source``; return the error as ``"Name: message"`` or None."""
    try:
        exec(compile(source, label, "exec"), namespace)
    except ContractBroken:
        raise
    except Exception as err:
        return _error_text(err)
    return None


def _names(source: str) -> set[str]:
    """The global names a cell reads and does not set itself at its top level:
    those the grader fetches from the student (as the grading side decides,
    from the cell's bytecode)."""
    read, stored = set(), set()

    def walk(code, top: bool):
        for ins in dis.get_instructions(code):
            if ins.opname in ("LOAD_NAME", "LOAD_GLOBAL"):
                read.add(ins.argval)
            elif top and ins.opname in ("STORE_NAME", "DELETE_NAME"):
                stored.add(ins.argval)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                walk(const, False)

    walk(compile(source, "<cell>", "exec"), True)
    return read - stored


@contextlib.contextmanager
def _quiet_process():
    """Keep this process as it was: warnings, matplotlib's figures."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    shown = warnings.showwarning
    try:
        with warnings.catch_warnings():
            yield
    finally:
        warnings.showwarning = shown
        import sys

        plt = sys.modules.get("matplotlib.pyplot")
        if plt is not None:
            plt.close("all")


def run(name: str, answers: dict[str, str] | None = None) -> dict[str, Outcome]:
    """Run notebook ``name`` with ``answers`` (grade id -> source) in its cells.

    Solution cells not in ``answers`` get the instructor's solution. Free
    cells are skipped (nothing is graded there). Returns an :class:`Outcome`
    per test cell, keyed by grade id.
    """
    answers = {**solutions(name), **(answers or {})}
    channel = Channel()
    student: dict = {"__name__": "__main__"}
    grader: dict = {"__name__": "__main__"}
    outcomes: dict[str, Outcome] = {}
    with _quiet_process():
        for cell in cells(name):
            if cell.kind in ("markdown", "free"):
                continue
            label = f"<{name} {cell.grade_id}>"
            if cell.kind == "locked":
                for namespace in (student, grader):
                    with contextlib.redirect_stdout(io.StringIO()):
                        problem = _exec(cell.source, namespace, label)
                    if problem:
                        raise RuntimeError(f"{label} failed: {problem}")
            elif cell.kind == "solution":
                with contextlib.redirect_stdout(io.StringIO()):
                    _exec(answers[cell.grade_id], student, label)
            else:
                outcomes[cell.grade_id] = _run_test(
                    cell, student, grader, channel, label
                )
    return outcomes


def _run_test(cell: Cell, student, grader, channel, label) -> Outcome:
    fetched = {}
    for n in _names(cell.source):
        if n not in grader and n in student and not hasattr(builtins, n):
            fetched[n] = channel.to_grader(student[n])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ns = {**grader, **fetched}
        visible = _exec(cell.visible, ns, label)
        whole = visible
        if visible is None and cell.hidden:
            whole = _exec(cell.hidden, ns, label + " hidden")
        hidden_alone = None
        if cell.hidden:
            ns = {**grader, **{n: channel.to_grader(student[n]) for n in fetched}}
            _exec(cell.visible, ns, label)
            hidden_alone = _exec(cell.hidden, ns, label + " hidden")
    return Outcome(visible, hidden_alone, whole, out.getvalue())
