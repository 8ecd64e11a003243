"""Checks used by the exercises' hidden tests.

Two jobs, both for the autograded notebooks in ``solutions/`` and
``exercises/``:

* :func:`guard` fails a task whose answer was computed by the course's own
  reference implementation or by a library routine that does the task's work.
* ``assert_*`` helpers compare a student's answer with the reference with exact
  type and shape checks, so an object whose ``==`` is always true scores
  nothing, and name the usual mistake when the wrong answer is a known one.

What counts as "doing the work"
-------------------------------
Forbidden inside a guarded call (each switched on by a *kind*, see
:data:`KINDS`):

``"reference"``
    Any function defined in the ``cnn_course`` package (this module aside),
    except the names passed as ``allow``. Matched by the file the running code
    comes from, so ``from cnn_course.conv import conv2d as f``, ``f = cc.conv2d``
    or ``cc.conv2d = my_version`` make no difference.
``"conv"``
    Routines that compute a convolution or correlation: every PyTorch
    convolution operator (``F.conv2d``, ``torch.conv2d``, ``nn.Conv2d``,
    ``torch.ops.aten.convolution``, ...; caught at PyTorch's dispatcher, so
    however the function was reached), ``numpy.convolve``,
    ``numpy.correlate``, everything in ``scipy.signal`` and scipy's
    ``ndimage`` filters.
``"pool"``
    Routines that pool: every PyTorch pooling operator (``F.max_pool2d``,
    ``nn.AvgPool2d``, adaptive and fractional pools, ...) and scipy's
    ``ndimage`` filters (``maximum_filter``, ``uniform_filter``, ...).
``"layers"``
    Building PyTorch layers to read their parameters off: any call of
    ``torch.nn.Module.parameters``/``named_parameters``/``state_dict``.

Allowed, because they only move data and leave the arithmetic to the
student: ``numpy.pad``, ``numpy.lib.stride_tricks.sliding_window_view``,
``as_strided``, ``einsum``, ``tensordot``, matrix products, ``Tensor.unfold``
and ``F.unfold``, FFTs.

Always forbidden inside a guarded call, because it would switch the guard
off or hide the work from it: ``sys.setprofile``/``settrace`` (and the
``threading`` versions), leaving PyTorch's dispatch modes, and starting
processes.

A violation is recorded, not raised on the spot, so a student's ``try``/
``except`` cannot swallow it: the :class:`GuardError` is raised when the
guarded block ends. Its message starts with :data:`PREFIX` (``"GUARD:"``) so
that grading reports can tell "called the reference" from a wrong answer.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "in_grader",
    "rng",
    "advise_vectorised",
    "KINDS",
    "PREFIX",
    "GuardError",
    "Guard",
    "guard",
    "call_guarded",
    "count_steps",
    "assert_array",
    "assert_int",
    "assert_number",
    "assert_shape",
    "warnings_to_stdout",
    "check_untouched",
]

#: Every guard failure message starts with this.
PREFIX = "GUARD:"

#: The kinds of forbidden routines a guard can switch on.
KINDS = ("reference", "conv", "pool", "layers")

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_THIS_FILE = os.path.abspath(__file__)


class GuardError(AssertionError):
    """A task called a routine that does its work (message starts ``GUARD:``)."""


# --------------------------------------------------------------------------
# Where the test runs: a student's kernel (Validate, JupyterLab) or the
# grader process of ``cnn-course grade``, which never runs student code.

_GRADER: dict[str, Any] = {"active": False, "secret": None}


def in_grader() -> bool:
    """True in the grader process of ``cnn-course grade``, False in a kernel."""
    return bool(_GRADER["active"])


def _enter_grader(secret: str | None) -> None:
    """Called once by the grader process (:mod:`cnn_course.autograde.grader`)."""
    _GRADER["active"] = True
    _GRADER["secret"] = secret or None


def rng(seed: int) -> np.random.Generator:
    """The random generator a hidden test draws its inputs from.

    In a student's kernel, and when grading without a secret, it is
    ``np.random.default_rng(seed)``. When the instructor grades with a
    secret, the secret is mixed into ``seed``: the inputs change with the
    secret, so the test's public source does not give them away, and the
    same secret gives the same inputs again.

    Examples
    --------
    >>> float(rng(7).random()) == float(np.random.default_rng(7).random())
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"`seed` must be an int, got {type(seed).__name__}")
    secret = _GRADER["secret"] if _GRADER["active"] else None
    if not secret:
        return np.random.default_rng(int(seed))
    import hashlib

    digest = hashlib.sha256(f"cnn-course-inputs\0{secret}".encode()).digest()
    words = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 32, 4)]
    return np.random.default_rng(np.random.SeedSequence([int(seed), *words]))


