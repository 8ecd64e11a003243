"""The named kernels and `apply_filter`."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_course import filters


def test_every_named_kernel_is_a_readonly_3x3_float_array():
    for name in [
        "identity",
        "box_blur",
        "gaussian_blur",
        "sharpen",
        "emboss",
        "outline",
        "sobel_x",
        "sobel_y",
    ]:
        k = getattr(filters, name)
        assert filters.KERNELS[name] is k
        assert k.shape == (3, 3) and k.dtype == np.float64
        with pytest.raises(ValueError):
            k[0, 0] = 1.0


def test_box_blur_has_nine_cells_of_one_ninth():
    np.testing.assert_array_equal(filters.box_blur, np.full((3, 3), 1 / 9))


def test_blurs_keep_brightness_and_edge_kernels_sum_to_zero():
    for k in (
        filters.box_blur,
        filters.gaussian_blur,
        filters.identity,
        filters.sharpen,
    ):
        assert k.sum() == pytest.approx(1.0)
    for k in (filters.outline, filters.sobel_x, filters.sobel_y):
        assert k.sum() == 0.0


def test_apply_filter_matches_torch_inside_the_border():
    rng = np.random.default_rng(0)
    image = rng.random((12, 10))
    for kernel in filters.KERNELS.values():
        out = filters.apply_filter(image, kernel, clip=False)
        want = F.conv2d(
            torch.from_numpy(image)[None, None],
            torch.from_numpy(kernel.copy())[None, None],
        )
        np.testing.assert_allclose(out[1:-1, 1:-1], want[0, 0].numpy(), atol=1e-12)


def test_border_rules():
    image = np.ones((4, 4))
    # edge: a blur of a constant image is constant, borders too
    np.testing.assert_allclose(filters.apply_filter(image, filters.box_blur), 1.0)
    # zero: the corner sees four of nine ones
    zero = filters.apply_filter(image, filters.box_blur, border="zero")
    assert zero[0, 0] == pytest.approx(4 / 9)
    assert zero[0, 1] == pytest.approx(6 / 9)


def test_rgb_channels_are_filtered_alike_and_uint8_is_scaled():
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (6, 7), dtype=np.uint8)
    rgb = np.stack([grey, grey, grey], axis=-1)
    out = filters.apply_filter(rgb, filters.sharpen)
    assert out.shape == (6, 7, 3)
    np.testing.assert_allclose(out[..., 1], filters.apply_filter(grey, filters.sharpen))
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_clip_false_keeps_negative_edge_responses():
    ramp = np.tile(np.linspace(1, 0, 8), (8, 1))  # darker to the right
    assert filters.apply_filter(ramp, filters.sobel_x, clip=False)[4, 4] < 0
    assert filters.apply_filter(ramp, filters.sobel_x)[4, 4] == 0.0


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        (
            (np.zeros((2, 4, 4, 3)), filters.box_blur),
            {},
            ValueError,
            "`image` must be a grey",
        ),
        ((np.zeros((4, 4)), np.ones(3)), {}, ValueError, "`kernel` must be 2-D"),
        (
            (np.zeros((4, 4)), filters.box_blur),
            dict(border="wrap"),
            ValueError,
            r"`border` must be one of \['edge', 'reflect', 'zero'\], got 'wrap'",
        ),
        (
            (np.zeros((4, 4), dtype=np.int64), filters.box_blur),
            {},
            TypeError,
            "`image` must be float in",
        ),
    ],
)
def test_apply_filter_rejects_bad_input_by_name(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        filters.apply_filter(*args, **kwargs)
