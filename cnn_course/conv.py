"""Convolution as deep learning computes it: cross-correlation, no flip.

Each function has a readable twin: ``correlate2d_naive`` and
``conv2d_naive`` are plain loops that say what is computed; ``correlate2d``
and ``conv2d`` compute the same numbers fast. A test holds them equal, and
both equal to ``torch.nn.functional.conv2d``.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_array, check_int, check_pair, result_dtype
from .shapes import same_padding

__all__ = ["correlate2d", "correlate2d_naive", "conv2d", "conv2d_naive"]


# ---------------------------------------------------------------- checking


def _padding_pairs(padding, kernel_hw, dilation_hw, stride_hw):
    """Per-axis (before, after) padding from an int, a pair or a string."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if stride_hw != (1, 1):
                raise ValueError(
                    f'`padding="same"` needs stride 1, got `stride` {stride_hw}; '
                    "PyTorch refuses it for strided convolutions too"
                )
            return tuple(
                same_padding(k, d) for k, d in zip(kernel_hw, dilation_hw, strict=True)
            )
        raise ValueError(
            f'`padding` must be an int, a pair of ints, "valid" or "same", '
            f"got {padding!r}"
        )
    ph, pw = check_pair("padding", padding, 0)
    return (ph, ph), (pw, pw)


