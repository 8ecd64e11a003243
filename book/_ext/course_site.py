"""Sphinx extension of the course site: Korean terms, the set-up box, the wheel.

Loaded by Jupyter Book through ``sphinx: local_extensions`` in _config.yml.
It adds:

``{ko}`` role
    ``{ko}`feature map``` renders like ``{term}`feature map``` (a link to
    the glossary) followed by the Korean term in brackets, taken from the
    glossary page (book/glossary.md), the one place the Korean terms are
    written. Chapters use it at a term's first use.

``course-setup`` directive
    How to get the course: the repository (``repository: url:`` in
    _config.yml), ``requirements-student.txt`` and a wheel of ``cnn_course``
    published with the site, and the commands that install them. The intro
    shows it in full; with the ``:short:`` flag it is the box of each
    chapter's exercise section.

The wheel
    Built from the package's sources when the build starts (with
    ``pip wheel --no-deps --no-build-isolation``, so nothing is fetched), and
    copied with requirements-student.txt into ``_static/packages/`` of the
    site when the build ends. It is rebuilt only when the sources change.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.roles import XRefRole
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.osutil import relative_uri

logger = logging.getLogger(__name__)

GLOSSARY = Path("book") / "glossary.md"
STUDENT_REQUIREMENTS = "requirements-student.txt"
PACKAGE_SOURCES = ("pyproject.toml", "README.md", "cnn_course")
#: Where the site publishes the wheel and the student requirements.
PACKAGES_DIR = "_static/packages"
HANGUL = re.compile(r"[\uac00-\ud7a3]")


# --------------------------------------------------------------- the glossary


def read_glossary(path: Path) -> list[dict]:
    """The entries of the ``{glossary}`` block: English and Korean terms.

    An entry is a run of unindented lines (its terms) followed by its
    indented definition. Terms with Hangul are Korean, the others English.
    """
    text = path.read_text(encoding="utf-8")
    match = re.search(r"^:::\{glossary\}\n(.*?)^:::", text, re.M | re.S)
    if not match:
        raise ValueError(f"{path}: no :::{{glossary}} block")
    entries, terms = [], []
    for line in match.group(1).splitlines():
        if not line.strip():
            continue
        if line[0].isspace():
            if terms:
                entries.append(
                    {
                        "english": [t for t in terms if not HANGUL.search(t)],
                        "korean": [t for t in terms if HANGUL.search(t)],
                    }
                )
                terms = []
        else:
            terms.append(line.strip())
    return entries


def korean_for(entries: list[dict], term: str) -> str | None:
    """The Korean term paired with an English ``term`` (case ignored).

    The n-th English term of an entry is paired with its n-th Korean term,
    or with the first when the entry has fewer Korean terms.
    """
    for entry in entries:
        english = [t.lower() for t in entry["english"]]
        if term.lower() in english and entry["korean"]:
            i = english.index(term.lower())
            korean = (
                entry["korean"][i] if i < len(entry["korean"]) else entry["korean"][0]
            )
            return korean.replace("`", "")
    return None


class KoreanTermRole(XRefRole):
    """``{term}`` plus the Korean term from the glossary, in brackets."""

    def __init__(self):
        super().__init__(innernodeclass=nodes.inline, warn_dangling=True)

    def run(self):
        self.refdomain, self.reftype = "std", "term"
        self.classes = ["xref", "std", "std-term"]
        return self.create_xref_node()

    def result_nodes(self, document, env, node, is_ref):
        path = Path(env.srcdir) / GLOSSARY
        env.note_dependency(str(path))
        korean = korean_for(read_glossary(path), node["reftarget"])
        if korean is None:
            message = document.reporter.error(
                f"{{ko}}: the glossary has no Korean term for {node['reftarget']!r}",
                line=self.lineno,
            )
            return [node], [message]
        return [node, nodes.inline("", f" ({korean})", classes=["ko-term"])], []


# ------------------------------------------------------------------ the wheel


def _package_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for name in PACKAGE_SOURCES:
        path = root / name
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for file in files:
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def build_wheel(root: Path, cache: Path) -> Path:
    """A wheel of ``cnn_course`` from the sources in ``root``, cached in ``cache``.

    The sources are copied to a temporary folder first, so that setuptools'
    ``build/`` and ``*.egg-info`` never land in the repository.
    """
    folder = cache / _package_digest(root)
    wheels = sorted(folder.glob("*.whl"))
    if wheels:
        return wheels[0]
    with tempfile.TemporaryDirectory(prefix="course-wheel-") as tmp:
        source = Path(tmp) / "src"
        source.mkdir()
        for name in PACKAGE_SOURCES:
            path = root / name
            if path.is_dir():
                shutil.copytree(
                    path,
                    source / name,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )
            else:
                shutil.copy2(path, source / name)
        out = Path(tmp) / "dist"
        cmd = [
            sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
            "--no-build-isolation", "--no-index", "--wheel-dir", str(out),
            str(source),
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(out.glob("*.whl"))
        if done.returncode or len(wheels) != 1:
            raise RuntimeError(
                f"building the wheel of cnn_course failed ({' '.join(cmd)}):\n"
                f"{done.stdout}{done.stderr}"
            )
        if folder.parent.exists():
            shutil.rmtree(folder.parent)  # wheels of older sources
        folder.mkdir(parents=True)
        return Path(shutil.copy2(wheels[0], folder / wheels[0].name))


def _on_builder_inited(app: Sphinx) -> None:
    root = Path(app.srcdir)
    missing = [
        n for n in (*PACKAGE_SOURCES, STUDENT_REQUIREMENTS) if not (root / n).exists()
    ]
    if missing:
        # A book without the package (the tests' small books) gets no wheel;
        # a page that asks for the set-up box then fails, naming what is missing.
        app.course_wheel = None
        app.course_wheel_missing = missing
        return
    app.course_wheel = build_wheel(root, Path(app.doctreedir).parent / "course-wheel")
    logger.info(f"course_site: wheel {app.course_wheel.name}")


def _on_env_get_outdated(app, env, added, changed, removed):
    """Pages naming the wheel are read again when its file name changes."""
    if app.course_wheel is None:
        return []
    name = app.course_wheel.name
    previous = getattr(env, "course_wheel_name", None)
    env.course_wheel_name = name
    if previous in (None, name):
        return []
    return sorted(getattr(env, "course_setup_docs", set()))


def _on_env_purge_doc(app, env, docname):
    getattr(env, "course_setup_docs", set()).discard(docname)


def _on_build_finished(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html" or not app.course_wheel:
        return
    target = Path(app.outdir) / PACKAGES_DIR
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    shutil.copy2(app.course_wheel, target / app.course_wheel.name)
    shutil.copy2(Path(app.srcdir) / STUDENT_REQUIREMENTS, target / STUDENT_REQUIREMENTS)


# ----------------------------------------------------------- the set-up box


def _torch_pin(requirements: Path) -> str:
    for line in requirements.read_text(encoding="utf-8").splitlines():
        if re.match(r"torch\s*==", line):
            return line.split("#")[0].strip()
    raise ValueError(f"{requirements} pins no torch version")


def _python_floor(pyproject: Path) -> str:
    requires = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"][
        "requires-python"
    ]
    match = re.fullmatch(r">=\s*(\d+\.\d+)", requires.strip())
    if not match:
        raise ValueError(f"{pyproject}: requires-python {requires!r} is not '>=X.Y'")
    return match.group(1)


class CourseSetup(SphinxDirective):
    """How to get the course and install what the exercises need."""

    has_content = False
    option_spec = {"short": directives.flag}

    def run(self):
        env = self.env
        if not hasattr(env, "course_setup_docs"):
            env.course_setup_docs = set()
        env.course_setup_docs.add(env.docname)
        root = Path(env.srcdir)
        for name in (STUDENT_REQUIREMENTS, "pyproject.toml"):
            env.note_dependency(str(root / name))
        url = env.config.html_theme_options.get("repository_url", "")
        if not url:
            raise self.error(
                "course-setup: set `repository: url:` in _config.yml, "
                "the course's one record of where it lives"
            )
        if self.env.app.course_wheel is None:
            raise self.error(
                "course-setup: no wheel of cnn_course to link; the book's folder "
                f"lacks {self.env.app.course_wheel_missing}"
            )
        wheel = self.env.app.course_wheel.name
        page = self.env.app.builder.get_target_uri(env.docname)

        def href(name):
            return relative_uri(page, f"{PACKAGES_DIR}/{name}")

        links = {
            "req": f'<a class="reference download" href="{href(STUDENT_REQUIREMENTS)}">'
            f"<code>{STUDENT_REQUIREMENTS}</code></a>",
            "wheel": f'<a class="reference download" href="{href(wheel)}">'
            f"<code>{wheel}</code></a>",
        }
        install = f"pip install -r {STUDENT_REQUIREMENTS} {wheel}"
        if "short" in self.options:
            text = f"""
