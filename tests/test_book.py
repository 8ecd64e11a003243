"""The book builds warning-free, has every page of its toc and works offline.

The build itself is the session fixture ``book_build`` (tests/conftest.py):
``jupyter-book build`` with the flags of ``make book``, into a temporary
folder, from a fresh execution cache.

What "works offline" means here, checked statically in the HTML (the browser
test, tests/test_browser.py, checks what a browser really requests):
no ``<script src>``, ``<link href>``, ``<img src>``, ``<iframe>``, ``<source>``,
``<video>``, ``<audio>``, ``<embed>``, ``<object>`` or ``srcset`` points to
another host, and no stylesheet imports or loads a font from one. Links in the
prose (``<a href>``) to papers or documentation elsewhere are allowed: a
reader follows them on purpose, and the page does not need them to work.
"""

from __future__ import annotations

import json
import re
import shutil
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from _course import ASSIGNMENTS
from bs4 import BeautifulSoup
from conftest import (
    BOOK_BUILD_FLAGS,
    GENERATED_PAGES,
    REPO,
    BookBuild,
    build_book,
    html_pages,
    toc_files,
)

NOTES = REPO.parent / "shared" / "notes" / "cnn-basics-notes.ko.txt"

# Attributes through which a page loads something by itself.
LOADING_ATTRIBUTES = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "input": ("src",),
}

HANGUL = re.compile(r"[\uac00-\ud7a3]")


@cache
def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def is_off_site(url: str) -> bool:
    """True for a URL that names another host (or any host at all)."""
    url = url.strip()
    if url.startswith("//"):
        return True
    scheme = urlsplit(url).scheme.lower()
    return scheme not in ("", "data", "blob", "about", "javascript", "mailto")


def off_site_loads(page: Path) -> list[str]:
    found = []
    for tag, attributes in LOADING_ATTRIBUTES.items():
        for element in soup(page).find_all(tag):
            for attribute in attributes:
                value = element.get(attribute)
                if not value:
                    continue
                urls = (
                    [part.split()[0] for part in value.split(",") if part.strip()]
                    if attribute == "srcset"
                    else [value]
                )
                found += [
                    f"<{tag} {attribute}={url!r}>" for url in urls if is_off_site(url)
                ]
    for element in soup(page).find_all(style=True):
        found += [
            f"inline style url({url})"
            for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", element["style"])
            if is_off_site(url)
        ]
    for element in soup(page).find_all("style"):
        found += [
            f"<style> url({url})"
            for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", element.get_text())
            if is_off_site(url)
        ]
    return found


def require_built(build: BookBuild) -> None:
    if not (build.html / "index.html").exists():
        pytest.fail(f"the book was not built at all:\n{build.log_excerpt()}")


# --- fast checks of the configuration ------------------------------------


def test_make_book_builds_with_warnings_as_errors():
    """Check that `make book` uses the flags the tests build with."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    match = re.search(r"^book:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert match, "the Makefile has no `book` target"
    recipe = match.group(1)
    assert "jupyter-book build ." in recipe
    for flag in BOOK_BUILD_FLAGS:
        assert flag in recipe, f"`make book` does not pass {flag}"


def test_config_keeps_the_site_offline_and_sources_private():
    """Check the settings the offline and privacy requirements rest on."""
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
    sphinx = config["sphinx"]["config"]
    assert config["only_build_toc_files"] is True
    assert config["execute"]["execute_notebooks"] == "cache"
    assert config["execute"]["allow_errors"] is False
    assert sphinx["html_copy_source"] is False
    assert not is_off_site(sphinx["mathjax_path"])
    mathjax = REPO / "book" / "_static" / sphinx["mathjax_path"]
    assert mathjax.is_file(), f"{mathjax} is missing"
    assert "sphinx_thebe" not in sphinx["extensions"]
    assert "sphinx.ext.intersphinx" not in sphinx["extensions"]
    assert not config["launch_buttons"]["thebe"]
    for service in ("binderhub_url", "jupyterhub_url", "colab_url", "deepnote_url"):
        assert not config["launch_buttons"][service], service


def test_every_toc_entry_has_a_source_page():
    """Check that each _toc.yml entry names an existing .md or .ipynb file."""
    missing = [
        name
        for name in toc_files()
        if not any((REPO / f"{name}{ext}").is_file() for ext in (".md", ".ipynb"))
    ]
    assert not missing, f"_toc.yml names pages that do not exist: {missing}"


def test_glossary_quotes_the_notes_word_for_word():
    """Check that every word the glossary attributes to the notes is in them."""
    if not NOTES.is_file():
        pytest.skip(f"the Korean notes are not at {NOTES}")
    notes = " ".join(NOTES.read_text(encoding="utf-8").split())
    glossary = (REPO / "book" / "glossary.md").read_text(encoding="utf-8")
    # Each "*In the notes:*" paragraph, up to the next blank line.
    paragraphs = re.findall(r"\*In the notes:\*(.*?)(?:\n\s*\n|\n:::)", glossary, re.S)
    quotes = [q for p in paragraphs for q in re.findall(r"\"([^\"]+)\"", p)]
    assert len(quotes) >= 20, f"only {len(quotes)} quotations found; format changed?"
    not_in_notes = [q for q in quotes if " ".join(q.split()) not in notes]
    assert not not_in_notes, (
        f"quoted as the notes' words but not in them: {not_in_notes}"
    )


# --- the real build -------------------------------------------------------


@pytest.mark.slow
def test_book_builds_with_no_warning(book_build: BookBuild):
    """Check that the book builds with warnings as errors and exits 0."""
    assert book_build.returncode == 0, (
        f"jupyter-book exited {book_build.returncode}:\n{book_build.log_excerpt()}"
    )
    assert "build succeeded" in book_build.log


@pytest.mark.slow
def test_every_toc_entry_has_its_html_page(book_build: BookBuild):
    """Check that each _toc.yml entry became a page of the site."""
    require_built(book_build)
    missing = [n for n in toc_files() if not (book_build.html / f"{n}.html").is_file()]
    assert not missing, f"no HTML page for: {missing}"


@pytest.mark.slow
def test_only_toc_pages_are_built(book_build: BookBuild):
    """Check that nothing outside the toc (exercises, README, ...) became a page."""
    require_built(book_build)
    built = {
        p.relative_to(book_build.html).with_suffix("").as_posix()
        for p in html_pages(book_build.html)
    }
    extra = built - set(toc_files()) - set(GENERATED_PAGES)
    assert not extra, f"pages built that are not in _toc.yml: {sorted(extra)}"


@pytest.mark.slow
def test_no_page_loads_anything_from_another_host(book_build: BookBuild):
    """Check every script, stylesheet, image and frame of every page is local."""
    require_built(book_build)
    pages = html_pages(book_build.html)
    assert len(pages) >= len(toc_files())
    problems = {
        p.relative_to(book_build.html).as_posix(): off_site_loads(p) for p in pages
    }
    problems = {page: found for page, found in problems.items() if found}
    assert not problems, f"pages that load from another host: {problems}"


@pytest.mark.slow
def test_no_stylesheet_loads_anything_from_another_host(book_build: BookBuild):
    """Check that no CSS file imports a stylesheet or font from another host."""
    require_built(book_build)
    sheets = list((book_build.html / "_static").rglob("*.css"))
    assert sheets
    problems = []
    for sheet in sheets:
        text = sheet.read_text(encoding="utf-8", errors="replace")
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # comments may cite URLs
        urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", text)
        urls += re.findall(r"@import\s+['\"]([^'\"]+)", text)
        problems += [f"{sheet.name}: {u}" for u in urls if is_off_site(u)]
    assert not problems


@pytest.mark.slow
def test_page_sources_are_not_published(book_build: BookBuild):
    """Check that html_copy_source is off: no _sources folder, no links to it."""
    require_built(book_build)
    assert not (book_build.html / "_sources").exists()
    linking = [
        p.name
        for p in html_pages(book_build.html)
        if soup(p).select('a[href*="_sources/"]')
    ]
    assert not linking, f"pages linking to page sources: {linking}"


@pytest.mark.slow
def test_math_is_typeset_by_the_copy_of_mathjax_in_the_site(book_build: BookBuild):
    """Check that every page with math loads MathJax from the site itself."""
    require_built(book_build)
    glossary = book_build.html / "book" / "glossary.html"
    assert soup(glossary).select(".math"), "the glossary should contain math"
    for page in html_pages(book_build.html):
        if not soup(page).select(".math"):
            continue
        scripts = [
            s["src"]
            for s in soup(page).find_all("script", src=True)
            if "mathjax" in s["src"].lower()
        ]
        assert len(scripts) == 1, f"{page.name}: MathJax scripts {scripts}"
        local = (page.parent / urlsplit(scripts[0]).path).resolve()
        assert local.is_file(), f"{page.name} loads MathJax from {scripts[0]}, missing"
    fonts = list((book_build.html / "_static" / "mathjax").rglob("*.woff"))
    assert len(fonts) >= 20, "MathJax's CommonHTML fonts are not in the site"


@pytest.mark.slow
def test_every_download_link_has_its_file(book_build: BookBuild):
    """Check that each {download} link points to a file Sphinx copied."""
    require_built(book_build)
    missing = []
    for page in html_pages(book_build.html):
        for a in soup(page).select('a[href*="_downloads/"]'):
            target = page.parent / unquote(urlsplit(a["href"]).path)
            if not target.is_file():
                missing.append(f"{page.name}: {a['href']}")
    assert not missing, f"download links with no file: {missing}"


@pytest.mark.slow
def test_each_chapter_links_its_own_exercise_notebook(book_build: BookBuild):
    """Check that chapter NN offers exercises/NN_topic/NN_topic.ipynb for download."""
    require_built(book_build)
    chapters = sorted((book_build.html / "book").glob("0[1-6]_*.html"))
    assert [c.stem for c in chapters] == ASSIGNMENTS
    for page in chapters:
        hrefs = [a["href"] for a in soup(page).select('a[href*="_downloads/"]')]
        wanted = f"/{page.stem}.ipynb"
        assert any(unquote(h).endswith(wanted) for h in hrefs), (page.name, hrefs)
        notebook = next(h for h in hrefs if unquote(h).endswith(wanted))
        shipped = (page.parent / unquote(urlsplit(notebook).path)).read_bytes()
        exercise = REPO / "exercises" / page.stem / f"{page.stem}.ipynb"
        assert shipped == exercise.read_bytes(), "the student version is offered"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", ["01_convolution", "05_stride_padding"])
def test_chapters_one_and_five_play_an_animation(book_build: BookBuild, chapter):
    """Check that the sliding-kernel animation is in the page, frames embedded."""
    require_built(book_build)
    page = soup(book_build.html / "book" / f"{chapter}.html")
    animations = page.select("div.animation")
    assert animations, f"{chapter} has no animation"
    scripts = " ".join(s.get_text() for s in page.select("script"))
    assert scripts.count("data:image/png;base64") > 5, "frames are not embedded"


@pytest.mark.slow
def test_glossary_gives_english_and_korean_terms(book_build: BookBuild):
    """Check every glossary entry has an English and a Korean term."""
    require_built(book_build)
    glossary = soup(book_build.html / "book" / "glossary.html")
    (dl,) = glossary.select("dl.glossary")
    entries, terms = [], []
    for child in dl.find_all(["dt", "dd"], recursive=False):
        if child.name == "dt":
            terms.append(child.get_text(" ", strip=True).rstrip("#").strip())
        else:
            entries.append(terms)
            terms = []
    assert len(entries) >= 20
    for entry in entries:
        assert any(HANGUL.search(t) for t in entry), f"no Korean term: {entry}"
        assert any(re.search("[A-Za-z]", t) for t in entry), f"no English: {entry}"
    all_terms = {t for entry in entries for t in entry}
    expected = {
        "컨볼루션", "합성곱", "커널", "필터", "채널", "파라미터", "편향",
        "스트라이드", "패딩", "풀링", "특징 맵", "완전 연결 층", "일반화",
    }  # fmt: skip
    assert expected <= all_terms, f"missing terms: {expected - all_terms}"


@pytest.mark.slow
def test_execution_cache_is_reused_when_the_book_is_rebuilt(book_build: BookBuild):
    """Check that a rebuild of every page runs no executed chapter again."""
    require_built(book_build)
    chapters = [n for n in toc_files() if re.match(r"book/\d\d_", n)]
    assert len(chapters) == 6
    # A chapter whose cell failed is not cached; the no-warning test reports it.
    cached = [
        c
        for c in chapters
        if f"{c}.md: Cached executed notebook" in book_build.log
        or f"{c}.md: Using cached notebook" in book_build.log
    ]
    assert cached, f"no chapter was executed and cached:\n{book_build.log_excerpt()}"
    # Whether the pages build cleanly is test_book_builds_with_no_warning's
    # business; here only where the outputs come from.
    rebuild = build_book(book_build.source, book_build.output, "--all")
    for chapter in cached:
        assert f"{chapter}.md: Executing notebook" not in rebuild.log, chapter
        assert f"{chapter}.md: Using cached notebook" in rebuild.log, chapter


# --- small books that exercise one property of the configuration ----------


def nb_json(source: str) -> str:
    """A minimal valid notebook (nbformat 4.5) with one code cell."""
    return json.dumps(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "id": "c0",
                    "metadata": {},
                    "outputs": [],
                    "source": source,
                }
            ],
            "metadata": {
                "kernelspec": {
                    "display_name": "Python 3",
                    "language": "python",
                    "name": "python3",
                }
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


MYST_HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""


def small_book(root: Path, page: str) -> Path:
    """A book with the course's own _config.yml, an intro and one page."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "_config.yml", root / "_config.yml")
    shutil.copytree(REPO / "book" / "_static", root / "book" / "_static")
    shutil.copytree(REPO / "book" / "_ext", root / "book" / "_ext")
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/page\n",
        encoding="utf-8",
    )
    (root / "book" / "intro.md").write_text("# Intro\n\nHello.\n", encoding="utf-8")
    (root / "book" / "page.md").write_text(page, encoding="utf-8")
    return root


