"""The package's public face: names, and silence at import."""

import subprocess
import sys

import cnn_course as cc

CONTRACT = [
    "output_size",
    "conv2d_params",
    "linear_params",
    "count_params",
    "correlate2d",
    "conv2d",
    "conv2d_naive",
    "max_pool2d",
    "avg_pool2d",
    "filters",
    "alexnet",
    "summary",
]


def test_every_contract_name_is_exported():
    for name in CONTRACT:
        assert name in cc.__all__ and hasattr(cc, name), name


def test_import_prints_nothing_and_configures_nothing():
    code = (
        "import matplotlib, sys; backend = matplotlib.rcParams._get_backend_or_none();"
        "import cnn_course;"
        "assert matplotlib.rcParams._get_backend_or_none() == backend;"
        "assert 'matplotlib.pyplot' not in sys.modules"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""


def test_heavy_submodules_load_on_first_use():
    code = (
        "import sys, cnn_course as cc;"
        "assert 'cnn_course.plotting' not in sys.modules;"
        "assert callable(cc.plotting.show_matrix);"
        "assert 'cnn_course.plotting' in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
