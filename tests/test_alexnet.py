"""AlexNet tables against the models they describe."""

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