@pytest.mark.slow
def test_a_cell_that_raises_fails_the_build(tmp_path: Path):
    """Check that a chapter cell raising an error makes the build exit nonzero."""
    src = small_book(
        tmp_path / "src",
        MYST_HEADER
        + "# Page\n\n```{code-cell} ipython3\n"
        + 'raise ValueError("this cell fails on purpose")\n```\n',
    )
    build = build_book(src, tmp_path / "out")
    assert build.returncode != 0, build.log_excerpt()
    assert "this cell fails on purpose" in build.log


@pytest.mark.slow
def test_a_broken_reference_fails_the_build(tmp_path: Path):
    """Check that a Sphinx warning (an unknown glossary term) fails the build."""
    src = small_book(tmp_path / "src", "# Page\n\nA {term}`no such term`.\n")
    build = build_book(src, tmp_path / "out")
    assert build.returncode != 0, build.log_excerpt()
    assert "no such term" in build.log


@pytest.mark.slow
def test_download_role_publishes_an_exercise_notebook(tmp_path: Path):
    """Check {download} copies a notebook from the excluded exercises/ folder."""
    src = small_book(
        tmp_path / "src",
        "# Page\n\n{download}`The exercise "
        "<../exercises/01_convolution/01_convolution.ipynb>`\n",
    )
    notebook = src / "exercises" / "01_convolution" / "01_convolution.ipynb"
    notebook.parent.mkdir(parents=True)
    notebook.write_text(nb_json("x = 1"), encoding="utf-8")
    build = build_book(src, tmp_path / "out")
    assert build.returncode == 0, build.log_excerpt()
    page = build.html / "book" / "page.html"
    (link,) = soup(page).select('a[href*="_downloads/"]')
    copied = page.parent / unquote(urlsplit(link["href"]).path)
    assert copied.name == "01_convolution.ipynb"
    assert copied.read_bytes() == notebook.read_bytes()
    # The notebook is published as a file, never built as a page.
    assert not list(build.html.rglob("exercises/**/*.html"))


