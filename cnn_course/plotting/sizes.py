"""Chapter 5, stride and padding: how often each cell is read, output sizes."""

from __future__ import annotations

import numpy as np

from .._checks import check_int, check_pair
from ._common import _axes
from .convolution import show_matrix

__all__ = ["plot_coverage", "plot_output_sizes"]


def _coverage_1d(n, k, s, p, d):
    """How many kernel taps read each cell of a padded axis of length n + 2p."""
    from ..shapes import output_size

    counts = np.zeros(n + 2 * p, dtype=int)
    for i in range(output_size(n, k, s, p, d)):  # each window position
        start = i * s
        counts[start : start + d * (k - 1) + 1 : d] += 1  # each of its k taps
    return counts


def plot_coverage(n, kernel_size, stride=1, padding=0, dilation=1, ax=None, title=None):
    """Show how many windows read each input cell; cells never read stand out.

    Each cell of the (padded) input gets the number of times a kernel tap
    lands on it as the kernel slides. Padding is grey. Input cells that no
    window ever reads -- the rows and columns dropped when ``stride`` does
    not divide the input evenly -- are hatched red.

    Parameters
    ----------
    n : int or (int, int)
        Input height and width.
    kernel_size, stride, padding, dilation : int or (int, int)
        As in :func:`cnn_course.conv2d`.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.coverage`` holds the counts, shape (H + 2p, W + 2p).

    Examples
    --------
    >>> ax = plot_coverage(6, 3, stride=2)  # (6 - 3) / 2 is not whole
    >>> ax.coverage[-1].tolist()  # the last row is never read
    [0, 0, 0, 0, 0, 0]
    """
    from matplotlib.patches import Rectangle

    from ..shapes import output_size

    h, w = check_pair("n", n, 1)
    kh, kw = check_pair("kernel_size", kernel_size, 1)
    sh, sw = check_pair("stride", stride, 1)
    ph, pw = check_pair("padding", padding, 0)
    dh, dw = check_pair("dilation", dilation, 1)
    output_size(h, kh, sh, ph, dh)  # raises a clear error when nothing fits
    output_size(w, kw, sw, pw, dw)
    counts = np.outer(_coverage_1d(h, kh, sh, ph, dh), _coverage_1d(w, kw, sw, pw, dw))
    is_pad = np.ones(counts.shape, dtype=bool)
    is_pad[ph : ph + h, pw : pw + w] = False
    ax = show_matrix(counts, ax=ax, grey=is_pad, cmap="Blues", title=title)
    for (i, j), c in np.ndenumerate(counts):
        if c == 0 and not is_pad[i, j]:
            ax.add_patch(
                Rectangle(
                    (j - 0.5, i - 0.5),
                    1,
                    1,
                    fill=False,
                    hatch="///",
                    edgecolor="crimson",
                    linewidth=0,
                )
            )
    ax.coverage = counts
    return ax


def plot_output_sizes(kernel_size, stride, n_max, padding=0, ax=None):
    """Output size against input size: the plain fraction, floor and ceil.

    Draws, for inputs ``n`` from the smallest that fits up to ``n_max``, the
    fraction ``(n + 2p - k) / s + 1`` as dots, the floor that convolution
    and default pooling use, and the ceiling that ``ceil_mode=True`` uses
    (with PyTorch's rule that a window may not start in the right padding).

    Parameters
    ----------
    kernel_size, stride : int
    n_max : int
        Largest input size drawn.
    padding : int, default 0
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Its three lines, in order: fraction, floor, ceil.
    """
    from ..shapes import output_size

    k = check_int("kernel_size", kernel_size, 1)
    s = check_int("stride", stride, 1)
    p = check_int("padding", padding, 0)
    first = max(k - 2 * p, 1)
    n_max = check_int("n_max", n_max, first)
    ax = _axes(ax, figsize=(6, 3.5))
    n = np.arange(first, n_max + 1)
    fraction = (n + 2 * p - k) / s + 1
    floor = [output_size(int(i), k, s, p) for i in n]
    ceil = [output_size(int(i), k, s, p, ceil_mode=True) for i in n]
    ax.plot(n, fraction, "o", color="grey", markersize=4, label=r"$(n + 2p - k)/s + 1$")
    ax.step(
        n,
        floor,
        where="post",
        color="tab:blue",
        linewidth=2,
        label="floor (convolution, pooling)",
    )
    ax.step(
        n,
        ceil,
        where="post",
        color="tab:orange",
        linewidth=1.5,
        linestyle="--",
        label="ceil_mode=True (pooling)",
    )
    ax.set_xlabel("input size $n$")
    ax.set_ylabel("output size")
    ax.set_title(f"kernel {k}, stride {s}, padding {p}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    return ax
