"""Chapter 4's experiment: a small CNN against fully connected networks.

The data are the 1,797 handwritten digits that ship with scikit-learn
(``sklearn.datasets.load_digits``: nothing is downloaded), each an 8x8 grey
image with values 0 to 16. Every network is trained the same way (Adam,
cross-entropy, mini-batches), and :func:`compare` reports, for each, the
accuracy on the training set, on the test set and on the test digits moved
one pixel left or right (:data:`SHIFTS`).

What makes the numbers trustworthy on another machine:

* a seed fixes everything random in a run: the split of the data, the
  initial weights and the order of the mini-batches;
* torch runs on a fixed number of threads (``threads=1`` by default) with
  deterministic algorithms. Another thread count or another CPU may still
  add floating-point numbers in another order, so results can differ in
  their last digits, and training amplifies that; hence
* every run is repeated over several seeds (:data:`BOOK_SEEDS` in the
  book), and two networks are compared seed by seed: :func:`difference`
  gives the mean difference with a 95 % t-interval, and its ``verdict`` is
  "higher" or "lower" only when the interval excludes zero.

:func:`settled_claims` lists what the book states without condition; the
tests check that each holds for three disjoint seed sets and for one and
two torch threads.

Examples
--------
>>> x_train, x_test, y_train, y_test = load_split(seed=0)
>>> x_train.shape, x_test.shape  # 70 % and 30 % of 1,797 images
((1257, 1, 8, 8), (540, 1, 8, 8))
>>> count_params(make_cnn())  # (9*1*8 + 8) + (9*8*16 + 16) + (64*10 + 10)
1898
>>> count_params(make_gap_cnn())  # 160 + (9*16*32 + 32) + (9*32*32 + 32) + 330
14378
>>> count_params(make_mlp((128, 64)))  # (64*128 + 128) + (128*64 + 64) + (64*10 + 10)
17226
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .._checks import _describe, check_array, check_int
from ..params import count_params
from ..tables import Table

__all__ = [
    "BOOK_SEEDS",
    "CONFIDENCE",
    "MEASURES",
    "N_CLASSES",
    "SHIFTS",
    "Difference",
    "accuracy",
    "compare",
    "default_cache",
    "difference",
    "load_split",
    "make_cnn",
    "make_gap_cnn",
    "make_mlp",
    "matching_hidden",
    "models",
    "settled_claims",
    "shift_images",
    "train",
]

N_CLASSES = 10
#: The seeds of the run the book shows. The tests use this set and two
#: disjoint sets of the same size.
BOOK_SEEDS = tuple(range(8))
#: Confidence level of the intervals of :func:`difference`.
CONFIDENCE = 0.95
#: The one-pixel moves of the shifted test, as (rows down, columns right):
#: left and right. The digits' first and last columns are almost blank, so
#: these moves push almost no ink out of the 8x8 frame; a move up or down
#: would cut off strokes, since the digits fill all eight rows.
SHIFTS = ((0, -1), (0, 1))


@contextlib.contextmanager
def _threads(threads: int):
    """Run torch on ``threads`` threads; restore the caller's count afterwards.

    A fixed count fixes the order of floating-point additions on one
    machine; on networks this small one thread is also the fastest.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def _reproducible(seed: int, threads: int = 1):
    """Seed torch, fix its threads, use deterministic ops; restore afterwards.

    The caller's global random state is left as it was.
    """
    import torch

    deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]), _threads(threads):
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


