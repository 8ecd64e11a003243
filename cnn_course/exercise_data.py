"""Pictures that exercise 2's locked cells show, without the answers.

Exercise 2 (``solutions/02_filters``) asks which kernel made which of four
filtered photographs. Its locked cells load the photograph and the four
pictures from here, so that the notebook holds no trace of which kernel
made which picture, and so that they need nothing a graded student kernel
may not import: importing this module loads NumPy and matplotlib only.

The pictures are package data (``data/mystery.npz``), made by
``tests/test_exercise_data.py`` with the course's reference filters, which
also checks that the file still matches them. So this module needs no
reference module (a graded kernel cannot import them), and its source does
not say which kernel made which picture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["KERNEL_NAMES", "photo", "mystery_pictures", "digits"]

#: The candidates for exercise 2's task 4: the names of
#: ``cnn_course.filters.KERNELS``, sorted (a test holds the two equal).
KERNEL_NAMES = [
    "box_blur",
    "emboss",
    "gaussian_blur",
    "identity",
    "outline",
    "sharpen",
    "sobel_x",
    "sobel_y",
]

_DATA = Path(__file__).resolve().parent / "data" / "mystery.npz"


def photo(colour: bool = False) -> np.ndarray:
    """The photograph of exercise 2: matplotlib's Grace Hopper, 150x128.

    Parameters
    ----------
    colour : bool, default False
        True: the RGB picture, uint8 of shape (150, 128, 3). False: the grey
        picture, the mean of the three channels scaled to floats in [0, 1],
        shape (150, 128).

    Returns
    -------
    ndarray

    Examples
    --------
    >>> photo().shape, photo(colour=True).dtype
    ((150, 128), dtype('uint8'))
    """
    import matplotlib.pyplot as plt
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        rgb = plt.imread(f)[::4, ::4]
    if colour:
        return rgb
    return rgb.mean(axis=2) / 255.0


def mystery_pictures() -> dict[str, np.ndarray]:
    """The four filtered photographs of exercise 2's task 4, by letter.

    Each is :func:`photo` under a different kernel of
    ``cnn_course.filters.KERNELS``, filtered as that exercise's
    ``apply_filter`` does (edge padding, clipped to [0, 1]).

    Returns
    -------
    dict of str to ndarray
        Keys ``"A"`` to ``"D"``, each a float array of shape (150, 128).

    Examples
    --------
    >>> pictures = mystery_pictures()
    >>> sorted(pictures), pictures["A"].shape
    (['A', 'B', 'C', 'D'], (150, 128))
    """
    with np.load(_DATA) as data:
        return {letter: data[letter].astype(np.float64) for letter in "ABCD"}


def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 handwritten digits, read without importing it.

    The same data as ``sklearn.datasets.load_digits()`` (the file that ships
    with scikit-learn), read straight from its folder: importing scikit-learn
    imports SciPy's ndimage, which a graded kernel of exercise 4 cannot.

    Returns
    -------
    images : ndarray of float, shape (1797, 8, 8), values 0 to 16
    labels : ndarray of int, shape (1797,)

    Examples
    --------
    >>> images, labels = digits()
    >>> images.shape, labels[:5].tolist()
    ((1797, 8, 8), [0, 1, 2, 3, 4])
    """
    from importlib.util import find_spec

    spec = find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the digits ship with scikit-learn, which is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    data = np.loadtxt(path / "digits.csv.gz", delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)
