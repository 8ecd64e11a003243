"""A small CNN against fully connected networks on scikit-learn's 8x8 digits.

Chapter 4 tests the notes' claim that convolutional layers do more with
fewer parameters. The data are the 1,797 handwritten digits that ship with
scikit-learn (``sklearn.datasets.load_digits``: nothing is downloaded), each
an 8x8 grey image with values 0 to 16. Every model is trained the same way
(Adam, cross-entropy, mini-batches) from a fixed seed, on one CPU thread, so
the same seed gives the same numbers on every machine with the same
versions of the libraries.

Besides the usual test accuracy, :func:`compare` measures the accuracy on
the test images moved by one pixel (up, down, left or right). A person
reads a digit moved by one pixel without noticing; a network whose first
layer is a convolution shares its weights across positions, a fully
connected one does not.

Examples
--------
>>> x_train, x_test, y_train, y_test = load_split(seed=0)
>>> x_train.shape, x_test.shape  # 70 % and 30 % of 1,797 images
((1257, 1, 8, 8), (540, 1, 8, 8))
>>> count_params(make_cnn())  # (9*1*8 + 8) + (9*8*16 + 16) + (64*10 + 10)
1898
>>> count_params(make_mlp((128, 64)))  # (64*128 + 128) + (128*64 + 64) + (64*10 + 10)
17226
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import numpy as np

from ._checks import _describe, check_array, check_int
from .params import count_params
from .tables import Table

__all__ = [
    "N_CLASSES",
    "SHIFTS",
    "accuracy",
    "compare",
    "load_split",
    "make_cnn",
    "make_mlp",
    "matching_hidden",
    "models",
    "shift_images",
    "train",
]

N_CLASSES = 10
#: The four one-pixel moves (rows down, columns right) of the shifted test.
SHIFTS = ((-1, 0), (1, 0), (0, -1), (0, 1))


@contextlib.contextmanager
def _one_thread():
    """Run torch on one thread, as it was configured before afterwards.

    One thread makes the order of floating-point additions, and so the
    results, the same on every machine; on networks this small it is also
    faster than several threads that wait for each other.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def _reproducible(seed: int):
    """Seed torch, use one thread and deterministic ops; restore afterwards.

    The caller's global random state is left as it was.
    """
    import torch

    deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]), _one_thread():
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(deterministic)


