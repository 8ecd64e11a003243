"""AlexNet tables against the models they describe."""

import numpy as np
import pytest
import torch

import cnn_course as cc
from cnn_course import alexnet


@pytest.fixture(scope="module", params=["paper", "torchvision"])
def variant(request):
    return request.param


@pytest.fixture(scope="module")
def traced(variant):
    """Each named module's output shape and parameter count, from a forward pass."""
    model = alexnet.build(variant)
    seen = {}
    hooks = [
        m.register_forward_hook(
            lambda m, i, o, n=name: seen.__setitem__(
                n, (tuple(o.shape[1:]), sum(p.numel() for p in m.parameters()))
            )
        )
        for name, m in model.named_children()
    ]
    side = alexnet.layer_table(variant)[0]["in_shape"][1]
    with torch.no_grad():
        out = model.eval()(torch.zeros(1, 3, side, side))
    for h in hooks:
        h.remove()
    return model, seen, out


def test_table_shapes_and_counts_match_the_built_model(variant, traced):
    model, seen, out = traced
    rows = alexnet.layer_table(variant)
    for row in rows:
        shape, params = seen[row["name"]]
        assert row["out_shape"] == shape, row["name"]
        assert row["params"] == params, row["name"]
        assert row["weights"] + row["biases"] == row["params"]
    assert out.shape == (1, 1000)
    assert sum(r["params"] for r in rows) == cc.count_params(model)


def test_totals_are_the_known_figures():
    assert alexnet.total_params("torchvision") == 61_100_840
    assert alexnet.total_params("paper") == 60_965_224


def test_paper_layers_use_two_groups_where_the_gpus_were_split():
    groups = {
        r["name"]: r["groups"]
        for r in alexnet.layer_table("paper")
        if r["kind"] == "conv"
    }
    assert groups == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}
    channels = [
        r["out_shape"][0] for r in alexnet.layer_table("paper") if r["kind"] == "conv"
    ]
    assert channels == [96, 256, 384, 384, 256]


def test_first_dense_layer_sees_6x6_maps_not_13x13():
    fc6 = next(r for r in alexnet.layer_table("paper") if r["name"] == "fc6")
    assert fc6["in_shape"] == (6 * 6 * 256,)
    assert fc6["weights"] == 37_748_736


def test_dense_layers_hold_most_parameters():
    for variant in alexnet.VARIANTS:
        s = alexnet.split(variant)
        assert s["linear"] > 20 * s["conv"]


def test_224_input_does_not_give_the_papers_55x55_map():
    assert cc.output_size(224, 11, 4) == 54
    assert cc.output_size(227, 11, 4) == 55


def test_unknown_variant_lists_the_valid_ones():
    with pytest.raises(
        ValueError, match=r"`variant` must be one of \['paper', 'torchvision'\]"
    ):
        alexnet.layer_table("vgg")
    with pytest.raises(ValueError, match="`variant`"):
        alexnet.build("Paper")


def test_table_prints_with_a_total_row():
    text = str(alexnet.layer_table("torchvision"))
    assert text.splitlines()[-1].startswith("total")
    assert "61,100,840" in text


def test_224_with_padding_2_gives_the_55x55_map_as_well():
    assert cc.output_size(224, 11, 4, padding=2) == 55
    torchvision_conv1 = alexnet.layer_table("torchvision")[0]
    assert torchvision_conv1["in_shape"] == (3, 224, 224)
    assert torchvision_conv1["padding"] == 2
    assert torchvision_conv1["out_shape"][1:] == (55, 55)


def _paper_lrn(a, n, k, alpha, beta):
    """Section 3.3 of the paper, one channel and position at a time."""
    b = np.empty_like(a)
    channels = a.shape[1]
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        total = (a[:, lo : hi + 1] ** 2).sum(axis=1)
        b[:, i] = a[:, i] / (k + alpha * total) ** beta
    return b


