"""Figure helpers draw what the package computes."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import cnn_course as cc  # noqa: E402
from cnn_course import plotting  # noqa: E402

# ---------------------------------------------------------------- the package

#: Every name ``cc.plotting`` offered before it became a package by chapter.
NAMES_BEFORE_THE_SPLIT = [
    "show_image", "show_matrix", "animate_correlation", "plot_coverage",
    "plot_output_sizes", "plot_layer_params", "plot_param_split",
    "animation_html", "show_stamp", "show_kernel", "filter_gallery",
    "draw_architecture", "draw_conv_layer", "plot_model_accuracies",
    "show_channel_sum", "show_feature_maps", "show_pooling",
]  # fmt: skip


def _public_functions(module):
    import inspect

    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and inspect.isfunction(value)
        and value.__module__ == module.__name__
    }


def test_plotting_all_lists_every_public_function_of_every_module():
    import importlib
    import pkgutil

    modules = [
        importlib.import_module(f"cnn_course.plotting.{info.name}")
        for info in pkgutil.iter_modules(plotting.__path__)
        if not info.name.startswith("_")
    ]
    assert len(modules) >= 6, [m.__name__ for m in modules]
    defined = set()
    for module in modules:
        public = _public_functions(module)
        assert sorted(module.__all__) == sorted(public), module.__name__
        defined |= public
    assert sorted(plotting.__all__) == sorted(defined)
    for name in plotting.__all__:
        assert callable(getattr(plotting, name)), name


def test_every_name_from_before_the_split_still_works_as_cc_plotting_name():
    for name in NAMES_BEFORE_THE_SPLIT:
        assert name in plotting.__all__, name
        assert callable(getattr(cc.plotting, name)), name


def test_show_matrix_writes_every_value_in_its_cell():
    m = np.array([[1, 2], [3, 40]])
    ax = plotting.show_matrix(m)
    assert [t.get_text() for t in ax.texts] == ["1", "2", "3", "40"]


def test_animation_has_one_frame_per_output_cell_and_shows_its_value():
    image = np.arange(25.0).reshape(5, 5)
    kernel = np.array([[1.0, 0.0], [0.0, -1.0]])
    anim = plotting.animate_correlation(image, kernel, stride=2, padding=1)
    out = cc.correlate2d(image, kernel, stride=2, padding=1)
    frames = list(anim.new_frame_seq())
    assert len(frames) == out.size
    anim._draw_frame(out.size - 1)
    i, j = out.shape[0] - 1, out.shape[1] - 1
    assert anim._fig.texts[-1].get_text().endswith(f"= {out[i, j]:g}")
    # Rendered for a page, every frame is embedded and nothing is fetched.
    html = plotting.animation_html(anim)
    assert html.count("data:image/png;base64") == out.size
    assert "http" not in html.split("<script")[0]


def test_animation_rejects_a_3d_image_by_name():
    with pytest.raises(ValueError, match="`image` must be 2-D"):
        plotting.animate_correlation(np.zeros((1, 4, 4)), np.ones((2, 2)))


# ---------------------------------- chapters 1 and 2: stamps, kernels, filters


def _torch_correlate(image, kernel, stride=1, padding=0):
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(np.asarray(image, dtype=np.float64))[None, None]
    w = torch.as_tensor(np.asarray(kernel, dtype=np.float64))[None, None]
    return F.conv2d(x, w, stride=stride, padding=padding)[0, 0].numpy()


def test_show_stamp_draws_the_products_and_titles_torchs_output_value():
    image = np.arange(36.0).reshape(6, 6) % 7
    kernel = np.array([[2.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    fig = plotting.show_stamp(image, kernel, 1, 2, stride=2, padding=1)
    _, _, products_ax, _ = fig.axes
    window = np.pad(image, 1)[2:5, 4:7]  # output (1, 2), stride 2
    texts = [t.get_text() for t in products_ax.texts]
    assert [float(t) for t in texts] == list((window * kernel).ravel())
    assert "-0" not in texts  # a zero times -1 is drawn as 0
    expected = _torch_correlate(image, kernel, stride=2, padding=1)[1, 2]
    assert fig._suptitle.get_text().endswith(f"= {expected:g}")


def test_show_stamp_rejects_a_cell_outside_the_output_by_name():
    with pytest.raises(ValueError, match=r"`\(i, j\)` must be a cell of the 2x2"):
        plotting.show_stamp(np.zeros((3, 3)), np.ones((2, 2)), 2, 0)


def test_show_kernel_takes_the_box_blurs_ninth_out_in_front():
    ax = plotting.show_kernel(cc.filters.box_blur)
    assert [t.get_text() for t in ax.texts] == ["1"] * 9
    assert ax.get_title().endswith("1/9 ×")
    ax = plotting.show_kernel(cc.filters.gaussian_blur, title="gaussian")
    assert ax.get_title() == "gaussian\n1/16 ×"
    assert [t.get_text() for t in ax.texts][:3] == ["1", "2", "1"]


def test_show_kernel_leaves_a_kernel_without_a_common_fraction_alone():
    ax = plotting.show_kernel(np.array([[np.sqrt(2), 1.0], [0.0, -1.0]]))
    assert ax.get_title() == ""
    assert ax.texts[0].get_text() == "1.41"


def test_filter_gallery_draws_each_kernels_result_as_torch_computes_it():
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    image = rng.random((9, 11))
    kernels = {"box_blur": cc.filters.box_blur, "sobel_x": cc.filters.sobel_x}
    fig = plotting.filter_gallery(image, kernels, border="edge", clip=False)
    image_axes = [ax for ax in fig.axes if ax.images and not ax.texts]
    assert [ax.get_title() for ax in image_axes] == ["box blur", "sobel x"]
    x = F.pad(torch.as_tensor(image)[None, None], (1, 1, 1, 1), mode="replicate")
    for ax, kernel in zip(image_axes, kernels.values(), strict=True):
        w = torch.as_tensor(np.array(kernel))[None, None]
        expected = F.conv2d(x, w)[0, 0].numpy()
        np.testing.assert_allclose(ax.images[0].get_array(), expected, atol=1e-12)


def test_filter_gallery_rejects_an_empty_kernel_dict():
    with pytest.raises(TypeError, match="`kernels` must be a non-empty dict"):
        plotting.filter_gallery(np.zeros((4, 4)), {})


# ------------------------------------------- stride, padding and AlexNet

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def _taps_per_cell(n, k, s, p, d):
    """Oracle: d sum(conv(x, ones)) / dx counts the taps reading each cell."""
    x = torch.zeros(1, 1, n + 2 * p, n + 2 * p, dtype=torch.float64, requires_grad=True)
    w = torch.ones(1, 1, k, k, dtype=torch.float64)
    F.conv2d(x, w, stride=s, dilation=d).sum().backward()
    return x.grad[0, 0].numpy()


@pytest.mark.parametrize(
    "n, k, s, p, d",
    [
        (6, 3, 2, 0, 1),
        (6, 3, 2, 1, 1),
        (7, 3, 1, 0, 2),
        (8, 3, 3, 1, 1),
        (5, 2, 2, 0, 1),
        (9, 3, 2, 2, 2),
        (4, 4, 1, 0, 1),
    ],
)
def test_coverage_counts_equal_the_gradient_torch_computes(n, k, s, p, d):
    ax = plotting.plot_coverage(n, k, stride=s, padding=p, dilation=d)
    np.testing.assert_array_equal(ax.coverage, _taps_per_cell(n, k, s, p, d))
    # The numbers written in the cells are those counts.
    shown = [int(t.get_text()) for t in ax.texts]
    assert shown == ax.coverage.ravel().tolist()


def test_coverage_hatches_exactly_the_input_cells_no_window_reads():
    from matplotlib.patches import Rectangle

    for n, k, s, p in [(6, 3, 2, 0), (8, 3, 3, 1), (7, 3, 2, 0)]:
        ax = plotting.plot_coverage(n, k, stride=s, padding=p)
        taps = _taps_per_cell(n, k, s, p, 1)[p : p + n, p : p + n]
        hatched = [r for r in ax.patches if isinstance(r, Rectangle) and r.get_hatch()]
        assert len(hatched) == int((taps == 0).sum())
    # (6 - 3) / 2 leaves the last row and column unread: 6 + 6 - 1 cells.
    ax = plotting.plot_coverage(6, 3, stride=2)
    assert len([r for r in ax.patches if r.get_hatch()]) == 11


def test_coverage_names_the_kernel_when_it_does_not_fit():
    with pytest.raises(ValueError, match="`kernel_size` 5"):
        plotting.plot_coverage(3, 5)


@pytest.mark.parametrize("k, s, p", [(3, 2, 0), (3, 2, 1), (2, 3, 1), (5, 4, 2)])
def test_output_size_lines_match_the_shapes_torch_produces(k, s, p):
    ax = plotting.plot_output_sizes(k, s, 17, padding=p)
    fraction, floor, ceil = ax.get_lines()
    ns = fraction.get_xdata()
    for n, f, fl, ce in zip(
        ns, fraction.get_ydata(), floor.get_ydata(), ceil.get_ydata(), strict=True
    ):
        x = torch.zeros(1, 1, int(n), int(n))
        conv = F.conv2d(x, torch.zeros(1, 1, k, k), stride=s, padding=p)
        pool = F.max_pool2d(x, k, s, p, ceil_mode=True)
        assert fl == conv.shape[-1]
        assert ce == pool.shape[-1]
        assert f == pytest.approx((n + 2 * p - k) / s + 1)


@pytest.fixture(scope="module")
def alexnets():
    return {v: cc.alexnet.build(v) for v in cc.alexnet.VARIANTS}


def test_layer_bars_are_the_parameter_counts_of_the_built_model(alexnets):
    for variant, model in alexnets.items():
        ax = plotting.plot_layer_params(cc.alexnet.layer_table(variant))
        labels = [t.get_text() for t in ax.get_yticklabels()]
        bars = list(ax.patches)
        counted = {
            name: sum(q.numel() for q in getattr(model, name).parameters())
            for name in labels
        }
        # Top to bottom: the first label sits on the highest bar.
        widths = [b.get_width() for b in sorted(bars, key=lambda b: -b.get_y())]
        assert widths == [counted[name] for name in labels]
        assert sum(widths) == sum(q.numel() for q in model.parameters())


def test_split_bars_add_up_to_each_models_conv_and_dense_parameters(alexnets):
    splits = {v: cc.alexnet.split(v) for v in alexnets}
    ax = plotting.plot_param_split(splits)
    bars = [b.get_width() for b in ax.patches]
    expected = []
    for model in alexnets.values():
        for kind in (torch.nn.Conv2d, torch.nn.Linear):
            expected.append(
                sum(
                    q.numel()
                    for m in model.modules()
                    if isinstance(m, kind)
                    for q in m.parameters()
                )
            )
    assert bars == expected


def test_split_rejects_a_dict_without_conv_and_linear():
    with pytest.raises(ValueError, match=r"`splits\['a'\]`"):
        plotting.plot_param_split({"a": {"conv": 1}})
    with pytest.raises(TypeError, match="`splits`"):
        plotting.plot_param_split([1, 2])


# ------------------------------------------- chapters 3 and 4: layers, pooling, models


def test_show_channel_sum_writes_torchs_output_for_the_filter():
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, (3, 4, 4)).astype(float)
    w = rng.integers(-1, 2, (3, 2, 2)).astype(float)
    fig = plotting.show_channel_sum(x, w, bias=2.0)
    expected = F.conv2d(
        torch.as_tensor(x)[None],
        torch.as_tensor(w)[None],
        torch.tensor([2.0], dtype=torch.float64),
    )[0, 0].numpy()
    out_ax = fig.axes[-1]
    assert [t.get_text() for t in out_ax.texts] == [
        f"{v:.0f}" for v in expected.ravel()
    ]
    # Each channel's own map: the correlation of that channel alone.
    for c in range(3):
        partial = F.conv2d(
            torch.as_tensor(x[c])[None, None], torch.as_tensor(w[c])[None, None]
        )[0, 0].numpy()
        assert [t.get_text() for t in fig.axes[3 * c + 2].texts] == [
            f"{v:.0f}" for v in partial.ravel()
        ]


def test_show_channel_sum_rejects_a_filter_with_the_wrong_channel_count():
    with pytest.raises(
        ValueError, match="`weight` must have one channel per channel of `x`: `x` has 3"
    ):
        plotting.show_channel_sum(np.zeros((3, 4, 4)), np.zeros((2, 2, 2)))


def test_draw_conv_layer_draws_one_sheet_per_channel_and_torchs_output_size():
    import torch

    ax = plotting.draw_conv_layer(3, 4, 3, 6, stride=1, padding=0)
    out = torch.nn.Conv2d(3, 4, 3)(torch.zeros(1, 3, 6, 6))
    assert ax.out_size == out.shape[-1]
    # input 3 sheets; 4 filters of 3 sheets and their 4 maps; output 4 sheets
    assert len(ax.patches) - 6 == 3 + 4 * 3 + 4 + 4  # 6 arrows
    labels = " ".join(t.get_text() for t in ax.texts)
    assert f"output\n4 × {out.shape[-1]} × {out.shape[-1]}" in labels
    assert "4 filters\neach 3 × 3 × 3" in labels


def test_draw_conv_layer_caps_what_it_draws_but_not_its_labels():
    ax = plotting.draw_conv_layer(64, 128, 3, 8, padding=1, max_drawn=4)
    labels = " ".join(t.get_text() for t in ax.texts)
    assert "128 filters\neach 64 × 3 × 3, first 4 drawn" in labels
    assert "output\n128 × 8 × 8" in labels
    with pytest.raises(ValueError, match="`kernel_size` must be a positive"):
        plotting.draw_conv_layer(3, 4, 0, 6)


@pytest.mark.parametrize(("size", "k", "s"), [(4, 2, None), (5, 3, 2), (6, 2, 1)])
def test_show_pooling_writes_torchs_max_and_average(size, k, s):
    import torch
    import torch.nn.functional as F

    x = np.random.default_rng(size).integers(0, 10, (size, size)).astype(float)
    fig = plotting.show_pooling(x, k, s)
    t = torch.as_tensor(x)[None, None]
    for ax, pooled in zip(
        fig.axes[1:], (F.max_pool2d(t, k, s), F.avg_pool2d(t, k, s)), strict=True
    ):
        fmt = "{:.0f}" if torch.equal(pooled, pooled.round()) else "{:.2f}"
        assert [tx.get_text() for tx in ax.texts] == [
            fmt.format(v) for v in pooled[0, 0].numpy().ravel()
        ]
    # The largest value of each window is printed in bold.
    bold = [tx.get_text() for tx in fig.axes[0].texts if tx.get_fontweight() == "bold"]
    maxima = F.max_pool2d(t, k, s).flatten().tolist()
    assert {float(b) for b in bold} == set(maxima)
    assert len(bold) <= len(maxima)  # overlapping windows may share a maximum


def test_draw_architecture_boxes_every_layer_with_its_parameters():
    import torch

    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 3 * 3, 10),
    )
    rows = cc.summary(net, (1, 1, 8, 8)).rows
    ax = plotting.draw_architecture(rows)
    assert len(ax.patches) == len(net)
    texts = [t.get_text() for t in ax.texts]
    for module in net:
        n = sum(p.numel() for p in module.parameters())
        assert (f"{n:,} params" if n else "no params") in texts
    assert "4×3×3" in texts and "36" in texts  # pooled 6x6 -> 3x3, flattened
    assert "feature\nextraction" in texts and "decision" in texts
    # Top to bottom, in the order of the layers.
    tops = [patch.get_y() for patch in ax.patches]
    assert tops == sorted(tops, reverse=True)


def test_draw_architecture_names_rows_without_the_needed_keys():
    with pytest.raises(ValueError, match=r"`rows\[0\]` must be a dict with keys"):
        plotting.draw_architecture([{"name": "conv"}])
    with pytest.raises(ValueError, match="`rows` must hold at least one layer"):
        plotting.draw_architecture([])


def test_show_feature_maps_draws_one_image_per_channel():
    maps = np.random.default_rng(0).random((5, 4, 4))
    fig = plotting.show_feature_maps(maps, ncols=3)
    assert len(fig.axes) == 5
    for c, ax in enumerate(fig.axes):
        np.testing.assert_array_equal(ax.images[0].get_array(), maps[c])
        assert ax.get_title() == f"channel {c}"
    with pytest.raises(ValueError, match="`titles` must have one entry per channel"):
        plotting.show_feature_maps(maps, titles=["a"])


def test_plot_model_accuracies_places_each_mean_in_per_cent():
    rows = [
        {
            "model": "CNN",
            "params": 1898,
            "test_acc": [0.9, 1.0],
            "shifted_acc": [0.5, 0.7],
        },
        {"model": "MLP", "params": 17226, "test_acc": [0.95], "shifted_acc": [0.4]},
    ]
    ax = plotting.plot_model_accuracies(rows)
    assert ax.means == [
        (pytest.approx(95.0), pytest.approx(60.0)),
        (pytest.approx(95.0), pytest.approx(40.0)),
    ]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["CNN\n1,898 parameters", "MLP\n17,226 parameters"]
    with pytest.raises(ValueError, match=r"`rows\[0\]` must be a dict"):
        plotting.plot_model_accuracies([{"model": "CNN"}])


def test_animation_html_embeds_every_frame_and_links_nothing_off_site():
    image = np.arange(16.0).reshape(4, 4)
    anim = plotting.animate_correlation(image, np.ones((2, 2)), stride=2)
    assert "https://" in anim.to_jshtml()  # matplotlib's own links a CDN
    html = plotting.animation_html(anim)
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html
    frames = cc.output_size(4, 2, stride=2) ** 2
    assert html.count("data:image/png;base64") == frames


def test_animation_html_names_a_wrong_argument():
    with pytest.raises(TypeError, match="`anim`"):
        plotting.animation_html("<html>")


# ------------------------------------------------- readable on a phone

#: The smallest text the course's figures may use, in points; the browser
#: test (tests/test_browser.py) relies on it.
MIN_FONT_PT = 9
#: The widest a figure may be, in inches: at the book's 110 dpi a figure
#: this wide is shown at half its size or more on a 390 px phone screen.
MAX_WIDTH_IN = 6.5


def _figure_calls():
    """A call drawing each figure function's figure, by name (drawn on demand)."""
    from cnn_course.experiments import digits

    rng = np.random.default_rng(0)
    image = rng.integers(0, 5, size=(5, 5)).astype(float)
    kernel = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    paper = cc.alexnet.layer_table("paper")
    rows = [
        {
            "model": "CNN, global average pooling",
            "params": 10,
            "test_acc": [0.9, 0.95],
            "shifted_acc": [0.5, 0.6],
        },
        {
            "model": "MLP, same budget",
            "params": 20,
            "test_acc": [0.9, 0.92],
            "shifted_acc": [0.4, 0.5],
        },
    ]
    summary = cc.summary(digits.make_cnn(), (1, 1, 8, 8))

    def animation_figure():
        anim = plotting.animate_correlation(image, kernel)
        plotting.animation_html(anim)  # renders every frame, as the book does
        return anim._fig

    return {
        "show_matrix": lambda: plotting.show_matrix(image),
        "show_stamp": lambda: plotting.show_stamp(image, kernel, 0, 0),
        "animate_correlation": animation_figure,
        "show_image": lambda: plotting.show_image(image, title="image"),
        "show_kernel": lambda: plotting.show_kernel(cc.filters.box_blur, title="box"),
        "filter_gallery": lambda: plotting.filter_gallery(
            rng.random((12, 12)), cc.filters.KERNELS
        ),
        "show_channel_sum": lambda: plotting.show_channel_sum(
            rng.integers(0, 3, (3, 4, 4)).astype(float),
            rng.integers(-1, 2, (3, 2, 2)).astype(float),
            bias=1.0,
        ),
        "draw_conv_layer": lambda: plotting.draw_conv_layer(
            in_channels=3, out_channels=4, kernel_size=3, size=6
        ),
        "plot_coverage": lambda: plotting.plot_coverage(6, 3, stride=2, title="6"),
        "plot_output_sizes": lambda: plotting.plot_output_sizes(3, 2, 16),
        "show_pooling": lambda: plotting.show_pooling(image[:4, :4], kernel_size=2),
        "draw_architecture": lambda: plotting.draw_architecture(summary.rows),
        "show_feature_maps": lambda: plotting.show_feature_maps(
            rng.random((8, 8, 8)), ncols=4
        ),
        "plot_model_accuracies": lambda: plotting.plot_model_accuracies(rows),
        "plot_layer_params": lambda: plotting.plot_layer_params(paper, title="paper"),
        "plot_param_split": lambda: plotting.plot_param_split(
            {v: cc.alexnet.split(v) for v in cc.alexnet.VARIANTS}, title="split"
        ),
    }


FIGURE_FUNCTIONS = sorted(set(plotting.__all__) - {"animation_html"})


def test_every_figure_function_is_covered_by_the_readability_check():
    assert sorted(_figure_calls()) == FIGURE_FUNCTIONS


@pytest.mark.parametrize("name", FIGURE_FUNCTIONS)
def test_figures_use_no_text_below_9_pt_and_fit_a_phone(name):
    from matplotlib.text import Text

    drawn = _figure_calls()[name]()
    fig = getattr(drawn, "figure", drawn)
    fig.canvas.draw()
    small = [
        (t.get_text(), t.get_fontsize())
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < MIN_FONT_PT
    ]
    assert not small, f"{name}: text below {MIN_FONT_PT} pt: {small[:5]}"
    # As the book saves it: 110 dpi, cropped to what was drawn (labels that
    # stick out of the axes make the picture wider than the figure).
    import io

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    width = Image.open(buffer).size[0] / 110
    assert width <= MAX_WIDTH_IN, f"{name}: {width:.2f} in wide as saved"
