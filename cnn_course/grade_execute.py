"""nbgrader's ``Execute`` step, run in the grading sandbox and hardened.

nbgrader scores a test cell by its outputs: no error output means full
marks. So every way execution can go wrong must leave an error output in
the cells it affects, or a broken submission would score as a perfect one:

- a cell that runs past the per-cell timeout is interrupted and gets a
  ``CellTimeout`` error;
- when the kernel dies (``os._exit``, a crash) or ignores the interrupt, the
  cell gets a ``KernelDied`` / ``KernelUnresponsive`` error and every later
  code cell a ``NotRun`` error, since its tests did not run;
- when the whole notebook runs past its total budget, the remaining cells get
  ``NotRun`` errors;
- output beyond ``max_output_bytes`` per cell is dropped (the kernel keeps
  running) and a note says so;
- after the last cell, a control cell checks that the kernel still runs the
  code it is sent and that ``numpy.testing`` still fails on unequal numbers;
  if not, the test machinery was tampered with and every test cell gets a
  ``Tampering`` error.

Each such event is also written to ``events_dir/<student>.json`` so that the
class report names it.
"""

from __future__ import annotations

import json
import math
import secrets
from pathlib import Path
from time import monotonic

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer, Unicode

from .sandbox import (
    MEMORY_BYTES,
    Sandbox,
    SandboxConfig,
    SandboxKernelManager,
    UnsandboxedKernelManager,
)

__all__ = ["SandboxExecute", "cell_label", "default_timeout", "MAX_OUTPUT_BYTES"]

#: Default output kept per cell.
MAX_OUTPUT_BYTES = 1_000_000


def cell_label(cell: NotebookNode, index: int) -> str:
    """The grade id of a cell, or ``cell N`` (1-based) for an ordinary one."""
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return grade_id or f"cell {index + 1}"


