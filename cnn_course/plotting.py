"""Figures for the book, drawn from the package's own computations.

Every function takes ``ax=None`` (or makes its own figure), returns what it
drew, and never calls ``plt.show()``. Nothing is configured at import.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_array, check_int, check_pair
from .conv import correlate2d

__all__ = [
    "show_image",
    "show_matrix",
    "animate_correlation",
    "plot_coverage",
    "plot_output_sizes",
    "plot_layer_params",
    "plot_param_split",
    "animation_html",
    "show_stamp",
    "show_kernel",
    "filter_gallery",
]


def _axes(ax, figsize=(4, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
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
        figsize=(0.5 * width + 2, 0.5 * max(padded.shape[0], oh) + 1.6),
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


# ------------------------------------------- stride, padding and AlexNet


def _coverage_1d(n, k, s, p, d):
    """How many kernel taps read each cell of a padded axis of length n + 2p."""
    from .shapes import output_size

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

    from .shapes import output_size

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
    from .shapes import output_size

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


def _millions(ax):
    """Label the x axis in millions of parameters."""
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda x, _: f"{x / 1e6:g} M" if x else "0")
    )
    ax.set_xlabel("parameters")


_KIND_COLOURS = {"conv": "tab:blue", "linear": "tab:orange"}
_KIND_LABELS = {"conv": "convolution", "linear": "dense (fully connected)"}


def _rows_with_params(rows):
    """The rows of a layer table that hold parameters."""
    rows = _check_rows(rows, ("name", "kind", "params"))
    return [r for r in rows if r["params"]]


def plot_layer_params(rows, ax=None, title=None):
    """One horizontal bar per layer that has parameters, coloured by kind.

    Parameters
    ----------
    rows : list of dict
        Rows with ``name``, ``kind`` and ``params``, such as
        :func:`cnn_course.alexnet.layer_table` returns; layers without
        parameters are left out.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        One bar (``ax.patches``) per layer, top to bottom in network order,
        each labelled with its count.
    """
    from matplotlib.patches import Patch

    rows = _rows_with_params(rows)
    ax = _axes(ax, figsize=(7, 0.45 * len(rows) + 1))
    names = [r["name"] for r in rows]
    counts = [r["params"] for r in rows]
    colours = [_KIND_COLOURS.get(r["kind"], "tab:grey") for r in rows]
    y = np.arange(len(rows))[::-1]
    ax.barh(y, counts, color=colours)
    top = max(counts)
    for yi, c in zip(y, counts, strict=True):
        ax.text(c + top * 0.01, yi, f"{c:,}", va="center", fontsize=9)
    ax.set_yticks(y, names)
    ax.set_xlim(0, top * 1.3)
    _millions(ax)
    handles = [
        Patch(
            color=_KIND_COLOURS.get(kind, "tab:grey"),
            label=_KIND_LABELS.get(kind, kind),
        )
        for kind in dict.fromkeys(r["kind"] for r in rows)
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title)
    return ax


def plot_param_split(splits, ax=None, title=None):
    """Stacked bars: parameters in convolution against dense layers.

    Parameters
    ----------
    splits : dict
        ``{label: {"conv": int, "linear": int}}``, one bar per label, such
        as ``{v: cnn_course.alexnet.split(v) for v in ("paper",
        "torchvision")}``.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        Two bars (conv, then dense) per label in ``ax.patches``, each
        labelled with its share of the label's total.
    """
    if not isinstance(splits, dict) or not splits:
        raise TypeError(
            "`splits` must be a non-empty dict {label: {'conv': int, "
            f"'linear': int}}, got {type(splits).__name__}"
        )
    for label, parts in splits.items():
        if not isinstance(parts, dict) or set(parts) != {"conv", "linear"}:
            raise ValueError(
                f"`splits[{label!r}]` must be a dict with keys 'conv' and "
                f"'linear', got {parts!r}"
            )
    ax = _axes(ax, figsize=(7, 0.8 * len(splits) + 1.2))
    labels = list(splits)
    y = np.arange(len(labels))[::-1]
    for yi, label in zip(y, labels, strict=True):
        parts = splits[label]
        total = parts["conv"] + parts["linear"]
        left = 0
        for kind in ("conv", "linear"):
            width = parts[kind]
            ax.barh(
                yi,
                width,
                left=left,
                height=0.5,
                color=_KIND_COLOURS[kind],
                label=_KIND_LABELS[kind] if yi == y[0] else None,
            )
            share = 100 * width / total
            text = f"{_KIND_LABELS[kind].split()[0]}: {width:,} ({share:.1f} %)"
            if share > 30:  # room inside the bar
                ax.text(
                    left + width / 2,
                    yi,
                    text,
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="white",
                )
            else:  # a thin bar: label it above its start
                ax.text(left, yi + 0.3, text, ha="left", va="bottom", fontsize=9)
            left += width
    ax.set_yticks(y, labels)
    ax.set_ylim(y[-1] - 0.5, y[0] + 0.9)
    _millions(ax)
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.25),
        ncol=2,
        fontsize=9,
        frameon=False,
    )
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title)
    return ax


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
        figsize=(0.42 * sum(widths) + 2.4, 0.42 * height + 1.1),
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

    from ._checks import check_int
    from .filters import apply_filter

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
        show_image(
            results[name], ax=img_ax, vmin=0.0, vmax=1.0, title=name.replace("_", " ")
        )
    fig.tight_layout()
    return fig


# --------------------------------------- chapters 3 and 4: layers, pooling, models
# Appended by the chapter 3 and 4 writer; the names join __all__ below.

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


def show_channel_sum(x, weight, bias=0.0, fmt=None):
    """Draw one filter on a multi-channel input: one map per channel, summed.

    Row ``c`` shows input channel ``x[c]``, the filter's channel
    ``weight[c]`` and their cross-correlation; the panel on the right is
    the sum of those maps plus the bias, which is the filter's one output
    channel (what :func:`cnn_course.conv2d` computes for it).

    Parameters
    ----------
    x : ndarray, shape (C_in, H, W)
        One input, small enough to print its numbers (up to about 6x6).
    weight : ndarray, shape (C_in, kH, kW)
        One filter: as many channels as the input.
    bias : float, default 0.0
    fmt : str, optional
        Format of the numbers, as in :func:`show_matrix`.

    Returns
    -------
    matplotlib.figure.Figure
        Its last axes hold the output map.

    Raises
    ------
    ValueError
        If ``weight`` does not have as many channels as ``x``.
    """
    import numbers

    import matplotlib.pyplot as plt

    from ._checks import _describe
    from .conv import conv2d

    x = check_array("x", x, 3, "(C_in, H, W)")
    weight = check_array("weight", weight, 3, "(C_in, kH, kW)")
    if isinstance(bias, bool) or not isinstance(bias, numbers.Real):
        raise TypeError(f"`bias` must be a number, got {_describe(bias)}")
    if weight.shape[0] != x.shape[0]:
        raise ValueError(
            f"`weight` must have one channel per channel of `x`: `x` has "
            f"{x.shape[0]}, `weight` of shape {weight.shape} has "
            f"{weight.shape[0]}"
        )
    c_in, h, w = x.shape
    _, kh, kw = weight.shape
    partial = [correlate2d(x[c], weight[c]) for c in range(c_in)]
    out = conv2d(x[None], weight[None], np.array([float(bias)]))[0, 0]
    oh, ow = out.shape
    widths = [w, kw, ow, ow]
    fig = plt.figure(
        figsize=(0.5 * sum(widths) + 3.5, (0.5 * max(h, kh) + 0.8) * c_in + 0.6)
    )
    grid = fig.add_gridspec(c_in, 4, width_ratios=widths, wspace=0.35)
    for c in range(c_in):
        show_matrix(
            x[c], ax=fig.add_subplot(grid[c, 0]), fmt=fmt, title=f"input channel {c}"
        )
        show_matrix(
            weight[c],
            ax=fig.add_subplot(grid[c, 1]),
            cmap="Greens",
            fmt=fmt,
            title=f"filter channel {c}",
        )
        show_matrix(
            partial[c],
            ax=fig.add_subplot(grid[c, 2]),
            cmap="Purples",
            fmt=fmt,
            title=f"channel {c} map",
        )
    out_ax = fig.add_subplot(grid[:, 3])
    show_matrix(
        out,
        ax=out_ax,
        cmap="Oranges",
        fmt=fmt,
        title=f"sum of the {c_in} maps\n+ bias {float(bias):g}",
    )
    out_ax.set_anchor("C")
    return fig


def _sheets(ax, x, y, width, height, count, colours, step=(0.18, 0.14), max_drawn=8):
    """A stack of ``count`` sheets, front one lowest-left; returns its top."""
    from matplotlib.patches import Rectangle

    drawn = min(count, max_drawn)
    for i in reversed(range(drawn)):
        ax.add_patch(
            Rectangle(
                (x + i * step[0], y + i * step[1]),
                width,
                height,
                facecolor=colours[i % len(colours)],
                edgecolor="black",
                linewidth=0.8,
                alpha=0.9,
                zorder=10 - i / max_drawn,
            )
        )
    return y + (drawn - 1) * step[1] + height, x + (drawn - 1) * step[0] + width


def draw_conv_layer(
    in_channels,
    out_channels,
    kernel_size,
    size,
    stride=1,
    padding=0,
    ax=None,
    max_drawn=6,
):
    """A schematic of one convolutional layer: input, filters, maps, output.

    From left to right: the input as ``C_in`` stacked sheets; the ``C_out``
    filters, each a stack of ``C_in`` small sheets in its own colour; the
    one-channel map each filter makes, in the same colour; and those maps
    stacked into the output, ``C_out`` sheets deep. Sizes are to scale; the
    output size comes from :func:`cnn_course.output_size`.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, size : int
        Kernel side ``k`` and input side ``H = W``.
    stride, padding : int, default 1 and 0
    ax : matplotlib.axes.Axes, optional
    max_drawn : int, default 6
        At most this many filters (and sheets a stack) are drawn; the
        labels always give the true counts.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.out_size`` holds the output side.
    """
    from matplotlib.patches import FancyArrowPatch

    from ._checks import check_int
    from .shapes import output_size

    c_in = check_int("in_channels", in_channels, 1)
    c_out = check_int("out_channels", out_channels, 1)
    k = check_int("kernel_size", kernel_size, 1)
    n = check_int("size", size, 1)
    max_drawn = check_int("max_drawn", max_drawn, 1)
    m = output_size(n, k, stride, padding)
    ax = _axes(ax, figsize=(10, 4.5))
    colours = _FILTER_COLOURS
    shown = min(c_out, max_drawn)
    depth_in = min(c_in, max_drawn)
    step = (0.18, 0.14)
    # One row per drawn filter; each row is tall enough for its filter
    # stack and its map.
    unit = min(2.4 / max(n, m), 0.9 / max(m, 1))
    k_side, m_side = k * unit, m * unit
    row_h = max(k_side + step[1] * (depth_in - 1), m_side) + 0.3
    rows_top = shown * row_h
    centre = rows_top / 2

    def arrow(start, end, colour="black", scale=12):
        ax.add_patch(
            FancyArrowPatch(
                start,
                end,
                arrowstyle="-|>",
                mutation_scale=scale,
                color=colour,
                linewidth=1.2,
            )
        )

    # input
    in_y = centre - n * unit / 2
    in_top, in_right = _sheets(
        ax,
        0,
        in_y,
        n * unit,
        n * unit,
        c_in,
        ["#dddddd"],
        step=step,
        max_drawn=max_drawn,
    )
    ax.text(
        0, in_y - 0.15, f"input\n{c_in} × {n} × {n}", ha="left", va="top", fontsize=10
    )
    # filters and their maps, one row each
    fx = in_right + 1.0
    f_right = fx + k_side + step[0] * (depth_in - 1)
    mx = f_right + 0.9
    for f in range(shown):
        mid = rows_top - (f + 0.5) * row_h
        colour = colours[f % len(colours)]
        _sheets(
            ax,
            fx,
            mid - (k_side + step[1] * (depth_in - 1)) / 2,
            k_side,
            k_side,
            c_in,
            [colour],
            step=step,
            max_drawn=max_drawn,
        )
        _sheets(ax, mx, mid - m_side / 2, m_side, m_side, 1, [colour])
        arrow((f_right + 0.08, mid), (mx - 0.08, mid), colour)
    more = "" if c_out <= max_drawn else f", first {shown} drawn"
    ax.text(
        fx,
        -0.15,
        f"{c_out} filters\neach {c_in} × {k} × {k}{more}",
        ha="left",
        va="top",
        fontsize=10,
    )
    ax.text(
        mx, -0.15, f"{c_out} maps\neach {m} × {m}", ha="left", va="top", fontsize=10
    )
    arrow((in_right + 0.1, centre), (fx - 0.15, centre), scale=15)
    # the maps stacked: the output
    ox = mx + m_side + 1.1
    out_y = centre - m_side / 2
    _, out_right = _sheets(
        ax,
        ox,
        out_y,
        m_side,
        m_side,
        c_out,
        [colours[f % len(colours)] for f in range(c_out)],
        step=step,
        max_drawn=max_drawn,
    )
    arrow((mx + m_side + 0.1, centre), (ox - 0.15, centre), scale=15)
    ax.text(
        (mx + m_side + ox) / 2,
        centre + 0.12,
        "stack",
        ha="center",
        va="bottom",
        fontsize=9,
    )
    ax.text(
        ox,
        out_y - 0.15,
        f"output\n{c_out} × {m} × {m}",
        ha="left",
        va="top",
        fontsize=10,
    )
    ax.set_xlim(-0.2, max(out_right, ox + 1.5) + 0.2)
    ax.set_ylim(min(-0.75, in_y - 0.75), max(rows_top, in_top) + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.out_size = m
    return ax


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


def show_pooling(x, kernel_size=2, stride=None, fmt=None):
    """Max and average pooling of one small map, windows in matching colours.

    Left: the input, each pooling window tinted in its own colour (and
    outlined, since windows overlap when the stride is smaller than the
    kernel), the largest value of each window in bold. Middle and right:
    :func:`cnn_course.max_pool2d` and :func:`cnn_course.avg_pool2d` of it,
    each output cell in the colour of its window.

    Parameters
    ----------
    x : ndarray, shape (H, W)
    kernel_size : int, default 2
    stride : int, optional
        Defaults to ``kernel_size``, as in PyTorch.
    fmt : str, optional
        Format of the numbers; integers print without decimals.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes: input, max-pooled, average-pooled.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Rectangle

    from ._checks import check_int
    from .pooling import avg_pool2d, max_pool2d

    x = check_array("x", x, 2, "(H, W)")
    k = check_int("kernel_size", kernel_size, 1)
    s = k if stride is None else check_int("stride", stride, 1)
    pooled_max = max_pool2d(x[None, None], k, s)[0, 0]
    pooled_avg = avg_pool2d(x[None, None], k, s)[0, 0]
    oh, ow = pooled_max.shape
    palette = [to_rgba(c, 0.35) for c in _FILTER_COLOURS]
    in_rgba = np.ones(x.shape + (4,))
    out_rgba = np.ones((oh, ow, 4))
    bold = np.zeros(x.shape, dtype=bool)
    for i in range(oh):
        for j in range(ow):
            colour = palette[(i * ow + j) % len(palette)]
            out_rgba[i, j] = colour
            window = in_rgba[i * s : i * s + k, j * s : j * s + k]
            blank = (window == 1).all(axis=-1)  # first window to reach a cell
            window[blank] = colour
            patch = x[i * s : i * s + k, j * s : j * s + k]
            u, v = np.unravel_index(np.argmax(patch), patch.shape)
            bold[i * s + u, j * s + v] = True
    h, w = x.shape
    fig, axes = plt.subplots(
        1,
        3,
        figsize=(0.55 * (w + 2 * ow) + 2.5, 0.55 * h + 1.2),
        gridspec_kw={"width_ratios": [w, ow, ow]},
    )
    _colour_matrix(axes[0], x, in_rgba, fmt=fmt, bold=bold, title=f"input {h}×{w}")
    if s < k:  # overlapping windows: outline each one as well
        for i in range(oh):
            for j in range(ow):
                axes[0].add_patch(
                    Rectangle(
                        (j * s - 0.45, i * s - 0.45),
                        k - 0.1,
                        k - 0.1,
                        fill=False,
                        edgecolor=_FILTER_COLOURS[(i * ow + j) % 8],
                        linewidth=1.5,
                    )
                )
    _colour_matrix(
        axes[1], pooled_max, out_rgba, fmt=fmt, title=f"max pool\n{k}×{k}, stride {s}"
    )
    _colour_matrix(
        axes[2],
        pooled_avg,
        out_rgba,
        fmt=fmt,
        title=f"average pool\n{k}×{k}, stride {s}",
    )
    for ax in axes[1:]:
        ax.set_anchor("C")
    fig.tight_layout()
    return fig


