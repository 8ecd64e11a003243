"""Every nbconvert/nbgrader preprocessor of the course, in one module.

- :class:`NoPartialCredit` (autograde): a value shown by a test cell would
  be read by nbgrader as partial credit; it becomes a failure instead.
- :class:`ShortTracebacks` (feedback): each error is cut down to
  ``Name: message``, since a traceback quotes the code around the failing
  line.
- :class:`SanitizeStudentContent` (feedback): every markdown cell and every
  output becomes inert HTML (nh3, an HTML sanitiser), so a feedback page
  runs no script from a student and nothing a student wrote can cover it.

``nbgrader_config.py`` (Validate, release) and the grading run's
``Config`` (:mod:`cnn_course.autograde.config`) name them.
"""

from __future__ import annotations

import base64
import binascii
import re
import textwrap

from nbconvert.preprocessors import Preprocessor
from nbformat.v4 import new_output
from traitlets import Bool

__all__ = [
    "NoPartialCredit",
    "ShortTracebacks",
    "SanitizeStudentContent",
    "clean_html",
    "markdown_html",
]

GUARD = "GUARD:"


class NoPartialCredit(Preprocessor):
    """Turn a value shown by a test cell into a failure of that test.

    nbgrader reads a test cell's ``execute_result`` output as partial
    credit, before any error that follows. The course's test cells end in
    statements and never show a value, and when grading their outputs come
    from the grader process; in a student's own kernel (Validate) a shown
    value can only come from student code hooked into the cell. It becomes
    an error whose message starts with ``GUARD:``.
    """

    # nbconvert runs only enabled preprocessors, and its default is off
    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or not meta.get("grade"):
            return cell, resources
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "execute_result":
                output = new_output(
                    "error",
                    ename="GuardError",
                    evalue=(
                        f"{GUARD} this test cell showed a value, which nbgrader "
                        "would count as partial credit; the course's tests show "
                        "none, so student code produced it. The test scores 0."
                    ),
                    traceback=[],
                )
            outputs.append(output)
        cell["outputs"] = outputs
        return cell, resources


class ShortTracebacks(Preprocessor):
    """Cut each error output's traceback down to ``Name: message``.

    A traceback quotes the code around the failing line, which in a hidden
    test is the hidden test itself. The hidden tests' messages are written
    to be read alone; long lines are wrapped, since feedback shows
    tracebacks unwrapped.
    """

    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
                lines = [
                    textwrap.fill(line, 100, subsequent_indent="    ")
                    for line in text.splitlines() or [""]
                ]
                output["traceback"] = ["\n".join(lines)]
        return cell, resources


# -- inert student content ----------------------------------------------------------

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details",
    "div", "dl", "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "kbd", "li", "ol", "p", "pre", "s", "samp", "small", "span", "strong",
    "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
    "u", "ul",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "abbr": {"title"},
}
_IMAGE_DATA = re.compile(
    r"^data:image/(png|jpeg|gif|svg\+xml);base64,[A-Za-z0-9+/=\s]*$"
)
_LINK = re.compile(r"^(https?://|mailto:|#)", re.IGNORECASE)
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_GRADE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_NUMBER = re.compile(r"^\d{1,5}$")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if _IMAGE_DATA.match(value) else None
    if tag == "a" and attribute == "href":
        return value if _LINK.match(value) else None
    if attribute in ("width", "height", "colspan", "rowspan"):
        return value if _NUMBER.match(value) else None
    return value


def clean_html(html: str) -> str:
    """``html`` with everything active or positioned removed (nh3).

    >>> clean_html('<b onclick="x()">hi</b><script>alert(1)</script>')
    '<b>hi</b>'
    >>> clean_html('<div style="position:fixed">100/100</div>')
    '<div>100/100</div>'
    """
    import nh3

    return nh3.clean(
        str(html),
        tags=TAGS,
        clean_content_tags={"script", "style", "template", "iframe", "object"},
        attributes=ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto", "data"},
        strip_comments=True,
    )


def markdown_html(source: str, attachments: dict | None = None) -> str:
    """Markdown rendered as nbconvert renders it (math left for MathJax), then
    cleaned; ``attachment:NAME`` images resolved to data URLs."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    source = str(source)
    for name, bundle in (attachments or {}).items():
        if not isinstance(bundle, dict):
            continue
        for mime in IMAGE_TYPES:
            data = bundle.get(mime)
            if isinstance(data, str) and _valid_base64(data):
                source = source.replace(
                    f"attachment:{name}", f"data:{mime};base64,{data.strip()}"
                )
                break
    # an attachment that is missing or not an image is not shown
    source = re.sub(r"attachment:[^\s)\]\"']*", "#", source)
    try:
        rendered = markdown2html_mistune(source)
    except Exception:  # markdown the renderer chokes on is shown as text
        import html

        rendered = f"<pre>{html.escape(source)}</pre>"
    return clean_html(rendered)


def _valid_base64(data: str) -> bool:
    try:
        base64.b64decode(re.sub(r"\s+", "", data), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _clean_nbgrader(meta) -> dict | None:
    """The grading metadata the feedback template reads, type-checked."""
    if not isinstance(meta, dict):
        return None
    grade_id = meta.get("grade_id")
    if not isinstance(grade_id, str) or not _GRADE_ID.match(grade_id):
        return None
    out = {"grade_id": grade_id}
    for flag in ("grade", "solution", "locked", "task"):
        out[flag] = meta.get(flag) is True
    for number in ("points", "score"):
        value = meta.get(number)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[number] = float(value)
    if isinstance(meta.get("comment"), str):
        out["comment"] = meta["comment"][:10_000]
    for key in ("schema_version", "checksum", "cell_type"):
        if isinstance(meta.get(key), int | str):
            out[key] = meta[key]
    return out


def _clean_output(output: dict) -> dict | None:
    kind = output.get("output_type")
    if kind == "stream":
        name = (
            output.get("name")
            if output.get("name") in ("stdout", "stderr")
            else "stdout"
        )
        return new_output("stream", name=name, text=str(output.get("text", "")))
    if kind == "error":
        trace = output.get("traceback")
        trace = [str(t) for t in trace] if isinstance(trace, list) else []
        return new_output(
            "error",
            ename=str(output.get("ename", "Error"))[:200],
            evalue=str(output.get("evalue", "")),
            traceback=trace,
        )
    if kind not in ("display_data", "execute_result"):
        return None
    data = output.get("data") if isinstance(output.get("data"), dict) else {}
    clean: dict = {}
    meta: dict = {}
    if isinstance(data.get("text/plain"), str | list):
        clean["text/plain"] = "".join(data["text/plain"])
    if isinstance(data.get("text/latex"), str):
        clean["text/latex"] = data["text/latex"]
    for mime in IMAGE_TYPES:
        value = data.get(mime)
        if isinstance(value, str) and _valid_base64(value):
            clean[mime] = re.sub(r"\s+", "", value)
            size = (output.get("metadata") or {}).get(mime)
            if isinstance(size, dict):
                dims = {
                    k: int(v)
                    for k, v in size.items()
                    if k in ("width", "height")
                    and isinstance(v, int | float)
                    and not isinstance(v, bool)
                    and 0 < v < 10_000
                }
                if dims:
                    meta[mime] = dims
    html_parts = []
    if isinstance(data.get("text/html"), str | list):
        html_parts.append(clean_html("".join(data["text/html"])))
    elif isinstance(data.get("text/markdown"), str | list):
        html_parts.append(markdown_html("".join(data["text/markdown"])))
    svg = data.get("image/svg+xml")
    if isinstance(svg, str | list) and not any(m in clean for m in IMAGE_TYPES):
        encoded = base64.b64encode("".join(svg).encode()).decode()
        # an SVG shown through <img> runs no script and loads nothing
        html_parts.append(f'<img src="data:image/svg+xml;base64,{encoded}" alt="">')
    if html_parts:
        clean["text/html"] = "".join(html_parts)
    if not clean:
        return None
    if kind == "execute_result":
        count = output.get("execution_count")
        count = (
            count if isinstance(count, int) and not isinstance(count, bool) else None
        )
        return new_output(kind, data=clean, metadata=meta, execution_count=count)
    return new_output(kind, data=clean, metadata=meta)


class SanitizeStudentContent(Preprocessor):
    """Make a notebook safe to render: nothing a student wrote stays active.

    Markdown cells are rendered here and cleaned (``metadata.cnn_html``,
    which the course's feedback template shows); outputs keep plain text,
    cleaned HTML, checked images (SVG only as an image) and LaTeX; cell and
    notebook metadata keep only what the template reads, type-checked.
    Scripts, widget state, event-handler attributes, iframes, forms,
    ``javascript:`` links and inline styles are gone.
    """

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        kernelspec = nb.metadata.get("kernelspec")
        language = nb.metadata.get("language_info")
        nb.metadata = {}
        if isinstance(kernelspec, dict):
            nb.metadata["kernelspec"] = {
                k: str(v)[:100] for k, v in kernelspec.items() if isinstance(v, str)
            }
        if isinstance(language, dict) and isinstance(language.get("name"), str):
            nb.metadata["language_info"] = {"name": language["name"][:50]}
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        nbgrader = _clean_nbgrader(cell.get("metadata", {}).get("nbgrader"))
        attachments = cell.get("attachments")
        cell["metadata"] = {"nbgrader": nbgrader} if nbgrader else {}
        cell.pop("attachments", None)
        if not isinstance(cell.get("id"), str) or not _ID.match(cell["id"]):
            cell["id"] = f"cell-{index}"
        if cell.get("cell_type") == "markdown":
            cell["metadata"]["cnn_html"] = markdown_html(
                cell.get("source", ""),
                attachments if isinstance(attachments, dict) else None,
            )
        elif cell.get("cell_type") == "code":
            outputs = [_clean_output(o) for o in cell.get("outputs", [])]
            cell["outputs"] = [o for o in outputs if o is not None]
            count = cell.get("execution_count")
            if not isinstance(count, int) or isinstance(count, bool):
                cell["execution_count"] = None
        else:  # raw cells are not shown in feedback
            cell["source"] = ""
        return cell, resources
