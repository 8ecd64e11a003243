"""A list of rows that prints as a table, in a terminal and in a notebook."""

from __future__ import annotations

import html

__all__ = ["Table"]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, tuple):
        return "×".join(str(v) for v in value)
    return str(value)


class Table(list):
    """Rows (dicts with the same keys) that render as a table.

    It is a plain ``list`` of ``dict``, so ``table[0]["params"]`` works;
    ``str()`` gives aligned text, Jupyter shows HTML. ``columns`` picks and
    orders the columns shown (all keys of the first row by default), and
    ``footer`` adds a last row such as totals.

    Examples
    --------
    >>> t = Table([{"layer": "conv", "params": 1792}], footer={"layer": "total",
    ...           "params": 1792})
    >>> print(t)
    layer  params
    -----  ------
    conv    1,792
    -----  ------
    total   1,792
    """

    def __init__(self, rows=(), columns=None, footer=None, headers=None):
        super().__init__(rows)
        self.columns = list(columns or (self[0].keys() if self else []))
        self.footer = footer
        self.headers = headers or {}

    def _text_rows(self):
        head = [self.headers.get(c, c) for c in self.columns]
        body = [[_cell(row.get(c)) for c in self.columns] for row in self]
        foot = (
            [_cell(self.footer.get(c)) for c in self.columns] if self.footer else None
        )
        return head, body, foot

    def __str__(self) -> str:
        head, body, foot = self._text_rows()
        every = [head, *body, *([foot] if foot else [])]
        widths = [max(len(r[i]) for r in every) for i in range(len(head))]
        numeric = [all(_is_number(row.get(c)) for row in self) for c in self.columns]

        def line(cells):
            return "  ".join(
                cell.rjust(w) if num else cell.ljust(w)
                for cell, w, num in zip(cells, widths, numeric, strict=True)
            ).rstrip()

        rule = "  ".join("-" * w for w in widths)
        out = [line(head), rule, *(line(r) for r in body)]
        if foot:
            out += [rule, line(foot)]
        return "\n".join(out)

    def _repr_html_(self) -> str:
        head, body, foot = self._text_rows()
        numeric = [all(_is_number(row.get(c)) for row in self) for c in self.columns]

        def tr(cells, tag):
            tds = "".join(
                f'<{tag} style="text-align:{"right" if num else "left"}; '
                f'padding:0.15em 0.6em">'
                f"{html.escape(cell)}</{tag}>"
                for cell, num in zip(cells, numeric, strict=True)
            )
            return f"<tr>{tds}</tr>"

        parts = ["<table>", "<thead>", tr(head, "th"), "</thead>", "<tbody>"]
        parts += [tr(r, "td") for r in body]
        parts.append("</tbody>")
        if foot:
            parts += ["<tfoot>", tr(foot, "th"), "</tfoot>"]
        parts.append("</table>")
        return "".join(parts)

    def __repr__(self) -> str:
        return str(self)


def _is_number(value) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))
