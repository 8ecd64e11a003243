"""Chapter 1, convolution: matrices with their numbers, a stamp, the animation."""

from __future__ import annotations

import numpy as np

from .._checks import check_array, check_pair
from ..conv import correlate2d
from ._common import _axes, _capped

__all__ = ["show_matrix", "show_stamp", "animate_correlation", "animation_html"]


def show_matrix(
    matrix, ax=None, title=None, fmt=None, cmap="Blues", highlight=None, grey=None
):
    """Draw a small matrix as a grid of cells with its numbers written in.

    Parameters
    ----------
    matrix : ndarray, shape (H, W)
    fmt : str, optional
        Format of the numbers; integers print without decimals by default.
    highlight : (row, col, height, width), optional
        A rectangle drawn around these cells (the kernel's window).
    grey : ndarray of bool, shape (H, W), optional
        Cells drawn grey (padding).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.patches import Rectangle

    matrix = np.asarray(matrix, dtype=float)
    ax = _axes(ax, figsize=(0.5 * matrix.shape[1] + 1, 0.5 * matrix.shape[0] + 1))
    finite = matrix[np.isfinite(matrix)]
    if fmt is None:
        fmt = "{:.0f}" if np.all(finite == np.round(finite)) else "{:.2f}"
    span = np.abs(finite).max() if finite.size else 1.0
    ax.imshow(np.abs(matrix), cmap=cmap, vmin=0, vmax=span * 1.6 or 1.0)
    if grey is not None:
        shade = np.where(np.asarray(grey), 0.85, np.nan)
        ax.imshow(shade, cmap="gray", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(matrix):
        if np.isfinite(value):
            ax.text(j, i, fmt.format(value), ha="center", va="center", fontsize=9)
    ax.set_xticks(np.arange(-0.5, matrix.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, matrix.shape[0]), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if highlight is not None:
        r, c, h, w = highlight
        ax.add_patch(
            Rectangle(
                (c - 0.5, r - 0.5), w, h, fill=False, edgecolor="crimson", linewidth=2.5
            )
        )
    if title:
        ax.set_title(title)
    return ax


def show_stamp(image, kernel, i, j, stride=1, padding=0, fmt=None):
    """Draw one stamp of the kernel: window, kernel, products, output cell.

    Four panels from left to right: the (padded) input with the window of
    output cell ``(i, j)`` framed; the kernel; the window times the kernel,
    element by element; the output map filled in up to cell ``(i, j)`` (in
    reading order), that cell framed. The title gives the sum of the
    products, which is the value of the cell.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Small (up to about 8x8) so the numbers stay legible.
    kernel : ndarray, shape (kH, kW)
    i, j : int
        Row and column of the output cell, ``0 <= i < H_out``,
        ``0 <= j < W_out``.
    stride, padding : int or (int, int)
    fmt : str, optional
        Format of the numbers, as in :func:`show_matrix`.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``(i, j)`` is not a cell of the output map.
    """
    import matplotlib.pyplot as plt

    from .._checks import check_int

    image = check_array("image", image, 2, "(H, W)")
    kernel = check_array("kernel", kernel, 2, "(kH, kW)")
    sh, sw = check_pair("stride", stride, 1)
    ph, pw = check_pair("padding", padding, 0)
    out = correlate2d(image, kernel, stride=(sh, sw), padding=(ph, pw))
    oh, ow = out.shape
    i = check_int("i", i, 0)
    j = check_int("j", j, 0)
    if i >= oh or j >= ow:
        raise ValueError(
            f"`(i, j)` must be a cell of the {oh}x{ow} output map, got ({i}, {j})"
        )
    padded = np.pad(image, ((ph, ph), (pw, pw)))
    is_pad = np.ones(padded.shape, dtype=bool)
    is_pad[ph : ph + image.shape[0], pw : pw + image.shape[1]] = False
    kh, kw = kernel.shape
    window = padded[i * sh : i * sh + kh, j * sw : j * sw + kw]
    products = window * kernel + 0.0  # + 0.0: no "-0" where a zero meets a minus
    done = np.arange(out.size).reshape(out.shape) <= i * ow + j
    widths = [padded.shape[1], kw, kw, max(ow, 2)]
    height = max(padded.shape[0], oh)
    fig, axes = plt.subplots(
        1,
        4,
        figsize=_capped(0.42 * sum(widths) + 2.4, 0.42 * height + 1.1),
        gridspec_kw={"width_ratios": widths},
    )
    show_matrix(
        padded,
        ax=axes[0],
        grey=is_pad,
        fmt=fmt,
        highlight=(i * sh, j * sw, kh, kw),
        title="input",
    )
    show_matrix(kernel, ax=axes[1], cmap="Greens", fmt=fmt, title="kernel")
    show_matrix(products, ax=axes[2], cmap="Purples", fmt=fmt, title="window × kernel")
    show_matrix(
        np.where(done, out, np.nan),
        ax=axes[3],
        cmap="Oranges",
        fmt=fmt,
        highlight=(i, j, 1, 1),
        title=f"output {oh}×{ow}",
    )
    fig.suptitle(f"output[{i}, {j}] = sum of the products = {out[i, j]:g}")
    fig.tight_layout(w_pad=2.0)
    return fig


def animate_correlation(image, kernel, stride=1, padding=0, interval=700):
    """Animate a kernel sliding over an input, one output cell a frame.

    Left: the input, padding in grey, the kernel's window framed in red.
    Right: the output map filling in, the current cell framed; the title
    spells out the stamp's sum of products.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Small (up to about 8x8) so the numbers stay legible.
    kernel : ndarray, shape (kH, kW)
    stride, padding : int or (int, int)
    interval : int
        Milliseconds a frame.

    Returns
    -------
    matplotlib.animation.FuncAnimation
        Show it in a notebook or book page with
        ``IPython.display.HTML(animation_html(anim))``: the frames are
        embedded and, unlike matplotlib's own ``to_jshtml()``, no icon font
        is fetched, so it plays without a network.
    """
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    image = check_array("image", image, 2, "(H, W)")
    kernel = check_array("kernel", kernel, 2, "(kH, kW)")
    sh, sw = check_pair("stride", stride, 1)
    ph, pw = check_pair("padding", padding, 0)
    out = correlate2d(image, kernel, stride=(sh, sw), padding=(ph, pw))
    padded = np.pad(image, ((ph, ph), (pw, pw)))
    is_pad = np.ones(padded.shape, dtype=bool)
    is_pad[ph : ph + image.shape[0], pw : pw + image.shape[1]] = False
    kh, kw = kernel.shape
    oh, ow = out.shape
    width = padded.shape[1] + kw + max(ow, 2)
    fig, (left, middle, right) = plt.subplots(
        1,
        3,
        figsize=_capped(0.5 * width + 2, 0.5 * max(padded.shape[0], oh) + 1.6),
        gridspec_kw={"width_ratios": [padded.shape[1], kw, max(ow, 2)]},
    )

    def draw(frame):
        i, j = divmod(frame, ow)
        done = np.arange(out.size).reshape(out.shape) <= frame
        for ax in (left, middle, right):
            ax.clear()
        show_matrix(
            padded,
            ax=left,
            grey=is_pad,
            highlight=(i * sh, j * sw, kh, kw),
            title=f"input, stride {sh}, padding {ph}",
        )
        show_matrix(kernel, ax=middle, cmap="Greens", title="kernel")
        show_matrix(
            np.where(done, out, np.nan),
            ax=right,
            highlight=(i, j, 1, 1),
            cmap="Oranges",
            title=f"output {oh}×{ow}",
        )
        fig.suptitle(f"output[{i}, {j}] = sum(window × kernel) = {out[i, j]:g}")
        return []

    anim = FuncAnimation(fig, draw, frames=oh * ow, interval=interval, repeat=True)
    plt.close(fig)  # the animation keeps the figure; do not show it twice
    return anim


def animation_html(anim, default_mode="loop"):
    """An animation as HTML that plays offline and fetches nothing.

    ``anim.to_jshtml()`` embeds every frame, but its first line links Font
    Awesome's stylesheet from a CDN for the icons of the play buttons. This
    drops that link, so a page built from it makes no request to another
    host; the book's theme provides the icons itself.

    Parameters
    ----------
    anim : matplotlib.animation.Animation
        Such as :func:`animate_correlation` returns.
    default_mode : {"loop", "once", "reflect"}

    Returns
    -------
    str
        Show it with ``IPython.display.HTML(animation_html(anim))``.
    """
    import re

    from matplotlib.animation import Animation

    if not isinstance(anim, Animation):
        raise TypeError(
            "`anim` must be a matplotlib Animation, such as "
            f"animate_correlation returns, got {type(anim).__name__}"
        )
    html = anim.to_jshtml(default_mode=default_mode)
    return re.sub(r"<link[^>]*?https?://[^>]*>\s*", "", html)
