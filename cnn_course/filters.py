"""Named 3x3 kernels and a helper that applies one to a picture.

Every kernel is a read-only float64 array of shape (3, 3), applied by
cross-correlation like everything in this package (no flip).

Examples
--------
>>> from cnn_course import filters
>>> float(filters.box_blur.sum())  # nine cells of 1/9: an average
1.0
>>> sorted(filters.KERNELS)[:3]
['box_blur', 'emboss', 'gaussian_blur']
"""

from __future__ import annotations

import numpy as np

from ._checks import _describe, check_array, check_bool
from .conv import correlate2d
from .shapes import same_padding

__all__ = [
    "KERNELS",
    "apply_filter",
    "box_blur",
    "emboss",
    "gaussian_blur",
    "identity",
    "outline",
    "sharpen",
    "sobel_x",
    "sobel_y",
]


def _kernel(rows, scale=1.0):
    k = np.array(rows, dtype=np.float64) * scale
    k.setflags(write=False)
    return k


#: Leaves the image as it is.
identity = _kernel([[0, 0, 0], [0, 1, 0], [0, 0, 0]])
#: Mean of the nine pixels: every cell 1/9.
box_blur = _kernel([[1, 1, 1], [1, 1, 1], [1, 1, 1]], 1 / 9)
#: Weighted mean, the centre counting most: a 3x3 Gaussian (binomial) kernel.
gaussian_blur = _kernel([[1, 2, 1], [2, 4, 2], [1, 2, 1]], 1 / 16)
#: The pixel minus its four neighbours' difference from it: edges stand out.
sharpen = _kernel([[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
#: Lit from the top left: a relief.
emboss = _kernel([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])
#: Pixel minus its eight neighbours: zero on flat areas, bright at edges.
outline = _kernel([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]])
#: Horizontal gradient (bright where the image gets brighter to the right).
sobel_x = _kernel([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
#: Vertical gradient (bright where the image gets brighter downwards).
sobel_y = _kernel([[-1, -2, -1], [0, 0, 0], [1, 2, 1]])

KERNELS = {
    "identity": identity,
    "box_blur": box_blur,
    "gaussian_blur": gaussian_blur,
    "sharpen": sharpen,
    "emboss": emboss,
    "outline": outline,
    "sobel_x": sobel_x,
    "sobel_y": sobel_y,
}

_BORDERS = {"edge": "edge", "zero": "constant", "reflect": "reflect"}


def apply_filter(image, kernel, border="edge", clip=True):
    """Apply a 2-D kernel to a grey or colour image, keeping its size.

    Border rule: before the kernel slides, the image is padded by half the
    kernel on each side. With ``border="edge"`` (the default) the padding
    repeats the outermost pixels, so a blur does not darken the frame;
    ``"zero"`` pads with zeros (what a CNN layer with ``padding`` does);
    ``"reflect"`` mirrors the image. Colour images are filtered one channel
    at a time with the same kernel.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, 3)
        Grey or RGB; floats in [0, 1], or uint8 in [0, 255] (scaled to
        [0, 1] first).
    kernel : ndarray, shape (kH, kW)
        Odd sizes keep the picture centred.
    border : {"edge", "zero", "reflect"}, default "edge"
    clip : bool, default True
        Clip the result to [0, 1] so it can be shown as an image. Pass
        ``False`` to keep negative responses (Sobel, outline).

    Returns
    -------
    ndarray of float64, shape (H, W) or (H, W, 3)
        An alpha channel, if any, is dropped.

    Examples
    --------
    A blur of a constant image is the same image, borders included:

    >>> apply_filter(np.full((4, 5), 0.5), box_blur).round(12).tolist()[0]
    [0.5, 0.5, 0.5, 0.5, 0.5]
    """
    arr = np.asarray(image) if not isinstance(image, (str, bytes)) else image
    if (
        not isinstance(arr, np.ndarray)
        or arr.ndim not in (2, 3)
        or (arr.ndim == 3 and arr.shape[2] not in (3, 4))
    ):
        raise ValueError(
            "`image` must be a grey (H, W) or colour (H, W, 3) array, got "
            f"{_describe(arr)}"
        )
    kernel = check_array("kernel", kernel, 2, "(kH, kW)")
    clip = check_bool("clip", clip)
    if border not in _BORDERS:
        raise ValueError(f"`border` must be one of {sorted(_BORDERS)}, got {border!r}")
    if arr.dtype == np.uint8:
        arr = arr / 255.0
    elif np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        raise TypeError(
            f"`image` must be float in [0, 1] or uint8, got dtype {arr.dtype}"
        )
    arr = check_array("image", arr, arr.ndim, "(H, W) or (H, W, 3)")
    pads = tuple(same_padding(k) for k in kernel.shape)
    if arr.ndim == 2:
        channels = [arr]
    else:
        channels = [arr[..., c] for c in range(3)]
    out = []
    for channel in channels:
        padded = np.pad(channel.astype(np.float64), pads, mode=_BORDERS[border])
        out.append(correlate2d(padded, kernel))
    result = out[0] if arr.ndim == 2 else np.stack(out, axis=-1)
    return np.clip(result, 0.0, 1.0) if clip else result