def advise_vectorised(
    fn: Callable, small: tuple, large: tuple, task: str, factor: float = 1.2
) -> bool:
    """Print an advisory note when ``fn`` still loops over output positions.

    Counts the Python steps of ``fn(*small)`` and ``fn(*large)``
    (:func:`count_steps`). A vectorised function takes about as many steps
    on both; a loop over positions takes more on the larger input. The note
    is advisory and costs no points: when a notebook is graded the count is
    measured in the student's own process, which cannot be trusted.

    Returns
    -------
    bool
        True when the counts look vectorised.
    """
    few, many = count_steps(fn, *small), count_steps(fn, *large)
    ok = many <= factor * few + 20
    if not ok:
        print(
            f"Advisory (no points): {task} took {few} Python steps on the small "
            f"input and {many} on the large one, so it still loops over output "
            "positions. The task asks for a version without such a loop."
        )
    return ok


# --------------------------------------------------------------------------
# The names the hidden tests rely on, as they were when this module was
# first imported (the notebooks import it in their locked first cell, before
# any student code runs).

_WATCHED_MODULES = (
    "cnn_course",
    "cnn_course.conv",
    "cnn_course.pooling",
    "cnn_course.shapes",
    "cnn_course.params",
    "cnn_course.filters",
    "cnn_course.alexnet",
    "numpy",
    "numpy.testing",
)
_WATCHED_NAMES = {
    "numpy": ("allclose", "array_equal", "asarray", "isclose", "shape"),
    "numpy.testing": ("assert_allclose", "assert_array_equal", "assert_equal"),
}


def _snapshot() -> dict[tuple[str, str], int]:
    import importlib

    snap = {}
    for module_name in _WATCHED_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        names = _WATCHED_NAMES.get(module_name) or getattr(module, "__all__", ())
        for name in names:
            if hasattr(module, name):
                snap[(module_name, name)] = id(getattr(module, name))
    return snap


_SNAPSHOT: dict[tuple[str, str], int] | None = None


def check_untouched() -> None:
    """Fail if a name the hidden tests rely on was reassigned.

    The hidden tests take their expected values from ``cnn_course`` and
    compare with ``numpy.testing``; pointing ``cc.correlate2d`` at one's own
    function, say, would make the reference agree with any answer. Every
    ``assert_*`` helper and every :func:`guard` calls this.

    Raises
    ------
    GuardError
        Naming each reassigned name; the message starts with ``"GUARD:"``.
    """
    import importlib

    if in_grader():
        return  # the grader's names are its own; student code never runs here
    snapshot = _SNAPSHOT if _SNAPSHOT is not None else {}
    changed = []
    for (module_name, name), ident in snapshot.items():
        module = importlib.import_module(module_name)
        if id(getattr(module, name, None)) != ident:
            changed.append(f"{module_name}.{name}")
    if changed:
        raise GuardError(
            f"{PREFIX} the notebook reassigned {', '.join(changed)}, which the "
            "tests use as the reference. Leave the course's and NumPy's names "
            "as they are and give your own functions their own names."
        )


# --------------------------------------------------------------------------
# What is forbidden, decided once per code object or operator.


def _site_packages_part(filename: str, package: str) -> str | None:
    """The path of ``filename`` below ``package/``, or None if not in it."""
    marker = os.sep + package + os.sep
    i = filename.rfind(marker)
    if i < 0:
        return None
    return filename[i + len(marker) :]


