"""The sandbox: what a student's kernel can import, see, write and hold.

Every assignment's declared blocks (``cnn_course.course``) are checked in a
real sandbox, with the ways around an import block we know: another
installation's site-packages on ``sys.path``, the reference's source file,
the C extension behind a blocked module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnn_course.autograde import sandbox
from cnn_course.course import ASSIGNMENTS, REFERENCE_MODULES

from .conftest import needs_bwrap

PROBE = r"""
import glob, importlib, json, os, sys
blocked, allowed = json.loads(sys.argv[1]), json.loads(sys.argv[2])
seen = {"blocked": {}, "allowed": {}, "tricks": {}}
for name in blocked:
    try:
        importlib.import_module(name)
        seen["blocked"][name] = "imported"
    except ImportError as err:
        seen["blocked"][name] = str(err)
for name in allowed:
    try:
        importlib.import_module(name)
        seen["allowed"][name] = "ok"
    except Exception as err:
        seen["allowed"][name] = f"{type(err).__name__}: {err}"
import cnn_course
folder = os.path.dirname(cnn_course.__file__)
seen["tricks"]["reference source"] = open(os.path.join(folder, "conv.py")).read()[:200]
try:
    cnn_course.correlate2d
    seen["tricks"]["cc attribute"] = "reached"
except AttributeError as err:
    seen["tricks"]["cc attribute"] = str(err)
others = glob.glob("/root/.pyenv/versions/*/lib/python3*/site-packages/*") + \
    glob.glob("/usr/lib/python3/dist-packages/*")
