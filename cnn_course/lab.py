"""JupyterLab for students: ``make lab``.

``python -m cnn_course.lab`` starts JupyterLab on the student notebooks in
``exercises/`` and waits until it is stopped (Ctrl-C). What it sets up:

* the file browser is rooted at ``exercises/``; the server runs from the
  repository's top folder, which is where nbgrader's Validate handler looks
  for ``nbgrader_config.py``, so Validate runs the notebooks exactly as the
  autograder will (same timeout, same configuration);
* ``cnn_course`` is importable in every kernel (it is installed in the
  virtualenv; the repository is also put on ``PYTHONPATH`` so that a kernel
  started from another Python still finds it);
* of nbgrader's extensions only Validate is on. The instructor tools
  (formgrader, "create assignment" cell toolbar, course list) and the
  assignment list, which needs an nbgrader exchange this course does not
  use, are switched off for this server only, through a private Jupyter
  config folder put first on ``JUPYTER_CONFIG_PATH``. Nothing in the
  virtualenv or in ``~/.jupyter`` is changed.

Validate shows failing tests in the page. (The command-line ``nbgrader
validate`` exits with 0 even when tests fail; scripts must read its output.
The course's own tests grade with ``nbgrader autograde`` and read the
gradebook instead.)

Options not listed under ``--help`` are passed on to ``jupyter lab``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = [
    "ROOT",
    "NOTEBOOK_DIR",
    "STUDENT_SERVER_EXTENSIONS",
    "DISABLED_LAB_PLUGINS",
    "write_config",
    "command",
    "environment",
    "main",
]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "exercises"

#: nbgrader's server extensions: on (True) or off (False) for students.
STUDENT_SERVER_EXTENSIONS = {
    "nbgrader.server_extensions.validate_assignment": True,
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.assignment_list": False,
    "nbgrader.server_extensions.course_list": False,
}

#: JupyterLab plugins that students do not get: nbgrader's instructor tools
#: and its assignment list. Validate (``@jupyter/nbgrader:validate-assignment``)
#: stays.
DISABLED_LAB_PLUGINS = [
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:assignment-list",
    "@jupyter/nbgrader:menu",
    # JupyterLab's news pop-up asks to fetch news from the internet
    "@jupyterlab/apputils-extension:announcements",
]


def write_config(folder: Path) -> Path:
    """Write the students' Jupyter configuration into ``folder``; return it."""
    folder = Path(folder)
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    page_config = {"disabledExtensions": {name: True for name in DISABLED_LAB_PLUGINS}}
    (folder / "labconfig" / "page_config.json").write_text(
        json.dumps(page_config, indent=2)
    )
    server_config = {"ServerApp": {"jpserver_extensions": STUDENT_SERVER_EXTENSIONS}}
    (folder / "jupyter_server_config.json").write_text(
        json.dumps(server_config, indent=2)
    )
    return folder


def environment(config_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: private config first, the course importable."""
    env = dict(os.environ if base is None else base)

    def prepend(key: str, value: str) -> None:
        env[key] = value + (os.pathsep + env[key] if env.get(key) else "")

    prepend("JUPYTER_CONFIG_PATH", str(config_dir))
    prepend("PYTHONPATH", str(ROOT))
    # the virtualenv's scripts (nbgrader's alembic among them) on PATH
    prepend("PATH", os.path.dirname(sys.executable))
    return env


def command(
    port: int | None = None,
    token: str | None = None,
    open_browser: bool = True,
    extra: list[str] | None = None,
) -> list[str]:
    """The ``jupyter lab`` command line ``make lab`` runs."""
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={NOTEBOOK_DIR}",
        "--ServerApp.ip=127.0.0.1",
    ]
    if port is not None:
        cmd += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if token is not None:
        cmd.append(f"--IdentityProvider.token={token}")
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # containers and CI run as root; Jupyter refuses that unless told
        cmd.append("--allow-root")
    return cmd + list(extra or [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnn_course.lab",
        description="Start JupyterLab on the exercises, with nbgrader's Validate.",
    )
    parser.add_argument("--port", type=int, help="port (default: Jupyter's 8888)")
    parser.add_argument("--token", help="access token (default: a random one)")
    parser.add_argument(
        "--no-browser", action="store_true", help="do not open a browser"
    )
    args, extra = parser.parse_known_args(argv)
    if not NOTEBOOK_DIR.is_dir():
        parser.error(f"{NOTEBOOK_DIR} is missing: run `make release` first")
    with tempfile.TemporaryDirectory(prefix="cnn-course-lab-") as tmp:
        config_dir = write_config(Path(tmp))
        cmd = command(args.port, args.token, not args.no_browser, extra)
        process = subprocess.Popen(cmd, cwd=ROOT, env=environment(config_dir))
        try:
            return process.wait()
        except KeyboardInterrupt:
            # Jupyter asks for confirmation on the first Ctrl-C; a second
            # one, or this, stops it.
            process.terminate()
            return process.wait()


if __name__ == "__main__":
    sys.exit(main())
