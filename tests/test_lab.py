"""``make lab``: JupyterLab on the exercises, as a student gets it.

The test starts the server the way ``make lab`` does (``python -m
cnn_course.lab``) on a free port with a token it knows, then talks to it
only over HTTP and WebSocket, as the browser does: the contents API lists
the notebooks, the kernels API starts a kernel, and the kernel's WebSocket
channel runs the cells. Going through the server's own WebSocket (rather
than connecting jupyter_client to the kernel's ZeroMQ ports) checks the
path students use: the kernel the server starts, with the server's
environment, reached through the server's authentication.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest
from _course import ASSIGNMENTS

from cnn_course import lab

REPO = Path(__file__).resolve().parents[1]
TOKEN = uuid.uuid4().hex
START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, port: int, log: Path):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = log

    def request(self, method: str, path: str, body: dict | None = None, **params):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        url = f"{self.base}{path}" + (f"?{query}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", f"token {TOKEN}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=120) as response:
            text = response.read().decode()
            return json.loads(text) if text.strip().startswith(("{", "[")) else text

    def status(self, path: str) -> int:
        try:
            self.request("GET", path)
        except urllib.error.HTTPError as err:
            return err.code
        return 200


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("lab") / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "cnn_course.lab",
        "--no-browser",
        f"--port={port}",
        f"--token={TOKEN}",
    ]
    with open(log, "w") as out:
        process = subprocess.Popen(
            cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    srv = Server(port, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"the lab exited with {process.returncode}:\n{log.read_text()}"
                )
            try:
                srv.request("GET", "/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail(f"the lab did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield srv
    finally:
        # the whole process group: the server and the kernels it started
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def pins(path: Path) -> dict[str, str]:
    lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
    return dict(ln.split("==") for ln in lines if "==" in ln)


def test_make_lab_runs_this_module_in_a_venv_of_the_student_requirements():
    # `make -n` prints what it would run; -W says requirements-student.txt changed
    # (under `make test` this runs inside make: drop what the outer make
    # passes down, or the output gains "Entering directory" lines)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    }
    dry = subprocess.run(
        ["make", "--no-print-directory", "-n", "lab", "-W", "requirements-student.txt"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    assert "-m venv .venv-student" in dry
    assert ".venv-student/bin/pip install --quiet -r requirements-student.txt" in dry
    assert dry.rstrip().splitlines()[-1] == ".venv-student/bin/python -m cnn_course.lab"
    assert "requirements.txt" not in dry.replace("requirements-student.txt", "")


def test_student_requirements_are_the_course_pins_without_the_authoring_tools():
    student = pins(REPO / "requirements-student.txt")
    everything = pins(REPO / "requirements.txt")
    assert {name: everything.get(name) for name in student} == student
    assert set(student) >= {"numpy", "matplotlib", "scipy", "scikit-learn", "torch",
                            "jupyterlab", "nbgrader"}  # fmt: skip
    assert not set(student) & {"jupyter-book", "playwright", "ruff", "pytest"}
    # The file is published with the site, where `-e .` would fail: the
    # package comes as the site's wheel, or (make lab) from the clone.
    assert "-e ." not in (REPO / "requirements-student.txt").read_text().splitlines()
    recipe = (
        (REPO / "Makefile").read_text().split("$(STUDENT_STAMP):")[1].split("\n\n")[0]
    )
    assert "-r requirements-student.txt" in recipe
    assert "install --quiet --no-deps -e ." in recipe


def test_lab_command_roots_the_file_browser_at_the_exercises():
    cmd = lab.command(port=1234, token="t", open_browser=False)
    assert f"--ServerApp.root_dir={REPO / 'exercises'}" in cmd
    assert "--ServerApp.port=1234" in cmd and "--no-browser" in cmd


@pytest.mark.slow
def test_contents_api_lists_the_six_notebooks(server):
    top = server.request("GET", "/api/contents/")
    folders = sorted(item["name"] for item in top["content"])
    assert folders == ASSIGNMENTS
    for name in ASSIGNMENTS:
        model = server.request("GET", f"/api/contents/{name}/{name}.ipynb")
        assert model["type"] == "notebook"
        nb = nbformat.from_dict(model["content"])
        assert any(c.metadata.get("nbgrader", {}).get("grade") for c in nb.cells)
    # the solutions are outside the served folder
    assert server.status("/api/contents/../solutions") in (403, 404)


@pytest.mark.slow
def test_only_validate_of_nbgraders_tools_is_served(server):
    assert server.request("GET", "/nbgrader_version", version="0.9.6") == {
        "success": True
    }
    assert server.status("/formgrader") == 404
    assert server.status("/formgrader/api/assignments") == 404
    page = server.request("GET", "/lab")
    config = page.split('id="jupyter-config-data"')[1].split(">", 1)[1]
    config = json.loads(config.split("</script>")[0])
    disabled = set(config["disabledExtensions"])
    assert set(lab.DISABLED_LAB_PLUGINS) <= disabled
    assert "@jupyter/nbgrader:validate-assignment" not in disabled


def run_cells(server: Server, kernel_id: str, sources: list[str]) -> list[dict]:
    """Run each source on the kernel over its WebSocket; return one result each."""
    import websocket

    ws = websocket.create_connection(
        f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels",
        header=[f"Authorization: token {TOKEN}"],
        timeout=120,
    )
    session = uuid.uuid4().hex
    results = []
    try:
        for source in sources:
            msg_id = uuid.uuid4().hex
            ws.send(
                json.dumps(
                    {
                        "header": {
                            "msg_id": msg_id,
                            "msg_type": "execute_request",
                            "session": session,
                            "username": "test",
                            "version": "5.3",
                            "date": "",
                        },
                        "parent_header": {},
                        "metadata": {},
                        "content": {
                            "code": source,
                            "silent": False,
                            "store_history": True,
                            "user_expressions": {},
                            "allow_stdin": False,
                            "stop_on_error": False,
                        },
                        "channel": "shell",
                        "buffers": [],
                    }
                )
            )
            result = {"status": None, "ename": None, "evalue": "", "stdout": ""}
            idle = False
            while result["status"] is None or not idle:
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind == "execute_reply":
                    result["status"] = msg["content"]["status"]
                    result["ename"] = msg["content"].get("ename")
                    result["evalue"] = msg["content"].get("evalue", "")
                elif kind == "stream" and msg["content"]["name"] == "stdout":
                    result["stdout"] += msg["content"]["text"]
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
            results.append(result)
    finally:
        ws.close()
    return results


@pytest.mark.slow
def test_a_notebook_runs_on_a_kernel_the_lab_starts(server):
    name = "03_parameters"
    model = server.request("GET", f"/api/contents/{name}/{name}.ipynb")
    nb = nbformat.from_dict(model["content"])
    kernel = server.request("POST", "/api/kernels", {"name": "python3"})
    try:
        code = [c for c in nb.cells if c.cell_type == "code"]
        results = run_cells(server, kernel["id"], [c.source for c in code])
        by_id = dict(zip([c.id for c in code], results, strict=True))
        # the setup cell imports cnn_course in the lab's kernel
        assert by_id["setup"]["status"] == "ok", by_id["setup"]
        for cell in code:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                assert by_id[cell.id]["status"] == "ok", "defining a stub works"
            if meta.get("grade"):
                assert by_id[cell.id]["status"] == "error"
                assert by_id[cell.id]["ename"] in ("NotImplementedError", "NameError")
        # a student's answer, typed into the same kernel, passes its test
        answer = (
            "def linear_params(in_features, out_features, bias=True):\n"
            "    return in_features * out_features + (out_features if bias else 0)\n"
        )
        test = next(
            c.source
            for c in code
            if c.metadata["nbgrader"]["grade_id"] == "test_linear_params"
        )
        checks = run_cells(
            server,
            kernel["id"],
            [answer, test, "import cnn_course; print(cnn_course.__file__)"],
        )
        assert [r["status"] for r in checks] == ["ok", "ok", "ok"], checks
        assert checks[2]["stdout"].strip() == str(REPO / "cnn_course" / "__init__.py")
    finally:
        server.request("DELETE", f"/api/kernels/{kernel['id']}")


@pytest.mark.slow
def test_validate_runs_a_notebook_with_the_course_configuration(server):
    result = server.request(
        "POST",
        "/assignments/validate",
        {"path": "06_alexnet/06_alexnet.ipynb"},
    )
    assert result["success"] is True, result
    failed = result["value"]["failed"]
    assert failed, "the stub notebook must fail its tests"
    # each test fails on a stub: its own, or (task 3's numbers, computed from
    # the table) the earlier task's, which the test names
    for f in failed:
        assert any(
            why in f["error"]
            for why in ("NotImplementedError", "NameError", "fix task 2 first")
        ), f["error"][-500:]
