"""Helper package of the CNN basics course.

``import cnn_course as cc``. Array functions take and return NumPy arrays in
PyTorch's NCHW layout, use ``torch.nn.functional``'s keyword names and
compute cross-correlation (no kernel flip), as PyTorch does. Importing the
package prints nothing and configures nothing.
"""

from . import alexnet, filters
from .conv import conv2d, conv2d_naive, correlate2d, correlate2d_naive
from .params import (
    conv2d_params,
    count_params,
    linear_params,
    locally_connected_params,
)
from .pooling import avg_pool2d, max_pool2d, max_pool2d_naive
from .shapes import output_size, receptive_field, same_padding
from .summary import Summary, summary
from .tables import Table

__all__ = [
    "Summary",
    "Table",
    "alexnet",
    "avg_pool2d",
    "conv2d",
    "conv2d_naive",
    "conv2d_params",
    "correlate2d",
    "correlate2d_naive",
    "count_params",
    "filters",
    "linear_params",
    "locally_connected_params",
    "max_pool2d",
    "max_pool2d_naive",
    "output_size",
    "receptive_field",
    "same_padding",
    "summary",
]

__version__ = "0.1.0"

# Submodules that pull in matplotlib, scikit-learn or grading machinery load
# on first use (``cc.plotting.show_matrix``), so ``import cnn_course`` stays
# light and configures nothing.
_LAZY = ("plotting", "experiments", "grading")


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
