"""AlexNet, layer by layer: shapes and parameter counts computed, not typed.

Two variants:

``"paper"``
    Krizhevsky, Sutskever & Hinton (2012), the network trained on two GPUs:
    96/256/384/384/256 channels, local response normalisation after conv1
    and conv2, and conv2, conv4 and conv5 split into two groups that each
    see only the half of the channels on their own GPU. The paper says its
    input is 224x224, but its 55x55 first map needs either 227x227 without
    padding or 224x224 with padding 2; like most reimplementations, this
    variant takes 227x227. Dropout sits where the paper puts it, on the
    outputs of fc6 and fc7; the normalisation uses the paper's constants
    (:data:`PAPER_LRN`), converted to PyTorch's convention.
``"torchvision"``
    ``torchvision.models.alexnet``: 224x224 input with padding 2 in conv1,
    64/192/384/256/256 channels, no normalisation, no groups, an adaptive
    average pooling to 6x6 before the dense layers, and dropout on the
    inputs of fc6 and fc7. torchvision cites Krizhevsky's "One weird trick"
    paper (2014), but its layer sizes come from Soumith Chintala's Torch
    port of the one-GPU network of Krizhevsky's cuda-convnet2, whose conv4
    has 256 filters; the paper gives conv4 384 (pytorch/vision#463).

Both end in the same three dense layers 9216 -> 4096 -> 4096 -> 1000.

Examples
--------
>>> rows = layer_table("paper")
>>> rows[0]["name"], rows[0]["out_shape"], rows[0]["params"]
('conv1', (96, 55, 55), 34944)
>>> total_params("paper"), total_params("torchvision")
(60965224, 61100840)
"""

from __future__ import annotations

from collections import OrderedDict

from .params import conv2d_params, linear_params
from .shapes import output_size
from .tables import Table

__all__ = [
    "ONE_WEIRD_TRICK_FILTERS",
    "PAPER_LRN",
    "PAPER_REPORTS",
    "VARIANTS",
    "build",
    "layer_table",
    "lrn_torch_arguments",
    "split",
    "total_params",
]

#: Filters of the five convolutions of the one-GPU network in Krizhevsky's
#: "One weird trick for parallelizing convolutional neural networks" (2014),
#: the paper torchvision cites (its footnote 1); torchvision's conv4 has 256.
ONE_WEIRD_TRICK_FILTERS = (64, 192, 384, 384, 256)

#: The paper's local response normalisation (section 3.3):
#: ``b = a / (k + alpha * sum of a**2 over n neighbouring channels) ** beta``.
PAPER_LRN = {"n": 5, "k": 2.0, "alpha": 1e-4, "beta": 0.75}

#: What Krizhevsky, Sutskever & Hinton (2012) report, by section: the book
#: cites these, it cannot recompute them. Error rates in per cent.
PAPER_REPORTS = {
    # 3.1: a four-layer CNN reaches 25 % training error on CIFAR-10 this
    # many times faster with ReLUs than with tanh units.
    "relu_speedup": 6,
    "relu_target_error": 25,
    # 3.2: memory of each of the two GTX 580 GPUs, in GB; what splitting the
    # network across them gained over a one-GPU net with half the kernels.
    "gpu_memory_gb": 3,
    "two_gpu_gain_top1": 1.7,
    "two_gpu_gain_top5": 1.2,
    # 3.3: what local response normalisation gained.
    "lrn_gain_top1": 1.4,
    "lrn_gain_top5": 1.2,
    # 3.4: what overlapping pooling (3x3, stride 2) gained over 2x2, stride 2.
    "overlap_gain_top1": 0.4,
    "overlap_gain_top5": 0.3,
    # 4.1: training crops from the 256x256 images, and the factor by which
    # crops and their mirror images enlarge the training set.
    "image_side": 256,
    "crop_side": 224,
    "augmentation_factor": 2048,
    # 4.2: dropout probability; dropout roughly doubles the iterations
    # needed to converge.
    "dropout_p": 0.5,
    # 2: training images of ILSVRC-2010, the paper's data set.
    "training_images": 1_200_000,
    # 6: top-5 test error in ILSVRC-2012, the winning entry (an ensemble of
    # CNNs) against the second-best entry.
    "ilsvrc2012_top5": 15.3,
    "ilsvrc2012_second_top5": 26.2,
}

