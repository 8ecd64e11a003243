"""Output sizes of convolution and pooling layers."""

from __future__ import annotations

from ._checks import check_bool, check_int

__all__ = ["output_size", "same_padding"]


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