:::{{admonition}} Get the course
:class: course-setup

You need Python with the course's package. Download
{links["req"]} and {links["wheel"]}, then, in the folder you saved them to
(best in a fresh virtual environment, see {{ref}}`set-up`):

```sh
{install}
jupyter lab
```

The course's source, with every notebook: [{url}]({url}).
:::
"""
        else:
            python = _python_floor(root / "pyproject.toml")
            torch = _torch_pin(root / STUDENT_REQUIREMENTS)
            text = f"""
The course lives at [{url}]({url}). To do the exercises you need Python
{python} or newer and two files from this site:

- {links["req"]}: the libraries a student needs (NumPy, SciPy,
  scikit-learn, Matplotlib, PyTorch, JupyterLab and nbgrader), each at the
  version the course is tested with;
- {links["wheel"]}: the course's own package, `cnn_course`, which every
  notebook imports.

Save both in one folder, open a terminal there and run

```sh
python -m venv cnn-course           # a virtual environment for the course
source cnn-course/bin/activate      # on Windows: cnn-course\\Scripts\\activate
{install}
```

Then download a chapter's notebook (the link is in its *Exercise* section),
put it in that folder, and start JupyterLab with `jupyter lab`. Its
*Validate* button runs the notebook's visible tests.

On Linux, `pip` installs PyTorch's large CUDA build by default. If you have
no NVIDIA graphics card, install the CPU build first, then the line above:
`pip install {torch} --index-url https://download.pytorch.org/whl/cpu`.

Working from a copy of the repository instead? `make lab` creates the
environment and starts JupyterLab in the `exercises/` folder.
"""
        container = nodes.container()
        self.state.nested_parse(StringList(text.splitlines()), 0, container)
        return container.children


def setup(app: Sphinx) -> dict:
    app.add_role("ko", KoreanTermRole())
    app.add_directive("course-setup", CourseSetup)
    app.connect("builder-inited", _on_builder_inited)
    app.connect("env-get-outdated", _on_env_get_outdated)
    app.connect("env-purge-doc", _on_env_purge_doc)
    app.connect("build-finished", _on_build_finished)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True}
