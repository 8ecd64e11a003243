"""Chapter 6, AlexNet: parameters per layer and per kind of layer."""

from __future__ import annotations

import numpy as np

from ._common import _axes, _check_rows

__all__ = ["plot_layer_params", "plot_param_split"]


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
    ax = _axes(ax, figsize=(6.5, 0.45 * len(rows) + 1))
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
    ax = _axes(ax, figsize=(6.5, 0.8 * len(splits) + 1.2))
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
