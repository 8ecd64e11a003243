"""Argument checks shared by the public functions.

Every public function calls these first, so a wrong argument is reported at
the boundary with its name, its value and what was expected -- never as a
traceback from deep inside NumPy.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = []  # private helpers


def _describe(value) -> str:
    """A short description of a value for an error message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def check_int(name: str, value, minimum: int | None = None) -> int:
    """Return ``value`` as an ``int`` or raise naming ``name``.

    Booleans and floats are refused: ``stride=2.0`` is almost always a
    division that should have been ``//``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an int, got {_describe(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        expected = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        raise ValueError(f"`{name}` must be {expected}, got {value}")
    return value


def check_pair(name: str, value, minimum: int | None = None) -> tuple[int, int]:
    """Return ``(a, b)`` from an int or a pair of ints, as PyTorch accepts."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(
                f"`{name}` must be an int or a pair of ints, "
                f"got {len(value)} values: {value!r}"
            )
        return (
            check_int(f"{name}[0]", value[0], minimum),
            check_int(f"{name}[1]", value[1], minimum),
        )
    if isinstance(value, np.ndarray):
        raise TypeError(
            f"`{name}` must be an int or a pair of ints, got {_describe(value)}"
        )
    v = check_int(name, value, minimum)
    return v, v


def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be True or False, got {_describe(value)}")
    return bool(value)


def check_array(name: str, value, ndim: int, layout: str) -> np.ndarray:
    """Return ``value`` as a floating-point array with ``ndim`` dimensions.

    ``layout`` names the axes (``"(N, C, H, W)"``) for the error message.
    Integer and boolean arrays are converted to float64; float32 stays
    float32 so results match PyTorch's precision.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(
            f"`{name}` must be a NumPy array of shape {layout}, got {_describe(value)}"
        )
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None
    if torch is not None and isinstance(value, torch.Tensor):
        raise TypeError(
            f"`{name}` must be a NumPy array, got a torch.Tensor; "
            f"pass `{name}.detach().numpy()`"
        )
    arr = np.asarray(value)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_
    ):
        raise TypeError(f"`{name}` must hold real numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"`{name}` must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(
            f"`{name}` must be {ndim}-D with shape {layout}, "
            f"got {arr.ndim}-D shape {arr.shape}"
        )
    if 0 in arr.shape:
        raise ValueError(f"`{name}` must not be empty, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def result_dtype(*arrays: np.ndarray) -> np.dtype:
    """The floating dtype of a result: float32 only when every input is."""
    dtype = np.result_type(*arrays)
    if dtype == np.float16:
        return np.dtype(np.float32)
    return dtype