# Each layer as (name, kind, settings). Shapes and counts are derived.
_SPECS = {
    "paper": {
        "input": (3, 227, 227),
        "layers": [
            ("conv1", "conv", dict(out=96, k=11, s=4, p=0, groups=1)),
            ("norm1", "lrn", {}),
            ("pool1", "maxpool", dict(k=3, s=2)),
            ("conv2", "conv", dict(out=256, k=5, s=1, p=2, groups=2)),
            ("norm2", "lrn", {}),
            ("pool2", "maxpool", dict(k=3, s=2)),
            ("conv3", "conv", dict(out=384, k=3, s=1, p=1, groups=1)),
            ("conv4", "conv", dict(out=384, k=3, s=1, p=1, groups=2)),
            ("conv5", "conv", dict(out=256, k=3, s=1, p=1, groups=2)),
            ("pool5", "maxpool", dict(k=3, s=2)),
            ("flatten", "flatten", {}),
            ("fc6", "linear", dict(out=4096)),
            ("fc7", "linear", dict(out=4096)),
            ("fc8", "linear", dict(out=1000)),
        ],
    },
    "torchvision": {
        "input": (3, 224, 224),
        "layers": [
            ("conv1", "conv", dict(out=64, k=11, s=4, p=2, groups=1)),
            ("pool1", "maxpool", dict(k=3, s=2)),
            ("conv2", "conv", dict(out=192, k=5, s=1, p=2, groups=1)),
            ("pool2", "maxpool", dict(k=3, s=2)),
            ("conv3", "conv", dict(out=384, k=3, s=1, p=1, groups=1)),
            ("conv4", "conv", dict(out=256, k=3, s=1, p=1, groups=1)),
            ("conv5", "conv", dict(out=256, k=3, s=1, p=1, groups=1)),
            ("pool5", "maxpool", dict(k=3, s=2)),
            ("avgpool", "adaptive_avgpool", dict(size=6)),
            ("flatten", "flatten", {}),
            ("fc6", "linear", dict(out=4096)),
            ("fc7", "linear", dict(out=4096)),
            ("fc8", "linear", dict(out=1000)),
        ],
    },
}

VARIANTS = tuple(_SPECS)

_COLUMNS = [
    "name",
    "kind",
    "in_shape",
    "kernel",
    "stride",
    "padding",
    "groups",
    "out_shape",
    "weights",
    "biases",
    "params",
]


def _check_variant(variant):
    if variant not in _SPECS:
        raise ValueError(f"`variant` must be one of {list(VARIANTS)}, got {variant!r}")
    return _SPECS[variant]


def layer_table(variant: str = "paper") -> Table:
    """One row per layer: shapes, hyper-parameters and parameter counts.

    ReLU and dropout, which change neither shape nor count, are left out;
    :func:`build` has them.

    Parameters
    ----------
    variant : {"paper", "torchvision"}

    Returns
    -------
    Table
        A list of dicts with keys ``name, kind, in_shape, kernel, stride,
        padding, groups, out_shape, weights, biases, params``. Shapes are
        ``(C, H, W)`` or ``(features,)``; ``kernel`` and the rest are
        ``None`` where they do not apply.

    Examples
    --------
    >>> fc6 = layer_table("paper")[11]
    >>> fc6["in_shape"], fc6["weights"]  # 6*6*256 = 9216 inputs
    ((9216,), 37748736)
    """
    spec = _check_variant(variant)
    shape = spec["input"]
    rows = []
    for name, kind, cfg in spec["layers"]:
        row = dict.fromkeys(_COLUMNS)
        row.update(name=name, kind=kind, in_shape=shape, weights=0, biases=0)
        if kind == "conv":
            c, h, w = shape
            k, s, p, g = cfg["k"], cfg["s"], cfg["p"], cfg["groups"]
            side = output_size(h, k, s, p), output_size(w, k, s, p)
            shape = (cfg["out"], *side)
            params = conv2d_params(c, cfg["out"], k, groups=g)
            row.update(
                kernel=(k, k),
                stride=s,
                padding=p,
                groups=g,
                biases=cfg["out"],
                weights=params - cfg["out"],
                params=params,
            )
        elif kind == "maxpool":
            c, h, w = shape
            k, s = cfg["k"], cfg["s"]
            shape = (c, output_size(h, k, s), output_size(w, k, s))
            row.update(kernel=(k, k), stride=s, padding=0)
        elif kind == "adaptive_avgpool":
            shape = (shape[0], cfg["size"], cfg["size"])
        elif kind == "flatten":
            size = 1
            for dim in shape:
                size *= dim
            shape = (size,)
        elif kind == "linear":
            params = linear_params(shape[0], cfg["out"])
            row.update(biases=cfg["out"], weights=params - cfg["out"], params=params)
            shape = (cfg["out"],)
        row["out_shape"] = shape
        row["params"] = row["weights"] + row["biases"]
        rows.append(row)
    total = sum(r["params"] for r in rows)
    return Table(rows, columns=_COLUMNS, footer={"name": "total", "params": total})