def _torch_op_kind(name: str) -> str | None:
    """``"conv"``, ``"pool"`` or None for an operator name like ``aten::conv2d``."""
    namespace, _, op = name.partition("::")
    if namespace not in ("aten", "mkldnn", "quantized", "prims", "xnnpack"):
        return None
    if "pool" in op and "unpool" not in op:
        return "pool"
    if "convolution" in op or op.startswith(("conv1d", "conv2d", "conv3d")):
        return "conv"
    if op.startswith(("conv_", "thnn_conv", "_slow_conv", "slow_conv", "_conv")):
        return "conv"
    if op.startswith(("cudnn_conv", "miopen_conv", "_nnpack", "mps_conv")):
        return "conv"
    return None


@dataclass
class _Rules:
    kinds: frozenset[str]
    allow: frozenset[str]
    # code object -> description of the violation, or None when allowed
    code_cache: dict[Any, str | None] = field(default_factory=dict)
    builtin_ids: dict[int, str] = field(default_factory=dict)
    tamper_ids: dict[int, str] = field(default_factory=dict)
    tamper_types: dict[type, str] = field(default_factory=dict)
    keep_alive: list[Any] = field(default_factory=list)

    def classify_code(self, code) -> str | None:
        if code.co_name == "<module>":  # a module being imported, not a call
            return None
        filename = code.co_filename
        qualname = getattr(code, "co_qualname", code.co_name)
        if "reference" in self.kinds and filename.startswith(_PACKAGE_DIR):
            if os.path.abspath(filename) == _THIS_FILE:
                return None
            module = os.path.splitext(filename[len(_PACKAGE_DIR) :])[0]
            module = "cnn_course." + module.replace(os.sep, ".")
            if module.endswith(".__init__"):
                module = module[: -len(".__init__")]
            return f"the course's reference implementation {module}.{qualname}"
        if self.kinds & {"conv", "pool"}:
            part = _site_packages_part(filename, "scipy")
            if part is not None:
                if "conv" in self.kinds and part.startswith("signal" + os.sep):
                    return f"scipy.signal ({qualname})"
                if part.startswith(os.path.join("ndimage", "_filters")):
                    return f"scipy.ndimage's filter {qualname}"
        if "conv" in self.kinds:
            part = _site_packages_part(filename, "numpy")
            if part is not None and code.co_name in ("convolve", "correlate"):
                return f"numpy.{code.co_name}"
        if "layers" in self.kinds:
            part = _site_packages_part(filename, "torch")
            if part == os.path.join("nn", "modules", "module.py") and (
                code.co_name in ("parameters", "named_parameters", "state_dict")
            ):
                return f"torch.nn.Module.{code.co_name} (reading a layer's size)"
        if "subprocess.py" in filename and qualname == "Popen.__init__":
            return "subprocess.Popen (work done in another process is unchecked)"
        if "multiprocessing" + os.sep in filename and qualname == "BaseProcess.start":
            return "multiprocessing (work done in another process is unchecked)"
        return None

    def violation_for_code(self, code) -> str | None:
        try:
            return self.code_cache[code]
        except KeyError:
            verdict = self.classify_code(code)
            self.code_cache[code] = verdict
            return verdict


def _importing(frame) -> bool:
    """True when ``frame`` runs as part of an import (module-level code).

    Importing ``scipy.ndimage`` runs its modules' top-level code (class
    bodies, decorators); that is not a call of a filter.
    """
    f = frame.f_back
    while f is not None:
        if f.f_code.co_filename.startswith("<frozen importlib"):
            return True
        f = f.f_back
    return False


def _builtin_table(kinds: frozenset[str]) -> dict[int, tuple[Any, str]]:
    table: dict[int, tuple[Any, str]] = {}

    def add(obj, why):
        if obj is not None:
            table[id(obj)] = (obj, why)

    if "conv" in kinds:
        mu = getattr(getattr(np, "_core", None), "multiarray", None)
        for name in ("correlate", "correlate2"):
            add(getattr(mu, name, None), f"numpy's C routine {name}")
    # PyTorch's own entry points, for when its dispatcher is bypassed
    for obj, name, kind in _torch_builtins():
        if kind in kinds:
            add(obj, f"PyTorch's {name}")
    return table


_TORCH_BUILTINS: list[tuple[Any, str, str]] | None = None


