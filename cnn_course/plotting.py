"""Figures for the book, drawn from the package's own computations.

Every function takes ``ax=None`` (or makes its own figure), returns what it
drew, and never calls ``plt.show()``. Nothing is configured at import.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_array, check_pair
from .conv import correlate2d

__all__ = [
    "show_image",
    "show_matrix",
    "animate_correlation",
    "show_stamp",
    "show_kernel",
    "filter_gallery",
]


def _axes(ax, figsize=(4, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def show_image(image, ax=None, title=None, cmap="gray", vmin=None, vmax=None):
    """Show a grey (H, W) or RGB (H, W, 3) image without ticks.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    image = np.asarray(image)
    if image.ndim == 2:
        ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax)
    else:
        ax.imshow(image)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def show_matrix(matrix, ax=None, title=None, fmt=None, cmap="Blues",
                highlight=None, grey=None):
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
            ax.text(j, i, fmt.format(value), ha="center", va="center",
                    fontsize=9)
    ax.set_xticks(np.arange(-0.5, matrix.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, matrix.shape[0]), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if highlight is not None:
        r, c, h, w = highlight
        ax.add_patch(Rectangle((c - 0.5, r - 0.5), w, h, fill=False,
                               edgecolor="crimson", linewidth=2.5))
    if title:
        ax.set_title(title)
    return ax


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
        ``IPython.display.HTML(anim.to_jshtml())``; the frames are embedded,
        so it plays without a network.
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
    is_pad[ph: ph + image.shape[0], pw: pw + image.shape[1]] = False
    kh, kw = kernel.shape
    oh, ow = out.shape
    width = padded.shape[1] + kw + max(ow, 2)
    fig, (left, middle, right) = plt.subplots(
        1, 3, figsize=(0.5 * width + 2, 0.5 * max(padded.shape[0], oh) + 1.6),
        gridspec_kw={"width_ratios": [padded.shape[1], kw, max(ow, 2)]},
    )

    def draw(frame):
        i, j = divmod(frame, ow)
        done = np.arange(out.size).reshape(out.shape) <= frame
        for ax in (left, middle, right):
            ax.clear()
        show_matrix(padded, ax=left, grey=is_pad,
                    highlight=(i * sh, j * sw, kh, kw),
                    title=f"input, stride {sh}, padding {ph}")
        show_matrix(kernel, ax=middle, cmap="Greens", title="kernel")
        show_matrix(np.where(done, out, np.nan), ax=right,
                    highlight=(i, j, 1, 1), cmap="Oranges",
                    title=f"output {oh}×{ow}")
        fig.suptitle(f"output[{i}, {j}] = sum(window × kernel) = {out[i, j]:g}")
        return []

    anim = FuncAnimation(fig, draw, frames=oh * ow, interval=interval,
                         repeat=True)
    plt.close(fig)  # the animation keeps the figure; do not show it twice
    return anim


# ------------------------------------------------ chapters 1 and 2: stamps, filters


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

    from ._checks import check_int

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
    is_pad[ph: ph + image.shape[0], pw: pw + image.shape[1]] = False
    kh, kw = kernel.shape
    window = padded[i * sh: i * sh + kh, j * sw: j * sw + kw]
    products = window * kernel
    done = np.arange(out.size).reshape(out.shape) <= i * ow + j
    widths = [padded.shape[1], kw, kw, max(ow, 2)]
    fig, axes = plt.subplots(
        1, 4, figsize=(0.5 * sum(widths) + 3, 0.5 * max(padded.shape[0], oh) + 1.6),
        gridspec_kw={"width_ratios": widths},
    )
    show_matrix(padded, ax=axes[0], grey=is_pad, fmt=fmt,
                highlight=(i * sh, j * sw, kh, kw), title="input")
    show_matrix(kernel, ax=axes[1], cmap="Greens", fmt=fmt, title="kernel")
    show_matrix(products, ax=axes[2], cmap="Purples", fmt=fmt,
                title="window × kernel")
    show_matrix(np.where(done, out, np.nan), ax=axes[3], cmap="Oranges",
                fmt=fmt, highlight=(i, j, 1, 1), title=f"output {oh}×{ow}")
    fig.suptitle(f"output[{i}, {j}] = sum of the products = {out[i, j]:g}")
    return fig


def _kernel_scale(kernel, max_denominator=1000):
    """The d > 1 for which ``kernel * d`` is all integers, or 1 if none is."""
    from fractions import Fraction
    from math import lcm

    d = 1
    for value in np.asarray(kernel, dtype=float).ravel():
        d = lcm(d, Fraction(float(value)).limit_denominator(max_denominator)
                .denominator)
    scaled = np.asarray(kernel, dtype=float) * d
    if d > max_denominator or not np.allclose(scaled, np.round(scaled),
                                              rtol=0, atol=1e-9):
        return 1
    return d


def show_kernel(kernel, ax=None, title=None, cmap="Greens"):
    """Draw a kernel as a matrix, a common fraction taken out in front.

    A box blur, nine cells of 1/9, is drawn as ones with "1/9 ×" in the
    title, so its cells stay readable.

    Parameters
    ----------
    kernel : ndarray, shape (kH, kW)
    title : str, optional
        Written above the matrix (before the factor, if any).

    Returns
    -------
    matplotlib.axes.Axes
    """
    kernel = check_array("kernel", kernel, 2, "(kH, kW)")
    d = _kernel_scale(kernel)
    matrix = np.round(kernel * d) if d > 1 else kernel
    label = title or ""
    if d > 1:
        label = f"{label}\n1/{d} ×" if label else f"1/{d} ×"
    return show_matrix(matrix, ax=ax, title=label or None, cmap=cmap)


def filter_gallery(image, kernels, border="edge", ncols=2, size=3.0,
                   clip=True):
    """One image under several kernels, each kernel drawn beside its result.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, 3)
        Grey or RGB, float in [0, 1] or uint8, as
        :func:`cnn_course.filters.apply_filter` takes it.
    kernels : dict of str to ndarray, shape (kH, kW)
        Names (used as titles, underscores turned into spaces) and kernels.
    border : {"edge", "zero", "reflect"}, default "edge"
        Passed to :func:`~cnn_course.filters.apply_filter`.
    ncols : int, default 2
        Kernel-and-result pairs per row.
    size : float, default 3.0
        Height of one row in inches.
    clip : bool, default True
        Passed to :func:`~cnn_course.filters.apply_filter`; the results are
        drawn in grey from 0 (black) to 1 (white) either way.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from ._checks import check_int
    from .filters import apply_filter

    if not isinstance(kernels, dict) or not kernels:
        raise TypeError(
            "`kernels` must be a non-empty dict of name to 2-D kernel, got "
            f"{type(kernels).__name__}"
            + (" (empty)" if isinstance(kernels, dict) else "")
        )
    ncols = check_int("ncols", ncols, 1)
    results = {name: apply_filter(image, k, border=border, clip=clip)
               for name, k in kernels.items()}
    h, w = next(iter(results.values())).shape[:2]
    nrows = -(-len(kernels) // ncols)
    ratio = [1.0, 1.9 * w / h] * ncols
    fig, axes = plt.subplots(
        nrows, 2 * ncols, squeeze=False,
        figsize=(size * sum(ratio) / 1.9, size * nrows),
        gridspec_kw={"width_ratios": ratio},
    )
    for ax in axes.ravel():
        ax.axis("off")
    for n, (name, kernel) in enumerate(kernels.items()):
        row, col = divmod(n, ncols)
        mat_ax, img_ax = axes[row, 2 * col], axes[row, 2 * col + 1]
        mat_ax.axis("on")
        show_kernel(kernel, ax=mat_ax)
        mat_ax.set_anchor("E")
        img_ax.axis("on")
        show_image(results[name], ax=img_ax, vmin=0.0, vmax=1.0,
                   title=name.replace("_", " "))
    fig.tight_layout()
    return fig
