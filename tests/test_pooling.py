"""Max and average pooling against `torch.nn.functional`."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import cnn_course as cc


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    h = draw(st.integers(max(1, kh - 2 * padding[0]), 9))
    w = draw(st.integers(max(1, kw - 2 * padding[1]), 9))
    ceil_mode = draw(st.booleans())
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w))
    return x.astype(dtype), dict(
        kernel_size=(kh, kw), stride=stride, padding=padding, ceil_mode=ceil_mode
    )


@settings(max_examples=150, deadline=None)
@given(pool_cases())
def test_max_pool2d_and_its_naive_twin_match_torch(case):
    x, kwargs = case
    want = F.max_pool2d(torch.from_numpy(x), **kwargs).numpy()
    for fn in (cc.max_pool2d, cc.max_pool2d_naive):
        got = fn(x, **kwargs)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@settings(max_examples=150, deadline=None)
@given(pool_cases(), st.booleans())
def test_avg_pool2d_matches_torch(case, count_include_pad):
    x, kwargs = case
    want = F.avg_pool2d(
        torch.from_numpy(x), count_include_pad=count_include_pad, **kwargs
    ).numpy()
    got = cc.avg_pool2d(x, count_include_pad=count_include_pad, **kwargs)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_ceil_mode_keeps_the_partial_last_window():
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    assert cc.max_pool2d(x, 2).shape == (1, 1, 2, 2)
    out = cc.max_pool2d(x, 2, ceil_mode=True)
    assert out.shape == (1, 1, 3, 3)
    assert out[0, 0, 2, 2] == 24.0  # the last window holds only x[4, 4]


def test_pooling_keeps_channels_apart():
    x = np.stack([np.zeros((4, 4)), np.ones((4, 4))])[None]
    np.testing.assert_array_equal(cc.avg_pool2d(x, 2)[0, :, 0, 0], [0.0, 1.0])


@pytest.mark.parametrize("fn", [cc.max_pool2d, cc.avg_pool2d, cc.max_pool2d_naive])
@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        ((np.zeros((4, 4)), 2), {}, ValueError, "`x` must be 4-D"),
        (
            (np.zeros((1, 1, 4, 4)), 0),
            {},
            ValueError,
            "`kernel_size` must be a positive int",
        ),
        (
            (np.zeros((1, 1, 4, 4)), 2),
            dict(stride=0),
            ValueError,
            "`stride` must be a positive",
        ),
        (
            (np.zeros((1, 1, 4, 4)), 2),
            dict(padding=-1),
            ValueError,
            "`padding` must be an int >= 0",
        ),
        (
            (np.zeros((1, 1, 4, 4)), 2),
            dict(padding=2),
            ValueError,
            "at most half the kernel",
        ),
        (
            (np.zeros((1, 1, 2, 2)), 3),
            {},
            ValueError,
            "`kernel_size` 3 is larger than the padded input",
        ),
        ((np.zeros((1, 1, 4, 4)), 2.0), {}, TypeError, "`kernel_size` must be an int"),
    ],
)
def test_pools_reject_bad_input_by_name(fn, args, kwargs, error, message):
    with pytest.raises(error, match=message):
        fn(*args, **kwargs)