_ROLE_COLOURS = {
    "Conv2d": "#9ecae1",
    "MaxPool2d": "#c6dbef",
    "AvgPool2d": "#c6dbef",
    "ReLU": "#eeeeee",
    "Flatten": "#eeeeee",
    "Linear": "#fdae6b",
}
_SHORT_NAMES = {
    "Conv2d": "conv",
    "MaxPool2d": "max pool",
    "AvgPool2d": "avg pool",
    "Linear": "dense",
    "Flatten": "flatten",
}


def draw_architecture(rows, ax=None, title=None):
    """Boxes for the layers of a network, left to right, with their shapes.

    Each box gives a layer's kind (``conv``, ``max pool``, ``dense``, ... for
    PyTorch's class names), output shape and parameter count;
    convolutions and pooling are blue, dense layers orange, layers without
    parameters pale. Brackets below group the layers up to the last
    convolution or pooling layer as "feature extraction" and the dense
    layers as "decision".

    Parameters
    ----------
    rows : list of dict
        Rows with ``name``, ``kind``, ``output_shape`` and ``params``, as
        in ``cnn_course.summary(model, input_shape).rows``.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        One box (``FancyBboxPatch`` in ``ax.patches``) per row.
    """
    from matplotlib.patches import FancyBboxPatch

    rows = _check_rows(rows, ("name", "kind", "output_shape", "params"))
    if not rows:
        raise ValueError("`rows` must hold at least one layer, got none")
    ax = _axes(ax, figsize=(1.0 * len(rows) + 0.4, 2.3))
    width, step = 1.0, 1.25
    for i, row in enumerate(rows):
        x0 = i * step
        ax.add_patch(
            FancyBboxPatch(
                (x0, 0),
                width,
                1.4,
                boxstyle="round,pad=0.02,rounding_size=0.08",
                facecolor=_ROLE_COLOURS.get(row["kind"], "#eeeeee"),
                edgecolor="#555555",
            )
        )
        shape = "×".join(str(d) for d in row["output_shape"])
        params = f"{row['params']:,}\nparams" if row["params"] else "no\nparams"
        ax.text(
            x0 + width / 2,
            1.15,
            _SHORT_NAMES.get(row["kind"], row["kind"]),
            ha="center",
            va="center",
            fontsize=9.5,
            fontweight="bold",
        )
        ax.text(x0 + width / 2, 0.75, shape, ha="center", va="center", fontsize=10)
        ax.text(
            x0 + width / 2,
            0.3,
            params,
            ha="center",
            va="center",
            fontsize=9,
            color="#333333",
        )
        if i:
            ax.annotate(
                "",
                (x0, 0.7),
                (x0 - step + width, 0.7),
                arrowprops={"arrowstyle": "-|>", "color": "#555555"},
            )
    features = [
        i
        for i, r in enumerate(rows)
        if r["kind"].startswith(
            ("Conv", "MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool")
        )
    ]
    dense = [i for i, r in enumerate(rows) if r["kind"] == "Linear"]
    for members, label, colour in (
        (features, "feature extraction", "tab:blue"),
        (dense, "decision", "tab:orange"),
    ):
        if not members:
            continue
        lo, hi = min(members) * step, max(members) * step + width
        ax.plot(
            [lo, lo, hi, hi], [-0.15, -0.3, -0.3, -0.15], color=colour, linewidth=1.5
        )
        ax.text(
            (lo + hi) / 2, -0.4, label, ha="center", va="top", color=colour, fontsize=11
        )
    ax.set_xlim(-0.1, (len(rows) - 1) * step + width + 0.1)
    ax.set_ylim(-0.8, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def show_feature_maps(maps, titles=None, ncols=8, size=1.3, cmap="magma"):
    """A grid of small images, one per channel of a feature map.

    Each map gets its own colour scale (dark: low, bright: high), so the
    pattern of every channel shows even when their ranges differ.

    Parameters
    ----------
    maps : ndarray, shape (C, H, W)
    titles : list of str, optional
        One per channel; ``"channel c"`` by default.
    ncols : int, default 8
    size : float, default 1.3
        Side of one image in inches.
    cmap : str, default "magma"

    Returns
    -------
    matplotlib.figure.Figure
        One axes per channel, each holding one image.
    """
    import matplotlib.pyplot as plt

    from ._checks import check_int

    maps = check_array("maps", maps, 3, "(C, H, W)")
    ncols = check_int("ncols", ncols, 1)
    c = maps.shape[0]
    if titles is None:
        titles = [f"channel {i}" for i in range(c)]
    if len(titles) != c:
        raise ValueError(
            f"`titles` must have one entry per channel ({c}), got {len(titles)}"
        )
    ncols = min(ncols, c)
    nrows = -(-c // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, squeeze=False, figsize=(size * ncols, (size + 0.3) * nrows)
    )
    for ax in axes.ravel()[c:]:
        fig.delaxes(ax)
    for i in range(c):
        show_image(maps[i], ax=axes.flat[i], cmap=cmap, title=titles[i])
        axes.flat[i].title.set_fontsize(9)
    fig.tight_layout()
    return fig


def plot_model_accuracies(rows, ax=None, title=None):
    """Each model's accuracy on the test set and on the test set moved.

    One line per model, parameter count in its label: a filled dot for the
    plain test set, a hollow one for the same images moved by one pixel,
    joined so the drop shows; error bars give the sample standard deviation
    over seeds when there are several.

    Parameters
    ----------
    rows : list of dict
        Rows with ``model``, ``params``, ``test_acc`` and ``shifted_acc``
        (lists of shares between 0 and 1, one per seed), as
        :func:`cnn_course.digits.compare` returns.
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.means`` holds ``(test, shifted)`` mean accuracies in per cent,
        one pair per model, top to bottom.
    """
    from matplotlib.lines import Line2D

    rows = _check_rows(rows, ("model", "params", "test_acc", "shifted_acc"))
    ax = _axes(ax, figsize=(7, 0.6 * len(rows) + 1.4))
    y = np.arange(len(rows))[::-1]
    means = []
    for yi, row in zip(y, rows, strict=True):
        colour = "tab:blue" if "CNN" in row["model"] else "tab:orange"
        pair = []
        for key, face in (("test_acc", colour), ("shifted_acc", "white")):
            values = 100 * np.asarray(row[key], dtype=float)
            err = values.std(ddof=1) if len(values) > 1 else 0.0
            ax.errorbar(
                values.mean(),
                yi,
                xerr=err,
                fmt="o",
                markersize=8,
                color=colour,
                markerfacecolor=face,
                capsize=3,
                zorder=3,
            )
            pair.append(float(values.mean()))
        ax.plot(pair, [yi, yi], color=colour, linewidth=1, alpha=0.6, zorder=2)
        means.append(tuple(pair))
    ax.set_yticks(y, [f"{r['model']}\n{r['params']:,} parameters" for r in rows])
    ax.set_ylim(y[-1] - 0.6, y[0] + 0.6)
    ax.set_xlabel("accuracy (%)")
    ax.grid(axis="x", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(
        handles=[
            Line2D([], [], marker="o", linestyle="", color="grey", label="test set"),
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                color="grey",
                markerfacecolor="white",
                label="test set moved by one pixel",
            ),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.18),
        ncol=2,
        fontsize=9,
        frameon=False,
    )
    ax.means = means
    if title:
        ax.set_title(title)
    return ax


__all__ += [
    "draw_architecture",
    "draw_conv_layer",
    "plot_model_accuracies",
    "show_channel_sum",
    "show_feature_maps",
    "show_pooling",
]


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
