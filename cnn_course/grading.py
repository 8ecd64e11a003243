"""What the exercise notebooks' first cell and test cells call.

For the autograded notebooks in ``solutions/`` and ``exercises/``:

* :func:`start_notebook`, called by every notebook's first cell, checks the
  packages (saying what to install when one is missing), shows warnings
  without failing a test, and hides NumPy's frames from tracebacks.
* ``assert_*`` helpers compare a student's answer with the expected one with
  exact type and shape checks, so an object whose ``==`` is always true scores
  nothing; each message says what was called, what came back and what was
  expected, and names the usual mistake when the wrong answer is a known one.
* :func:`calling` turns an error in the student's code into a message naming
  the call, and fails a call that changed its inputs in place;
  :func:`builds_on` says "fix task N first" when a task fails because an
  earlier task it builds on is broken; :func:`assert_fingerprint` checks a
  worked answer without showing it.
* :func:`guard` fails a task whose answer was computed by the course's own
  reference implementation or by a library routine that does the task's work
  (a teaching aid in the student's kernel; grading does not rely on it).

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
    "assert_keys",
    "assert_ndarray",
    "assert_raises",
    "is_int",
    "type_name",
    "fingerprint",
    "assert_fingerprint",
    "calling",
    "builds_on",
    "SETUP_HELP",
    "SetupError",
    "check_packages",
    "hide_library_frames",
    "start_notebook",
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


def type_name(x: Any) -> str:
    """The name of ``x``'s type, for a message (``"list"``, ``"float"``...).

    Test cells use it for values that come from the student's code: at
    grading time a value that cannot cross as data arrives as a stand-in,
    and this still names the student's type.

    Examples
    --------
    >>> type_name([1.0]), type_name(np.ones(2))
    ('list', 'ndarray')
    """
    return type(x).__name__


_type_name = type_name


def _matching_hint(got: np.ndarray, mistakes, rtol: float, atol: float) -> str:
    """The hint of the first mistake whose array equals ``got``, or ""."""
    for text, wrong in (mistakes or {}).items():
        try:
            wrong = np.asarray(wrong)
            if wrong.shape == got.shape and np.allclose(
                got, wrong, rtol=rtol, atol=atol
            ):
                return f" Likely mistake: {text}"
        except Exception:
            continue
    return ""


def _differences(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float):
    """What came back next to what was expected, short enough to read."""
    if got.size <= 30:
        with np.printoptions(precision=4, suppress=True, linewidth=70):
            shown_got = np.array2string(got, prefix="  got      ")
            shown_expected = np.array2string(expected, prefix="  expected ")
        return f"  got      {shown_got}\n  expected {shown_expected}"
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    return (
        f"  {int(bad.sum())} of {got.size} values differ; the first at index "
        f"{first}: got {got[first]:.6g}, expected {expected[first]:.6g}"
    )


def assert_ndarray(
    got: Any,
    what: str,
    *,
    shape: tuple[int, ...] | None = None,
    floating: bool = False,
) -> None:
    """Check that ``got`` is a NumPy array of real numbers (of floats, of a shape).

    ``got`` must be exactly ``numpy.ndarray`` (no subclass, no look-alike).

    Examples
    --------
    >>> assert_ndarray(np.ones((3, 3)), "BLUR", shape=(3, 3), floating=True)
    >>> assert_ndarray(np.ones((3, 3), dtype=int), "BLUR", floating=True)
    Traceback (most recent call last):
    ...
    AssertionError: BLUR should hold floating-point numbers, got dtype int64 \
