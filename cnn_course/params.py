"""Parameter counts of convolution and dense layers."""

from __future__ import annotations

from ._checks import _describe, check_bool, check_int, check_pair

__all__ = ["conv2d_params", "linear_params", "locally_connected_params", "count_params"]


def conv2d_params(
    in_channels: int,
    out_channels: int,
    kernel_size,
    bias: bool = True,
    groups: int = 1,
) -> int:
    """Number of parameters of a 2-D convolution layer.

    Each of the ``C_out`` filters holds ``kh * kw * C_in / groups`` weights,
    and each output channel has one bias.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` and ``C_out``, both divisible by ``groups``.
    kernel_size : int or (int, int)
        ``k`` for a square kernel, or ``(kh, kw)``.
    bias : bool, default True
        Whether the layer adds one learned bias per output channel.
    groups : int, default 1
        Channel groups; each filter sees ``C_in / groups`` input channels.

    Returns
    -------
    int
        ``kh * kw * (C_in / groups) * C_out + (C_out if bias else 0)``.

    Examples
    --------
    A 3x3 layer from 3 to 64 channels: 3*3*3 = 27 weights a filter,
    27*64 = 1728 weights, plus 64 biases.

    >>> conv2d_params(3, 64, 3)
    1792
    >>> conv2d_params(3, 64, 3, bias=False)
    1728

    AlexNet's conv2 in the paper: 5x5, 96 -> 256 channels in two groups.

    >>> conv2d_params(96, 256, 5, groups=2)
    307456
    """
    c_in = check_int("in_channels", in_channels, 1)
    c_out = check_int("out_channels", out_channels, 1)
    kh, kw = check_pair("kernel_size", kernel_size, 1)
    bias = check_bool("bias", bias)
    g = check_int("groups", groups, 1)
    for name, c in (("in_channels", c_in), ("out_channels", c_out)):
        if c % g:
            raise ValueError(f"`{name}` must be divisible by `groups`, got {c} and {g}")
    return kh * kw * (c_in // g) * c_out + (c_out if bias else 0)


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Number of parameters of a fully connected (dense) layer.

    Returns
    -------
    int
        ``in_features * out_features + (out_features if bias else 0)``.

    Examples
    --------
    AlexNet's first dense layer: 256 maps of 6x6 flattened, to 4096 units.

    >>> linear_params(6 * 6 * 256, 4096)
    37752832
    """
    f_in = check_int("in_features", in_features, 1)
    f_out = check_int("out_features", out_features, 1)
    bias = check_bool("bias", bias)
    return f_in * f_out + (f_out if bias else 0)


def locally_connected_params(
    in_channels: int,
    out_channels: int,
    kernel_size,
    output_size,
    bias: bool = True,
) -> int:
    """Parameters of a convolution-shaped layer that shares no weights.

    A locally connected layer looks at the same windows as a convolution,
    but every output position has filters of its own: ``oh * ow`` times the
    convolution's weights, and one bias per output value.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int or (int, int)
    output_size : int or (int, int)
        ``(oh, ow)``, the size of each output map (``output_size`` of the
        convolution with the same kernel, stride and padding).
    bias : bool, default True
        One learned bias per output value, ``oh * ow * C_out`` in all.

    Returns
    -------
    int
        ``oh * ow * (kh * kw * C_in * C_out + (C_out if bias else 0))``.

    Examples
    --------
    A 3x3 layer from 1 to 8 channels on an 8x8 map padded to stay 8x8:
    64 positions, each with 8 filters of 9 weights and 8 biases.

    >>> locally_connected_params(1, 8, 3, 8)
    5120
    >>> 64 * conv2d_params(1, 8, 3)
    5120
    """
    c_in = check_int("in_channels", in_channels, 1)
    c_out = check_int("out_channels", out_channels, 1)
    kh, kw = check_pair("kernel_size", kernel_size, 1)
    oh, ow = check_pair("output_size", output_size, 1)
    bias = check_bool("bias", bias)
    return oh * ow * (kh * kw * c_in * c_out + (c_out if bias else 0))


def count_params(module) -> int:
    """Number of trainable parameters of a ``torch.nn.Module``.

    Counts every parameter with ``requires_grad`` once, even when a module
    shares it between layers.

    Examples
    --------
    >>> import torch
    >>> count_params(torch.nn.Conv2d(3, 64, 3))
    1792
    """
    import torch

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"`module` must be a torch.nn.Module, got {_describe(module)}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
