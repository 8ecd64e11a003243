"""Helpers shared by the figure modules (not public)."""

from __future__ import annotations

import numpy as np

#: The widest a figure may be, in inches. At the book's 110 dpi a figure this
#: wide is shown at half its size or more in a phone's 390 px column, so its
#: 9-point text stays readable (tests/test_browser.py, tests/test_plotting.py).
MAX_WIDTH_IN = 6.5


def _capped(width, height, keep_shape=True):
    """``(width, height)`` no wider than :data:`MAX_WIDTH_IN`.

    ``keep_shape`` scales the height too (grids of cells stay square);
    otherwise only the width shrinks (charts keep their height).
    """
    if width <= MAX_WIDTH_IN:
        return (width, height)
    return (MAX_WIDTH_IN, height * MAX_WIDTH_IN / width if keep_shape else height)


def _axes(ax, figsize=(4, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=_capped(*figsize))
    return ax


def _check_rows(rows, keys):
    """``rows`` as a list, each a dict holding at least ``keys``."""
    names = ", ".join(keys)
    if isinstance(rows, (str, bytes)) or not hasattr(rows, "__iter__"):
        raise TypeError(
            f"`rows` must be a list of dicts with keys {names}, "
            f"got {type(rows).__name__}"
        )
    rows = list(rows)
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not set(keys) <= set(row):
            raise ValueError(
                f"`rows[{i}]` must be a dict with keys {names}, got {row!r}"
            )
    return rows


def _colour_matrix(ax, matrix, colours, fmt=None, bold=None, title=None):
    """Cells filled with the given RGBA colours and their numbers written in."""
    matrix = np.asarray(matrix, dtype=float)
    if fmt is None:
        fmt = "{:.0f}" if np.all(matrix == np.round(matrix)) else "{:.2f}"
    ax.imshow(colours)
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            fmt.format(value),
            ha="center",
            va="center",
            fontsize=10,
            fontweight="bold" if bold is not None and bold[i, j] else None,
        )
    ax.set_xticks(np.arange(-0.5, matrix.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, matrix.shape[0]), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if title:
        ax.set_title(title)
    return ax


_FILTER_COLOURS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
)