(an integer array cannot hold fractions).
    """
    check_untouched()
    _ndarray_checks(got, what, "be", shape, floating)


def _ndarray_checks(got, what, verb, shape, floating) -> None:
    if type(got) is not np.ndarray:
        raise AssertionError(
            f"{what} should {verb} a numpy.ndarray, got {_type_name(got)}."
        )
    if got.dtype.kind not in "biuf":
        raise AssertionError(f"{what} should hold real numbers, got dtype {got.dtype}.")
    if floating and got.dtype.kind != "f":
        numbers = "hold" if verb == "be" else "return"
        raise AssertionError(
            f"{what} should {numbers} floating-point numbers, got dtype {got.dtype} "
            "(an integer array cannot hold fractions)."
        )
    if shape is not None and got.shape != tuple(shape):
        raise AssertionError(
            f"{what} should have shape {tuple(shape)}, got {got.shape}."
        )


def assert_array(
    got: Any,
    expected: np.ndarray,
    what: str,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    mistakes: Mapping[str, np.ndarray] | None = None,
    floating: bool = False,
) -> None:
    """Check that ``got`` is a NumPy array of ``expected``'s shape and values.

    ``got`` must be exactly ``numpy.ndarray`` (no subclass, no look-alike),
    with a real numeric dtype, a floating-point one if ``floating``.
    ``mistakes`` maps a hint to the array a common mistake produces; the
    first that matches is named in the message. The message says what came
    back and what was expected.

    Examples
    --------
    >>> assert_array(np.ones(2), np.ones(2), "f(x)")
    >>> assert_array([1.0, 1.0], np.ones(2), "f(x)")
    Traceback (most recent call last):
    ...
    AssertionError: f(x) should return a numpy.ndarray, got list.
    >>> assert_array(np.array([1, 2]), np.array([1.0, 2.5]), "f(x)", floating=True)
    Traceback (most recent call last):
    ...
    AssertionError: f(x) should return floating-point numbers, got dtype int64 \
(an integer array cannot hold fractions).
    """
    check_untouched()
    expected = np.asarray(expected)
    _ndarray_checks(got, what, "return", None, floating)
    if got.shape != expected.shape:
        hint = ""
        for text, wrong in (mistakes or {}).items():
            if np.shape(wrong) == got.shape:
                hint = f" Likely mistake: {text}"
                break
        raise AssertionError(
            f"{what} should have shape {expected.shape}, got {got.shape}.{hint}"
        )
    if not np.all(np.isfinite(got)) and np.all(np.isfinite(expected)):
        raise AssertionError(
            f"{what} contains inf or nan, expected finite values.\n"
            + _differences(got, expected, rtol, atol)
        )
    if not np.allclose(got, expected, rtol=rtol, atol=atol):
        hint = _matching_hint(got, mistakes, rtol, atol)
        raise AssertionError(
            f"{what} has the wrong values.{hint}\n"
            + _differences(got, expected, rtol, atol)
        )


def _is_exact_int(x: Any) -> bool:
    if type(x) is int:
        return True
    return type(x).__module__ == "numpy" and isinstance(x, np.integer)


def is_int(x: Any) -> bool:
    """True for an int or a NumPy integer; False for a bool, a float or a look-alike.

    Examples
    --------
    >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(3.0)
    (True, True, False, False)
    """
    return _is_exact_int(x)


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
        hint = ""
        if isinstance(got, float | np.floating):
            hint = " Sizes and counts are whole numbers: // divides to an int."
        raise AssertionError(
            f"{what} should be an int, got {_type_name(got)} ({got!r:.60}).{hint}"
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
            f"{what} should be a number, got {_type_name(got)} ({got!r:.60})."
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
        raise AssertionError(f"{what} should be a tuple, got {_type_name(got)}.")
    if not all(_is_exact_int(v) for v in got):
        raise AssertionError(f"{what} should hold ints only, got {got!r:.80}.")
    value = tuple(int(v) for v in got)
    expected = tuple(int(v) for v in expected)
    if value != expected:
        hint = _hint_for(value, mistakes, lambda a, b: a == tuple(b))
        raise AssertionError(f"{what} should be {expected}, got {value}.{hint}")


# --------------------------------------------------------------------------
# Running a student's call, and what depends on what.


def assert_keys(got: Any, keys: Iterable[str], what: str) -> None:
    """Check that ``got`` is a dict with exactly the string keys ``keys``.

    Examples
    --------
    >>> assert_keys({"conv": 1, "linear": 2}, ["conv", "linear"], "split(net)")
    >>> assert_keys({"conv": 1}, ["conv", "linear"], "split(net)")
    Traceback (most recent call last):
    ...
    AssertionError: split(net) should be a dict with the keys ['conv', 'linear'], \
