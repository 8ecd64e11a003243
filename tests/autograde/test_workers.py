"""A class graded several at a time, or on a Dask cluster, grades the same.

One class mixing perfect, broken and hostile submissions of exercise 1 is
graded with ``--jobs 1``, ``--jobs 2``, on a two-worker ``LocalCluster``, and
on a ``dask scheduler`` with two ``dask worker`` processes over TCP on
localhost, one of which is killed while the class is being graded. Every run
must give the same grades, problems, feedback and report.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from cnn_course.autograde.pipeline import GradeOptions, grade
from cnn_course.course import REPO

from .attacks import build_attacks
from .conftest import make_zip, needs_bwrap
from .corpus import build_corpus

pytestmark = [pytest.mark.slow, needs_bwrap]

ASSIGNMENT = "01_convolution"
KEEP = {
    "perfect", "blank", "wrong-last", "infinite-loop", "kernel-killed",
    "always-equal", "tamper", "verdict-code-objects-patched", "active-outputs",
    "limits-fork-bomb", "reference-cc-attribute", "leak-history",
}  # fmt: skip
DASK = Path(sys.executable).parent / "dask"


def options(**kw) -> GradeOptions:
    # the timeouts are given, so that no run's reference timing changes them
    return GradeOptions(
        secret="workers-test", timeout=30, notebook_timeout=300, progress=False, **kw
    )


@pytest.fixture(scope="module")
def mixed_class(tmp_path_factory) -> Path:
    source = nbformat.read(REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    target = {
        "answer": "convolve2d",
        "fn": "correlate2d",
        "module": "conv",
        "args": "image, np.asarray(kernel)[::-1, ::-1]",
        "scipy": "None",
        "tests": {"test_convolve2d"},
    }
    subs = [
        s
        for s in build_corpus(source, ASSIGNMENT)
        + build_attacks(source, ASSIGNMENT, target)
        if s.student in KEEP
    ]
    assert {s.student for s in subs} == KEEP
    path = tmp_path_factory.mktemp("mixed") / "class.zip"
    path.write_bytes(make_zip({k: v for s in subs for k, v in s.files.items()}))
    return path


def snapshot(result) -> dict:
    """Everything a run produces that people read, keyed by what it is."""
    out = result.out
    with open(out / "grades.csv") as f:
        grades = sorted(tuple(r.values()) for r in csv.DictReader(f))
    report = json.loads((result.report_dir / "report.json").read_text())
    feedback = {
        p.relative_to(out / "feedback").as_posix(): p.read_text()
        for p in sorted((out / "feedback").rglob("*.html"))
    }
    return {"grades.csv": grades, "report.json": report, "feedback": feedback}


@pytest.fixture(scope="module")
def local_runs(mixed_class, tmp_path_factory):
    from distributed import LocalCluster

    tmp = tmp_path_factory.mktemp("runs")
    runs = {}
    started = time.perf_counter()
    runs["jobs 1"] = grade(ASSIGNMENT, mixed_class, tmp / "j1", options(jobs=1))
    runs["jobs 2"] = grade(ASSIGNMENT, mixed_class, tmp / "j2", options(jobs=2))
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        runs["LocalCluster"] = grade(
            ASSIGNMENT,
            mixed_class,
            tmp / "cluster",
            options(scheduler=cluster.scheduler_address),
        )
    print(f"three gradings took {time.perf_counter() - started:.0f} s")
    return runs


def assert_same(runs: dict, base: str = "jobs 1") -> None:
    expected = snapshot(runs[base])
    for name, result in runs.items():
        got = snapshot(result)
        for key in expected:
            assert got[key] == expected[key], f"{name} differs from {base} in {key}"


def test_jobs_and_a_local_cluster_give_the_same_results(local_runs):
    assert_same(local_runs)
    scores = {s: r.score for s, r in local_runs["jobs 1"].students.items()}
    assert scores["perfect"] == 8.0 and scores["blank"] == 0.0
    assert len(scores) == len(KEEP)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cmd: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


@pytest.fixture(scope="module")
def tcp_cluster(tmp_path_factory):
    """``dask scheduler`` and two ``dask worker`` processes, as an instructor
    would start them, on localhost."""
    tmp = tmp_path_factory.mktemp("tcp")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [
        _start(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"],
            tmp / "scheduler.log",
        )
    ]  # fmt: skip
    time.sleep(3)
    for i in range(2):
        procs.append(
            _start(
                [str(DASK), "worker", address, "--nthreads", "1", "--no-nanny",
                 "--no-dashboard", "--name", f"w{i}"],
                tmp / f"worker{i}.log",
            )
        )  # fmt: skip
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=120)
    yield address, procs[1:], tmp
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_a_cluster_over_tcp_survives_a_dead_worker(
    tcp_cluster, mixed_class, local_runs
):
    address, workers, tmp = tcp_cluster
    from distributed import Client

    killed = {}

    def kill_one_mid_class():
        with Client(address, timeout="60s") as watcher:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                busy = {
                    w: tasks
                    for w, tasks in watcher.processing().items()
                    if any("cnn-course" in str(t) for t in tasks)
                }
                done = any(
                    "cnn-course" in str(k) and "reference" not in str(k)
                    for k in watcher.who_has()
                )
                if busy and done:
                    victim = next(iter(busy))
                    pid = watcher.run(os.getpid, workers=[victim])[victim]
                    os.kill(pid, signal.SIGKILL)
                    killed["tasks"] = busy[victim]
                    return
                time.sleep(0.2)

    thread = threading.Thread(target=kill_one_mid_class)
    thread.start()
    result = grade(ASSIGNMENT, mixed_class, tmp / "out", options(scheduler=address))
    thread.join()
    assert killed, "no worker was killed while students were being graded"
    assert sum(p.poll() is not None for p in workers) == 1
    runs = dict(local_runs)
    runs["dask over TCP, a worker killed"] = result
    assert_same(runs)