def _torch_builtins() -> list[tuple[Any, str, str]]:
    """PyTorch's C-level conv and pool functions, found once by name."""
    global _TORCH_BUILTINS
    torch = sys.modules.get("torch")
    if torch is None:
        return []
    if _TORCH_BUILTINS is None:
        found = []
        seen: set[int] = set()
        modules = {
            "torch": torch,
            "torch._C._nn": torch._C._nn,
            "torch._C._VariableFunctions": torch._C._VariableFunctions,
        }
        for prefix, module in modules.items():
            for name in dir(module):
                kind = _torch_op_kind("aten::" + name)
                if kind is None:
                    continue
                obj = getattr(module, name, None)
                if id(obj) in seen:
                    continue
                if type(obj).__name__ == "builtin_function_or_method":
                    seen.add(id(obj))
                    found.append((obj, f"{prefix}.{name}", kind))
        _TORCH_BUILTINS = found
    return _TORCH_BUILTINS


def _tamper_table() -> tuple[dict[int, tuple[Any, str]], dict[type, str]]:
    ids: dict[int, tuple[Any, str]] = {}
    types: dict[type, str] = {}
    for obj, name in (
        (sys.setprofile, "sys.setprofile"),
        (sys.settrace, "sys.settrace"),
        (getattr(os, "fork", None), "os.fork"),
        (getattr(os, "system", None), "os.system"),
        (getattr(os, "posix_spawn", None), "os.posix_spawn"),
        (getattr(os, "execv", None), "os.execv"),
        (getattr(os, "execve", None), "os.execve"),
    ):
        if obj is not None:
            ids[id(obj)] = (obj, name)
    torch = sys.modules.get("torch")
    if torch is not None:
        c = torch._C
        for name in (
            "_set_dispatch_mode",
            "_unset_dispatch_mode",
            "_pop_torch_dispatch_mode",
            "_push_on_torch_dispatch_stack",
            "_pop_torch_function_stack",
            "_set_torch_function_mode",
        ):
            obj = getattr(c, name, None)
            if obj is not None:
                ids[id(obj)] = (obj, f"torch._C.{name}")
        for name in ("_DisableTorchDispatch", "_DisablePythonDispatcher"):
            t = getattr(c, name, None)
            if isinstance(t, type):
                types[t] = f"torch._C.{name}"
    return ids, types


# --------------------------------------------------------------------------
# The guard itself.