def test_paper_normalisation_computes_the_papers_formula():
    norm = dict(alexnet.build("paper").named_children())["norm1"]
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 30, size=(2, 12, 3, 3))  # large enough for alpha to matter
    expected = _paper_lrn(a, **alexnet.PAPER_LRN)
    with torch.no_grad():
        got = norm(torch.from_numpy(a)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    # PyTorch's own alpha left at the paper's 1e-4 would normalise five
    # times too weakly.
    weak = torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    with torch.no_grad():
        assert not np.allclose(weak(torch.from_numpy(a)).numpy(), expected)


#: torchvision.models.alexnet, module by module (torchvision/models/alexnet.py
#: in pytorch/vision: ``features``, ``avgpool``, then ``classifier``).
TORCHVISION_ALEXNET = [
    ("Conv2d", (3, 64, 11, 4, 2)), ("ReLU", ()), ("MaxPool2d", (3, 2)),
    ("Conv2d", (64, 192, 5, 1, 2)), ("ReLU", ()), ("MaxPool2d", (3, 2)),
    ("Conv2d", (192, 384, 3, 1, 1)), ("ReLU", ()),
    ("Conv2d", (384, 256, 3, 1, 1)), ("ReLU", ()),
    ("Conv2d", (256, 256, 3, 1, 1)), ("ReLU", ()), ("MaxPool2d", (3, 2)),
    ("AdaptiveAvgPool2d", (6,)),
    ("Dropout", (0.5,)), ("Linear", (9216, 4096)), ("ReLU", ()),
    ("Dropout", (0.5,)), ("Linear", (4096, 4096)), ("ReLU", ()),
    ("Linear", (4096, 1000)),
]  # fmt: skip


def _describe_module(m):
    name = type(m).__name__
    if name == "Conv2d":
        return name, (
            m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0]
        )  # fmt: skip
    if name == "MaxPool2d":
        return name, (m.kernel_size, m.stride)
    if name == "AdaptiveAvgPool2d":
        return name, (m.output_size,)
    if name == "Dropout":
        return name, (m.p,)
    if name == "Linear":
        return name, (m.in_features, m.out_features)
    return name, ()


def test_torchvision_variant_has_torchvisions_modules_in_torchvisions_order():
    built = [
        _describe_module(m)
        for m in alexnet.build("torchvision")
        if not isinstance(m, torch.nn.Flatten)
    ]
    assert built == TORCHVISION_ALEXNET


def test_paper_variant_drops_the_outputs_of_fc6_and_fc7():
    names = list(alexnet.build("paper")._modules)
    drops = [i for i, n in enumerate(names) if n.startswith("drop")]
    assert [names[i - 2 : i] for i in drops] == [["fc6", "relu6"], ["fc7", "relu7"]]
    assert names[-1] == "fc8" and names[-2] == "drop7"


def test_paper_reports_agree_with_what_can_be_recomputed():
    r = alexnet.PAPER_REPORTS
    # 224x224 crops at every offset of a 256x256 image counted as 32 x 32
    # positions (the paper's count), times two for the mirror image.
    assert (r["image_side"] - r["crop_side"]) ** 2 * 2 == r["augmentation_factor"]
    assert alexnet.PAPER_LRN["n"] * alexnet.PAPER_LRN["alpha"] == pytest.approx(
        alexnet.lrn_torch_arguments()["alpha"]
    )


def test_torchvision_differs_from_the_one_weird_trick_paper_only_in_conv4():
    ours = [
        r["out_shape"][0]
        for r in alexnet.layer_table("torchvision")
        if r["kind"] == "conv"
    ]
    differs = [
        i
        for i, (a, b) in enumerate(
            zip(ours, alexnet.ONE_WEIRD_TRICK_FILTERS, strict=True)
        )
        if a != b
    ]
    assert differs == [3]
    assert (ours[3], alexnet.ONE_WEIRD_TRICK_FILTERS[3]) == (256, 384)