def make_gap_cnn(channels: Sequence[int] = (16, 32, 32)):
    """A CNN with a global-average-pooling head, for 1x8x8 inputs.

    Three 3x3 convolutions with padding 1 keep the 8x8 size and never skip
    a position, so a move of the input moves every feature map with it.
    Global average pooling then averages each map to one number, forgetting
    where a feature was, and one dense layer gives the ten class scores.

    The activation is a leaky ReLU (negative values times 0.1 instead of
    0). With plain ReLU this network trained unreliably: on some seeds whole
    maps went silent for every input, a state the gradient cannot leave,
    and test accuracy fell below 80 %.

    Parameters
    ----------
    channels : three ints, default (16, 32, 32)
        Output channels of the three convolutions.

    Returns
    -------
    torch.nn.Sequential
        Input (N, 1, 8, 8), output (N, 10) scores.

    Examples
    --------
    >>> [type(m).__name__ for m in make_gap_cnn()][-3:]
    ['AdaptiveAvgPool2d', 'Flatten', 'Linear']
    """
    from torch import nn

    if (
        isinstance(channels, (str, bytes))
        or not isinstance(channels, Sequence)
        or len(channels) != 3
    ):
        raise TypeError(f"`channels` must be three ints, got {_describe(channels)}")
    widths = [1] + [check_int(f"channels[{i}]", c, 1) for i, c in enumerate(channels)]
    layers = []
    for c_in, c_out in zip(widths, widths[1:], strict=False):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.LeakyReLU(0.1)]  # 8x8
    return nn.Sequential(
        *layers,
        nn.AdaptiveAvgPool2d(1),  # each map -> its mean
        nn.Flatten(),  # channels[2] features
        nn.Linear(widths[-1], N_CLASSES),
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
    """The five networks of the experiment, by name, as factories.

    ``"CNN"`` is :func:`make_cnn`; ``"CNN, global average pooling"`` is
    :func:`make_gap_cnn`; ``"MLP, same budget"`` has one hidden layer sized
    by :func:`matching_hidden` to the CNN's parameter count; ``"MLP"`` has
    hidden layers of 128 and 64; ``"MLP, wide"`` two of 256.

    Examples
    --------
    >>> list(models())  # doctest: +NORMALIZE_WHITESPACE
    ['CNN', 'CNN, global average pooling', 'MLP, same budget', 'MLP',
     'MLP, wide']
    """
    budget = matching_hidden(count_params(make_cnn()))
    return {
        "CNN": make_cnn,
        "CNN, global average pooling": make_gap_cnn,
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
    model,
    x,
    y,
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    threads: int = 1,
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
        model); operations are deterministic.
    threads : int, default 1
        Torch threads while training; the caller's setting is restored.

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
    threads = check_int("threads", threads, 1)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0:
        raise ValueError(f"`lr` must be a positive number, got {_describe(lr)}")
    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.int64)
    losses = []
    with _reproducible(seed, threads):
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


def accuracy(model, x, y, threads: int = 1) -> float:
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
    threads = check_int("threads", threads, 1)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), _threads(threads):
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


#: The per-seed lists of a row of :func:`compare`, shares between 0 and 1;
#: ``shift_loss`` is ``test_acc - shifted_acc``.
MEASURES = ("train_acc", "test_acc", "shifted_acc", "shift_loss")


