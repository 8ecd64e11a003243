"""Chapter 4, the structure of a CNN: pooling, architectures, the experiment."""

from __future__ import annotations

import numpy as np

from .._checks import check_array
from ._common import _FILTER_COLOURS, _axes, _capped, _check_rows, _colour_matrix
from .filters import show_image

__all__ = [
    "show_pooling",
    "draw_architecture",
    "show_feature_maps",
    "plot_model_accuracies",
]


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

    from .._checks import check_int
    from ..pooling import avg_pool2d, max_pool2d

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
        figsize=_capped(0.55 * (w + 2 * ow) + 2.5, 0.55 * h + 1.2),
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
    """Boxes for the layers of a network, top to bottom, with their shapes.

    Each box gives a layer's kind (``conv``, ``max pool``, ``dense``, ... for
    PyTorch's class names), output shape and parameter count;
    convolutions and pooling are blue, dense layers orange, layers without
    parameters pale. Brackets on the right group the layers up to the last
    convolution or pooling layer as "feature extraction" and the dense
    layers as "decision". The layers run down the page, so that the figure
    stays narrow enough for a phone however deep the network is.

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
    width, height, step = 3.9, 0.62, 0.85
    inch = 0.85  # inches per unit of the drawing
    ax = _axes(ax, figsize=(inch * (width + 1.65), inch * step * len(rows) + 0.1))

    def top(i):
        return -i * step

    for i, row in enumerate(rows):
        y0 = top(i) - height
        ax.add_patch(
            FancyBboxPatch(
                (0, y0),
                width,
                height,
                boxstyle="round,pad=0.02,rounding_size=0.08",
                facecolor=_ROLE_COLOURS.get(row["kind"], "#eeeeee"),
                edgecolor="#555555",
            )
        )
        middle = y0 + height / 2
        shape = "×".join(str(d) for d in row["output_shape"])
        params = f"{row['params']:,} params" if row["params"] else "no params"
        name = _SHORT_NAMES.get(row["kind"], row["kind"])
        ax.text(0.1, middle, name, va="center", fontsize=10, fontweight="bold")
        ax.text(1.85, middle, shape, ha="center", va="center", fontsize=10)
        ax.text(
            width - 0.1, middle, params, ha="right", va="center", fontsize=9,
            color="#333333",
        )  # fmt: skip
        if i:
            ax.annotate(
                "",
                (width / 2, top(i)),
                (width / 2, top(i - 1) - height),
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
        (features, "feature\nextraction", "tab:blue"),
        (dense, "decision", "tab:orange"),
    ):
        if not members:
            continue
        hi, lo = top(min(members)), top(max(members)) - height
        x = width + 0.15
        ax.plot(
            [x, x + 0.12, x + 0.12, x], [hi, hi, lo, lo], color=colour, linewidth=1.5
        )
        ax.text(x + 0.25, (hi + lo) / 2, label, va="center", color=colour, fontsize=10)
    ax.set_xlim(-0.05, width + 1.6)
    ax.set_ylim(top(len(rows) - 1) - height - 0.05, 0.05)
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

    from .._checks import check_int

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
        nrows, ncols, squeeze=False, figsize=_capped(size * ncols, (size + 0.3) * nrows)
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
        :func:`cnn_course.experiments.digits.compare` returns.
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
    # The model names stick out to the left; the saved picture is wider.
    ax = _axes(ax, figsize=(5.4, 0.6 * len(rows) + 1.4))
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
