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