def total_params(variant: str = "paper") -> int:
    """Sum of the ``params`` column of :func:`layer_table`."""
    return sum(row["params"] for row in layer_table(variant))


def split(variant: str = "paper") -> dict:
    """Parameters held by convolution and by dense layers.

    Examples
    --------
    >>> s = split("torchvision")
    >>> s["conv"] + s["linear"] == total_params("torchvision")
    True
    >>> round(s["linear"] / (s["conv"] + s["linear"]), 3)
    0.96
    """
    rows = layer_table(variant)
    return {
        kind: sum(r["params"] for r in rows if r["kind"] == kind)
        for kind in ("conv", "linear")
    }


def lrn_torch_arguments(lrn: dict = PAPER_LRN) -> dict:
    """The paper's normalisation constants as ``nn.LocalResponseNorm`` takes them.

    PyTorch computes ``b = a / (k + alpha / n * sum of a**2) ** beta``: it
    divides its ``alpha`` by the window ``n``, the paper does not. So the
    paper's alpha becomes ``n * alpha`` in PyTorch.

    Examples
    --------
    >>> args = lrn_torch_arguments()
    >>> args["size"], round(args["alpha"], 6), args["beta"], args["k"]  # 5 * 1e-4
    (5, 0.0005, 0.75, 2.0)
    """
    return {
        "size": lrn["n"],
        "alpha": lrn["n"] * lrn["alpha"],
        "beta": lrn["beta"],
        "k": lrn["k"],
    }


def build(variant: str = "paper"):
    """A ``torch.nn.Module`` of the variant, modules named as in the table.

    Returns
    -------
    torch.nn.Sequential
        Takes ``(N, 3, 227, 227)`` (paper) or ``(N, 3, 224, 224)``
        (torchvision) and returns ``(N, 1000)`` class scores. Weights are
        PyTorch's default random initialisation; nothing is downloaded.

    Examples
    --------
    >>> from cnn_course import count_params
    >>> count_params(build("torchvision"))
    61100840
    """
    from torch import nn

    spec = _check_variant(variant)
    channels = spec["input"][0]
    features = None
    modules = OrderedDict()
    rows = {r["name"]: r for r in layer_table(variant)}
    for name, kind, cfg in spec["layers"]:
        index = name[-1]
        if kind == "conv":
            modules[name] = nn.Conv2d(
                channels, cfg["out"], cfg["k"], cfg["s"], cfg["p"], groups=cfg["groups"]
            )
            modules[f"relu{index}"] = nn.ReLU(inplace=True)
            channels = cfg["out"]
        elif kind == "lrn":
            modules[name] = nn.LocalResponseNorm(**lrn_torch_arguments())
        elif kind == "maxpool":
            modules[name] = nn.MaxPool2d(cfg["k"], cfg["s"])
        elif kind == "adaptive_avgpool":
            modules[name] = nn.AdaptiveAvgPool2d(cfg["size"])
        elif kind == "flatten":
            modules[name] = nn.Flatten()
            features = rows[name]["out_shape"][0]
        elif kind == "linear":
            hidden = name != "fc8"
            if hidden and variant == "torchvision":
                # torchvision drops the inputs of fc6 and fc7 ...
                modules[f"drop{int(index) - 1}"] = nn.Dropout(0.5)
            modules[name] = nn.Linear(features, cfg["out"])
            if hidden:
                modules[f"relu{index}"] = nn.ReLU(inplace=True)
            if hidden and variant == "paper":
                # ... the paper the outputs of fc6 and fc7 (section 4.2).
                modules[f"drop{index}"] = nn.Dropout(PAPER_REPORTS["dropout_p"])
            features = cfg["out"]
    return nn.Sequential(modules)