# --- what every chapter has, in its source ---------------------------------

CHAPTERS = [REPO / "book" / f"{name}.md" for name in ASSIGNMENTS]
ROLE = re.compile(r"\{(term|ko)\}`([^`]+)`")
CODE_CELL = re.compile(r"```\{code-cell\}[^\n]*\n(.*?)```", re.S)


def _role_target(text: str) -> str:
    match = re.search(r"<([^>]+)>\s*$", text)
    return (match.group(1) if match else text).strip().lower()


def _glossary_entries() -> list[dict]:
    """English and Korean terms of each glossary entry, read from the page."""
    text = (REPO / "book" / "glossary.md").read_text(encoding="utf-8")
    block = re.search(r"^:::\{glossary\}\n(.*?)^:::", text, re.M | re.S).group(1)
    entries, terms = [], []
    for line in block.splitlines():
        if line.strip() and not line[0].isspace():
            terms.append(line.strip())
        elif line.strip() and terms:
            entries.append(
                {
                    "english": [t.lower() for t in terms if not HANGUL.search(t)],
                    "korean": [t.replace("`", "") for t in terms if HANGUL.search(t)],
                }
            )
            terms = []
    return entries


def test_each_chapter_gives_the_korean_term_where_it_first_links_a_term():
    """Check the first {term} or {ko} of each glossary term in a chapter is {ko}."""
    english = {t for entry in _glossary_entries() for t in entry["english"]}
    problems = []
    for chapter in [*CHAPTERS, REPO / "book" / "arithmetic.md"]:
        seen = set()
        text = chapter.read_text(encoding="utf-8")
        for role, content in ROLE.findall(text):
            target = _role_target(content)
            assert target in english, f"{chapter.name}: {target!r} not in the glossary"
            if target not in seen and role != "ko":
                problems.append(f"{chapter.name}: first use of {target!r} is {{term}}")
            seen.add(target)
        if len(seen) < (2 if chapter.name == "arithmetic.md" else 5):
            problems.append(f"{chapter.name}: only {len(seen)} glossary terms linked")
    assert not problems, "\n".join(problems)


