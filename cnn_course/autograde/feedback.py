"""Feedback pages that are safe to open and render offline.

nbgrader's ``generate_feedback`` renders each autograded notebook with the
course's template (``templates/cnn_feedback``), after three preprocessors of
:mod:`cnn_course.autograde.preprocessors`: nbgrader's ``ClearHiddenTests``
removes the hidden tests from the cells, ``ShortTracebacks`` cuts errors to
their message and ``SanitizeStudentContent`` makes every student markdown
cell and output inert. Hidden tests never ran where student code runs, so
no output can hold them.

:func:`finish_page` then gives each page what its template leaves as
placeholders: MathJax, inlined (the page is one self-contained file), and a
Content-Security-Policy that allows exactly that script and its
configuration, by hash, and nothing from any other place: no other script,
no frame, no form, no request to another host.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

__all__ = [
    "TEMPLATES",
    "MATHJAX",
    "MATHJAX_CONFIG",
    "finish_page",
    "content_security_policy",
    "hidden_lines",
]

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
MATHJAX = HERE / "static" / "mathjax" / "tex-svg-full.js"

#: MathJax's settings: TeX between $...$; no package that could style, link
#: or load (html, require), no network (autoload off: the build has all).
MATHJAX_CONFIG = """window.MathJax = {
  tex: {
    inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]],
    displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]],
    processEscapes: true,
    packages: {"[-]": ["html", "require", "autoload", "noundefined"]}
  },
  svg: {fontCache: "global"},
  options: {enableMenu: false}
};"""

_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)


def _hash(text: str) -> str:
    return (
        "'sha256-"
        + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        + "'"
    )


@cache
def _mathjax() -> str:
    return MATHJAX.read_text(encoding="utf-8")


def content_security_policy(scripts: list[str]) -> str:
    """The page's policy: only these inline scripts; data: images and fonts."""
    allowed = " ".join(_hash(s) for s in scripts) or "'none'"
    return (
        "default-src 'none'; "
        f"script-src {allowed}; "
        "style-src 'unsafe-inline'; "
        "img-src data:; font-src data:; "
        "base-uri 'none'; form-action 'none'; frame-src 'none'; object-src 'none'"
    )


def finish_page(path: str | Path) -> None:
    """Fill in a rendered feedback page's policy and MathJax, in place.

    Any ``<script>`` element besides the two inlined here is removed (the
    sanitiser leaves none; the policy would block it anyway).
    """
    path = Path(path)
    html = path.read_text(encoding="utf-8")
    html = _SCRIPT.sub("", html)
    scripts = [MATHJAX_CONFIG, _mathjax()]
    html = html.replace(
        "<!--CNN-MATHJAX-->",
        "".join(f"<script>{s}</script>" for s in scripts),
        1,
    )
    html = html.replace("CNN-CSP", content_security_policy(scripts), 1)
    path.write_text(html, encoding="utf-8")


def hidden_lines(source: str, begin: str, end: str) -> list[str]:
    """The stripped lines between the hidden-test markers of one cell."""
    lines, inside = [], False
    for line in source.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines
