"""Feedback without hidden tests: not in the cells, not in the outputs.

nbgrader 0.9's ``generate_feedback`` renders the autograded notebook as it
is, hidden tests included. The course adds two preprocessors before the
HTML export: :class:`RedactHiddenOutputs` replaces any output line that
quotes a hidden-test line (a traceback shows the failing line; a student's
code could also print the cell it is run in), then nbgrader's own
``ClearHiddenTests`` removes the hidden regions from the cells.
"""

from __future__ import annotations

import re

from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

__all__ = ["RedactHiddenOutputs", "hidden_lines"]

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
REDACTED = "[hidden test line]"


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


class RedactHiddenOutputs(NbGraderPreprocessor):
    """Replace output lines that quote hidden tests (run before ClearHiddenTests)."""

    begin = Unicode("BEGIN HIDDEN TESTS").tag(config=True)
    end = Unicode("END HIDDEN TESTS").tag(config=True)
    min_length = 6

    def preprocess(self, nb, resources):
        secret: set[str] = set()
        visible: set[str] = set()
        for cell in nb.cells:
            hidden = hidden_lines(cell.source, self.begin, self.end)
            secret.update(line for line in hidden if len(line) >= self.min_length)
            inside = False
            for line in cell.source.splitlines():
                if self.begin in line:
                    inside = True
                elif self.end in line:
                    inside = False
                elif not inside:
                    visible.add(line.strip())
        self._secret = sorted(secret - visible, key=len, reverse=True)
        return super().preprocess(nb, resources)

    def _redact(self, text: str) -> str:
        out = []
        for line in text.split("\n"):
            plain = ANSI.sub("", line)
            if self.begin in plain or self.end in plain:
                out.append(REDACTED)
            elif any(s in plain for s in self._secret):
                out.append(REDACTED)
            else:
                out.append(line)
        return "\n".join(out)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        for output in cell.get("outputs", []):
            if "text" in output:
                output.text = self._redact(output.text)
            if "traceback" in output:
                output.traceback = [self._redact(t) for t in output.traceback]
            if "evalue" in output:
                output.evalue = self._redact(output.evalue)
            for key in ("text/plain", "text/html", "text/markdown"):
                if key in output.get("data", {}):
                    value = output.data[key]
                    if isinstance(value, list):
                        value = "".join(value)
                    output.data[key] = self._redact(value)
        return cell, resources
