"""Chapter 2, filters: images, kernels with a common fraction taken out, the gallery."""

from __future__ import annotations

import numpy as np

from .._checks import check_array
from ._common import _axes, _capped
from .convolution import show_matrix

__all__ = ["show_image", "show_kernel", "filter_gallery"]


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


def _kernel_scale(kernel, max_denominator=1000):
    """The d > 1 for which ``kernel * d`` is all integers, or 1 if none is."""
    from fractions import Fraction
    from math import lcm

    d = 1
    for value in np.asarray(kernel, dtype=float).ravel():
        d = lcm(
            d, Fraction(float(value)).limit_denominator(max_denominator).denominator
        )
    scaled = np.asarray(kernel, dtype=float) * d
    if d > max_denominator or not np.allclose(
        scaled, np.round(scaled), rtol=0, atol=1e-9
    ):
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


def filter_gallery(image, kernels, border="edge", ncols=2, size=3.0, clip=True):
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

    from .._checks import check_int
    from ..filters import apply_filter

    if not isinstance(kernels, dict) or not kernels:
        raise TypeError(
            "`kernels` must be a non-empty dict of name to 2-D kernel, got "
            f"{type(kernels).__name__}"
            + (" (empty)" if isinstance(kernels, dict) else "")
        )
    ncols = check_int("ncols", ncols, 1)
    results = {
        name: apply_filter(image, k, border=border, clip=clip)
        for name, k in kernels.items()
    }
    h, w = next(iter(results.values())).shape[:2]
    nrows = -(-len(kernels) // ncols)
    ratio = [1.0, 1.9 * w / h] * ncols
    fig, axes = plt.subplots(
        nrows,
        2 * ncols,
        squeeze=False,
        figsize=_capped(size * sum(ratio) / 1.9, size * nrows),
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
        show_image(
            results[name], ax=img_ax, vmin=0.0, vmax=1.0, title=name.replace("_", " ")
        )
    fig.tight_layout()
    return fig
