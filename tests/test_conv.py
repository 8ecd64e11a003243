"""`conv2d`, `conv2d_naive`, `correlate2d` against `torch.nn.functional.conv2d`."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import cnn_course as cc


def torch_conv(x, w, b=None, **kwargs):
    t = lambda a: None if a is None else torch.from_numpy(a)  # noqa: E731
    return F.conv2d(t(x), t(w), t(b), **kwargs).numpy()


@st.composite
def conv_cases(draw, max_side=9):
    groups = draw(st.integers(1, 3))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    min_h = max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0])
    min_w = max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1])
    h = draw(st.integers(min_h, max(min_h, max_side)))
    w = draw(st.integers(min_w, max(min_w, max_side)))
    n = draw(st.integers(1, 2))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c_in, h, w)).astype(dtype)
    weight = rng.standard_normal((c_out, c_in // groups, kh, kw)).astype(dtype)
    bias = draw(st.sampled_from([None, "bias"]))
    bias = None if bias is None else rng.standard_normal(c_out).astype(dtype)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return x, weight, bias, kwargs


def tolerance(dtype):
    return (
        dict(rtol=1e-4, atol=1e-4)
        if dtype == np.float32
        else dict(rtol=1e-10, atol=1e-10)
    )


@settings(max_examples=150, deadline=None)
@given(conv_cases())
def test_conv2d_matches_torch(case):
    x, w, b, kwargs = case
    got = cc.conv2d(x, w, b, **kwargs)
    want = torch_conv(x, w, b, **kwargs)
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, **tolerance(x.dtype))


@settings(max_examples=40, deadline=None)
@given(conv_cases(max_side=6))
def test_conv2d_naive_matches_torch(case):
    x, w, b, kwargs = case
    got = cc.conv2d_naive(x, w, b, **kwargs)
    want = torch_conv(x, w, b, **kwargs)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, **tolerance(x.dtype))


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("k, d", [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2)])
def test_string_padding_matches_torch(padding, k, d):
    rng = np.random.default_rng(k * 10 + d)
    x = rng.standard_normal((2, 3, 10, 9))
    w = rng.standard_normal((4, 3, k, k))
    want = torch_conv(x, w, padding=padding, dilation=d)
    np.testing.assert_allclose(
        cc.conv2d(x, w, padding=padding, dilation=d), want, rtol=1e-10, atol=1e-10
    )
    np.testing.assert_allclose(
        cc.conv2d_naive(x, w, padding=padding, dilation=d), want, rtol=1e-10, atol=1e-10
    )


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(3, 10),
    w=st.integers(3, 10),
    kh=st.integers(1, 3),
    kw=st.integers(1, 3),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    seed=st.integers(0, 1000),
)
def test_correlate2d_and_its_naive_twin_match_torch(h, w, kh, kw, s, p, seed):
    rng = np.random.default_rng(seed)
    image = rng.standard_normal((h, w))
    kernel = rng.standard_normal((kh, kw))
    want = torch_conv(image[None, None], kernel[None, None], stride=s, padding=p)[0, 0]
    np.testing.assert_allclose(
        cc.correlate2d(image, kernel, s, p), want, rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        cc.correlate2d_naive(image, kernel, s, p), want, rtol=1e-10, atol=1e-12
    )


def test_correlation_does_not_flip_the_kernel():
    image = np.zeros((3, 3))
    image[1, 1] = 1.0  # a single bright pixel
    kernel = np.arange(9.0).reshape(3, 3)
    # Correlating an impulse gives the kernel rotated by 180 degrees;
    # a flipped (mathematical) convolution would give the kernel itself.
    out = cc.correlate2d(image, kernel, padding=1)
    np.testing.assert_array_equal(out, kernel[::-1, ::-1])


def test_hand_checked_example():
    image = np.array([[1, 2, 0], [0, 1, 3], [2, 1, 0]])
    kernel = np.array([[1, 0], [0, 1]])
    # top left 1+1, top right 2+3, bottom left 0+1, bottom right 1+0
    np.testing.assert_array_equal(cc.correlate2d(image, kernel), [[2, 5], [1, 1]])


def test_integer_inputs_give_float64_and_float32_stays_float32():
    x = np.ones((1, 1, 3, 3), dtype=np.int64)
    assert cc.conv2d(x, np.ones((1, 1, 2, 2), dtype=np.int32)).dtype == np.float64
    x32 = np.ones((1, 1, 3, 3), dtype=np.float32)
    assert cc.conv2d(x32, x32[:, :, :2, :2]).dtype == np.float32


X = np.zeros((1, 3, 5, 5))
W = np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(x=np.zeros((3, 5, 5)), weight=W),
            ValueError,
            r"`x` must be 4-D with shape \(N, C_in, H, W\), got 3-D shape \(3, 5, 5\)",
        ),
        (dict(x=X, weight=np.zeros((4, 3, 3))), ValueError, "`weight` must be 4-D"),
        (
            dict(x=X, weight=np.zeros((4, 2, 3, 3))),
            ValueError,
            "channel mismatch: `x` has C_in = 3 channels, but `weight`",
        ),
        (
            dict(x=X, weight=np.zeros((4, 3, 7, 7))),
            ValueError,
            "kernel height 7 .* larger than the padded input height 5",
        ),
        (
            dict(x=X, weight=W, stride=0),
            ValueError,
            "`stride` must be a positive int, got 0",
        ),
        (
            dict(x=X, weight=W, padding=-1),
            ValueError,
            "`padding` must be an int >= 0, got -1",
        ),
        (
            dict(x=X, weight=W, stride=1.5),
            TypeError,
            r"`stride` must be an int, got 1.5",
        ),
        (
            dict(x=X, weight=W, padding="full"),
            ValueError,
            '`padding` must be an int, a pair of ints, "valid" or "same"',
        ),
        (dict(x=X, weight=W, padding="same", stride=2), ValueError, "needs stride 1"),
        (
            dict(x=np.zeros((1, 4, 5, 5)), weight=np.zeros((3, 2, 3, 3)), groups=2),
            ValueError,
            "C_out = 3 filters, which is not divisible by `groups` = 2",
        ),
        (
            dict(x=np.zeros((1, 3, 5, 5)), weight=np.zeros((4, 1, 3, 3)), groups=2),
            ValueError,
            "C_in = 3 channels, which is not divisible by `groups` = 2",
        ),
        (
            dict(x=X, weight=W, bias=np.zeros(3)),
            ValueError,
            r"`bias` must have one value per filter, C_out = 4, got shape \(3,\)",
        ),
        (dict(x=torch.zeros(1, 3, 5, 5), weight=W), TypeError, "got a torch.Tensor"),
        (dict(x=np.array([["a"]]), weight=W), TypeError, "`x` must hold real numbers"),
        (dict(x=X, weight=W, groups=0), ValueError, "`groups` must be a positive int"),
    ],
)
def test_conv2d_rejects_bad_input_by_name(kwargs, error, message):
    for fn in (cc.conv2d, cc.conv2d_naive):
        with pytest.raises(error, match=message):
            fn(**kwargs)


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((np.zeros((1, 4, 4)), np.ones((2, 2))), ValueError, "`image` must be 2-D"),
        ((np.zeros((4, 4)), np.ones((1, 2, 2))), ValueError, "`kernel` must be 2-D"),
        (
            (np.zeros((2, 2)), np.ones((3, 3))),
            ValueError,
            "kernel height 3 .* larger than the padded image height 2",
        ),
    ],
)
def test_correlate2d_rejects_bad_input_by_name(args, error, message):
    for fn in (cc.correlate2d, cc.correlate2d_naive):
        with pytest.raises(error, match=message):
            fn(*args)
