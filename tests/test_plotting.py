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
