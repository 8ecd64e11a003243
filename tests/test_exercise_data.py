"""cnn_course.exercise_data: exercise 2's pictures, and nothing of the answer.

The mystery pictures are package data made here: ``python
tests/test_exercise_data.py`` writes ``cnn_course/data/mystery.npz`` again
from the reference filters, and the tests check that the file matches them.
"""

import subprocess
import sys
from pathlib import Path

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


MYSTERY_SEED = 2024
MYSTERY_KERNELS = ("box_blur", "emboss", "outline", "sharpen")
DATA = Path(cc.__file__).resolve().parent / "data" / "mystery.npz"


def fresh_mystery_pictures() -> dict[str, np.ndarray]:
    """The pictures as the reference filters make them (float32, as stored)."""
    grey = exercise_data.photo()
    order = np.random.default_rng(MYSTERY_SEED).permutation(MYSTERY_KERNELS)
    return {
        letter: cc.filters.apply_filter(grey, cc.filters.KERNELS[str(name)]).astype(
            np.float32
        )
        for letter, name in zip("ABCD", order, strict=True)
    }


def test_the_stored_pictures_are_what_the_reference_filters_make():
    stored = exercise_data.mystery_pictures()
    for letter, picture in fresh_mystery_pictures().items():
        np.testing.assert_array_equal(stored[letter].astype(np.float32), picture)


def test_the_module_source_does_not_say_which_kernel_made_which_picture():
    source = Path(exercise_data.__file__).read_text()
    assert str(MYSTERY_SEED) not in source and "permutation" not in source


if __name__ == "__main__":
    np.savez_compressed(DATA, **fresh_mystery_pictures())
    print(f"wrote {DATA}")