def _is_test_cell(cell: NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def _error(ename: str, evalue: str) -> NotebookNode:
    return new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


def _size(content: dict) -> int:
    if "text" in content:
        return len(content["text"])
    return len(json.dumps(content.get("data", content), default=str))


class SandboxExecute(Execute):
    """nbgrader's ``Execute``, its kernel in a :class:`~cnn_course.sandbox.Sandbox`."""

    memory_bytes = Integer(MEMORY_BYTES, help="Address-space cap of the kernel").tag(
        config=True
    )
    max_output_bytes = Integer(
        MAX_OUTPUT_BYTES, help="Output kept per cell; the rest is dropped"
    ).tag(config=True)
    notebook_timeout = Float(
        300.0, help="Seconds for the whole notebook; later cells are not run"
    ).tag(config=True)
    unsafe = Bool(False, help="Run the kernel without bubblewrap").tag(config=True)
    events_dir = Unicode("", help="Folder for <student>.json event logs").tag(
        config=True
    )
    public_dir = Unicode(
        "", help="Folder whose non-notebook files the kernel may read"
    ).tag(config=True)
    check_tampering = Bool(True, help="Run the control cell after the last cell").tag(
        config=True
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.events: list[dict] = []
        self.durations: dict[str, float] = {}

    # -- the kernel -----------------------------------------------------------

    def _public_files(self) -> dict[str, str]:
        if not self.public_dir:
            return {}
        folder = Path(self.public_dir)
        return {
            p.name: str(p)
            for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix != ".ipynb" and not p.name.startswith(".")
        }

    def create_kernel_manager(self):
        config = SandboxConfig(
            memory_bytes=self.memory_bytes,
            public_files=self._public_files(),
            unsafe=self.unsafe,
        )
        self._sandbox = Sandbox(config)
        manager = UnsandboxedKernelManager if self.unsafe else SandboxKernelManager
        self.km = manager(self._sandbox, config=self.config)
        return self.km

    # -- events -----------------------------------------------------------------

    def _event(self, code: str, cell: str | None, message: str) -> None:
        self.events.append({"code": code, "cell": cell, "message": message})

    async def _async_handle_timeout(self, timeout, cell=None):
        self._timed_out = True
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs, msg, display_id, cell_index):
        size = _size(msg["content"])
        if self._capped or self._cell_bytes + size > self.max_output_bytes:
            self._capped = True
            return None
        self._cell_bytes += size
        return super().output(outs, msg, display_id, cell_index)

    # -- running ----------------------------------------------------------------

    def preprocess(self, nb, resources=None, km=None):
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, None)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self.events = []
        self.durations = {}
        self._abort: str | None = None
        self._sandbox = None
        self.shutdown_kernel = "graceful"
        self.error_on_timeout = {
            "ename": "CellTimeout",
            "evalue": f"this cell ran longer than {self.timeout} s and was stopped",
            "traceback": [],
        }
        student = (resources or {}).get("nbgrader", {}).get("student", "reference")
        try:
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                # The budget is the notebook's: it starts once the kernel is up.
                start = monotonic()
                for index, cell in enumerate(self.nb.cells):
                    if cell.cell_type != "code" or not cell.source.strip():
                        continue
                    if (
                        self._abort is None
                        and monotonic() - start > self.notebook_timeout
                    ):
                        self._abort = (
                            f"the notebook ran longer than {self.notebook_timeout:g} s "
                            "in all"
                        )
                        self._event(
                            "notebook-timeout", cell_label(cell, index), self._abort
                        )
                    if self._abort is not None:
                        cell.outputs = [_error("NotRun", f"not run: {self._abort}")]
                        continue
                    self._run_cell(cell, index)
                if self._abort is None and self.check_tampering:
                    self._control_cell()
        finally:
            if self._sandbox is not None:
                self._sandbox.cleanup()
            if self.events_dir:
                path = Path(self.events_dir) / f"{student}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(
                    json.dumps(
                        {"events": self.events, "durations": self.durations}, indent=1
                    )
                )
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _run_cell(self, cell: NotebookNode, index: int) -> None:
        label = cell_label(cell, index)
        self._cell_bytes = 0
        self._capped = False
        self._timed_out = False
        began = monotonic()
        try:
            self.execute_cell(cell, index, store_history=True)
        except DeadKernelError:
            status = self._exit_status()
            self._abort = f"the kernel died in {label}"
            cell.outputs.append(
                _error(
                    "KernelDied", f"the kernel died while running this cell ({status})"
                )
            )
            self._event(
                "kernel-died", label, f"the kernel died ({status}); later cells not run"
            )
            self.shutdown_kernel = "immediate"
        except CellTimeoutError:
            self._abort = f"the kernel stopped responding in {label}"
            cell.outputs.append(
                _error(
                    "KernelUnresponsive",
                    f"this cell ran past {self.timeout} s and ignored the interrupt",
                )
            )
            self._event(
                "kernel-unresponsive",
                label,
                f"ran past {self.timeout} s and ignored the interrupt; kernel killed, "
                "later cells not run",
            )
            self.shutdown_kernel = "immediate"
        self.durations[label] = monotonic() - began
        if self._timed_out and self._abort is None:
            if not any(o.output_type == "error" for o in cell.outputs):
                cell.outputs.append(
                    _error("CellTimeout", self.error_on_timeout["evalue"])
                )
            self._event(
                "timeout", label, f"ran longer than {self.timeout} s; interrupted"
            )
        if self._capped:
            cell.outputs.append(
                new_output(
                    "stream",
                    name="stdout",
                    text=f"\n[output cut: more than {self.max_output_bytes} bytes]\n",
                )
            )
            self._event(
                "output-capped",
                label,
                f"printed more than {self.max_output_bytes} bytes; cut",
            )
        for out in cell.outputs:
            if out.output_type == "error" and out.ename == "MemoryError":
                self._event(
                    "memory-exhausted",
                    label,
                    f"MemoryError: over the {self.memory_bytes / 2**30:g} GiB cap",
                )

    def _exit_status(self) -> str:
        try:
            process = self.km.provisioner.process
            code = process.wait(timeout=2)
        except Exception:  # the process may be gone or never known
            return "exit status unknown"
        if code is not None and code < 0:
            return f"killed by signal {-code}"
        return f"exit status {code}"

    def _control_cell(self) -> None:
        """Check that the kernel still runs what it is sent, unaltered."""
        a, b = secrets.randbelow(10**6) + 2, secrets.randbelow(10**6) + 2
        nonce = secrets.token_hex(8)
        source = (
            "### BEGIN HIDDEN TESTS\n"
            f"_a, _b = {a}, {b}\n"
            f"assert _a * _b == {a * b}\n"
            "import numpy.testing as _npt\n"
            "try:\n"
            f"    _npt.assert_allclose({a}.0, {b}.0)\n"
            "except AssertionError:\n"
            f"    print('{nonce}', _a * _b)\n"
            "### END HIDDEN TESTS\n"
        )
        cell = new_code_cell(source)
        self.nb.cells.append(cell)
        try:
            self._cell_bytes, self._capped = 0, False
            self.execute_cell(cell, len(self.nb.cells) - 1, store_history=False)
        except (DeadKernelError, CellTimeoutError):
            pass
        finally:
            self.nb.cells.pop()
        text = "".join(
            o.get("text", "") for o in cell.outputs if o.output_type == "stream"
        )
        ok = f"{nonce} {a * b}" in text and not any(
            o.output_type == "error" for o in cell.outputs
        )
        if ok:
            return
        message = (
            "after the last cell the kernel no longer ran the grader's check as sent "
            "(cells rewritten, or numpy.testing replaced); every test scored 0"
        )
        self._event("tampering", None, message)
        for _index, other in enumerate(self.nb.cells):
            if other.cell_type == "code" and _is_test_cell(other):
                other.outputs.append(_error("Tampering", message))


def default_timeout(slowest_cell_seconds: float) -> int:
    """Per-cell timeout from the reference solution's slowest cell.

    A few seconds more than the solution needs, with room for a loaded
    machine: ``ceil(2 * slowest + 5)``, never under 10 s.

    >>> default_timeout(0.4), default_timeout(3.2)
    (10, 12)
    """
    return max(10, math.ceil(2 * slowest_cell_seconds + 5))