seen["tricks"]["other site-packages"] = others[:5]
libs = glob.glob(sys.prefix + "/lib/python3*/site-packages/torch/lib/*.so*")
seen["tricks"]["torch libraries"] = libs[:3]
print(json.dumps(seen))
"""


def run_probe(assignment: str, blocked: list[str], allowed: list[str]) -> dict:
    box = sandbox.Sandbox(sandbox.SandboxConfig(assignment=assignment))
    try:
        cmd = box.wrap(
            [sandbox.PYTHON, "-c", PROBE, json.dumps(blocked), json.dumps(allowed)]
        )
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout.splitlines()[-1])
    finally:
        box.cleanup()


@needs_bwrap
@pytest.mark.parametrize("assignment", ASSIGNMENTS, ids=lambda a: a.name)
def test_each_assignment_blocks_what_it_declares_and_nothing_else(assignment):
    reference = [f"cnn_course.{m}" for m in REFERENCE_MODULES]
    blocked = [*assignment.blocked, *reference]
    allowed = ["numpy", "matplotlib.pyplot", "cnn_course.grading", "cnn_course.tables"]
    if "torch" not in assignment.blocked:
        allowed += ["torch", "torch.nn"]
    seen = run_probe(assignment.name, blocked, allowed)
    for name, message in seen["blocked"].items():
        assert message.startswith("GUARD:"), (name, message)
        assert assignment.name in message
    assert set(seen["allowed"].values()) == {"ok"}, seen["allowed"]
    tricks = seen["tricks"]
    assert "raise ImportError" in tricks["reference source"]
    assert "def correlate2d" not in tricks["reference source"]
    assert tricks["cc attribute"].startswith("GUARD:")
    assert tricks["other site-packages"] == []
    if "torch" in assignment.blocked:
        assert tricks["torch libraries"] == []


@needs_bwrap
def test_the_probe_refuses_a_sandbox_that_lets_a_blocked_module_through(monkeypatch):
    monkeypatch.setattr(sandbox, "blocked_paths", lambda dest, name: {})
    with pytest.raises(sandbox.SandboxUnavailable, match="could import"):
        sandbox.check_sandbox([], sandbox.SandboxConfig(assignment="01_convolution"))


def test_the_student_edition_keeps_no_reference_code(tmp_path):
    package = sandbox.student_edition(tmp_path, "02_filters")
    for module in REFERENCE_MODULES:
        text = (package / f"{module}.py").read_text()
        assert text.count("\n") <= 3 and "raise ImportError" in text
    kept = {p.name for p in package.glob("*.py")}
    assert {"grading.py", "tables.py", "_checks.py", "__init__.py"} <= kept
    assert "def __getattr__" in (package / "__init__.py").read_text()


def test_every_module_of_the_package_is_kept_or_stubbed():
    """A new reference module must be named in REFERENCE_MODULES, or the
    student edition would silently lack it (and nothing would say why)."""
    import cnn_course

    source = Path(cnn_course.__file__).parent
    top = {p.stem for p in source.glob("*.py")} | {
        p.parent.name for p in source.glob("*/__init__.py")
    }
    kept = {Path(name).stem for name in sandbox._EDITION_FILES if "/" not in name}
    stubbed = set(REFERENCE_MODULES)
    assert stubbed <= top, f"not modules of cnn_course: {sorted(stubbed - top)}"
    private = {"__init__", "cli", "lab", "release", "autograde"}
    assert top - private <= kept | stubbed, sorted(top - private - kept - stubbed)


def test_pick_uid_avoids_ids_in_use(monkeypatch):
    first = sandbox.pick_uid()
    monkeypatch.setattr(sandbox, "_uids_in_use", lambda: {first})
    assert sandbox.pick_uid() != first
    assert sandbox.pick_uid(slot=1) != sandbox.pick_uid(slot=0)


def test_the_watchdog_stops_a_forking_tree_past_the_cap():
    """Four children of 150 MB each: under a 400 MB cap each, over it together."""
    code = (
        "import os, time\n"
        "for _ in range(4):\n"
        "    if os.fork() == 0:\n"
        "        b = bytearray(150 * 2**20)\n"
        "        for i in range(0, len(b), 4096): b[i] = 1\n"
        "        time.sleep(60); os._exit(0)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    watchdog = sandbox.MemoryWatchdog(proc.pid, 400 * 2**20)
    try:
        proc.wait(timeout=30)
    finally:
        watchdog.stop()
    assert watchdog.tripped
    assert watchdog.peak > 400 * 2**20
    time.sleep(0.5)
    assert sandbox.descendants(proc.pid) in ([proc.pid], [])


def test_the_watchdog_leaves_a_modest_tree_alone():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"])
    watchdog = sandbox.MemoryWatchdog(proc.pid, 2**30)
    proc.wait(timeout=30)
    watchdog.stop()
    assert not watchdog.tripped and proc.returncode == 0


@needs_bwrap
def test_the_socket_folder_is_not_writable_once_locked():
    box = sandbox.Sandbox(sandbox.SandboxConfig())
    try:
        box.lock_sockets()
        cmd = box.wrap([sandbox.PYTHON, "-c", f"open({str(box.ipc_dir / 'x')!r}, 'w')"])
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0 and "PermissionError" in proc.stderr
        assert not os.path.exists(box.ipc_dir / "x")
    finally:
        box.cleanup()


HAVE_CGROUP2 = sandbox.CgroupLimit.create(f"probe-{os.getpid()}", 2**30)
if HAVE_CGROUP2 is not None:
    HAVE_CGROUP2.close()


@pytest.mark.skipif(
    HAVE_CGROUP2 is None,
    reason="no cgroup v2 memory controller this process may use (cgroup v1, or "
    "not root): the memory watchdog alone keeps the cap here",
)
def test_a_cgroup_caps_the_memory_of_a_forking_tree():
    code = (
        "import os, time\n"
        "time.sleep(0.5)\n"
        "for _ in range(4):\n"
        "    if os.fork() == 0:\n"
        "        b = bytearray(150 * 2**20)\n"
        "        for i in range(0, len(b), 4096): b[i] = 1\n"
        "        time.sleep(30); os._exit(0)\n"
        "time.sleep(30)\n"
    )
    limit = sandbox.CgroupLimit.create(f"test-{os.getpid()}", 300 * 2**20)
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        limit.add_tree(proc.pid)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not limit.oom_killed():
            time.sleep(0.1)
        assert limit.oom_killed()
    finally:
        proc.kill()
        limit.close()
