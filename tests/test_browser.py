"""Every page of the book works in a real browser with no network.

The site built by the session fixture ``book_build`` (tests/conftest.py) is
served on 127.0.0.1 by a thread running ``http.server``, and each page is
opened in headless Chromium: Debian's ``/usr/bin/chromium`` (or the path in
``$CHROMIUM``), driven by Playwright, which downloads no browser of its own.
Each page gets a fresh browser context, as a first visit would. On each page:

- no console error and no uncaught exception;
- no request failed, none answered 4xx/5xx, and none went to another host
  (such requests are blocked and reported);
- every ``<img>`` loaded (``naturalWidth > 0``);
- where the page has math, MathJax loaded, finished, and typeset every
  formula without a TeX error;
- every link to the site itself resolves to an existing file and, if it has
  one, to an existing anchor (``id`` or ``name``) in that file. Links to
  other hosts are not followed (see test_book.py).

Each page is opened at two widths, a phone's (390 px) and a desktop's
(1280 px), and at both:

- the page does not scroll sideways;
- a display equation, table or code block wider than its column scrolls in
  its own box, and never reaches past the window's edge;
- every figure is shown at least at :data:`MIN_FIGURE_SCALE` of its own
  size, so that its text, set at :data:`MIN_FIGURE_FONT_PT` or more
  (tests/test_plotting.py checks the course's figures), stays readable;
- every button of an animation lies inside the window and is not hidden by
  a box it overflows.

A full-page screenshot of each page at each width is saved into
``_build/screenshots`` (or ``$BOOK_SCREENSHOTS``); the folder is printed at
the end of the run. Where no Chromium is installed the tests are skipped
with a reason saying so.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from bs4 import BeautifulSoup
from conftest import (
    GENERATED_PAGES,
    REPO,
    SCREENSHOT_FOLDERS,
    BookBuild,
    html_pages,
    toc_files,
)

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"no Chromium at {CHROMIUM}: install Debian's `chromium` package "
    "(.ci/run does) or set $CHROMIUM to run the browser test",
)
SCREENSHOTS = Path(os.environ.get("BOOK_SCREENSHOTS", REPO / "_build" / "screenshots"))
PAGES = sorted(GENERATED_PAGES) + toc_files()
#: A phone (an iPhone 12 to 15 is 390 CSS pixels wide) and a desktop.
WIDTHS = (390, 1280)
#: Figures are rendered at this resolution (``figure.dpi`` in the chapters)...
FIGURE_DPI = 110
#: ... with no text smaller than this ...
MIN_FIGURE_FONT_PT = 9
#: ... and may be shrunk to this share of their size, no more: the smallest
#: figure text is then 9 pt * 110 / 72 * 0.5 = 6.9 CSS pixels on a phone.
MIN_FIGURE_SCALE = 0.5

# Runs in the page: what would make it hard to read at this width.
LAYOUT_REPORT = """(minScale) => {
  const problems = [];
  const width = document.documentElement.clientWidth;
  const doc = document.documentElement;
  if (doc.scrollWidth > width + 1)
    problems.push(`the page scrolls sideways: ${doc.scrollWidth} px in a ${width} px window`);
  const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const scrollsWithin = el => {
    for (let a = el; a && a !== document.body; a = a.parentElement)
      if (scrolls(a) && a.getBoundingClientRect().right <= width + 1) return true;
    return false;
  };
  const wide = '.bd-article mjx-container[display="true"], .bd-article table, '
             + '.bd-article pre, .bd-article div.math';
  for (const el of document.querySelectorAll(wide)) {
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    const tooWide = el.scrollWidth > el.clientWidth + 1 || r.right > width + 1;
    if (tooWide && !scrollsWithin(el))
      problems.push(`${el.tagName.toLowerCase()} ${Math.round(r.width)} px wide does not scroll in its own box: `
                    + el.textContent.trim().slice(0, 60));
  }
  for (const img of document.querySelectorAll('.bd-article img')) {
    if (!img.naturalWidth || img.closest('.animation')) continue;
    const scale = img.getBoundingClientRect().width / img.naturalWidth;
    if (scale < minScale)
      problems.push(`figure shrunk to ${scale.toFixed(2)} of its size: ${img.src.slice(-60)}`);
  }
  for (const anim of document.querySelectorAll('.bd-article div.animation')) {
    const box = anim.closest('div.cell_output') || anim;
    const outer = box.getBoundingClientRect();
    for (const button of anim.querySelectorAll('button')) {
      const r = button.getBoundingClientRect();
      if (r.width === 0 || r.left < outer.left - 1 || r.right > Math.min(outer.right, width) + 1)
        problems.push(`animation button cut off: ${button.title || button.textContent}`);
    }
    const frame = anim.querySelector('img');
    if (frame && frame.getBoundingClientRect().right > Math.min(outer.right, width) + 1)
      problems.push('animation frame wider than its column');
  }
  return problems;
}"""

# Runs in the page: waits for MathJax, then reports on the math.
MATH_REPORT = """async () => {
  const math = [...document.querySelectorAll('.math')];
  if (!window.MathJax) return {count: math.length, loaded: false};
  if (!MathJax.startup || !MathJax.startup.promise)
    return {count: math.length, loaded: false};
  await MathJax.startup.promise;
  const untypeset = math.filter(el => !el.querySelector('mjx-container'))
                        .map(el => el.textContent.slice(0, 80));
  const errors = [...new Set(
    [...document.querySelectorAll('mjx-merror, [data-mjx-error]')]
      .map(el => el.getAttribute('data-mjx-error') || el.textContent))];
  return {count: math.length, loaded: true, untypeset, errors};
}"""

# Runs in the page: loads every image (lazy ones too) and lists the broken.
BROKEN_IMAGES = """async () => {
  const images = [...document.images];
  images.forEach(img => { img.loading = 'eager'; });
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  return images.filter(img => !(img.complete && img.naturalWidth > 0))
               .map(img => (img.currentSrc || img.src || img.outerHTML).slice(0, 120));
}"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def site(book_build: BookBuild) -> Iterator[str]:
    """The built book served on 127.0.0.1; yields its base URL."""
    if not (book_build.html / "index.html").is_file():
        pytest.fail(f"the book was not built:\n{book_build.log_excerpt()}")
    handler = functools.partial(QuietHandler, directory=str(book_build.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium, driven by Playwright."""
    if not CHROMIUM.is_file():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: install Debian's `chromium` package "
            "(.ci/run does) or set $CHROMIUM to run the browser test"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright (pinned in requirements.txt)"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    """The folder for the screenshots, named in pytest's closing summary."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    SCREENSHOT_FOLDERS.append(SCREENSHOTS.resolve())
    return SCREENSHOTS


@cache
def anchors(path: Path) -> frozenset[str]:
    """The ids and names a page defines, as its HTML file has them."""
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    ids = {el["id"] for el in soup.find_all(id=True)}
    ids |= {el["name"] for el in soup.find_all("a", attrs={"name": True})}
    return frozenset(ids)


def broken_internal_links(links: list[str], base: str, root: Path) -> list[str]:
    """The links to ``base`` that name a missing file or a missing anchor."""
    broken = []
    for link in sorted(set(links)):
        parts = urlsplit(link)
        if f"{parts.scheme}://{parts.netloc}" != base:
            continue  # another host (allowed in prose) or javascript:/mailto:
        path = unquote(parts.path)
        if path.endswith("/"):
            path += "index.html"
        target = (root / path.lstrip("/")).resolve()
        if not target.is_relative_to(root.resolve()) or not target.is_file():
            broken.append(f"{link}: no such file")
        elif parts.fragment and target.suffix == ".html":
            if unquote(parts.fragment) not in anchors(target):
                broken.append(f"{link}: no anchor #{parts.fragment}")
    return broken


def test_every_built_page_is_checked(book_build: BookBuild):
    """Check that the pages below are all the pages the build wrote."""
    built = {
        p.relative_to(book_build.html).with_suffix("").as_posix()
        for p in html_pages(book_build.html)
    }
    assert built <= set(PAGES), f"pages not opened in the browser: {built - set(PAGES)}"


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_page_works_offline(name, width, site, browser, screenshots, book_build):
    """Open one page at one width; check console, requests, images, math,
    links and layout."""
    problems: list[str] = []
    off_site: list[str] = []

    def route(route):
        url = route.request.url
        if url.startswith(site + "/") or url == site:
            route.continue_()
        else:
            off_site.append(url)
            route.abort()

    context = browser.new_context(
        viewport={"width": width, "height": 900}, service_workers="block"
    )
    try:
        context.route("**/*", route)
        page = context.new_page()
        page.on(
            "console",
            lambda m: m.type == "error" and problems.append(f"console error: {m.text}"),
        )
        page.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
        page.on(
            "requestfailed",
            lambda r: (
                r.url not in off_site
                and problems.append(f"request failed: {r.url} ({r.failure})")
            ),
        )
        page.on(
            "response",
            lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"),
        )
        page.goto(f"{site}/{name}.html", wait_until="load")
        if name == "index":  # a redirect to the root page of the toc
            page.wait_for_url(f"{site}/{toc_files()[0]}.html")
            page.wait_for_load_state("load")

        math = page.evaluate(MATH_REPORT)
        if math["count"] and not math["loaded"]:
            problems.append(f"{math['count']} formulas but MathJax did not load")
        elif math["count"]:
            problems += [f"formula not typeset: {t!r}" for t in math["untypeset"]]
            problems += [f"TeX error: {e!r}" for e in math["errors"]]
        problems += [f"image not loaded: {s}" for s in page.evaluate(BROKEN_IMAGES)]
        page.wait_for_load_state("networkidle")

        links = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
        problems += [
            f"broken link: {b}"
            for b in broken_internal_links(links, site, book_build.html)
        ]
        if name != "index":
            problems += page.evaluate(LAYOUT_REPORT, MIN_FIGURE_SCALE)
        shot = screenshots / f"{name.replace('/', '__')}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()

    problems += [f"request to another host (blocked): {u}" for u in off_site]
    assert not problems, f"{name} at {width} px:\n" + "\n".join(problems)


@needs_chromium
def test_search_finds_a_glossary_term_offline(site, browser):
    """Check that the site's own search index answers a query in the browser."""
    context = browser.new_context()
    try:
        context.route(
            "**/*",
            lambda r: r.continue_() if r.request.url.startswith(site) else r.abort(),
        )
        page = context.new_page()
        page.goto(f"{site}/search.html?q=stride", wait_until="load")
        hits = page.locator("#search-results ul.search li")
        hits.first.wait_for(timeout=30_000)
        pages = hits.locator("a").evaluate_all("els => els.map(a => a.href)")
    finally:
        context.close()
    assert any(href.split("#")[0].endswith("/book/glossary.html") for href in pages), (
        pages
    )
