"""nbgrader's ``Execute`` step in two processes: student cells in the
student's sandboxed kernel, test cells in the grader.

:class:`TwoProcessExecute` replaces nbgrader's ``Execute`` in autograde. It
walks the notebook once:

- an answer cell or any ordinary cell runs in the student's kernel
  (:mod:`cnn_course.autograde.sandbox`), as nbgrader would run it;
- a locked set-up cell runs there too, and its instructor's version (from
  the source notebook, never the student's copy) also runs in the grader;
- a test cell runs only in the grader process
  (:mod:`cnn_course.autograde.grader`), from the source notebook's text;
  when it needs a student's name, this class carries the grader's request
  to the student's kernel (one silent ``serve(...)`` cell of the agent,
  :mod:`cnn_course.autograde.agent`) and the answer back. The test cell's
  outputs are then what the grader saw: its printed text and, if it
  failed, an error. nbgrader reads them as usual.

So no test source or test output ever enters the student's kernel, and the
student's code cannot decide a verdict.

Every way execution can go wrong leaves an error output in the cells it
affects, and an event in ``events_dir/<student>.json`` for the report:

- a cell past the per-cell timeout is interrupted (``CellTimeout``);
- when the kernel dies or ignores the interrupt, every later code cell gets
  a ``NotRun`` error, since its tests did not run;
- when the whole notebook runs past its budget, the remaining cells get
  ``NotRun`` errors;
- output beyond ``max_output_bytes`` per cell (display updates and widget
  messages counted) is dropped, and a note says so;
- the watchdog stops a process tree holding more than ``memory_bytes``.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from time import monotonic

import nbformat
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer, Unicode

from .agent import MIME
from .sandbox import (
    MEMORY_BYTES,
    NOBODY,
    CgroupLimit,
    MemoryWatchdog,
    Sandbox,
    SandboxConfig,
    SandboxKernelManager,
    UnsandboxedKernelManager,
)

__all__ = [
    "TwoProcessExecute",
    "cell_label",
    "default_timeout",
    "MAX_OUTPUT_BYTES",
    "is_test_cell",
    "is_setup_cell",
]

#: Default output kept per cell.
MAX_OUTPUT_BYTES = 1_000_000
_AGENT = "__import__('cnn_course.autograde.agent', fromlist=['serve']).serve({!r})"


def cell_label(cell: NotebookNode, index: int) -> str:
    """The grade id of a cell, or ``cell N`` (1-based) for an ordinary one."""
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return grade_id or f"cell {index + 1}"


def _meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_test_cell(cell) -> bool:
    """A code cell nbgrader grades by running it: graded, not an answer."""
    meta = _meta(cell)
    return (
        cell.get("cell_type") == "code"
        and bool(meta.get("grade"))
        and not meta.get("solution")
    )


def is_setup_cell(cell) -> bool:
    """A locked code cell that is not a test: instructor code both sides run."""
    meta = _meta(cell)
    return (
        cell.get("cell_type") == "code"
        and bool(meta.get("locked"))
        and not meta.get("grade")
        and not meta.get("solution")
    )


def _error(ename: str, evalue: str) -> NotebookNode:
    return new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


def _size(content: dict) -> int:
    if "text" in content and isinstance(content["text"], str):
        return len(content["text"])
    try:
        return len(json.dumps(content, default=str))
    except (TypeError, ValueError):
        return 10**9


class TwoProcessExecute(Execute):
    """nbgrader's ``Execute``: student cells sandboxed, tests in the grader."""

    memory_bytes = Integer(
        MEMORY_BYTES, help="Memory cap of the kernel's process tree"
    ).tag(config=True)
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
    assignment = Unicode(
        "", help="The assignment, whose import blocks the sandbox applies"
    ).tag(config=True)
    source_notebook = Unicode(
        "", help="The instructor's notebook: the text of tests and set-up cells"
    ).tag(config=True)
    grader_socket = Unicode(
        "", help="Socket of the warm grader server (one is started if empty)"
    ).tag(config=True)
    uid = Integer(NOBODY, help="User id the sandboxed kernel runs as").tag(config=True)
    grader_memory_bytes = Integer(
        6 * 2**30, help="Address-space cap of the grader child"
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("store_widget_state", False)
        super().__init__(*args, **kwargs)
        self.events: list[dict] = []
        self.durations: dict[str, float] = {}

    # -- the kernel -----------------------------------------------------------

    def _public_files(self) -> dict[str, str]:
        if not self.public_dir or not Path(self.public_dir).is_dir():
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
            assignment=self.assignment or None,
            uid=self.uid,
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

    def process_message(self, msg, cell, cell_index):
        """Count every message a cell stores against the output cap."""
        msg_type = msg["msg_type"]
        if msg_type in ("status", "execute_input"):
            return super().process_message(msg, cell, cell_index)
        if msg_type.startswith("comm"):
            return None  # widgets are neither stored nor answered
        size = _size(msg.get("content", {}))
        if self._capped or self._cell_bytes + size > self.max_output_bytes:
            self._capped = True
            return None
        self._cell_bytes += size
        return super().process_message(msg, cell, cell_index)

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
        self._watchdog = None
        self._cgroup = None
        self._grader = None
        self._own_server = None
        self.shutdown_kernel = "graceful"
        self.error_on_timeout = {
            "ename": "CellTimeout",
            "evalue": f"this cell ran longer than {self.timeout} s and was stopped",
            "traceback": [],
        }
        self._source = _SourceNotebook(self.source_notebook)
        self._current: str | None = None
        student = (resources or {}).get("nbgrader", {}).get("student", "reference")
        try:
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                self._sandbox.lock_sockets()
                pid = self.km.kernel_pid
                if pid is not None:
                    self._cgroup = CgroupLimit.create(
                        self._sandbox.root.name, self.memory_bytes
                    )
                    if self._cgroup is not None:
                        self._cgroup.add_tree(pid)
                    self._watchdog = MemoryWatchdog(pid, self.memory_bytes)
                self._grader = _GraderLink(self)
                # The budget is the notebook's: it starts once the kernel is up.
                start = monotonic()
                for index, cell in enumerate(self.nb.cells):
                    if cell.cell_type != "code":
                        continue
                    test = is_test_cell(cell)
                    if not test and not cell.source.strip():
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
                    if test:
                        self._run_test(cell, index)
                    else:
                        self._run_cell(cell, index)
        finally:
            if self._watchdog is not None:
                self._watchdog.stop()
            if self._cgroup is not None:
                self._cgroup.close()
            if self._grader is not None:
                self._grader.close()
            if self._own_server is not None:
                self._own_server.close()
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

    def _memory_message(self) -> str:
        return (
            f"the student's processes held more than "
            f"{self.memory_bytes / 2**30:g} GiB together"
        )

    def _kernel_died(self, label: str) -> None:
        tripped = self._watchdog is not None and self._watchdog.tripped
        if tripped or (self._cgroup is not None and self._cgroup.oom_killed()):
            why = self._memory_message()
            self._abort = f"the kernel was stopped in {label}: {why}"
            self._event("memory-exhausted", label, f"{why}; the kernel was stopped")
            return
        status = self._exit_status()
        self._abort = f"the kernel died in {label}"
        self._event(
            "kernel-died", label, f"the kernel died ({status}); later cells not run"
        )
        self.shutdown_kernel = "immediate"

    def _run_cell(self, cell: NotebookNode, index: int) -> None:
        label = cell_label(cell, index)
        self._cell_bytes = 0
        self._capped = False
        self._timed_out = False
        began = monotonic()
        saved = self.timeout
        if is_setup_cell(cell):
            self.timeout = max(saved, SETUP_TIMEOUT)
        try:
            self.execute_cell(cell, index, store_history=True)
        except DeadKernelError:
            self._kernel_died(label)
            cell.outputs.append(_error("KernelDied", f"not finished: {self._abort}"))
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
        finally:
            self.timeout = saved
        self.durations[label] = monotonic() - began
        if self._timed_out and self._abort is None:
            if not any(o.output_type == "error" for o in cell.outputs):
                cell.outputs.append(
                    _error("CellTimeout", self.error_on_timeout["evalue"])
                )
            self._event(
                "timeout", label, f"ran longer than {self.timeout} s; interrupted"
            )
        self._note_cap(cell, label)
        for out in cell.outputs:
            if out.output_type == "error" and out.ename == "MemoryError":
                self._event(
                    "memory-exhausted",
                    label,
                    f"MemoryError: over the {self.memory_bytes / 2**30:g} GiB cap",
                )
        if is_setup_cell(cell) and self._abort is None:
            self._grader.setup_until(cell)

    def _note_cap(self, cell, label: str) -> None:
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

    def _run_test(self, cell: NotebookNode, index: int) -> None:
        label = cell_label(cell, index)
        began = monotonic()
        source = self._source.test(label)
        if source is None:
            cell.outputs = [
                _error("NotATest", f"{label} is not a test of this assignment")
            ]
            return
        self._grader.setup_until(cell)
        self._current = label
        outcome = self._grader.run("test", source, began + self.timeout)
        self.durations[label] = monotonic() - began
        outputs = []
        text = outcome.get("stdout") or ""
        if text:
            outputs.append(new_output("stream", name="stdout", text=text))
        if outcome.get("ename"):
            outputs.append(_error(outcome["ename"], outcome.get("evalue", "")))
        cell.outputs = outputs
        cell.execution_count = None
        if outcome.get("timeout"):
            self._event("timeout", label, outcome["timeout"])
        if outcome.get("ename") == "MemoryError":
            self._event(
                "memory-exhausted",
                label,
                f"MemoryError: over the {self.memory_bytes / 2**30:g} GiB cap",
            )

    # -- the channel to the student's kernel ----------------------------------

    def kernel_request(self, payload: bytes, deadline: float):
        """Run the agent on ``payload`` in the student's kernel; its answer.

        Returns the answer's bytes, or a dict with ``timeout`` or ``broken``
        saying why there is none.
        """
        if self._abort is not None:
            return {"broken": f"the student's kernel is gone: {self._abort}"}
        try:
            return run_sync(self._async_kernel_request)(payload, deadline)
        except DeadKernelError:
            self._kernel_died(self._current or "a test")
            return {"broken": f"the student's kernel died: {self._abort}"}

    async def _async_kernel_request(self, payload: bytes, deadline: float):
        code = _AGENT.format(base64.b64encode(payload).decode("ascii"))
        msg_id = self.kc.execute(
            code, silent=True, store_history=False, allow_stdin=False
        )
        answer, interrupted = None, False
        while True:
            remaining = deadline - monotonic()
            if remaining <= 0 and not interrupted:
                interrupted = True
                await self.km.interrupt_kernel()
                deadline = monotonic() + 5.0
                continue
            if remaining <= 0:
                self._abort = "the kernel stopped responding during a test"
                self._event(
                    "kernel-unresponsive",
                    self._current,
                    f"a call from this test ran past {self.timeout} s and ignored "
                    "the interrupt; kernel killed, later cells not run",
                )
                self.shutdown_kernel = "immediate"
                return {"broken": "the student's code ignored the interrupt"}
            try:
                msg = await self.kc.iopub_channel.get_msg(timeout=min(remaining, 1.0))
            except Exception:  # queue.Empty: nothing yet
                if not await self.km.is_alive():
                    raise DeadKernelError("Kernel died") from None
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "display_data" and answer is None:
                data = msg["content"].get("data", {}).get(MIME)
                if isinstance(data, str):
                    try:
                        answer = base64.b64decode(data, validate=True)
                    except ValueError:
                        answer = None
            elif kind == "status" and msg["content"].get("execution_state") == "idle":
                if answer is None and interrupted:
                    return {
                        "timeout": "a call into the student's code ran past the "
                        f"{self.timeout} s timeout and was interrupted"
                    }
                return answer

    def _exit_status(self) -> str:
        try:
            process = self.km.provisioner.process
            code = process.wait(timeout=2)
        except Exception:  # the process may be gone or never known
            return "exit status unknown"
        if code is not None and code < 0:
            return f"killed by signal {-code}"
        return f"exit status {code}"


class _SourceNotebook:
    """The instructor's notebook: what tests and set-up cells really say."""

    def __init__(self, path: str):
        self.cells_by_id: dict[str, NotebookNode] = {}
        self.setup: list[NotebookNode] = []
        self.order: dict[str, int] = {}
        if not path:
            return
        nb = nbformat.read(path, as_version=4)
        for position, cell in enumerate(nb.cells):
            grade_id = _meta(cell).get("grade_id")
            if grade_id:
                self.cells_by_id[grade_id] = cell
                self.order[grade_id] = position
            if is_setup_cell(cell):
                self.setup.append(cell)

    def test(self, grade_id: str) -> str | None:
        cell = self.cells_by_id.get(grade_id)
        return cell.source if cell is not None and is_test_cell(cell) else None

    def setup_before(self, grade_id: str | None) -> list[NotebookNode]:
        """Set-up cells up to the cell ``grade_id``, in the source's order."""
        if grade_id not in self.order:
            return []
        limit = self.order[grade_id]
        return [c for c in self.setup if self.order[_meta(c)["grade_id"]] <= limit]


class _GraderLink:
    """The coordinator's end of one student's grader child."""

    def __init__(self, executor: TwoProcessExecute):
        from .grader import GraderServer

        self.executor = executor
        path = executor.grader_socket
        if not path:
            executor._own_server = GraderServer()
            path = executor._own_server.path
        self.path = path
        self.done: list[str] = []
        self.conn = None
        self.pid = None
        self._start()

    def _start(self) -> None:
        from .grader import connect

        self.conn, self.pid = connect(self.path)
        ex = self.executor
        self.conn.send(
            (
                "start",
                {
                    "memory_bytes": ex.grader_memory_bytes,
                    "max_output": ex.max_output_bytes,
                },
            )
        )
        self._wait_done(monotonic() + 60)
        source = ex._source
        for grade_id in list(self.done):
            self.run("setup", source.cells_by_id[grade_id].source, monotonic() + 120)

    def setup_until(self, cell) -> None:
        """Run in the grader each source set-up cell up to ``cell``'s place."""
        source = self.executor._source
        grade_id = _meta(cell).get("grade_id") if cell is not None else None
        for setup in source.setup_before(grade_id):
            setup_id = _meta(setup).get("grade_id")
            if setup_id in self.done:
                continue
            self.done.append(setup_id)
            outcome = self.run("setup", setup.source, monotonic() + 120)
            if outcome.get("ename"):
                self.executor._event(
                    "grading-error",
                    setup_id,
                    "the instructor's set-up cell failed in the grader: "
                    f"{outcome['ename']}: {outcome.get('evalue', '')[:200]}",
                )

    def _wait_done(self, deadline: float):
        while True:
            remaining = deadline - monotonic()
            if remaining <= 0 or not self.conn.poll(remaining):
                return None
            message = self.conn.recv()
            if message[0] == "channel":
                answer = self.executor.kernel_request(message[1], deadline)
                self.conn.send(("answer", answer))
            elif message[0] == "done":
                return message[1]

    def run(self, kind: str, source: str, deadline: float) -> dict:
        """Run one cell in the grader child; its outcome dict."""
        try:
            self.conn.send((kind, source))
            outcome = self._wait_done(deadline)
        except (EOFError, OSError):
            self._restart()
            return {
                "ename": "GraderCrashed",
                "evalue": "the grader process stopped while running this cell",
            }
        if outcome is None:
            timeout = self.executor.timeout
            self._restart()
            return {
                "ename": "CellTimeout",
                "evalue": f"this test ran longer than {timeout} s and was stopped",
                "timeout": f"the test ran longer than {timeout} s; stopped",
            }
        return outcome

    def _restart(self) -> None:
        self.close()
        self._start()

    def close(self) -> None:
        import os
        import signal

        if self.conn is not None:
            try:
                self.conn.send(("stop",))
            except OSError:
                pass
            self.conn.close()
            self.conn = None
        if self.pid:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            self.pid = None


def default_timeout(slowest_cell_seconds: float) -> int:
    """Per-cell timeout from the reference solution's slowest cell.

    Room for a machine several times busier than during the reference run:
    ``ceil(3 * slowest + 10)``, never under 20 s.

    >>> default_timeout(0.4), default_timeout(5.0)
    (20, 25)
    """
    return max(20, math.ceil(3 * slowest_cell_seconds + 10))


#: Locked set-up cells are the instructor's code: never cut short by a
#: timeout meant for student code on a busy machine.
SETUP_TIMEOUT = 120