def test_glossary_has_the_terms_korean_readers_search_for():
    """Check the variants and terms issue 9 asked for, and its three fixes."""
    entries = _glossary_entries()
    korean = {t for entry in entries for t in entry["korean"]}
    wanted = {
        "특성 맵", "피처 맵", "합성곱 층", "밀집층", "가중치 공유", "수용장",
        "확장 합성곱", "아트러스 합성곱", "전치 합성곱", "전역 평균 풀링",
        "드롭아웃", "소프트맥스", "평탄화", "국소 응답 정규화", "이동 불변성",
        "이동 등변성", "아키텍처",
    }  # fmt: skip
    assert wanted <= korean, wanted - korean
    by_english = {e: entry for entry in entries for e in entry["english"]}
    # The headword is the layer, "groups" its PyTorch argument.
    assert by_english["groups"]["english"][0] == "grouped convolution"
    assert "그룹 합성곱" in by_english["grouped convolution"]["korean"]
    # Korean documents keep the option's name; no coined translation.
    assert all("ceil_mode" in k for k in by_english["ceil mode"]["korean"])
    assert "올림 모드" not in (REPO / "book" / "glossary.md").read_text(
        encoding="utf-8"
    )
    # Filter and kernel are two entries: a filter stacks one kernel per channel.
    assert by_english["filter"] is not by_english["kernel"]


def test_every_chapter_ends_with_its_exercise_and_the_set_up_box():
    """Check the last section of every chapter is its Exercise, in one shape."""
    for chapter, name in zip(CHAPTERS, ASSIGNMENTS, strict=True):
        text = chapter.read_text(encoding="utf-8")
        sections = re.findall(r"^## (.+)$", text, re.M)
        assert sections[-2:] == ["Check yourself", "Exercise"], (chapter.name, sections)
        exercise = text[text.rindex("\n## Exercise") :]
        assert f"<../exercises/{name}/{name}.ipynb>" in exercise, chapter.name
        assert re.search(r":::\{course-setup\}\n:short:\n:::", exercise), chapter.name
        assert text.count("../exercises/") == 1, f"{chapter.name} links it twice"


def test_no_chapter_shows_its_set_up_plumbing():
    """Check glue, display helpers and rcParams live only in removed cells."""
    plumbing = re.compile(r"myst_nb|from IPython|rcParams|\bglue\(")
    for page in [*CHAPTERS, REPO / "book" / "arithmetic.md"]:
        text = page.read_text(encoding="utf-8")
        for cell in CODE_CELL.findall(text):
            if plumbing.search(cell):
                assert re.match(r":tags: \[remove-(cell|input)\]", cell), (
                    f"{page.name} shows set-up plumbing:\n{cell[:300]}"
                )


def test_the_repository_address_is_written_once_in_config():
    """Check the URL lives in _config.yml only; pages render it from there."""
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
    url = config["repository"]["url"]
    assert url.startswith("https://")
    host_path = urlsplit(url).netloc + urlsplit(url).path
    typed = []
    for path in REPO.rglob("*"):
        if any(part in {".git", ".venv", "_build"} for part in path.parts):
            continue
        if path.suffix in {".md", ".py", ".txt", ".toml", ".ipynb", ".cfg", ".yml"}:
            if path.name != "_config.yml" and host_path in path.read_text(
                encoding="utf-8", errors="replace"
            ):
                typed.append(str(path.relative_to(REPO)))
    assert not typed, f"the repository address is typed in: {typed}"