def load_split(seed: int = 0, test_size: float = 0.3):
    """The bundled 8x8 digits, scaled to [0, 1] and split into train and test.

    Parameters
    ----------
    seed : int, default 0
        Seed of the split, which is stratified: each digit has the same
        share in both parts.
    test_size : float, default 0.3
        Share of the images held out for testing, strictly between 0 and 1.

    Returns
    -------
    x_train, x_test : ndarray, shape (N, 1, 8, 8), float32
        Images in NCHW layout with one channel, values in [0, 1].
    y_train, y_test : ndarray, shape (N,), int64
        Digits 0 to 9.

    Examples
    --------
    >>> x_train, x_test, y_train, y_test = load_split(seed=1, test_size=0.5)
    >>> len(x_train) + len(x_test), float(x_train.max()), y_test.dtype
    (1797, 1.0, dtype('int64'))
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    seed = check_int("seed", seed, 0)
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)):
        raise TypeError(
            f"`test_size` must be a float between 0 and 1, got {_describe(test_size)}"
        )
    if not 0 < test_size < 1:
        raise ValueError(
            f"`test_size` must be strictly between 0 and 1, got {test_size}"
        )
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_size, stratify=y, random_state=seed
    )
    return x_train, x_test, y_train, y_test


def make_cnn(channels: Sequence[int] = (8, 16)):
    """A small CNN for 1x8x8 inputs: two conv-ReLU-pool stages, one dense layer.

    Each stage is a 3x3 convolution with padding 1 (the size stays),
    ReLU and a 2x2 max-pool (the size halves): 8x8 -> 4x4 -> 2x2. The
    features are flattened and one dense layer gives the ten class scores.

    Parameters
    ----------
    channels : pair of int, default (8, 16)
        Output channels of the two convolutions.

    Returns
    -------
    torch.nn.Sequential
        Input (N, 1, 8, 8), output (N, 10) scores.

    Examples
    --------
    >>> net = make_cnn()
    >>> [type(m).__name__ for m in net][:3]
    ['Conv2d', 'ReLU', 'MaxPool2d']
    """
    from torch import nn

    if (
        isinstance(channels, (str, bytes))
        or not isinstance(channels, Sequence)
        or len(channels) != 2
    ):
        raise TypeError(f"`channels` must be a pair of ints, got {_describe(channels)}")
    c1 = check_int("channels[0]", channels[0], 1)
    c2 = check_int("channels[1]", channels[1], 1)
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1),  # c1 maps of 8x8
        nn.ReLU(),
        nn.MaxPool2d(2),  # c1 maps of 4x4
        nn.Conv2d(c1, c2, 3, padding=1),  # c2 maps of 4x4
        nn.ReLU(),
        nn.MaxPool2d(2),  # c2 maps of 2x2
        nn.Flatten(),  # c2 * 2 * 2 features
        nn.Linear(c2 * 2 * 2, N_CLASSES),  # one score per digit
    )


def make_mlp(hidden: Sequence[int] = (128, 64)):
    """A fully connected network for 1x8x8 inputs: flatten, dense-ReLU layers.

    Parameters
    ----------
    hidden : sequence of int, default (128, 64)
        Widths of the hidden layers; ``()`` gives plain logistic regression.

    Returns
    -------
    torch.nn.Sequential
        Input (N, 1, 8, 8), output (N, 10) scores.

    Examples
    --------
    >>> [type(m).__name__ for m in make_mlp((32,))]
    ['Flatten', 'Linear', 'ReLU', 'Linear']
    """
    from torch import nn

    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"`hidden` must be a sequence of ints, got {_describe(hidden)}")
    layers = [nn.Flatten()]
    width = 8 * 8
    for i, h in enumerate(hidden):
        h = check_int(f"hidden[{i}]", h, 1)
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, N_CLASSES))
    return nn.Sequential(*layers)


def matching_hidden(n_params: int) -> int:
    """Width of one hidden layer that gives an MLP about ``n_params`` parameters.

    A 64 -> h -> 10 network holds ``64h + h + 10h + 10 = 75h + 10``
    parameters; this returns the ``h >= 1`` that comes closest.

    Examples
    --------
    >>> matching_hidden(1898)  # 75 * 25 + 10 = 1885
    25
    """
    n_params = check_int("n_params", n_params, 1)
    per_unit = 8 * 8 + 1 + N_CLASSES
    return max(1, round((n_params - N_CLASSES) / per_unit))


def models() -> dict[str, Callable]:
    """The four networks of the experiment, by name, as factories.

    ``"CNN"`` is :func:`make_cnn`; ``"MLP, same budget"`` has one hidden
    layer sized by :func:`matching_hidden` to the CNN's parameter count;
    ``"MLP"`` has hidden layers of 128 and 64; ``"MLP, wide"`` two of 256.

    Examples
    --------
    >>> list(models())
    ['CNN', 'MLP, same budget', 'MLP', 'MLP, wide']
    """
    budget = matching_hidden(count_params(make_cnn()))
    return {
        "CNN": make_cnn,
        "MLP, same budget": lambda: make_mlp((budget,)),
        "MLP": lambda: make_mlp((128, 64)),
        "MLP, wide": lambda: make_mlp((256, 256)),
    }


def shift_images(x, dy: int, dx: int):
    """Move every image ``dy`` rows down and ``dx`` columns right, filling zeros.

    Pixels pushed past the border are lost; the digits' background is 0, so
    the new border looks like background.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    dy, dx : int
        Rows down (negative: up) and columns right (negative: left), each
        smaller in size than the image.

    Returns
    -------
    ndarray, shape (N, C, H, W), the dtype of ``x``

    Examples
    --------
    >>> x = np.arange(9).reshape(1, 1, 3, 3)
    >>> shift_images(x, 0, 1)[0, 0]
    array([[0, 0, 1],
           [0, 3, 4],
           [0, 6, 7]])
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"`x` must be a NumPy array, got {_describe(x)}")
    check_array("x", x, 4, "(N, C, H, W)")
    h, w = x.shape[2:]
    dy = check_int("dy", dy)
    dx = check_int("dx", dx)
    for name, d, n in (("dy", dy, h), ("dx", dx, w)):
        if abs(d) >= n:
            raise ValueError(
                f"`{name}` must be smaller in size than the image ({n}), got {d}"
            )
    out = np.zeros_like(x)
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def _check_data(x, y):
    x = check_array("x", x, 4, "(N, 1, 8, 8)")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(
            f"`y` must hold one label per image, shape ({len(x)},), got shape {y.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"`y` must hold integer labels, got dtype {y.dtype}")
    return x, y


def train(
    model, x, y, epochs: int = 20, batch_size: int = 64, lr: float = 1e-2, seed: int = 0
):
    """Train ``model`` in place with Adam on cross-entropy; return its losses.

    Parameters
    ----------
    model : torch.nn.Module
        Maps (N, 1, 8, 8) float32 inputs to (N, 10) scores.
    x : ndarray, shape (N, 1, 8, 8)
    y : ndarray of int, shape (N,)
    epochs : int, default 20
        Passes over the data, each in a new random order.
    batch_size : int, default 64
    lr : float, default 0.01
        Adam's learning rate.
    seed : int, default 0
        Seeds the order of the mini-batches (and any randomness inside the
        model), on one thread with deterministic operations.

    Returns
    -------
    list of float
        The mean training loss of each epoch.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module, got {_describe(model)}")
    x, y = _check_data(x, y)
    epochs = check_int("epochs", epochs, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    seed = check_int("seed", seed, 0)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0:
        raise ValueError(f"`lr` must be a positive number, got {_describe(lr)}")
    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.int64)
    losses = []
    with _reproducible(seed):
        order = torch.Generator().manual_seed(seed)
        optimiser = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        for _ in range(epochs):
            total = 0.0
            perm = torch.randperm(len(xt), generator=order)
            for start in range(0, len(xt), batch_size):
                batch = perm[start : start + batch_size]
                optimiser.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(xt[batch]), yt[batch])
                loss.backward()
                optimiser.step()
                total += loss.item() * len(batch)
            losses.append(total / len(xt))
        model.eval()
    return losses


def accuracy(model, x, y) -> float:
    """Share of the images in ``x`` whose highest score is their label ``y``.

    Examples
    --------
    >>> import torch
    >>> always_three = torch.nn.Sequential(torch.nn.Flatten(),
    ...                                    torch.nn.Linear(64, 10))
    >>> with torch.no_grad():
    ...     _ = always_three[1].weight.zero_()
    ...     _ = always_three[1].bias.copy_(torch.eye(10)[3])
    >>> accuracy(always_three, np.zeros((4, 1, 8, 8)), np.array([3, 3, 1, 0]))
    0.5
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module, got {_describe(model)}")
    x, y = _check_data(x, y)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), _one_thread():
            scores = model(torch.as_tensor(x, dtype=torch.float32))
    finally:
        model.train(was_training)
    return float((scores.argmax(dim=1).numpy() == y).mean())


