"""Time `cc.conv2d` against `torch.nn.functional.conv2d`, side by side.

Each case runs both functions interleaved in one process, round by round
(torch, ours, torch, ours, ...), and reports the median call of each and
their ratio, so load on the machine hits both alike. Target: ratio <= 2 on
every row.

    .venv/bin/python bench/conv.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

import cnn_course as cc

CASES = [
    # name, x shape, weight shape, kwargs
    ("8x16x64x64, 32 3x3", (8, 16, 64, 64), (32, 16, 3, 3), dict(padding=1)),
    (
        "1x3x224x224, 64 11x11 /4",
        (1, 3, 224, 224),
        (64, 3, 11, 11),
        dict(stride=4, padding=2),
    ),
    ("32x64x32x32, 64 3x3", (32, 64, 32, 32), (64, 64, 3, 3), dict(padding=1)),
]


# Long enough for an idle thread pool to stop spinning.
HANDOVER_S = 0.3


def interleaved(fns, repeats, block=5):
    """Median seconds a call of each function, measured round by round.

    Each round runs every function in turn: a pause and one untimed call
    first, then ``block`` timed calls. The two libraries keep separate
    thread pools (PyTorch's OpenMP, NumPy's OpenBLAS) whose idle threads
    spin for a while after a call; without the pause, each library's calls
    would be timed while the other's threads still hold the two cores.
    """
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            time.sleep(HANDOVER_S)
            fn()
            for _ in range(block):
                start = time.perf_counter()
                fn()
                times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main():
    rng = np.random.default_rng(0)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"numpy {np.__version__}"
    )
    print(f"{'case':28} {'dtype':8} {'torch ms':>9} {'cc ms':>9} {'ratio':>6}")
    worst = 0.0
    for name, xs, ws, kwargs in CASES:
        for dtype in (np.float32, np.float64):
            x = rng.standard_normal(xs).astype(dtype)
            w = rng.standard_normal(ws).astype(dtype)
            b = rng.standard_normal(ws[0]).astype(dtype)
            tx, tw, tb = map(torch.from_numpy, (x, w, b))

            def theirs(tx=tx, tw=tw, tb=tb, kwargs=kwargs):
                return F.conv2d(tx, tw, tb, **kwargs).numpy()

            def ours(x=x, w=w, b=b, kwargs=kwargs):
                return cc.conv2d(x, w, b, **kwargs)

            np.testing.assert_allclose(ours(), theirs(), rtol=1e-3, atol=1e-3)
            t_torch, t_cc = interleaved([theirs, ours], repeats=7)
            ratio = t_cc / t_torch
            worst = max(worst, ratio)
            print(
                f"{name:28} {np.dtype(dtype).name:8} {t_torch * 1e3:9.2f} "
                f"{t_cc * 1e3:9.2f} {ratio:6.2f}"
            )
    print(f"worst ratio {worst:.2f} (target <= 2)")

    # What vectorising buys: the loop version on a small case.
    x = rng.standard_normal((1, 3, 16, 16))
    w = rng.standard_normal((8, 3, 3, 3))
    t_fast, t_naive = interleaved(
        [lambda: cc.conv2d(x, w, padding=1), lambda: cc.conv2d_naive(x, w, padding=1)],
        repeats=3,
    )
    print(
        f"\nconv2d_naive vs conv2d on 1x3x16x16, 8 3x3 filters: "
        f"{t_naive * 1e3:.1f} ms vs {t_fast * 1e3:.3f} ms "
        f"({t_naive / t_fast:.0f}x slower)"
    )


if __name__ == "__main__":
    main()
