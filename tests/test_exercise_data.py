"""cnn_course.exercise_data: exercise 2's pictures, and nothing of the answer."""

import subprocess
import sys

import numpy as np

import cnn_course as cc
from cnn_course import exercise_data


def test_kernel_names_are_the_course_kernels_sorted():
    assert exercise_data.KERNEL_NAMES == sorted(cc.filters.KERNELS)


def test_the_photo_is_matplotlibs_grace_hopper_in_grey_and_colour():
    grey, colour = exercise_data.photo(), exercise_data.photo(colour=True)
    assert colour.dtype == np.uint8 and colour.shape == (150, 128, 3)
    assert grey.dtype == np.float64 and grey.shape == (150, 128)
    np.testing.assert_allclose(grey, colour.mean(axis=2) / 255.0)


def test_each_mystery_picture_is_the_photo_under_a_different_kernel():
    pictures = exercise_data.mystery_pictures()
    assert sorted(pictures) == ["A", "B", "C", "D"]
    grey = exercise_data.photo()
    makers = []
    for letter, picture in pictures.items():
        assert picture.shape == grey.shape, letter
        found = [
            name
            for name, kernel in cc.filters.KERNELS.items()
            if np.allclose(cc.filters.apply_filter(grey, kernel), picture)
        ]
        assert len(found) == 1, (letter, found)
        makers += found
    assert len(set(makers)) == 4


def test_importing_it_loads_no_reference_module():
    code = (
        "import sys\n"
        "import cnn_course.exercise_data\n"
        "print(sorted(m for m in sys.modules if m.startswith('cnn_course.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    loaded = eval(result.stdout)
    # cnn_course/__init__ imports the reference modules itself today (the lead
    # is changing that); exercise_data must add nothing of its own.
    from_init = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, cnn_course\n"
            "print(sorted(m for m in sys.modules if m.startswith('cnn_course.')))",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert set(loaded) - set(eval(from_init.stdout)) == {"cnn_course.exercise_data"}