def _percent(values) -> str:
    """Per cent, mean and sample deviation; no-break spaces keep it on a line."""
    values = 100 * np.asarray(values)
    if len(values) == 1:
        return f"{values[0]:.1f}\N{NO-BREAK SPACE}%"
    return (
        f"{values.mean():.1f}\N{NO-BREAK SPACE}±\N{NO-BREAK SPACE}"
        f"{values.std(ddof=1):.1f}\N{NO-BREAK SPACE}%"
    )


def compare(seeds: Sequence[int] = (0,), epochs: int = 20) -> Table:
    """Train every network of :func:`models` on each seed; tabulate the results.

    For each seed: a new split of the data (:func:`load_split`), new initial
    weights and a new batch order, the same for every model. The shifted
    accuracy is the mean over the four one-pixel moves of :data:`SHIFTS`.

    Parameters
    ----------
    seeds : sequence of int, default (0,)
    epochs : int, default 20

    Returns
    -------
    Table
        One row per model, with ``model``, ``params``, and for each seed in
        lists ``train_acc``, ``test_acc`` and ``shifted_acc`` (shares
        between 0 and 1). Printed, it shows the parameters and each
        accuracy in per cent, as ``mean ± sample standard deviation`` over
        the seeds when there are several.
    """
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise TypeError(
            f"`seeds` must be a non-empty sequence of ints, got {_describe(seeds)}"
        )
    seeds = [check_int(f"seeds[{i}]", s, 0) for i, s in enumerate(seeds)]
    epochs = check_int("epochs", epochs, 1)
    factories = models()
    rows = {
        name: {"model": name, "train_acc": [], "test_acc": [], "shifted_acc": []}
        for name in factories
    }
    for seed in seeds:
        x_train, x_test, y_train, y_test = load_split(seed)
        shifted = [shift_images(x_test, dy, dx) for dy, dx in SHIFTS]
        for name, make in factories.items():
            with _reproducible(seed):
                model = make()
            train(model, x_train, y_train, epochs=epochs, seed=seed)
            row = rows[name]
            row["params"] = count_params(model)
            row["train_acc"].append(accuracy(model, x_train, y_train))
            row["test_acc"].append(accuracy(model, x_test, y_test))
            row["shifted_acc"].append(
                float(np.mean([accuracy(model, xs, y_test) for xs in shifted]))
            )
    for row in rows.values():
        for key in ("train_acc", "test_acc", "shifted_acc"):
            row[key + "_text"] = _percent(row[key])
    return Table(
        rows.values(),
        columns=[
            "model",
            "params",
            "train_acc_text",
            "test_acc_text",
            "shifted_acc_text",
        ],
        headers={
            "params": "parameters",
            "train_acc_text": "train accuracy",
            "test_acc_text": "test accuracy",
            "shifted_acc_text": "shifted test accuracy",
        },
    )
