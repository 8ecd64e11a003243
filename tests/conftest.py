"""Fixtures shared between test modules.

The book: ``book_build`` builds the site once per test session, with the flags
of ``make book``, from a snapshot of the files a fresh clone would have
(``git ls-files``) in a temporary folder, so that tests never touch the
developer's ``_build`` or its execution cache, and a file that is not in git
breaks the test as it would break a fresh clone. Both
``test_book.py`` and ``test_browser.py`` use it; a fresh clone needs nothing
built beforehand.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

# The flags of the `book` target in the Makefile (test_book.py checks that
# the two agree).
BOOK_BUILD_FLAGS = ("--warningiserror", "--nitpick", "--keep-going")

# Sphinx's warnings and errors, and a failing cell's exception (not the
# kernel's own "WARNING |" chatter).
SPHINX_PROBLEM = re.compile(r"WARNING:|ERROR:|CRITICAL:|Error\b|Exception\b")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

# Pages Sphinx writes besides those of the toc.
GENERATED_PAGES = ("index", "genindex", "search")

# A cold build executes every chapter; far more than that means a hang.
BOOK_BUILD_TIMEOUT_S = 1800


@dataclasses.dataclass(frozen=True)
class BookBuild:
    """The result of one ``jupyter-book build``."""

    source: Path
    output: Path
    returncode: int
    log: str
    seconds: float

    @property
    def html(self) -> Path:
        return self.output / "_build" / "html"

    def log_excerpt(self, lines: int = 80) -> str:
        """Every warning or error line of the log, then its last lines."""
        all_lines = self.log.splitlines()
        flagged = [line for line in all_lines if SPHINX_PROBLEM.search(line)]
        return "\n".join(
            ["--- warnings and errors ---", *flagged, "--- end of log ---"]
            + all_lines[-lines:]
        )


def jupyter_book_command() -> list[str]:
    """The jupyter-book executable of the interpreter running the tests."""
    exe = Path(sys.executable).with_name("jupyter-book")
    if not exe.exists():
        raise FileNotFoundError(
            f"jupyter-book not found beside {sys.executable}; "
            "run the tests with the project's .venv (make test)"
        )
    return [str(exe)]


def build_book(
    source: Path, output: Path, *extra: str, timeout: float = BOOK_BUILD_TIMEOUT_S
) -> BookBuild:
    """Build the book in ``source`` into ``output/_build`` and return the result."""
    cmd = [
        *jupyter_book_command(),
        "build",
        str(source),
        "--path-output",
        str(output),
        *BOOK_BUILD_FLAGS,
        *extra,
    ]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            cwd=source,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"`{' '.join(cmd)}` did not finish within {timeout:.0f} s; "
            f"its output so far:\n{exc.stdout or ''}{exc.stderr or ''}"
        )
    return BookBuild(
        source=source,
        output=output,
        returncode=proc.returncode,
        log=ANSI_ESCAPE.sub("", proc.stdout + proc.stderr),
        seconds=time.perf_counter() - start,
    )


def toc_files() -> list[str]:
    """Every page named in _toc.yml (root first), without suffix."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return files


def html_pages(html: Path) -> list[Path]:
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.parts)


def _files_a_clone_has() -> list[str] | None:
    """The repository's files as a fresh clone would have them, or None.

    ``git ls-files`` lists the tracked files and the untracked ones git does
    not ignore: a build from these finds no execution cache, no _build, no
    egg-info, nothing a developer's machine has and a fresh clone lacks.
    """
    try:
        done = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO, capture_output=True, check=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return [name for name in done.stdout.decode().split("\0") if name]


def snapshot_sources(destination: Path) -> Path:
    """Copy what a fresh clone of the repository holds (its working-tree
    contents), or, outside git, everything but .venv, .git and _build."""
    files = _files_a_clone_has()
    if files is None:
        ignore = shutil.ignore_patterns(
            ".venv", ".venv-student", ".git", "_build", "__pycache__", "*.egg-info", ".pytest_cache",
            ".hypothesis", ".ruff_cache", ".ipynb_checkpoints", "grading-out",
        )  # fmt: skip
        shutil.copytree(REPO, destination, ignore=ignore, symlinks=True)
        return destination
    for name in files:
        source = REPO / name
        if not source.is_file():  # deleted in the working tree, not yet in git
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    return destination


@pytest.fixture(scope="session")
def book_build(tmp_path_factory: pytest.TempPathFactory) -> BookBuild:
    """The course book, built once per session from a fresh cache.

    It is built from a snapshot of the sources, so that chapters edited
    during the run (or files a chapter writes) change neither this build nor
    the repository.
    """
    root = tmp_path_factory.mktemp("book")
    return build_book(snapshot_sources(root / "src"), root / "out")


# Folders the browser test saved screenshots into, named at the end of the run.
SCREENSHOT_FOLDERS: list[Path] = []


def pytest_terminal_summary(terminalreporter) -> None:
    for folder in SCREENSHOT_FOLDERS:
        terminalreporter.write_line(f"book screenshots: {folder}")