def compare(
    seeds: Sequence[int] = BOOK_SEEDS,
    epochs: int = 20,
    threads: int = 1,
    cache: str | os.PathLike | None = None,
) -> Table:
    """Train every network of :func:`models` on each seed; tabulate the results.

    For each seed: a new split of the data (:func:`load_split`), new initial
    weights and a new batch order, the same for every model. The shifted
    accuracy is the mean over the one-pixel moves of :data:`SHIFTS`.

    Parameters
    ----------
    seeds : sequence of int, default :data:`BOOK_SEEDS`
    epochs : int, default 20
    threads : int, default 1
        Torch threads for training and testing.
    cache : path-like or None, default None
        A folder that keeps each seed's results (see :func:`default_cache`).
        A seed found there is not trained again. The key covers everything
        the numbers depend on: the seed, ``epochs``, ``threads``, this
        module's source and the versions of the libraries and the processor
        model, so a result is reused only where training would give it
        again. ``None`` trains every seed.

    Returns
    -------
    Table
        One row per model, with ``model``, ``params``, and for each seed in
        lists ``train_acc``, ``test_acc``, ``shifted_acc`` and
        ``shift_loss`` (shares between 0 and 1); ``seeds`` and ``threads``
        record the run. Printed, it shows the parameters and each accuracy
        in per cent, as ``mean ± sample standard deviation`` over the seeds
        when there are several.
    """
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise TypeError(
            f"`seeds` must be a non-empty sequence of ints, got {_describe(seeds)}"
        )
    seeds = tuple(check_int(f"seeds[{i}]", s, 0) for i, s in enumerate(seeds))
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"`seeds` must not repeat a seed, got {seeds}")
    epochs = check_int("epochs", epochs, 1)
    threads = check_int("threads", threads, 1)
    factories = models()
    rows = {
        name: {"model": name, "seeds": seeds, "threads": threads}
        | {key: [] for key in MEASURES}
        for name in factories
    }
    if cache is not None and not isinstance(cache, (str, os.PathLike)):
        raise TypeError(
            f"`cache` must be a folder's path or None, got {_describe(cache)}"
        )
    for seed in seeds:
        found = _cached(cache, seed, epochs, threads, factories)
        if found is None:
            found = _run_seed(seed, epochs, threads, factories)
            _store(cache, seed, epochs, threads, found)
        for name, measured in found.items():
            row = rows[name]
            row["params"] = measured["params"]
            row["train_acc"].append(measured["train_acc"])
            row["test_acc"].append(measured["test_acc"])
            row["shifted_acc"].append(measured["shifted_acc"])
            row["shift_loss"].append(measured["test_acc"] - measured["shifted_acc"])
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
            "shifted_acc_text": "moved test accuracy",
        },
    )


def _run_seed(seed: int, epochs: int, threads: int, factories) -> dict:
    """Train and test every model on one seed: {model: measures}."""
    x_train, x_test, y_train, y_test = load_split(seed)
    shifted = [shift_images(x_test, dy, dx) for dy, dx in SHIFTS]
    found = {}
    for name, make in factories.items():
        with _reproducible(seed, threads):
            model = make()
        train(model, x_train, y_train, epochs=epochs, seed=seed, threads=threads)
        found[name] = {
            "params": count_params(model),
            "train_acc": accuracy(model, x_train, y_train, threads),
            "test_acc": accuracy(model, x_test, y_test, threads),
            "shifted_acc": float(
                np.mean([accuracy(model, xs, y_test, threads) for xs in shifted])
            ),
        }
    return found


def default_cache() -> Path:
    """The user's cache folder for :func:`compare`.

    ``cnn-course/digits`` in ``$XDG_CACHE_HOME``, or in ``~/.cache``.
    """
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cnn-course" / "digits"


def _processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _cache_key(seed: int, epochs: int, threads: int) -> str:
    """What one seed's numbers depend on, as a hash."""
    from importlib.metadata import version

    import torch

    facts = {
        "source": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        "seed": seed,
        "epochs": epochs,
        "threads": threads,
        "libraries": [version(n) for n in ("torch", "numpy", "scikit-learn")],
        "torch": torch.__version__,
        "machine": [platform.machine(), _processor()],
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:32]


def _cached(cache, seed, epochs, threads, factories) -> dict | None:
    if cache is None:
        return None
    path = Path(cache) / f"{_cache_key(seed, epochs, threads)}.json"
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict) or set(found) != set(factories):
        return None
    return found


def _store(cache, seed, epochs, threads, found) -> None:
    if cache is None:
        return
    folder = Path(cache)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_cache_key(seed, epochs, threads)}.json"
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(found))
    partial.replace(path)


@dataclasses.dataclass(frozen=True)
class Difference:
    """How much ``a`` beats ``b`` on one measure, seed by seed, in points.

    Attributes
    ----------
    a, b : str
        Model names.
    measure : str
        One of :data:`MEASURES`.
    points : tuple of float
        ``a``'s value minus ``b``'s for each seed, in percentage points.
    mean, low, high : float
        Mean of ``points`` and the ends of its :data:`CONFIDENCE` t-interval.
    """

    a: str
    b: str
    measure: str
    points: tuple
    mean: float
    low: float
    high: float

    @property
    def verdict(self) -> str:
        """``"higher"`` or ``"lower"`` when the interval excludes zero, else
        ``"unclear"``."""
        if self.low > 0:
            return "higher"
        if self.high < 0:
            return "lower"
        return "unclear"

    def interval(self) -> str:
        """The interval as text, such as ``"-0.4 to 1.2 points"``."""
        return f"{self.low:.1f} to {self.high:.1f} points".replace(
            "-", "\N{MINUS SIGN}"
        )


