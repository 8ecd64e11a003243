"""Figures for the book, drawn from the package's own computations.

Every function takes ``ax=None`` (or makes its own figure), returns what it
drew, and never calls ``plt.show()``. Nothing is configured at import.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_array, check_pair
from .conv import correlate2d

__all__ = ["show_image", "show_matrix", "animate_correlation"]


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