def test_student_requirements_pin_what_requirements_txt_pins_and_no_tools():
    """Check requirements-student.txt: same pins, nothing for the book or tests."""

    def pins(name):
        text = (REPO / name).read_text(encoding="utf-8")
        return dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M))

    student, full = pins("requirements-student.txt"), pins("requirements.txt")
    assert {k: full.get(k) for k in student} == student
    wanted = {
        "torch",
        "numpy",
        "matplotlib",
        "scipy",
        "scikit-learn",
        "jupyterlab",
        "nbgrader",
    }
    assert set(student) == wanted
    text = (REPO / "requirements-student.txt").read_text(encoding="utf-8").lower()
    for tool in ("jupyter-book", "playwright", "ruff", "pytest", "hypothesis"):
        assert not re.search(rf"^{tool}\b", text, re.M), tool


# --- the set-up road, in the built site -------------------------------------


def _published(build: BookBuild, page: Path, href: str) -> Path:
    return (page.parent / unquote(urlsplit(href).path)).resolve()


@pytest.mark.slow
def test_intro_set_up_names_the_repository_and_publishes_the_wheel(book_build):
    """Check the Set up section: the address from _config.yml, both files."""
    import tomllib
    import zipfile

    require_built(book_build)
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
    intro = book_build.html / "book" / "intro.html"
    section = soup(intro).select_one("section#set-up")
    assert section is not None, "the intro has no Set up section"
    hrefs = [a["href"] for a in section.select("a[href]")]
    assert config["repository"]["url"] in hrefs
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    wheel_name = f"cnn_course-{version}-py3-none-any.whl"
    wheel = [h for h in hrefs if h.endswith(".whl")]
    assert [Path(urlsplit(h).path).name for h in wheel] == [wheel_name]
    wheel_file = _published(book_build, intro, wheel[0])
    with zipfile.ZipFile(wheel_file) as archive:
        names = archive.namelist()
    assert "cnn_course/__init__.py" in names and "cnn_course/grading.py" in names
    assert "cnn_course/experiments/digits.py" in names
    assert not [n for n in names if n.startswith(("tests/", "book/", "solutions/"))]
    requirements = [h for h in hrefs if h.endswith("requirements-student.txt")]
    assert len(requirements) == 1
    published = _published(book_build, intro, requirements[0])
    assert published.read_bytes() == (REPO / "requirements-student.txt").read_bytes()
    commands = section.get_text()
    assert f"pip install -r requirements-student.txt {wheel_name}" in commands


@pytest.mark.slow
def test_each_chapters_exercise_section_says_how_to_get_the_course(book_build):
    """Check the box in every Exercise section: repository, files, command."""
    require_built(book_build)
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
    for name in ASSIGNMENTS:
        page = book_build.html / "book" / f"{name}.html"
        section = soup(page).select_one("section#exercise")
        assert section is not None, name
        box = section.select_one(".course-setup")
        assert box is not None, f"{name}: no set-up box"
        hrefs = [a["href"] for a in box.select("a[href]")]
        assert config["repository"]["url"] in hrefs, name
        for suffix in (".whl", "requirements-student.txt"):
            (href,) = [h for h in hrefs if h.endswith(suffix)]
            assert _published(book_build, page, href).is_file(), (name, href)
        assert box.select('a[href$="intro.html#set-up"]'), f"{name}: no link to Set up"


@pytest.mark.slow
def test_korean_terms_in_the_pages_are_the_glossarys(book_build):
    """Check each Korean term shown beside a link is one of its entry's."""
    require_built(book_build)
    glossary = soup(book_build.html / "book" / "glossary.html")
    korean_of = {}
    for dl in glossary.select("dl.glossary"):
        group = []
        for child in dl.find_all(["dt", "dd"], recursive=False):
            if child.name == "dt":
                group.append(child)
            else:
                texts = [
                    dt.get_text(" ", strip=True).rstrip("#").strip() for dt in group
                ]
                for dt in group:
                    korean_of[dt["id"]] = {t for t in texts if HANGUL.search(t)}
                group = []
    checked = 0
    for name in [*ASSIGNMENTS, "arithmetic"]:
        page = soup(book_build.html / "book" / f"{name}.html")
        for span in page.select("span.ko-term"):
            link = span.find_previous_sibling("a")
            assert link is not None and "glossary.html#" in link["href"], name
            anchor = link["href"].split("#", 1)[1]
            shown = span.get_text().strip()[1:-1]
            assert shown in korean_of[anchor], (name, anchor, shown)
            checked += 1
    assert checked >= 60, checked
