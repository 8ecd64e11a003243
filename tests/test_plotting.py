"""Figure helpers draw what the package computes."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import cnn_course as cc  # noqa: E402
from cnn_course import plotting  # noqa: E402


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
    assert [t.get_text() for t in products_ax.texts] == [
        f"{v:.0f}" for v in (window * kernel).ravel()
    ]
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
        np.testing.assert_allclose(ax.images[0].get_array(), expected,
                                   atol=1e-12)


def test_filter_gallery_rejects_an_empty_kernel_dict():
    with pytest.raises(TypeError, match="`kernels` must be a non-empty dict"):
        plotting.filter_gallery(np.zeros((4, 4)), {})
