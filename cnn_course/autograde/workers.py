"""Where students' notebooks run: here, several at a time, or on a cluster.

The pipeline (:mod:`cnn_course.autograde.pipeline`) admits each student
(intake, sanitising), hands the notebook to a *workers* object, and
concludes each student (gradebook, feedback) as results come back. Only the
execution step, :func:`~cnn_course.autograde.pipeline.execute_submission`,
runs here; it needs no gradebook, so the coordinating process alone writes
the gradebook, whatever runs the notebooks:

- :class:`LocalWorkers` (``--jobs N``): N threads of this process, each
  driving one student's sandboxed kernel and grader child at a time (the
  work happens in those processes); each thread has its own user id, so one
  student's processes never count against another's limit.
- :class:`DaskWorkers` (``--scheduler ADDRESS``): one Dask task per student
  on a ``distributed`` cluster. Each worker gets the assignment's source
  notebook and released files with the task, and the instructor's secret
  once, in memory, through a worker plugin that starts the worker's warm
  grader process. A worker that dies mid-task has its students run again
  elsewhere by Dask; each student's result is concluded once.

Both run the same function on the same data, so grades, feedback and the
report are the same whichever runs them.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import tempfile
import threading
import uuid
from pathlib import Path

import nbformat
from distributed.diagnostics.plugin import WorkerPlugin

__all__ = ["LocalWorkers", "DaskWorkers", "run_on_worker", "GraderPlugin"]


class LocalWorkers:
    """``jobs`` students at a time in this process's threads."""

    def __init__(self, settings: dict, jobs: int):
        from .sandbox import pick_uid

        self.settings = settings
        self.jobs = max(1, int(jobs))
        self.pool = concurrent.futures.ThreadPoolExecutor(
            self.jobs, thread_name_prefix="grade"
        )
        self._local = threading.local()
        self._slots = iter(range(10_000))
        self._lock = threading.Lock()
        self._pick_uid = pick_uid

    def _uid(self) -> int:
        if not hasattr(self._local, "uid"):
            with self._lock:
                self._local.uid = self._pick_uid(next(self._slots))
        return self._local.uid

    def _run(self, student: str, nb, overrides: dict):
        from .pipeline import execute_submission

        settings = dict(self.settings, uid=self._uid(), **overrides)
        return execute_submission(nb, settings, student)

    def settings_update(self, **settings) -> None:
        self.settings.update(settings)

    def submit(self, student: str, nb, **overrides):
        return self.pool.submit(self._run, student, nb, overrides)

    def as_completed(self, futures):
        return concurrent.futures.as_completed(futures)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- a Dask cluster -------------------------------------------------------------

# What a worker process keeps between tasks: its grader, its folders.
_WORKER: dict = {}


class GraderPlugin(WorkerPlugin):
    """Gives each Dask worker the instructor's secret, in memory, and a warm
    grader process started once for all the worker's tasks."""

    name = "cnn-course-grader"
    idempotent = False

    def __init__(self, secret: str | None):
        self.secret = secret

    def setup(self, worker=None) -> None:
        _WORKER["secret"] = self.secret
        _WORKER.pop("server", None)

    def teardown(self, worker=None) -> None:
        server = _WORKER.pop("server", None)
        if server is not None:
            server.close()


def _worker_server():
    """The worker's grader process (started in the first task that needs it)."""
    from .grader import GraderServer

    with _WORKER.setdefault("lock", threading.Lock()):
        server = _WORKER.get("server")
        if server is None or server.process.poll() is not None:
            server = GraderServer(_WORKER.get("secret"))
            _WORKER["server"] = server
        return server


def _job_folder(job: dict) -> Path:
    """The assignment's source and released files, written once per worker."""
    digest = hashlib.sha256(job["source"].encode()).hexdigest()[:16]
    folders = _WORKER.setdefault("folders", {})
    if digest not in folders:
        root = Path(tempfile.mkdtemp(prefix="cnnjob-"))
        os.chmod(root, 0o700)
        (root / "source.ipynb").write_text(job["source"])
        public = root / "public"
        public.mkdir()
        for name, data in job["public"].items():
            if "/" not in name and not name.startswith("."):
                (public / name).write_bytes(data)
        folders[digest] = root
    return folders[digest]


def _probe(job: dict) -> None:
    """Once per worker: grading refuses a worker without a safe sandbox."""
    if job["settings"]["unsafe"] or _WORKER.get("probed"):
        return
    from .sandbox import SandboxConfig, check_sandbox

    check_sandbox(
        [str(_job_folder(job))], SandboxConfig(assignment=job["settings"]["assignment"])
    )
    _WORKER["probed"] = True


def run_on_worker(job: dict, student: str, nb_json: str, overrides: dict):
    """One student's execution step on a Dask worker (a task)."""
    from .pipeline import execute_submission
    from .sandbox import pick_uid

    _probe(job)
    folder = _job_folder(job)
    local = _WORKER.setdefault("threads", threading.local())
    if not hasattr(local, "uid"):
        with _WORKER.setdefault("lock", threading.Lock()):
            slot = _WORKER.setdefault("slots", 0)
            _WORKER["slots"] = slot + 1
            local.uid = pick_uid(slot)
    settings = dict(
        job["settings"],
        source_notebook=str(folder / "source.ipynb"),
        public_dir=str(folder / "public"),
        grader_socket=_worker_server().path,
        uid=local.uid,
        **overrides,
    )
    nb, events, durations = execute_submission(
        nbformat.reads(nb_json, as_version=4), settings, student
    )
    return nbformat.writes(nb), events, durations


class _Resolved:
    """A Dask future whose result comes back as a notebook node."""

    def __init__(self, future):
        self.future = future

    def result(self):
        nb_json, events, durations = self.future.result()
        return nbformat.reads(nb_json, as_version=4), events, durations


class DaskWorkers:
    """One task per student on the Dask cluster at ``address``."""

    def __init__(self, settings: dict, address: str, secret: str | None):
        from distributed import Client

        self.client = Client(address, set_as_default=False, timeout="60s")
        source = Path(settings["source_notebook"]).read_text()
        public_dir = Path(settings["public_dir"])
        public = {
            p.name: p.read_bytes()
            for p in sorted(public_dir.iterdir())
            if p.is_file() and p.suffix != ".ipynb" and not p.name.startswith(".")
        } if public_dir.is_dir() else {}  # fmt: skip
        portable = {
            k: v
            for k, v in settings.items()
            if k not in ("source_notebook", "public_dir", "grader_socket", "uid")
        }
        self.job = {"settings": portable, "source": source, "public": public}
        self.client.register_plugin(GraderPlugin(secret), name=GraderPlugin.name)
        self.run_id = uuid.uuid4().hex[:8]
        self._by_dask: dict = {}

    def settings_update(self, **settings) -> None:
        self.job["settings"].update(settings)

    def submit(self, student: str, nb, **overrides):
        future = self.client.submit(
            run_on_worker,
            self.job,
            student,
            nbformat.writes(nb),
            overrides,
            key=f"cnn-course-{self.run_id}-{student}",
            pure=False,
        )
        wrapped = _Resolved(future)
        self._by_dask[future.key] = wrapped
        return wrapped

    def as_completed(self, futures):
        from distributed import as_completed

        for future in as_completed([f.future for f in futures], loop=self.client.loop):
            yield self._by_dask[future.key]

    def close(self) -> None:
        try:
            self.client.unregister_worker_plugin(GraderPlugin.name)
        except Exception:  # the cluster may be gone already
            pass
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