def difference(results, a: str, b: str, measure: str = "test_acc") -> Difference:
    """Compare two models of :func:`compare`'s results, paired by seed.

    Both models were trained on the same split of the data for each seed,
    so the per-seed differences cancel what the split does to both; their
    mean gets a t-interval at :data:`CONFIDENCE`.

    Examples
    --------
    >>> rows = [{"model": "A", "test_acc": [0.90, 0.92, 0.94, 0.96]},
    ...         {"model": "B", "test_acc": [0.89, 0.91, 0.92, 0.95]}]
    >>> d = difference(rows, "A", "B")
    >>> d.points, d.mean, d.verdict  # t(3) = 3.18, standard error 0.25
    ((1.0, 1.0, 2.0, 1.0), 1.25, 'higher')
    >>> d.interval()
    '0.5 to 2.0 points'
    >>> difference(rows, "B", "A").verdict
    'lower'
    >>> rows[1]["test_acc"] = [0.89, 0.93, 0.92, 0.97]  # 1, -1, 2, -1 points
    >>> difference(rows, "A", "B").verdict
    'unclear'
    """
    from scipy import stats

    by_name = {row["model"]: row for row in results}
    for name in (a, b):
        if name not in by_name:
            raise ValueError(
                f"no model named {name!r}; the results have {list(by_name)}"
            )
    if measure not in MEASURES:
        raise ValueError(f"`measure` must be one of {list(MEASURES)}, got {measure!r}")
    points = 100 * (np.asarray(by_name[a][measure]) - np.asarray(by_name[b][measure]))
    points = np.round(points, 10)  # 0.93 - 0.92 is 1.0, not 1.0000000000000009
    if len(points) < 2:
        raise ValueError("a difference needs results for at least two seeds")
    mean = float(points.mean())
    half = float(
        stats.t.ppf((1 + CONFIDENCE) / 2, len(points) - 1)
        * points.std(ddof=1)
        / np.sqrt(len(points))
    )
    return Difference(
        a, b, measure, tuple(points.tolist()), mean, mean - half, mean + half
    )


def settled_claims(results) -> dict[str, bool]:
    """What the book says about the experiment without condition, checked.

    Each value is True when the claim holds for these results. The book
    asserts all of them when it is built, and the tests check that they
    hold for three disjoint seed sets and for one and two torch threads.
    Comparisons the data do not settle are not here: the book words them
    from :func:`difference`'s verdict instead.
    """
    by_name = {row["model"]: row for row in results}
    mlps = [name for name in by_name if name.startswith("MLP")]
    cnn, gap = "CNN", "CNN, global average pooling"
    return {
        "every network reaches 90 % on the test set": all(
            np.mean(row["test_acc"]) > 0.9 for row in results
        ),
        "every network loses accuracy when the digits move": all(
            min(row["shift_loss"]) > 0 for row in results
        ),
        "the CNN reads moved digits better than every MLP": all(
            difference(results, cnn, m, "shifted_acc").verdict == "higher" for m in mlps
        ),
        "global average pooling reads moved digits better than the CNN": (
            difference(results, gap, cnn, "shifted_acc").verdict == "higher"
        ),
        "global average pooling loses less to the move than the CNN": (
            difference(results, gap, cnn, "shift_loss").verdict == "lower"
        ),
        "the networks without global average pooling fit 98 % of their "
        "training set": all(
            np.mean(row["train_acc"]) > 0.98 for row in results if row["model"] != gap
        ),
        "the CNN is not clearly less accurate than the much larger MLP": (
            difference(results, cnn, "MLP", "test_acc").verdict != "lower"
        ),
        "the MLP has more than five times the CNN's parameters": (
            by_name["MLP"]["params"] > 5 * by_name[cnn]["params"]
        ),
    }
