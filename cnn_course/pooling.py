"""Max and average pooling, as ``torch.nn.functional`` computes them."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import check_array, check_bool, check_pair
from .shapes import output_size

__all__ = ["max_pool2d", "avg_pool2d", "max_pool2d_naive"]


def _check_pool(x, kernel_size, stride, padding, ceil_mode, name):
    x = check_array("x", x, 4, "(N, C, H, W)")
    kernel_hw = check_pair("kernel_size", kernel_size, 1)
    stride_hw = kernel_hw if stride is None else check_pair("stride", stride, 1)
    pad_hw = check_pair("padding", padding, 0)
    ceil_mode = check_bool("ceil_mode", ceil_mode)
    for axis, k, p in zip(("height", "width"), kernel_hw, pad_hw, strict=True):
        if p > k // 2:
            raise ValueError(
                f"`padding` {p} on the {axis} must be at most half the kernel "
                f"{axis} {k} // 2 = {k // 2} in {name} (as PyTorch requires: "
                "a window must never hold padding alone)"
            )
    out_hw = []
    for axis, n, k, s, p in zip(
        ("height", "width"), x.shape[2:], kernel_hw, stride_hw, pad_hw, strict=True
    ):
        if n + 2 * p < k:
            raise ValueError(
                f"`kernel_size` {k} is larger than the padded input {axis} "
                f"{n} + 2*{p} = {n + 2 * p}"
            )
        out_hw.append(output_size(n, k, s, p, ceil_mode=ceil_mode))
    return x, kernel_hw, stride_hw, pad_hw, tuple(out_hw)


def _windows(x, kernel_hw, stride_hw, pad_hw, out_hw, fill):
    """View of shape (N, C, H_out, W_out, kH, kW) over the padded input.

    The right and bottom get as much extra fill as ``ceil_mode`` needs for
    its last, partial window.
    """
    pads = []
    for n, k, s, p, o in zip(
        x.shape[2:], kernel_hw, stride_hw, pad_hw, out_hw, strict=True
    ):
        needed = (o - 1) * s + k  # padded length the windows reach
        pads.append((p, max(needed - n - p, p)))
    xp = np.pad(x, ((0, 0), (0, 0), *pads), constant_values=fill)
    view = sliding_window_view(xp, kernel_hw, axis=(2, 3))
    sh, sw = stride_hw
    return view[:, :, ::sh, ::sw][:, :, : out_hw[0], : out_hw[1]]


def max_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """Largest value of each window, as ``torch.nn.functional.max_pool2d``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size`` (windows side by side).
    padding : int or (int, int), default 0
        Implicit minus infinity on each side, at most half the kernel.
    ceil_mode : bool, default False
        Keep a last, partial window (see :func:`cnn_course.output_size`).

    Returns
    -------
    ndarray, shape (N, C, H_out, W_out)
        ``H_out = output_size(H, kH, s, p, ceil_mode=ceil_mode)``; each
        channel is pooled on its own and there is nothing to learn.

    Examples
    --------
    >>> x = np.array([[[[1, 2, 5, 6],
    ...                 [3, 4, 7, 8],
    ...                 [0, 0, 1, 1],
    ...                 [0, 9, 1, 1]]]])
    >>> max_pool2d(x, 2)[0, 0]
    array([[4., 8.],
           [9., 1.]])
    """
    x, k, s, p, out_hw = _check_pool(
        x, kernel_size, stride, padding, ceil_mode, "max_pool2d"
    )
    return _windows(x, k, s, p, out_hw, -np.inf).max(axis=(-2, -1))


def max_pool2d_naive(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """The same as :func:`max_pool2d`, written as plain loops to be read.

    Examples
    --------
    >>> max_pool2d_naive(np.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    x, (kh, kw), (sh, sw), (ph, pw), (oh, ow) = _check_pool(
        x, kernel_size, stride, padding, ceil_mode, "max_pool2d"
    )
    n_batch, channels, h, w = x.shape
    out = np.empty((n_batch, channels, oh, ow), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(channels):  # channels never mix
            for i in range(oh):
                for j in range(ow):
                    best = -np.inf
                    for u in range(kh):
                        for v in range(kw):
                            row, col = i * sh + u - ph, j * sw + v - pw
                            if 0 <= row < h and 0 <= col < w:  # skip padding
                                best = max(best, x[n, c, row, col])
                    out[n, c, i, j] = best
    return out


def _divisors(n, k, s, p, o, count_include_pad):
    """How many cells PyTorch divides by, for each of ``o`` windows."""
    start = np.arange(o) * s - p
    end = np.minimum(start + k, n + p)  # the window may overhang the padding
    if count_include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def avg_pool2d(
    x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True
):
    """Mean of each window, as ``torch.nn.functional.avg_pool2d``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int), default 0
        Zeros on each side, at most half the kernel.
    ceil_mode : bool, default False
    count_include_pad : bool, default True
        Whether padded zeros count in the divisor (PyTorch's default). A
        window's overhang past the padding (``ceil_mode``) never counts.

    Returns
    -------
    ndarray, shape (N, C, H_out, W_out)

    Examples
    --------
    >>> x = np.array([[[[1, 2, 5, 6],
    ...                 [3, 4, 7, 8]]]])
    >>> avg_pool2d(x, 2)[0, 0]  # (1+2+3+4)/4 and (5+6+7+8)/4
    array([[2.5, 6.5]])
    """
    x, k, s, p, out_hw = _check_pool(
        x, kernel_size, stride, padding, ceil_mode, "avg_pool2d"
    )
    count_include_pad = check_bool("count_include_pad", count_include_pad)
    sums = _windows(x, k, s, p, out_hw, 0.0).sum(axis=(-2, -1))
    rows, cols = (
        _divisors(n, kk, ss, pp, oo, count_include_pad)
        for n, kk, ss, pp, oo in zip(x.shape[2:], k, s, p, out_hw, strict=True)
    )
    return (sums / np.outer(rows, cols)).astype(x.dtype, copy=False)
