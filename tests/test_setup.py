"""The two-command set-up: pinned requirements and a Makefile that uses them."""

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def requirements():
    lines = (REPO / "requirements.txt").read_text().splitlines()
    return [ln.split("#")[0].strip() for ln in lines if ln.split("#")[0].strip()]


def test_every_direct_dependency_is_pinned_exactly():
    for line in requirements():
        if line == "-e .":
            continue
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][\w.+]*", line), line
    assert "-e ." in requirements()


def test_the_versions_the_machine_needs():
    pins = dict(ln.split("==") for ln in requirements() if "==" in ln)
    assert pins["torch"] == "2.13.0"  # a looser pin pulls a CUDA build
    assert pins["jupyter-book"] == "1.0.4.post1"  # 2.x fetches its theme
    assert pins["nbgrader"] == "0.9.6"
    assert pins["jupyterlab"].startswith("4.")


def test_installed_versions_are_the_pinned_ones():
    from importlib.metadata import version

    for line in requirements():
        if "==" not in line:
            continue
        name, pinned = line.split("==")
        installed = version(name)
        assert installed.split("+")[0] == pinned, (name, installed, pinned)


def test_readme_opens_with_the_two_commands():
    text = (REPO / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    commands = [ln.split("#")[0].strip() for ln in block.splitlines()]
    assert commands[:2] == ["make book", "make test"]


def test_make_rebuilds_the_venv_when_requirements_change():
    # `make -n` only prints what it would run: touching requirements.txt in
    # a dry run must schedule a fresh venv, and an up-to-date one must not.
    dry = subprocess.run(
        ["make", "-n", "test", "-W", "requirements.txt"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "-m venv .venv" in dry and "pip install" in dry
    assert "-r requirements.txt" in dry
    stamp = REPO / ".venv" / ".installed"
    if (
        stamp.exists()
        and stamp.stat().st_mtime >= (REPO / "requirements.txt").stat().st_mtime
    ):
        fresh = subprocess.run(
            ["make", "-n", "test"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
        assert "-m venv" not in fresh


def test_ci_script_installs_system_packages_and_runs_make_test():
    text = (REPO / ".ci" / "run").read_text()
    assert "apt-get install" in text and "chromium" in text and "bubblewrap" in text
    assert text.rstrip().splitlines()[-1].strip() == "make test"


def test_code_passes_ruff_lint_and_format():
    import sys

    ruff = Path(sys.executable).parent / "ruff"
    for args in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [str(ruff), *args, "cnn_course", "tests", "bench"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
