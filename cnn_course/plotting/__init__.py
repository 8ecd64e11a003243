"""Figures for the book, drawn from the package's own computations.

One module per chapter topic; this package re-exports every public function,
so ``cc.plotting.show_matrix`` works whichever module defines it. Every
function takes ``ax=None`` (or makes its own figure), returns what it drew,
and never calls ``plt.show()``. Nothing is configured at import.

=================  ============================================================
module             figures
=================  ============================================================
``convolution``    chapter 1: matrices, one stamp, the sliding animation
``filters``        chapter 2: images, kernels, the filter gallery
``parameters``     chapter 3: one filter over several channels, a layer
``structure``      chapter 4: pooling, architectures, feature maps, the experiment
``sizes``          chapter 5: coverage of the input, output sizes
``alexnet``        chapter 6: parameters per layer and per kind of layer
=================  ============================================================
"""

from .alexnet import plot_layer_params, plot_param_split
from .convolution import animate_correlation, animation_html, show_matrix, show_stamp
from .filters import filter_gallery, show_image, show_kernel
from .parameters import draw_conv_layer, show_channel_sum
from .sizes import plot_coverage, plot_output_sizes
from .structure import (
    draw_architecture,
    plot_model_accuracies,
    show_feature_maps,
    show_pooling,
)

__all__ = [
    "animate_correlation",
    "animation_html",
    "draw_architecture",
    "draw_conv_layer",
    "filter_gallery",
    "plot_coverage",
    "plot_layer_params",
    "plot_model_accuracies",
    "plot_output_sizes",
    "plot_param_split",
    "show_channel_sum",
    "show_feature_maps",
    "show_image",
    "show_kernel",
    "show_matrix",
    "show_pooling",
    "show_stamp",
]