def _output_hw(in_hw, kernel_hw, stride_hw, pads, dilation_hw, what="input"):
    out = []
    for axis, n, k, s, (p0, p1), d in zip(
        ("height", "width"),
        in_hw,
        kernel_hw,
        stride_hw,
        pads,
        dilation_hw,
        strict=True,
    ):
        span = d * (k - 1) + 1
        if n + p0 + p1 < span:
            raise ValueError(
                f"kernel {axis} {k} (spanning {span} with dilation {d}) is "
                f"larger than the padded {what} {axis} {n} + {p0} + {p1} = "
                f"{n + p0 + p1}"
            )
        out.append((n + p0 + p1 - span) // s + 1)
    return tuple(out)


def _check_conv(
    x, weight, bias, stride, padding, dilation, groups, x_name="x", w_name="weight"
):
    x = check_array(x_name, x, 4, "(N, C_in, H, W)")
    weight = check_array(w_name, weight, 4, "(C_out, C_in/groups, kH, kW)")
    g = check_int("groups", groups, 1)
    c_out, c_per_group, kh, kw = weight.shape
    if c_out % g:
        raise ValueError(
            f"`{w_name}` has C_out = {c_out} filters, which is not divisible "
            f"by `groups` = {g}"
        )
    if x.shape[1] % g:
        raise ValueError(
            f"`{x_name}` has C_in = {x.shape[1]} channels, which is not "
            f"divisible by `groups` = {g}"
        )
    if x.shape[1] != c_per_group * g:
        raise ValueError(
            f"channel mismatch: `{x_name}` has C_in = {x.shape[1]} channels, "
            f"but `{w_name}` of shape {weight.shape} expects "
            f"{c_per_group} per group x {g} group(s) = {c_per_group * g}"
        )
    if bias is not None:
        bias = check_array("bias", bias, 1, "(C_out,)")
        if bias.shape[0] != c_out:
            raise ValueError(
                f"`bias` must have one value per filter, C_out = {c_out}, "
                f"got shape {bias.shape}"
            )
    stride_hw = check_pair("stride", stride, 1)
    dilation_hw = check_pair("dilation", dilation, 1)
    pads = _padding_pairs(padding, (kh, kw), dilation_hw, stride_hw)
    out_hw = _output_hw(x.shape[2:], (kh, kw), stride_hw, pads, dilation_hw)
    return x, weight, bias, stride_hw, pads, dilation_hw, g, out_hw


# Bytes of im2col columns built at a time: about what a core's caches hold.
_CHUNK_BYTES = 4 << 20


def _pad(x, pads, value=0.0):
    if pads == ((0, 0), (0, 0)):
        return x
    return np.pad(x, ((0, 0), (0, 0), *pads), constant_values=value)


# ---------------------------------------------------------------- 4-D


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution of a batch, as ``torch.nn.functional.conv2d``.

    Computes cross-correlation (the kernel is not flipped)::

        out[n, o, i, j] = bias[o] + sum over c, u, v of
            weight[o, c, u, v] * x_padded[n, g*C_g + c, i*s + u*d, j*s + v*d]

    where ``g`` is the group of filter ``o`` and ``C_g = C_in / groups``.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W)
        A batch of inputs.
    weight : ndarray, shape (C_out, C_in / groups, kH, kW)
        One filter per output channel.
    bias : ndarray, shape (C_out,), optional
        One value per output channel.
    stride, dilation : int or (int, int), default 1
    padding : int, (int, int), "valid" or "same", default 0
        Zeros added on each side. ``"same"`` (stride 1 only) keeps H and W,
        putting an odd extra row or column at the bottom or right.
    groups : int, default 1
        Split channels into groups that do not see each other.

    Returns
    -------
    ndarray, shape (N, C_out, H_out, W_out)
        ``H_out = floor((H + 2p - d(kH - 1) - 1) / s) + 1``, likewise W.
        float32 when every input is float32, else float64.

    Examples
    --------
    One 3x3 image, one 2x2 filter that adds a pixel to its right-hand
    neighbour: a 2x2 map.

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> w = np.array([[[[1.0, 1.0], [0.0, 0.0]]]])
    >>> conv2d(x, w)[0, 0]
    array([[1., 3.],
           [7., 9.]])
    >>> conv2d(x, w, padding=1).shape  # (3 + 2 - 2) / 1 + 1 = 4
    (1, 1, 4, 4)
    """
    x, weight, bias, (sh, sw), pads, (dh, dw), g, (oh, ow) = _check_conv(
        x, weight, bias, stride, padding, dilation, groups
    )
    dtype = result_dtype(x, weight, *(() if bias is None else (bias,)))
    xp = _pad(x.astype(dtype, copy=False), pads)
    n, c_in = x.shape[:2]
    c_out, c_g, kh, kw = weight.shape

    # im2col: gather every window into columns, one strided copy per kernel
    # tap, so that the convolution becomes one matrix product per group.
    # A few images at a time, so the columns stay in cache for the product.
    k, length = c_g * kh * kw, oh * ow
    per_image = c_in * kh * kw * length * np.dtype(dtype).itemsize
    chunk = max(1, min(n, _CHUNK_BYTES // per_image))
    cols = np.empty((chunk, c_in, kh, kw, oh, ow), dtype=dtype)
    w = weight.astype(dtype, copy=False).reshape(g, c_out // g, k)
    out = np.empty((n, g, c_out // g, length), dtype=dtype)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        for u in range(kh):
            for v in range(kw):
                cols[:m, :, u, v] = xp[
                    start : start + m,
                    :,
                    u * dh : u * dh + sh * (oh - 1) + 1 : sh,
                    v * dw : v * dw + sw * (ow - 1) + 1 : sw,
                ]
        np.matmul(w, cols[:m].reshape(m, g, k, length), out=out[start : start + m])
    out = out.reshape(n, c_out, oh, ow)
    if bias is not None:
        out += bias.astype(dtype, copy=False)[:, None, None]
    return out


def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """The same as :func:`conv2d`, written as plain loops to be read.

    Slow (seven nested loops in Python): use it on small inputs only.

    Examples
    --------
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> w = np.array([[[[1.0, 1.0], [0.0, 0.0]]]])
    >>> conv2d_naive(x, w)[0, 0]
    array([[1., 3.],
           [7., 9.]])
    """
    x, weight, bias, (sh, sw), pads, (dh, dw), g, (oh, ow) = _check_conv(
        x, weight, bias, stride, padding, dilation, groups
    )
    dtype = result_dtype(x, weight, *(() if bias is None else (bias,)))
    xp = _pad(x, pads)
    n_batch = x.shape[0]
    c_out, c_g, kh, kw = weight.shape
    per_group = c_out // g
    out = np.zeros((n_batch, c_out, oh, ow), dtype=dtype)
    for n in range(n_batch):  # each image of the batch
        for o in range(c_out):  # each filter makes one output channel
            first = (o // per_group) * c_g  # first input channel it sees
            for i in range(oh):  # each output row ...
                for j in range(ow):  # ... and column: one stamp
                    total = 0.0 if bias is None else float(bias[o])
                    for c in range(c_g):  # every channel of the filter
                        for u in range(kh):  # every kernel row ...
                            for v in range(kw):  # ... and column
                                pixel = xp[
                                    n, first + c, i * sh + u * dh, j * sw + v * dw
                                ]
                                total += weight[o, c, u, v] * pixel
                    out[n, o, i, j] = total
    return out


# ---------------------------------------------------------------- 2-D


def _check_2d(image, kernel, stride, padding):
    image = check_array("image", image, 2, "(H, W)")
    kernel = check_array("kernel", kernel, 2, "(kH, kW)")
    stride_hw = check_pair("stride", stride, 1)
    pads = _padding_pairs(padding, kernel.shape, (1, 1), stride_hw)
    out_hw = _output_hw(
        image.shape, kernel.shape, stride_hw, pads, (1, 1), what="image"
    )
    return image, kernel, stride_hw, pads, out_hw


def correlate2d(image, kernel, stride=1, padding=0):
    """Slide one 2-D kernel over one 2-D image: the "stamp" of the notes.

    Each output value is the sum of the element-wise products of the kernel
    and the patch of the image under it; the kernel is not flipped.

    Parameters
    ----------
    image : ndarray, shape (H, W)
    kernel : ndarray, shape (kH, kW)
    stride : int or (int, int), default 1
    padding : int, (int, int), "valid" or "same", default 0
        Zeros added on each side.

    Returns
    -------
    ndarray, shape (H_out, W_out)
        ``H_out = floor((H + 2p - kH) / s) + 1``, likewise W.

    Examples
    --------
    >>> image = np.array([[1, 2, 3],
    ...                   [4, 5, 6],
    ...                   [7, 8, 9]])
    >>> kernel = np.array([[1, 0],
    ...                    [0, -1]])
    >>> correlate2d(image, kernel)  # e.g. top left: 1*1 + 5*(-1) = -4
    array([[-4., -4.],
           [-4., -4.]])
    """
    image, kernel, stride_hw, pads, _ = _check_2d(image, kernel, stride, padding)
    return conv2d(
        image[None, None],
        kernel[None, None],
        stride=stride_hw,
        padding=_as_torch_padding(pads),
    )[0, 0]


def correlate2d_naive(image, kernel, stride=1, padding=0):
    """The same as :func:`correlate2d`, one stamp at a time.

    Examples
    --------
    >>> correlate2d_naive(np.eye(3), np.ones((2, 2)))
    array([[2., 1.],
           [1., 2.]])
    """
    image, kernel, (sh, sw), pads, (oh, ow) = _check_2d(image, kernel, stride, padding)
    padded = np.pad(image, pads)
    kh, kw = kernel.shape
    out = np.zeros((oh, ow), dtype=result_dtype(image, kernel))
    for i in range(oh):
        for j in range(ow):
            patch = padded[i * sh : i * sh + kh, j * sw : j * sw + kw]
            out[i, j] = np.sum(patch * kernel)  # one stamp, one number
    return out


def _as_torch_padding(pads):
    """Turn checked (before, after) pairs back into an argument for conv2d."""
    (top, bottom), (left, right) = pads
    if top == bottom and left == right:
        return (top, left)
    return "same"  # the only asymmetric padding this module produces
