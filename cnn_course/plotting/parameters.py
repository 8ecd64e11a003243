"""Chapter 3, parameters: one filter over several channels, a whole layer."""

from __future__ import annotations

import numpy as np

from .._checks import check_array
from ..conv import correlate2d
from ._common import _FILTER_COLOURS, _axes, _capped
from .convolution import show_matrix

__all__ = ["show_channel_sum", "draw_conv_layer"]


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

    from .._checks import _describe
    from ..conv import conv2d

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
        figsize=_capped(0.5 * sum(widths) + 3.5, (0.5 * max(h, kh) + 0.8) * c_in + 0.6)
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

    from .._checks import check_int
    from ..shapes import output_size

    c_in = check_int("in_channels", in_channels, 1)
    c_out = check_int("out_channels", out_channels, 1)
    k = check_int("kernel_size", kernel_size, 1)
    n = check_int("size", size, 1)
    max_drawn = check_int("max_drawn", max_drawn, 1)
    m = output_size(n, k, stride, padding)
    ax = _axes(ax, figsize=(6.5, 3.4))
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
    # Above their column, so that the label cannot run into the filters'.
    ax.text(
        mx,
        rows_top + 0.05,
        f"{c_out} maps\neach {m} × {m}",
        ha="left",
        va="bottom",
        fontsize=10,
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
    ax.set_ylim(min(-0.75, in_y - 0.75), max(rows_top + 0.7, in_top + 0.1))
    ax.set_aspect("equal")
    ax.axis("off")
    ax.out_size = m
    return ax
