"""`output_size` against the shapes PyTorch really produces."""

import itertools
import warnings

import pytest
import torch
import torch.nn.functional as F

import cnn_course as cc


def torch_conv_len(n, k, s, p, d):
    x = torch.zeros(1, 1, 1, n)
    w = torch.zeros(1, 1, 1, k)
    return F.conv2d(x, w, stride=(1, s), padding=(0, p), dilation=(1, d)).shape[-1]


def test_output_size_matches_torch_conv_over_a_grid():
    checked = 0
    for n, k, s, p, d in itertools.product(
        range(1, 13), range(1, 6), range(1, 5), range(0, 4), range(1, 4)
    ):
        if n + 2 * p < d * (k - 1) + 1:
            continue
        assert cc.output_size(n, k, s, p, d) == torch_conv_len(n, k, s, p, d), (
            n,
            k,
            s,
            p,
            d,
        )
        checked += 1
    assert checked > 2000


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_output_size_matches_torch_max_pool_with_and_without_ceil_mode(ceil_mode):
    checked = 0
    for n, k, s, p, d in itertools.product(
        range(1, 14), range(1, 6), range(1, 5), range(0, 3), range(1, 3)
    ):
        span = d * (k - 1) + 1
        if n + 2 * p < span or p > k // 2:
            continue  # torch refuses these
        x = torch.zeros(1, 1, 1, n)
        got = F.max_pool2d(x, (1, k), (1, s), (0, p), (1, d), ceil_mode=ceil_mode)
        assert cc.output_size(n, k, s, p, d, ceil_mode) == got.shape[-1], (
            n,
            k,
            s,
            p,
            d,
        )
        checked += 1
    assert checked > 500


def test_ceil_mode_drops_a_window_that_would_start_in_the_right_padding():
    # n=5, k=2, s=2, p=1: ceil gives 4 windows, but the 4th would start at
    # padded index 6 = n + p, wholly in the padding; PyTorch keeps 3.
    assert cc.output_size(5, 2, 2, 1, ceil_mode=True) == 3
    assert F.max_pool2d(torch.zeros(1, 1, 5, 5), 2, 2, 1, ceil_mode=True).shape[-1] == 3


def test_notes_formula_is_the_unpadded_case():
    for n, k, s in [(7, 3, 1), (7, 3, 2), (227, 11, 4), (13, 3, 2)]:
        assert cc.output_size(n, k, s) == (n - k) // s + 1


def test_same_padding_keeps_the_size_like_torch():
    for k in range(1, 8):
        for d in (1, 2, 3):
            before, after = cc.same_padding(k, d)
            x = torch.zeros(1, 1, 1, 20)
            w = torch.zeros(1, 1, 1, k)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # even k: a copy
                same = F.conv2d(x, w, padding="same", dilation=d)
            assert same.shape[-1] == 20
            padded = F.pad(x, (before, after))
            assert F.conv2d(padded, w, dilation=d).shape[-1] == 20


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(n=3, kernel_size=5), ValueError, "larger than the padded input"),
        (dict(n=3, kernel_size=3, dilation=2), ValueError, "spanning 5"),
        (
            dict(n=8, kernel_size=3, stride=0),
            ValueError,
            "`stride` must be a positive int, got 0",
        ),
        (
            dict(n=8, kernel_size=3, padding=-1),
            ValueError,
            "`padding` must be an int >= 0, got -1",
        ),
        (
            dict(n=8.0, kernel_size=3),
            TypeError,
            r"`n` must be an int, got 8.0 \(float\)",
        ),
        (dict(n=8, kernel_size=3, stride=True), TypeError, "`stride` must be an int"),
        (dict(n=8, kernel_size=0), ValueError, "`kernel_size` must be a positive int"),
        (
            dict(n=8, kernel_size=3, ceil_mode="yes"),
            TypeError,
            "`ceil_mode` must be True or False",
        ),
    ],
)
def test_output_size_rejects_bad_arguments_by_name(kwargs, error, message):
    with pytest.raises(error, match=message):
        cc.output_size(**kwargs)


def test_numpy_integers_are_accepted():
    import numpy as np

    assert cc.output_size(np.int64(8), np.int32(3)) == 6


# ---------------------------------------------------------------- receptive field


def _torch_field(layers, n=64):
    """Side of the input square that one output unit depends on, by autograd.

    Convolutions get all-one weights and no bias, poolings average (a max
    pool has the same windows but sends its gradient to one input), so the
    gradient of the centre unit is positive exactly on its field.
    """
    modules = []
    for k, s, d in layers:
        if s == 1 or d > 1:
            conv = torch.nn.Conv2d(1, 1, k, stride=s, dilation=d, bias=False)
            torch.nn.init.ones_(conv.weight)
            modules.append(conv)
        else:
            modules.append(torch.nn.AvgPool2d(k, s))
    net = torch.nn.Sequential(*modules).double()
    x = torch.ones(1, 1, n, n, dtype=torch.float64, requires_grad=True)
    out = net(x)
    i, j = out.shape[-2] // 2, out.shape[-1] // 2
    out[0, 0, i, j].backward()
    rows = torch.nonzero(x.grad[0, 0].sum(dim=1))
    return int(rows.max() - rows.min() + 1)


@pytest.mark.parametrize(
    "layers",
    [
        [(3, 1, 1)] * 3,
        [(7, 1, 1)],
        [(3, 1, 1), (2, 2, 1), (3, 1, 1), (2, 2, 1)],
        [(5, 1, 1), (3, 2, 1), (3, 1, 2), (2, 2, 1), (3, 1, 3)],
        [(11, 4, 1), (3, 2, 1), (5, 1, 1), (3, 2, 1), (3, 1, 1)],
    ],
)
def test_receptive_field_is_what_autograd_finds(layers):
    field = cc.receptive_field([tuple(layer) for layer in layers])[-1]["field"]
    assert field == _torch_field(layers, n=160)


def test_receptive_field_reads_the_window_layers_of_a_model():
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 4, 3, dilation=2),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 2),
    )
    table = cc.receptive_field(net)
    assert [r["layer"] for r in table] == ["0 (Conv2d)", "2 (MaxPool2d)", "3 (Conv2d)"]
    assert [(r["stride"], r["dilation"]) for r in table] == [(1, 1), (2, 1), (1, 2)]
    assert [r["field"] for r in table] == [3, 4, 12]
    assert _torch_field([(3, 1, 1), (2, 2, 1), (3, 1, 2)]) == 12


def test_three_3x3_layers_see_what_one_7x7_sees_with_fewer_weights():
    stack = cc.receptive_field([(3, 1)] * 3)[-1]["field"]
    single = cc.receptive_field([(7, 1)])[-1]["field"]
    assert stack == single == _torch_field([(7, 1, 1)])
    c = 64
    three = sum(
        p.numel()
        for _ in range(3)
        for p in torch.nn.Conv2d(c, c, 3, bias=False).parameters()
    )
    one = sum(p.numel() for p in torch.nn.Conv2d(c, c, 7, bias=False).parameters())
    assert (three, one) == (27 * c * c, 49 * c * c)
    assert 3 * cc.conv2d_params(c, c, 3, bias=False) == three


@pytest.mark.parametrize(
    ("layers", "match"),
    [
        ("conv", "`layers` must be a torch.nn.Module or a list"),
        ([(3,)], r"`layers\[0\]` must be \(kernel_size, stride\)"),
        ([(3, 0)], r"`layers\[0\] stride` must be a positive int"),
    ],
)
def test_receptive_field_names_a_bad_argument(layers, match):
    with pytest.raises((TypeError, ValueError), match=match):
        cc.receptive_field(layers)
