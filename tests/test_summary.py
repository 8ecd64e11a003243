"""`summary` against PyTorch's own counts of parameters and FLOPs."""

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import cnn_course as cc


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, groups=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 14 * 14, 10),
    )


@pytest.mark.parametrize("batch", [1, 3])
def test_summary_totals_match_numel_and_torchs_flop_counter(batch):
    model = small_cnn()
    s = cc.summary(model, (batch, 3, 32, 32))
    assert s.total_params == sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(batch, 3, 32, 32))
    assert 2 * s.total_macs == counter.get_total_flops()
    assert s.output_shape == (batch, 10)


def test_summary_rows_follow_the_forward_pass():
    s = cc.summary(small_cnn(), (1, 3, 32, 32))
    assert [r["kind"] for r in s.rows] == [
        "Conv2d",
        "ReLU",
        "MaxPool2d",
        "Conv2d",
        "ReLU",
        "Flatten",
        "Linear",
    ]
    assert s.rows[2]["output_shape"] == (8, 16, 16)
    assert s.rows[2]["params"] == 0
    assert s.rows[3]["params"] == cc.conv2d_params(8, 16, 3, groups=2)
    text = str(s)
    assert "total params:" in text and f"{s.total_params:,}" in text


def test_summary_of_alexnet_matches_its_table():
    s = cc.summary(cc.alexnet.build("torchvision"), (1, 3, 224, 224))
    assert s.total_params == 61_100_840


def test_frozen_parameters_are_not_trainable():
    model = small_cnn()
    model[0].requires_grad_(False)
    s = cc.summary(model, (1, 3, 32, 32))
    assert s.trainable_params == s.total_params - (3 * 8 * 9 + 8)


@pytest.mark.parametrize(
    "args, error, message",
    [
        (("not a model", (1, 3, 8, 8)), TypeError, "`model` must be a torch.nn.Module"),
        ((nn.Conv2d(3, 4, 3), 32), ValueError, "`input_shape` must be a tuple"),
        (
            (nn.Conv2d(3, 4, 3), (1, 3, 8.0, 8)),
            TypeError,
            r"`input_shape\[2\]` must be an int",
        ),
        (
            (nn.Conv2d(3, 4, 3), (1, 1, 8, 8)),
            ValueError,
            r"`input_shape` \(1, 1, 8, 8\) does not fit",
        ),
    ],
)
def test_summary_rejects_bad_input_by_name(args, error, message):
    with pytest.raises(error, match=message):
        cc.summary(*args)