class Guard:
    """Watch one call of a student's function; see :func:`guard`."""

    def __init__(
        self,
        task: str,
        kinds: Iterable[str] = ("reference", "conv", "pool"),
        allow: Iterable[str] = (),
    ):
        if not isinstance(task, str) or not task:
            raise TypeError(f"`task` must be a non-empty str, got {task!r}")
        kinds = frozenset(kinds)
        unknown = kinds - set(KINDS)
        if unknown:
            raise ValueError(
                f"`kinds` must be drawn from {KINDS}, got unknown {sorted(unknown)}"
            )
        self.task = task
        self.rules = _Rules(kinds=kinds, allow=frozenset(allow))
        self.violations: list[str] = []
        self.calls = 0
        self._builtins = _builtin_table(kinds)
        self._tamper_ids, self._tamper_types = _tamper_table()
        self._previous_profile = None
        self._mode = None
        self._exit_stack: contextlib.ExitStack | None = None
        self._closing = False

    # -- recording ---------------------------------------------------------
    def _record(self, why: str) -> None:
        if why not in self.violations and len(self.violations) < 20:
            self.violations.append(why)

    def _allowed_by_ancestor(self, frame) -> bool:
        """True when the code runs inside an allowed reference function."""
        allow = self.rules.allow
        if not allow:
            return False
        f = frame
        while f is not None:
            code = f.f_code
            if code.co_filename.startswith(_PACKAGE_DIR) and code.co_name in allow:
                return True
            f = f.f_back
        return False

    def _profile(self, frame, event, arg):
        if self._closing:
            return
        if event == "call":
            self.calls += 1
            rules = self.rules
            why = rules.violation_for_code(frame.f_code)
            if why is not None:
                caller = frame.f_back
                # name only the outermost forbidden routine, not its helpers
                if caller is not None and rules.violation_for_code(caller.f_code):
                    return
                if _importing(frame) or self._allowed_by_ancestor(frame):
                    return
                self._record(why)
        elif event == "c_call":
            self.calls += 1
            key = id(arg)
            hit = self._builtins.get(key)
            if hit is not None and hit[0] is arg:
                # inside numpy.convolve, say, name only numpy.convolve
                if not self.rules.violation_for_code(frame.f_code):
                    self._record(hit[1])
                return
            hit = self._tamper_ids.get(key)
            if hit is not None and hit[0] is arg:
                self._record(f"{hit[1]} (it would switch the guard off)")
                return
            owner = getattr(arg, "__self__", None)
            why = self._tamper_types.get(type(owner))
            if why is not None:
                self._record(f"{why} (it would switch the guard off)")

    def _torch_mode(self):
        torch = sys.modules.get("torch")
        if torch is None or not (self.rules.kinds & {"conv", "pool"}):
            return None
        from torch.utils._python_dispatch import TorchDispatchMode

        guard = self

        class _OperatorWatch(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                kind = _torch_op_kind(func.name())
                if kind is not None and kind in guard.rules.kinds:
                    guard._record(f"PyTorch's {func.name()} operator")
                return func(*args, **(kwargs or {}))

        return _OperatorWatch()

    # -- context manager ---------------------------------------------------
    def __enter__(self) -> Guard:
        stack = contextlib.ExitStack()
        mode = self._torch_mode()
        if mode is not None:
            stack.enter_context(mode)
        self._mode = mode
        self._exit_stack = stack
        self._previous_profile = sys.getprofile()
        self._closing = False
        threading.setprofile(self._profile)
        sys.setprofile(self._profile)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._closing = True
        still_on = sys.getprofile() == self._profile
        sys.setprofile(self._previous_profile)
        threading.setprofile(None)
        if not still_on:
            self._record("something that switched the guard's profiler off")
        assert self._exit_stack is not None
        try:
            self._exit_stack.close()
        except Exception:  # the student's code unbalanced the mode stack
            self._record("something that left PyTorch's dispatch mode")
        check_untouched()
        if self.violations:
            message = (
                f"{PREFIX} {self.task} called "
                + "; ".join(self.violations)
                + ". This task is to write the computation yourself, so a "
                "routine that does the work for you scores nothing here. "
                "Data-moving helpers (np.pad, sliding_window_view, einsum, "
                "reshape, matrix products) are fine."
            )
            raise GuardError(message) from exc
        return False


def guard(
    task: str,
    kinds: Iterable[str] = ("reference", "conv", "pool"),
    allow: Iterable[str] = (),
) -> Guard:
    """Fail the block if it calls a routine that does the task's work.

    Parameters
    ----------
    task : str
        The student's function, named in the message (``"conv2d"``).
    kinds : iterable of str
        Which routines are forbidden, from :data:`KINDS`.
    allow : iterable of str
        Names of ``cnn_course`` functions the task may use (for example
        ``("output_size",)``); whatever they call is allowed too.

    Returns
    -------
    Guard
        A context manager; ``.calls`` counts the function calls it saw.

    Raises
    ------
    GuardError
        On leaving the block, when a forbidden routine ran inside it. The
        message starts with ``"GUARD:"`` and names the routine.

    Examples
    --------
    >>> import numpy as np
    >>> with guard("smooth"):  # doctest: +ELLIPSIS
    ...     smoothed = np.convolve([1.0, 2.0, 3.0], [0.5, 0.5])
    Traceback (most recent call last):
    ...
    cnn_course.grading.GuardError: GUARD: smooth called numpy.convolve. This ...
    >>> with guard("smooth"):
    ...     x = np.add([1.0, 2.0], [3.0, 4.0])
    """
    if in_grader():
        # The student's code runs in another process, whose imports the
        # sandbox limits; there is nothing to watch here.
        return contextlib.nullcontext()
    return Guard(task, kinds=kinds, allow=allow)


def call_guarded(
    fn: Callable,
    *args,
    task: str | None = None,
    kinds: Iterable[str] = ("reference", "conv", "pool"),
    allow: Iterable[str] = (),
    **kwargs,
):
    """Call ``fn(*args, **kwargs)`` inside a :func:`guard` and return its result."""
    name = task or getattr(fn, "__name__", "the function")
    with guard(name, kinds=kinds, allow=allow):
        return fn(*args, **kwargs)


def count_steps(fn: Callable, *args, **kwargs) -> int:
    """How many Python lines and calls ``fn(*args, **kwargs)`` executes.

    A vectorised function runs about as many steps on a large input as on a
    small one; a function with a Python loop over output positions runs more
    steps the more positions there are. Hidden tests compare the two.

    Examples
    --------
    >>> def loop(n):
    ...     total = 0
    ...     for i in range(n):
    ...         total += i
    ...     return total
    >>> count_steps(loop, 100) > count_steps(loop, 10)
    True
    """
    session = getattr(fn, "_session", None)
    if session is not None and in_grader():
        # a student's function: counted in the student's process (advisory)
        return session.steps(fn._handle, args, kwargs)
    steps = 0

    def tracer(frame, event, arg):
        nonlocal steps
        steps += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        fn(*args, **kwargs)
    finally:
        sys.settrace(previous)
    return steps


# --------------------------------------------------------------------------
# Comparisons with exact types.


def _hint_for(got: Any, mistakes: Mapping[Any, str] | None, compare) -> str:
    if not mistakes:
        return ""
    for wrong, hint in mistakes.items():
        try:
            if compare(got, wrong):
                return f" Likely mistake: {hint}"
        except Exception:
            continue
    return ""


def assert_array(
    got: Any,
    expected: np.ndarray,
    what: str,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    mistakes: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Check that ``got`` is a NumPy array of ``expected``'s shape and values.

    ``got`` must be exactly ``numpy.ndarray`` (no subclass, no look-alike),
    with a real numeric dtype. ``mistakes`` maps a hint to the array a common
    mistake produces; the first that matches is named in the message.

    Examples
    --------
    >>> assert_array(np.ones(2), np.ones(2), "f(x)")
    >>> assert_array([1.0, 1.0], np.ones(2), "f(x)")
    Traceback (most recent call last):
    ...
    AssertionError: f(x) should return a numpy.ndarray, got list.
    """
    check_untouched()
    expected = np.asarray(expected)
    if type(got) is not np.ndarray:
        raise AssertionError(
            f"{what} should return a numpy.ndarray, got {type(got).__name__}."
        )
    if got.dtype.kind not in "biuf":
        raise AssertionError(f"{what} should hold real numbers, got dtype {got.dtype}.")
    if got.shape != expected.shape:
        hint = ""
        if mistakes:
            for text, wrong in mistakes.items():
                if np.shape(wrong) == got.shape:
                    hint = f" Likely mistake: {text}"
                    break
        raise AssertionError(
            f"{what} should have shape {expected.shape}, got {got.shape}.{hint}"
        )
    if not np.all(np.isfinite(got)) and np.all(np.isfinite(expected)):
        raise AssertionError(f"{what} contains inf or nan.")
    close = np.allclose(got, expected, rtol=rtol, atol=atol)
    if not close:
        hint = ""
        if mistakes:
            for text, wrong in mistakes.items():
                wrong = np.asarray(wrong)
                if wrong.shape == got.shape and np.allclose(
                    got, wrong, rtol=rtol, atol=atol
                ):
                    hint = f" Likely mistake: {text}"
                    break
        try:
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
        except AssertionError as err:
            raise AssertionError(f"{what} has the wrong values.{hint}\n{err}") from None


def _is_exact_int(x: Any) -> bool:
    if type(x) is int:
        return True
    return type(x).__module__ == "numpy" and isinstance(x, np.integer)


def assert_int(
    got: Any,
    expected: int,
    what: str,
    *,
    mistakes: Mapping[int, str] | None = None,
) -> None:
    """Check that ``got`` is an int (not a bool or a look-alike) equal to ``expected``.

    ``mistakes`` maps a wrong answer to the likely mistake behind it.

    Examples
    --------
    >>> assert_int(1792, 1792, "conv2d_params(3, 64, 3)")
    >>> assert_int(1728, 1792, "conv2d_params(3, 64, 3)",
    ...            mistakes={1728: "the bias is missing"})
    Traceback (most recent call last):
    ...
    AssertionError: conv2d_params(3, 64, 3) should be 1792, got 1728. \
Likely mistake: the bias is missing
    """
    check_untouched()
    if not _is_exact_int(got):
        raise AssertionError(
            f"{what} should be an int, got {type(got).__name__} ({got!r:.60})."
        )
    value = int(got)
    if value != int(expected):
        hint = _hint_for(value, mistakes, lambda a, b: a == int(b))
        raise AssertionError(f"{what} should be {expected}, got {value}.{hint}")


def assert_number(
    got: Any,
    expected: float,
    what: str,
    *,
    rtol: float = 1e-9,
    mistakes: Mapping[float, str] | None = None,
) -> None:
    """Check that ``got`` is a real int or float close to ``expected``.

    Examples
    --------
    >>> assert_number(0.5, 0.5, "share")
    >>> assert_number("0.5", 0.5, "share")
    Traceback (most recent call last):
    ...
    AssertionError: share should be a number, got str ('0.5').
    """
    check_untouched()
    ok_type = _is_exact_int(got) or type(got) is float
    ok_type = ok_type or (
        type(got).__module__ == "numpy" and isinstance(got, np.floating)
    )
    if not ok_type:
        raise AssertionError(
            f"{what} should be a number, got {type(got).__name__} ({got!r:.60})."
        )
    value = float(got)
    if not math.isclose(value, float(expected), rel_tol=rtol, abs_tol=1e-12):
        hint = _hint_for(
            value, mistakes, lambda a, b: math.isclose(a, float(b), rel_tol=rtol)
        )
        raise AssertionError(f"{what} should be {expected}, got {value}.{hint}")


def assert_shape(
    got: Any,
    expected: tuple[int, ...],
    what: str,
    *,
    mistakes: Mapping[tuple[int, ...], str] | None = None,
) -> None:
    """Check that ``got`` is a tuple of ints equal to ``expected``.

    Examples
    --------
    >>> assert_shape((256, 6, 6), (256, 6, 6), "pool5 output")
    >>> assert_shape([256, 6, 6], (256, 6, 6), "pool5 output")
    Traceback (most recent call last):
    ...
    AssertionError: pool5 output should be a tuple, got list.
    """
    check_untouched()
    if type(got) is not tuple:
        raise AssertionError(f"{what} should be a tuple, got {type(got).__name__}.")
    if not all(_is_exact_int(v) for v in got):
        raise AssertionError(f"{what} should hold ints only, got {got!r:.80}.")
    value = tuple(int(v) for v in got)
    expected = tuple(int(v) for v in expected)
    if value != expected:
        hint = _hint_for(value, mistakes, lambda a, b: a == tuple(b))
        raise AssertionError(f"{what} should be {expected}, got {value}.{hint}")


# --------------------------------------------------------------------------
# nbgrader plumbing.


def warnings_to_stdout() -> None:
    """Print Python warnings on stdout instead of stderr, in this process.

    nbgrader fails a test cell that writes anything to stderr, and
    ``nbgrader validate`` (the students' Validate button) has no setting to
    let warnings through. The notebooks' setup cell calls this so that a
    PyTorch or NumPy warning is still shown but does not fail a test.
    (Autograde also drops warning-only stderr, see ``nbgrader_config.py``.)

    Examples
    --------
    >>> import contextlib, io, warnings
    >>> out = io.StringIO()
    >>> with warnings.catch_warnings(), contextlib.redirect_stdout(out):
    ...     warnings_to_stdout()
    ...     warnings.warn("careful")
    >>> "UserWarning: careful" in out.getvalue()
    True
    """
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        text = warnings.formatwarning(message, category, filename, lineno, line)
        sys.stdout.write(text)

    warnings.showwarning = show


def __getattr__(name: str):
    # The preprocessors that once lived here (nbgrader_config.py of an older
    # course copy may import them from this module) are the grader's now.
    if name in ("ShortTracebacks", "NoPartialCredit"):
        from .autograde import preprocessors

        return getattr(preprocessors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_SNAPSHOT = _snapshot()