got the keys ['conv'].
    """
    check_untouched()
    keys = sorted(keys)
    if type(got) is not dict:
        raise AssertionError(
            f"{what} should be a dict with the keys {keys}, got {_type_name(got)}."
        )
    found = sorted(got, key=repr)
    if found != keys:
        raise AssertionError(
            f"{what} should be a dict with the keys {keys}, got the keys {found}."
        )


def assert_raises(
    error: type[BaseException],
    what: str,
    fn: Callable,
    *args,
    mention: Iterable[str] = (),
    **kwargs,
) -> BaseException:
    """Check that ``fn(*args, **kwargs)`` raises ``error`` whose message names things.

    ``what`` is the call as the student would write it; ``mention`` lists
    what the message must contain (the argument's name, the bad value...).
    Returns the exception.

    Examples
    --------
    >>> def half(n):
    ...     if n % 2:
    ...         raise ValueError(f"`n` must be even, got {n}")
    ...     return n // 2
    >>> assert_raises(ValueError, "half(3)", half, 3, mention=["n", "3"])
    ValueError('`n` must be even, got 3')
    >>> assert_raises(ValueError, "half(4)", half, 4)
    Traceback (most recent call last):
    ...
    AssertionError: half(4) should raise ValueError, but it returned 2.
    """
    check_untouched()
    try:
        got = fn(*args, **kwargs)
    except GuardError:
        raise
    except NotImplementedError:
        raise
    except error as err:
        message = str(err)
        missing = [m for m in mention if m not in message]
        if missing:
            names = ", ".join(repr(m) for m in missing)
            raise AssertionError(
                f"{what} raised {_type_name(err)} as it should, but its message "
                f"{message!r} does not mention {names}: say which argument is "
                "wrong and what value it got."
            ) from None
        return err
    except Exception as err:
        raise AssertionError(
            f"{what} should raise {error.__name__}, but it raised "
            f"{_type_name(err)}: {err}"
        ) from None
    raise AssertionError(
        f"{what} should raise {error.__name__}, but it returned {got!r:.80}."
    )


def fingerprint(value: Any, decimals: int = 6) -> str:
    """A short digest of a number or array of numbers, rounded to ``decimals``.

    A visible test can check a worked answer (an exercise done by hand, say)
    against the digest of the right one without showing it. The digest
    depends on the shape and the rounded values only, not on the type
    (list, tuple or array) or the dtype.

    Examples
    --------
    >>> fingerprint([[1, 2], [3, 4]]) == fingerprint(np.array([[1.0, 2.0], [3.0, 4.0]]))
    True
    >>> fingerprint([1, 2]) == fingerprint([2, 1])
    False
    """
    import hashlib
    import json

    arr = np.asarray(value, dtype=float)
    values = [round(v, decimals) + 0.0 for v in arr.ravel().tolist()]
    text = json.dumps({"shape": list(arr.shape), "values": values})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def assert_fingerprint(
    got: Any,
    digest: str,
    what: str,
    *,
    shape: tuple[int, ...],
    mistakes: Mapping[str, str] | None = None,
) -> None:
    """Check a worked answer against the :func:`fingerprint` of the right one.

    ``got`` must be a list, tuple or array of numbers of the given ``shape``.
    ``mistakes`` maps the fingerprint of a known wrong answer to its hint.
    The message never shows the right answer.

    Examples
    --------
    >>> right = fingerprint([[8, -1], [0, 7]])
    >>> assert_fingerprint([[8, -1], [0, 7]], right, "BY_HAND", shape=(2, 2))
    >>> assert_fingerprint([[8, -1]], right, "BY_HAND", shape=(2, 2))
    Traceback (most recent call last):
    ...
    AssertionError: BY_HAND should have shape (2, 2), got shape (1, 2).
    """
    check_untouched()
    if type(got) not in (list, tuple, np.ndarray):
        raise AssertionError(
            f"{what} should be a nested list of numbers, got {_type_name(got)}."
        )
    try:
        arr = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(
            f"{what} should hold numbers in rows of equal length, got {got!r:.80}."
        ) from None
    if arr.shape != tuple(shape):
        raise AssertionError(
            f"{what} should have shape {tuple(shape)}, got shape {arr.shape}."
        )
    found = fingerprint(arr)
    if found != digest:
        hint = ""
        if mistakes and found in mistakes:
            hint = f" Likely mistake: {mistakes[found]}"
        shown = repr(got.tolist() if type(got) is np.ndarray else got)
        if len(shown) > 100:
            shown = shown[:97] + "..."
        raise AssertionError(
            f"{what} is {shown}, which is not the right answer (the test "
            f"knows the answer without showing it).{hint}"
        )


#: Errors that :func:`calling` and :func:`builds_on` let through as they are:
#: an unfinished task, a guard failure, and the memory cap (which a grading
#: run reports by the error's own name).
_PASS_THROUGH = (GuardError, NotImplementedError, MemoryError)


@contextlib.contextmanager
def calling(call: str, **inputs: Any):
    """Run one call of a student's function, and explain how it went wrong.

    ``call`` is the call as written in the test (``"f(x, k=2)"``); every
    keyword names an input array the call must leave as it found it. On
    leaving the block:

    * an error raised by the student's code becomes an ``AssertionError``
      that names the call (feedback shows only that message);
      ``NotImplementedError`` (an unfinished task), ``MemoryError`` (a cap
      the grading run reports as such) and guard failures pass unchanged;
    * an input changed in place fails, naming the input.

    Examples
    --------
    >>> x = np.arange(3.0)
    >>> with calling("double(x)", x=x):
    ...     x *= 2
    Traceback (most recent call last):
    ...
    AssertionError: double(x) changed its input `x` in place (at index (1,) it \
was 1.0, now 2.0). Leave the inputs as they were: compute into a new array.
    >>> with calling("half(x)", x=x):
    ...     y = x.reshape(2, 2)
    Traceback (most recent call last):
    ...
    AssertionError: half(x) raised ValueError: cannot reshape array of size 3 \
into shape (2,2)
    """
    before = {name: np.array(value, copy=True) for name, value in inputs.items()}
    try:
        yield
    except _PASS_THROUGH + (AssertionError,):
        raise
    except Exception as err:
        raise AssertionError(f"{call} raised {_type_name(err)}: {err}") from err
    for name, value in inputs.items():
        old = before[name]
        new = np.asarray(value)
        if new.shape != old.shape or new.dtype != old.dtype:
            raise AssertionError(
                f"{call} changed its input `{name}` in place (its shape or dtype). "
                "Leave the inputs as they were: compute into a new array."
            )
        if not np.array_equal(new, old, equal_nan=old.dtype.kind in "fc"):
            where = tuple(int(i) for i in np.argwhere(new != old)[0])
            raise AssertionError(
                f"{call} changed its input `{name}` in place (at index {where} it "
                f"was {old[where].item()!r}, now {new[where].item()!r}). Leave the "
                "inputs as they were: compute into a new array."
            )


@contextlib.contextmanager
def builds_on(what: str, earlier: Iterable[tuple[str, str, Callable[[], None]]]):
    """Blame an earlier task when this one fails and the earlier one is broken.

    ``earlier`` lists ``(task, function, check)``: an earlier task (``"task
    2"``), the student's function of that task, and a check of it on a tiny
    case. When the block fails (not with ``NotImplementedError``,
    ``MemoryError`` or a guard failure) and a check fails too, the failure
    says to fix that task first instead of showing numbers that come from the
    other task's mistake.
    When every check passes, the block's own failure goes through.

    Examples
    --------
    >>> def check_square():
    ...     assert_int(square(3), 9, "square(3)")
    >>> def square(n):
    ...     return n * 2
    >>> with builds_on("cube(3)", [("task 1", "square", check_square)]):
    ...     assert_int(27 - 1, 27, "cube(3)")
    Traceback (most recent call last):
    ...
    AssertionError: cube(3) is not right, and square (task 1), which it may build \
on, fails its own check: fix task 1 first, then run this test again.
    """
    try:
        yield
    except _PASS_THROUGH:
        raise
    except Exception:
        for task, function, check in earlier:
            try:
                check()
            except GuardError:
                raise
            except Exception:
                raise AssertionError(
                    f"{what} is not right, and {function} ({task}), which it may "
                    f"build on, fails its own check: fix {task} first, then run "
                    "this test again."
                ) from None
        raise


def advise_vectorised(
    fn: Callable, small_args: tuple, large_args: tuple, task: str
) -> None:
    """Print advice (never fail) when ``fn`` still loops over positions.

    Counts the Python steps of ``fn(*small_args)`` and ``fn(*large_args)``
    with :func:`count_steps`; a vectorised function takes about as many on
    both. Advisory only: a count measured in the student's process cannot
    be trusted for points.

    Examples
    --------
    >>> def loops(n):
    ...     return sum(i for i in range(n))
    >>> advise_vectorised(loops, (10,), (1000,), "loops")  # doctest: +ELLIPSIS
    Advice (no points depend on it): loops took ...
    """
    try:
        small = count_steps(fn, *small_args)
        large = count_steps(fn, *large_args)
    except Exception as err:  # the tests proper report errors
        print(f"Advice: could not count the steps of {task} ({_type_name(err)}).")
        return
    if large > 1.2 * small + 20:
        print(
            f"Advice (no points depend on it): {task} took {small} Python steps on "
            f"the small input and {large} on the large one, so it still loops "
            "over output positions. Loop over the kernel's cells instead, or "
            "use slicing."
        )


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


#: What to do when a notebook's packages are missing; the one place that says it.
SETUP_HELP = """\
Install the course's packages into the Python that runs this notebook, then
restart the kernel (Kernel > Restart Kernel) and run this cell again:

  1. The "Set up" section of the course site's introduction offers two
     files: requirements-student.txt and the course's own package, a wheel
     named cnn_course-<version>-py3-none-any.whl. Save both in the folder
     of this notebook.
  2. Run, in a new cell of this notebook (%pip installs into this kernel's
     Python, whichever it is):

         %pip install -r requirements-student.txt cnn_course-*.whl

In a copy of the course repository, `make lab` sets all of this up and
starts JupyterLab on the exercises."""


class SetupError(ImportError):
    """A package the notebook needs is missing; the message says what to do.

    In a notebook it is shown as its message alone, without a traceback.
    """

    def _render_traceback_(self) -> list[str]:  # IPython's hook
        return [str(self)]


def check_packages(*modules: str) -> None:
    """Import each of ``modules``; if any is missing, say what to install.

    Raises
    ------
    SetupError
        Naming every module that cannot be imported, the Python that was
        looked in, and the steps of :data:`SETUP_HELP`.

    Examples
    --------
    >>> check_packages("numpy")
    >>> check_packages("numpy", "no_such_package_here")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cnn_course.grading.SetupError: This notebook needs no_such_package_here, ...
    """
    import importlib

    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise SetupError(
            f"This notebook needs {', '.join(missing)}, which the Python of this "
            f"kernel ({sys.executable}) cannot import.\n\n{SETUP_HELP}"
        )


def _library_frame(filename: str) -> bool:
    """True for a frame of NumPy, of contextlib or of this module.

    None of them is the student's business: what matters is the student's
    line that called them and the message.
    """
    return filename.startswith(_NUMPY_DIR) or os.path.abspath(filename) in (
        _THIS_FILE,
        _CONTEXTLIB_FILE,
    )


_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__)) + os.sep
_CONTEXTLIB_FILE = os.path.abspath(contextlib.__file__)


def _without_library_frames(tb, keep_first: bool = True):
    """The traceback ``tb`` without the frames of :func:`_library_frame`.

    With ``keep_first``, the first frame (IPython's own, which IPython does
    not show) is kept whatever it is.
    """
    import types

    frames = []
    first = keep_first
    while tb is not None:
        if first or not _library_frame(tb.tb_frame.f_code.co_filename):
            frames.append(tb)
        first = False
        tb = tb.tb_next
    rebuilt = None
    for t in reversed(frames):
        rebuilt = types.TracebackType(rebuilt, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return rebuilt


def _show_short_traceback(shell, etype, value, tb, tb_offset=None):
    """IPython custom exception handler: the traceback without library frames."""
    seen = set()
    link = value.__cause__ or value.__context__
    while link is not None and id(link) not in seen:  # chained errors too
        seen.add(id(link))
        link.__traceback__ = _without_library_frames(link.__traceback__, False)
        link = link.__cause__ or link.__context__
    shell.showtraceback((etype, value, _without_library_frames(tb)), tb_offset)


def hide_library_frames() -> bool:
    """Show this kernel's tracebacks without NumPy's frames and the checks'.

    A failing check then shows the line of the notebook that failed and the
    message, not pages of NumPy's internals. Works in IPython (Jupyter)
    only; returns whether it was switched on.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    shell.set_custom_exc((Exception,), _show_short_traceback)
    return True


def start_notebook(*modules: str) -> None:
    """What every exercise notebook's first cell does, after importing this module.

    1. :func:`check_packages`: each of ``modules`` must be importable, or the
       cell stops with a message that says what to install and how;
    2. :func:`warnings_to_stdout`: warnings are shown but do not fail a test;
    3. :func:`hide_library_frames`: tracebacks leave out NumPy's internals.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     start_notebook("numpy")
    """
    check_packages(*modules)
    warnings_to_stdout()
    hide_library_frames()


def __getattr__(name: str):
    # The preprocessors that once lived here (nbgrader_config.py of an older
    # course copy may import them from this module) are the grader's now.
    if name in ("ShortTracebacks", "NoPartialCredit"):
        from .autograde import preprocessors

        return getattr(preprocessors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_SNAPSHOT = _snapshot()
