"""Parameter counts against `numel()` of real PyTorch layers."""

import itertools

import pytest
import torch
from torch import nn

import cnn_course as cc


def numel(module):
    return sum(p.numel() for p in module.parameters())


def test_conv2d_params_matches_torch_with_groups_and_without_bias():
    for c_in, c_out, k, bias, groups in itertools.product(
        (1, 3, 4, 12), (2, 6, 12), (1, 3, (3, 5)), (True, False), (1, 2, 3)
    ):
        if c_in % groups or c_out % groups:
            continue
        layer = nn.Conv2d(c_in, c_out, k, bias=bias, groups=groups)
        assert cc.conv2d_params(c_in, c_out, k, bias, groups) == numel(layer)


def test_linear_params_matches_torch():
    for f_in, f_out, bias in itertools.product(
        (1, 7, 9216), (1, 10, 4096), (True, False)
    ):
        assert cc.linear_params(f_in, f_out, bias) == numel(
            nn.Linear(f_in, f_out, bias)
        )


def test_count_params_counts_only_trainable_and_shared_once():
    shared = nn.Linear(4, 4)
    net = nn.Sequential(shared, nn.ReLU(), shared, nn.Conv2d(1, 2, 3))
    assert cc.count_params(net) == 20 + 20
    net[3].weight.requires_grad_(False)
    assert cc.count_params(net) == 20 + 2
    assert cc.count_params(nn.MaxPool2d(2)) == 0


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: cc.conv2d_params(3, 64, 3, groups=2),
            ValueError,
            "`in_channels` must be divisible by `groups`, got 3 and 2",
        ),
        (
            lambda: cc.conv2d_params(4, 6, 3, groups=4),
            ValueError,
            "`out_channels` must be divisible by `groups`, got 6 and 4",
        ),
        (
            lambda: cc.conv2d_params(3, 64, 3.0),
            TypeError,
            "`kernel_size` must be an int",
        ),
        (
            lambda: cc.conv2d_params(3, 64, (3, 3, 3)),
            ValueError,
            "`kernel_size` must be an int or a pair of ints, got 3 values",
        ),
        (
            lambda: cc.conv2d_params(0, 64, 3),
            ValueError,
            "`in_channels` must be a positive int",
        ),
        (
            lambda: cc.conv2d_params(3, 64, 3, bias="yes"),
            TypeError,
            "`bias` must be True or False",
        ),
        (
            lambda: cc.linear_params(9216.0, 4096),
            TypeError,
            "`in_features` must be an int",
        ),
        (
            lambda: cc.count_params([1, 2]),
            TypeError,
            "`module` must be a torch.nn.Module",
        ),
    ],
)
def test_parameter_counts_reject_bad_arguments_by_name(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_conv2d_params_formula_for_one_hand_checked_layer():
    # 3x3 filters over 64 channels, 128 of them: 3*3*64 = 576 weights each.
    assert cc.conv2d_params(64, 128, 3) == 576 * 128 + 128 == 73856
    assert torch.nn.Conv2d(64, 128, 3).weight.numel() == 73728


class _LocallyConnected(torch.nn.Module):
    """A convolution whose every output position has its own filters and bias."""

    def __init__(self, c_in, c_out, k, out_side, stride=1):
        super().__init__()
        self.k, self.stride, self.out_side = k, stride, out_side
        positions = out_side * out_side
        self.weight = torch.nn.Parameter(torch.randn(positions, c_out, c_in * k * k))
        self.bias = torch.nn.Parameter(torch.randn(c_out, out_side, out_side))

    def forward(self, x):
        cols = torch.nn.functional.unfold(
            x, self.k, stride=self.stride
        )  # (N, C*k*k, L)
        out = torch.einsum("lok,nkl->nol", self.weight, cols)
        return out.reshape(len(x), -1, self.out_side, self.out_side) + self.bias


@pytest.mark.parametrize(
    ("c_in", "c_out", "k", "n", "s"), [(1, 8, 3, 8, 1), (3, 96, 11, 227, 4)]
)
def test_locally_connected_params_counts_what_torch_allocates(c_in, c_out, k, n, s):
    side = cc.output_size(n, k, s)
    layer = _LocallyConnected(c_in, c_out, k, side, s)
    assert cc.locally_connected_params(c_in, c_out, k, side) == sum(
        p.numel() for p in layer.parameters()
    )
    if n < 20:  # shapes check on the small case
        assert layer(torch.zeros(2, c_in, n, n)).shape == (2, c_out, side, side)


def test_locally_connected_layer_with_its_filters_all_equal_is_a_convolution():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(2, 3, 3)
    local = _LocallyConnected(2, 3, 3, 4)
    with torch.no_grad():
        local.weight.copy_(conv.weight.reshape(3, -1).expand(16, 3, 18))
        local.bias.copy_(conv.bias[:, None, None].expand(3, 4, 4))
    x = torch.randn(1, 2, 6, 6)
    torch.testing.assert_close(local(x), conv(x))
    # Sharing is the whole difference: 16 positions, 16 times the weights.
    assert cc.locally_connected_params(2, 3, 3, 4) == 16 * cc.conv2d_params(2, 3, 3)


def test_locally_connected_params_names_a_bad_argument():
    with pytest.raises(ValueError, match="`output_size` must be a positive int"):
        cc.locally_connected_params(3, 8, 3, 0)
