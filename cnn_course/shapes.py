"""Output sizes of convolution and pooling layers."""

from __future__ import annotations

from ._checks import _describe, check_bool, check_int
from .tables import Table

__all__ = ["output_size", "receptive_field", "same_padding"]


def output_size(
    n: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Length of a convolution or pooling output along one axis.

    Parameters
    ----------
    n : int
        Input length (height or width), ``n >= 1``.
    kernel_size : int
        Kernel length ``k >= 1``.
    stride : int, default 1
        Step ``s >= 1`` between neighbouring windows.
    padding : int, default 0
        Padding ``p >= 0`` added on *each* side.
    dilation : int, default 1
        Spacing ``d >= 1`` between kernel taps; the kernel covers
        ``d * (k - 1) + 1`` inputs.
    ceil_mode : bool, default False
        Round up instead of down, as pooling layers allow, with PyTorch's
        rule that the last window must start inside the input or the left
        padding.

    Returns
    -------
    int
        ``floor((n + 2p - d(k - 1) - 1) / s) + 1``, or the ceiling with
        ``ceil_mode=True``.

    Raises
    ------
    TypeError
        If an argument is not an int (or ``ceil_mode`` not a bool).
    ValueError
        If an argument is out of range, or the (dilated) kernel is larger
        than the padded input.

    Examples
    --------
    A 3x3 kernel on a 7x7 input, no padding, stride 1: 7 - 3 + 1 = 5.

    >>> output_size(7, 3)
    5

    Stride 2: (7 - 3) / 2 + 1 = 3, the notes' formula when it divides.

    >>> output_size(7, 3, stride=2)
    3

    When it does not divide, the last partial window is dropped: (8 - 3) / 2
    is 2.5, floored to 2, plus 1.

    >>> output_size(8, 3, stride=2)
    3
    >>> output_size(8, 3, stride=2, ceil_mode=True)
    4

    AlexNet's first layer: 227 inputs, 11-wide kernel, stride 4.

    >>> output_size(227, 11, stride=4)
    55
    """
    n = check_int("n", n, 1)
    k = check_int("kernel_size", kernel_size, 1)
    s = check_int("stride", stride, 1)
    p = check_int("padding", padding, 0)
    d = check_int("dilation", dilation, 1)
    ceil_mode = check_bool("ceil_mode", ceil_mode)
    span = d * (k - 1) + 1
    if n + 2 * p < span:
        raise ValueError(
            f"`kernel_size` {k} (spanning {span} with dilation {d}) is larger "
            f"than the padded input {n} + 2*{p} = {n + 2 * p}"
        )
    room = n + 2 * p - span
    if not ceil_mode:
        return room // s + 1
    out = -(-room // s) + 1  # ceiling division
    # PyTorch drops a last window that would start in the right padding.
    if (out - 1) * s >= n + p:
        out -= 1
    return out


def same_padding(kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """Padding (before, after) that keeps the size at stride 1.

    The total is ``d * (k - 1)``; when it is odd the extra element goes
    after, as in PyTorch's ``padding="same"``.

    Examples
    --------
    >>> same_padding(3)
    (1, 1)
    >>> same_padding(4)
    (1, 2)
    """
    k = check_int("kernel_size", kernel_size, 1)
    d = check_int("dilation", dilation, 1)
    total = d * (k - 1)
    return total // 2, total - total // 2


#: Layers that :func:`receptive_field` reads from a model; every other leaf
#: module (ReLU, Flatten, ...) keeps the field as it is.
_WINDOW_LAYERS = ("Conv2d", "MaxPool2d", "AvgPool2d")


def _first(value):
    return value[0] if isinstance(value, (tuple, list)) else value


def _layers_of(model):
    """(name, kernel, stride, dilation) of each window layer of a torch model."""
    rows = []
    for name, module in model.named_modules():
        kind = type(module).__name__
        if kind not in _WINDOW_LAYERS:
            if kind.startswith("Adaptive") or kind == "Linear":
                break  # the field is the whole input from here on
            continue
        stride = _first(module.stride) if module.stride is not None else None
        rows.append(
            (
                f"{name} ({kind})" if name.isdigit() else name or kind,
                _first(module.kernel_size),
                stride or _first(module.kernel_size),
                _first(getattr(module, "dilation", 1)),
            )
        )
    return rows


def receptive_field(layers) -> Table:
    """How much of the input each layer's units see, layer by layer.

    A unit of a layer depends on a window of the layer below; that window's
    units depend on windows of the layer below them, and so on down to the
    input. Along one axis, with ``r`` the field and ``j`` the distance in
    input pixels between neighbouring units (the product of the strides so
    far), a layer with kernel ``k``, stride ``s`` and dilation ``d`` gives

    ``r_new = r + d * (k - 1) * j``  and  ``j_new = j * s``,

    starting from ``r = j = 1`` at the input. Padding moves the field but
    does not change its size.

    Parameters
    ----------
    layers : torch.nn.Module or sequence
        A model, whose ``Conv2d``, ``MaxPool2d`` and ``AvgPool2d`` modules
        are read in order (up to the first dense or adaptive layer), or a
        sequence of ``(kernel_size, stride)`` or ``(kernel_size, stride,
        dilation)`` tuples, square kernels only.

    Returns
    -------
    Table
        One row per layer: ``layer``, ``kernel``, ``stride``, ``dilation``,
        ``field`` (``r``, the side of the square of input pixels one unit
        sees) and ``jump`` (``j``).

    Examples
    --------
    Three 3x3 convolutions see 7x7, as one 7x7 convolution does:

    >>> [row["field"] for row in receptive_field([(3, 1)] * 3)]
    [3, 5, 7]

    A 2x2 pooling at stride 2 doubles the step of everything above it:

    >>> [row["field"] for row in receptive_field([(3, 1), (2, 2), (3, 1)])]
    [3, 4, 8]
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None
    if torch is not None and isinstance(layers, torch.nn.Module):
        specs = _layers_of(layers)
    elif isinstance(layers, (list, tuple)):
        specs = []
        for i, layer in enumerate(layers):
            if not isinstance(layer, (list, tuple)) or len(layer) not in (2, 3):
                raise TypeError(
                    f"`layers[{i}]` must be (kernel_size, stride) or "
                    f"(kernel_size, stride, dilation), got {_describe(layer)}"
                )
            k = check_int(f"layers[{i}] kernel_size", layer[0], 1)
            s = check_int(f"layers[{i}] stride", layer[1], 1)
            d = (
                check_int(f"layers[{i}] dilation", layer[2], 1)
                if len(layer) == 3
                else 1
            )
            specs.append((f"layer {i + 1}", k, s, d))
    else:
        raise TypeError(
            "`layers` must be a torch.nn.Module or a list of (kernel_size, "
            f"stride) tuples, got {_describe(layers)}"
        )
    rows = []
    field, jump = 1, 1
    for name, k, s, d in specs:
        field += d * (k - 1) * jump
        jump *= s
        rows.append(
            {"layer": name, "kernel": k, "stride": s, "dilation": d,
             "field": field, "jump": jump}
        )  # fmt: skip
    return Table(
        rows, columns=["layer", "kernel", "stride", "dilation", "field", "jump"]
    )
