"""The book's experiments, each reproducible across machines.

An experiment here trains networks, so its numbers depend on random seeds
and, through the order of floating-point additions, on the machine. Each
module therefore fixes its seeds and its torch thread count, repeats its runs
over several seeds, and reports differences with an interval; the book states
only what holds for every seed set and thread count the tests try.

``digits``
    Chapter 4: a small CNN against fully connected networks on
    scikit-learn's bundled 8x8 digits, on the test set and on digits moved
    by one pixel.
"""

from . import digits

__all__ = ["digits"]
