"""The chapter 4 experiment: data, models, training, and what it reports.

The slow tests at the end check what the book states without condition for
three disjoint seed sets and for one and two torch threads.
"""

import numpy as np
import pytest
import torch
from torch import nn

import cnn_course as cc
from cnn_course.experiments import digits

# ---------------------------------------------------------------- data


def test_load_split_returns_every_digit_once_scaled_to_one_in_nchw():
    from sklearn.datasets import load_digits

    raw = load_digits()
    x_train, x_test, y_train, y_test = digits.load_split(seed=0)
    assert x_train.shape[1:] == x_test.shape[1:] == (1, 8, 8)
    assert x_train.dtype == x_test.dtype == np.float32
    assert len(x_train) + len(x_test) == len(raw.images)
    assert len(x_test) == int(np.ceil(0.3 * len(raw.images)))
    # The same images and labels as sklearn's, in some order, divided by 16.
    ours = np.concatenate([x_train, x_test])[:, 0].reshape(len(raw.images), -1)
    labels = np.concatenate([y_train, y_test])
    theirs = raw.images.reshape(len(raw.images), -1) / 16.0
    order_ours = np.lexsort(np.column_stack([ours, labels]).T)
    order_theirs = np.lexsort(np.column_stack([theirs, raw.target]).T)
    np.testing.assert_allclose(ours[order_ours], theirs[order_theirs], atol=1e-7)
    np.testing.assert_array_equal(labels[order_ours], raw.target[order_theirs])


def test_load_split_is_stratified_and_fixed_by_its_seed():
    a = digits.load_split(seed=3)
    b = digits.load_split(seed=3)
    c = digits.load_split(seed=4)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[3], c[3])
    share_train = np.bincount(a[2], minlength=10) / len(a[2])
    share_test = np.bincount(a[3], minlength=10) / len(a[3])
    np.testing.assert_allclose(share_train, share_test, atol=0.01)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"seed": -1}, ValueError, "`seed` must be an int >= 0, got -1"),
        ({"seed": 1.5}, TypeError, "`seed` must be an int"),
        ({"test_size": 1.0}, ValueError, "`test_size` must be strictly between"),
        ({"test_size": "a lot"}, TypeError, "`test_size` must be a float"),
    ],
)
def test_load_split_names_the_bad_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        digits.load_split(**kwargs)


# ---------------------------------------------------------------- models


def test_cnn_parameters_are_the_sum_of_its_layers_formulas():
    net = digits.make_cnn()
    expected = (
        cc.conv2d_params(1, 8, 3)
        + cc.conv2d_params(8, 16, 3)
        + cc.linear_params(64, 10)
    )
    assert sum(p.numel() for p in net.parameters()) == expected == 1898
    assert net(torch.zeros(5, 1, 8, 8)).shape == (5, 10)


def test_mlp_parameters_are_the_sum_of_its_layers_formulas():
    net = digits.make_mlp((128, 64))
    expected = (
        cc.linear_params(64, 128) + cc.linear_params(128, 64) + cc.linear_params(64, 10)
    )
    assert sum(p.numel() for p in net.parameters()) == expected == 17226
    assert net(torch.zeros(5, 1, 8, 8)).shape == (5, 10)
    assert [type(m) for m in digits.make_mlp(())] == [nn.Flatten, nn.Linear]


def test_matching_hidden_gives_the_closest_one_layer_mlp():
    for target in (100, 1898, 5000):
        h = digits.matching_hidden(target)
        count = cc.count_params(digits.make_mlp((h,)))
        for other in (h - 1, h + 1):
            if other >= 1:
                worse = cc.count_params(digits.make_mlp((other,)))
                assert abs(count - target) <= abs(worse - target)


def test_gap_cnn_parameters_are_the_sum_of_its_layers_formulas():
    net = digits.make_gap_cnn()
    expected = (
        cc.conv2d_params(1, 16, 3)
        + cc.conv2d_params(16, 32, 3)
        + cc.conv2d_params(32, 32, 3)
        + cc.linear_params(32, 10)
    )
    assert sum(p.numel() for p in net.parameters()) == expected == 14378
    assert net(torch.zeros(5, 1, 8, 8)).shape == (5, 10)


def test_gap_cnn_keeps_every_map_8x8_until_it_averages_each_to_one_number():
    shapes = [
        tuple(r["output_shape"])
        for r in cc.summary(digits.make_gap_cnn(), (1, 1, 8, 8)).rows
    ]
    assert shapes[:6] == [
        (16, 8, 8),
        (16, 8, 8),
        (32, 8, 8),
        (32, 8, 8),
        (32, 8, 8),
        (32, 8, 8),
    ]
    assert shapes[6:] == [(32, 1, 1), (32,), (10,)]
    # Averaging forgets where: moving every map of a batch around (here
    # reversing the columns) changes no score of the head.
    head = digits.make_gap_cnn()[6:]
    maps = torch.randn(3, 32, 8, 8)
    torch.testing.assert_close(head(maps), head(maps.flip(-1)))


def test_the_cnn_has_the_fewest_parameters_but_for_the_mlp_built_to_match_it():
    counts = {name: cc.count_params(make()) for name, make in digits.models().items()}
    assert counts["CNN"] < counts["MLP"] < counts["MLP, wide"]
    assert counts["CNN"] < counts["CNN, global average pooling"] < counts["MLP"]
    assert abs(counts["MLP, same budget"] - counts["CNN"]) <= 75 / 2


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: digits.make_cnn((8,)), TypeError, "`channels` must be a pair"),
        (lambda: digits.make_gap_cnn((8, 16)), TypeError, "`channels` must be three"),
        (
            lambda: digits.make_gap_cnn((8, 16, 0)),
            ValueError,
            r"`channels\[2\]` must be a positive",
        ),
        (
            lambda: digits.make_cnn((8, 0)),
            ValueError,
            r"`channels\[1\]` must be a positive",
        ),
        (lambda: digits.make_mlp(128), TypeError, "`hidden` must be a sequence"),
        (
            lambda: digits.make_mlp((64, -1)),
            ValueError,
            r"`hidden\[1\]` must be a positive",
        ),
        (
            lambda: digits.matching_hidden(0),
            ValueError,
            "`n_params` must be a positive",
        ),
    ],
)
def test_model_factories_name_the_bad_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- shifting


@pytest.mark.parametrize(
    ("dy", "dx"), [(0, 1), (1, 0), (-1, 0), (0, -1), (2, -3), (0, 0)]
)
def test_shift_images_moves_every_pixel_and_fills_zeros(dy, dx):
    rng = np.random.default_rng(0)
    x = rng.random((2, 3, 5, 7))
    out = digits.shift_images(x, dy, dx)
    expected = np.zeros_like(x)
    for i in range(5):
        for j in range(7):
            if 0 <= i - dy < 5 and 0 <= j - dx < 7:
                expected[..., i, j] = x[..., i - dy, j - dx]
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == x.dtype


def test_the_moves_of_the_shifted_test_push_almost_no_ink_out_of_the_frame():
    x = np.concatenate(digits.load_split(seed=0)[:2])
    ink = x.sum(axis=(1, 2, 3))
    for dy, dx in digits.SHIFTS:
        kept = digits.shift_images(x, dy, dx).sum(axis=(1, 2, 3))
        assert np.mean(1 - kept / ink) < 0.01, (dy, dx)
    # Up or down would cut strokes off: the digits fill all eight rows.
    up = digits.shift_images(x, -1, 0).sum(axis=(1, 2, 3))
    assert np.mean(1 - up / ink) > 0.05


def test_shift_images_names_the_bad_argument():
    with pytest.raises(ValueError, match="`dx` must be smaller in size than the image"):
        digits.shift_images(np.zeros((1, 1, 8, 8)), 0, 8)
    with pytest.raises(ValueError, match="`x` must be 4-D"):
        digits.shift_images(np.zeros((8, 8)), 0, 1)
    with pytest.raises(TypeError, match="`x` must be a NumPy array"):
        digits.shift_images([[1.0]], 0, 1)


# ---------------------------------------------------------------- training


@pytest.fixture(scope="module")
def data():
    return digits.load_split(seed=0)


def _trained(make, data, seed=0, epochs=2):
    x_train, _, y_train, _ = data
    torch.manual_seed(seed)
    model = make()
    losses = digits.train(model, x_train, y_train, epochs=epochs, seed=seed)
    return model, losses


def test_training_with_the_same_seed_gives_the_same_weights_and_losses(data):
    a, losses_a = _trained(digits.make_cnn, data)
    b, losses_b = _trained(digits.make_cnn, data)
    c, losses_c = _trained(digits.make_cnn, data, seed=1)
    assert losses_a == losses_b
    for (name, p), q in zip(
        a.state_dict().items(), b.state_dict().values(), strict=True
    ):
        assert torch.equal(p, q), name
    assert losses_a != losses_c


def test_training_leaves_the_callers_random_state_and_threads_alone(data):
    model = digits.make_mlp(())
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    state = torch.get_rng_state()
    digits.train(model, *data[::2], epochs=1)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic


def test_training_and_testing_on_two_threads_restore_the_callers_count(data):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = digits.make_mlp(())
        digits.train(model, *data[::2], epochs=1, threads=2)
        assert torch.get_num_threads() == 1
        digits.accuracy(model, data[1], data[3], threads=2)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_training_lowers_the_loss(data):
    _, losses = _trained(digits.make_cnn, data, epochs=5)
    assert losses[-1] < 0.5 * losses[0]


def test_accuracy_counts_the_images_whose_top_score_is_their_label(data):
    model, _ = _trained(digits.make_mlp, data)
    _, x_test, _, y_test = data
    with torch.no_grad():
        scores = model(torch.from_numpy(x_test)).numpy()
    hits = sum(
        int(np.argmax(s) == label) for s, label in zip(scores, y_test, strict=True)
    )
    assert digits.accuracy(model, x_test, y_test) == pytest.approx(hits / len(y_test))


def test_train_and_accuracy_name_the_bad_argument(data):
    x, _, y, _ = data
    with pytest.raises(TypeError, match="`model` must be a torch.nn.Module"):
        digits.train("net", x, y)
    with pytest.raises(ValueError, match="`y` must hold one label per image"):
        digits.accuracy(digits.make_cnn(), x, y[:-1])
    with pytest.raises(TypeError, match="`y` must hold integer labels"):
        digits.accuracy(digits.make_cnn(), x, y.astype(float))
    with pytest.raises(ValueError, match="`epochs` must be a positive int, got 0"):
        digits.train(digits.make_cnn(), x, y, epochs=0)
    with pytest.raises(ValueError, match="`lr` must be a positive number"):
        digits.train(digits.make_cnn(), x, y, lr=-1.0)


# ---------------------------------------------------------------- the comparison


@pytest.fixture(scope="module")
def table():
    """The chapter's experiment for two seeds, at full length (seconds)."""
    return digits.compare(seeds=(0, 1))


def test_compare_reports_each_models_true_parameter_count(table):
    for row in table:
        make = digits.models()[row["model"]]
        assert row["params"] == sum(p.numel() for p in make().parameters())


def test_compare_records_each_measure_per_seed_and_the_loss_to_the_move(table):
    for row in table:
        assert row["seeds"] == (0, 1) and row["threads"] == 1
        for key in digits.MEASURES:
            assert len(row[key]) == 2, key
        np.testing.assert_allclose(
            row["shift_loss"], np.subtract(row["test_acc"], row["shifted_acc"])
        )


def test_compare_measures_the_moved_digits_as_accuracy_does(table):
    x_train, x_test, y_train, y_test = digits.load_split(seed=1)
    with digits._reproducible(1):
        model = digits.make_cnn()
    digits.train(model, x_train, y_train, seed=1)
    moved = np.mean(
        [
            digits.accuracy(model, digits.shift_images(x_test, dy, dx), y_test)
            for dy, dx in digits.SHIFTS
        ]
    )
    assert table[0]["model"] == "CNN"
    assert table[0]["shifted_acc"][1] == pytest.approx(moved)


def test_compare_gives_the_same_numbers_for_the_same_seed():
    a = digits.compare(seeds=(1, 2), epochs=1)
    b = digits.compare(seeds=(1, 2), epochs=1)
    for row_a, row_b in zip(a, b, strict=True):
        assert row_a == row_b
        assert len(row_a["test_acc"]) == 2
        assert "±" in row_a["test_acc_text"]


def test_a_cached_seed_gives_the_numbers_training_gives_without_training(
    tmp_path, monkeypatch
):
    fresh = digits.compare(seeds=(1, 2), epochs=1)
    first = digits.compare(seeds=(1, 2), epochs=1, cache=tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 2
    assert list(first) == list(fresh)

    def no_training(*args, **kwargs):
        raise AssertionError("a cached seed was trained again")

    monkeypatch.setattr(digits, "train", no_training)
    assert list(digits.compare(seeds=(2, 1), epochs=1, cache=tmp_path)[0]["seeds"]) == [
        2,
        1,
    ]
    again = digits.compare(seeds=(1, 2), epochs=1, cache=tmp_path)
    assert list(again) == list(fresh)
    # another number of epochs (or threads, or source) is another key
    with pytest.raises(AssertionError, match="trained again"):
        digits.compare(seeds=(1,), epochs=2, cache=tmp_path)
    with pytest.raises(AssertionError, match="trained again"):
        digits.compare(seeds=(1,), epochs=1, threads=2, cache=tmp_path)


def test_a_damaged_cache_file_is_trained_again(tmp_path):
    digits.compare(seeds=(3,), epochs=1, cache=tmp_path)
    (stored,) = tmp_path.glob("*.json")
    stored.write_text('{"CNN": {}}')
    fresh = digits.compare(seeds=(3,), epochs=1)
    assert list(digits.compare(seeds=(3,), epochs=1, cache=tmp_path)) == list(fresh)


def test_the_default_cache_follows_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert digits.default_cache() == tmp_path / "cnn-course" / "digits"


def test_compare_prints_parameters_and_accuracies_in_per_cent(table):
    text = str(table)
    assert text.splitlines()[0].split() == [
        "model",
        "parameters",
        "train",
        "accuracy",
        "test",
        "accuracy",
        "moved",
        "test",
        "accuracy",
    ]
    cnn = table[0]
    mean = 100 * np.mean(cnn["test_acc"])
    sd = 100 * np.std(cnn["test_acc"], ddof=1)
    nbsp = "\N{NO-BREAK SPACE}"
    assert f"{mean:.1f}{nbsp}±{nbsp}{sd:.1f}{nbsp}%" in text
    assert "1,898" in text


def test_compare_names_the_bad_argument():
    with pytest.raises(TypeError, match="`seeds` must be a non-empty sequence"):
        digits.compare(seeds=())
    with pytest.raises(ValueError, match=r"`seeds\[1\]` must be an int >= 0"):
        digits.compare(seeds=(0, -2))
    with pytest.raises(ValueError, match="`seeds` must not repeat a seed"):
        digits.compare(seeds=(3, 3))
    with pytest.raises(ValueError, match="`threads` must be a positive int"):
        digits.compare(seeds=(0,), threads=0)
    with pytest.raises(TypeError, match="`cache` must be a folder's path or None"):
        digits.compare(seeds=(0,), cache=3)


# ---------------------------------------------------------------- differences


@pytest.mark.parametrize("seed", range(5))
def test_difference_interval_is_scipys_paired_t_interval(seed):
    from scipy import stats

    rng = np.random.default_rng(seed)
    a = rng.uniform(0.9, 1.0, size=8)
    b = a - rng.normal(0.005, 0.01, size=8)
    rows = [{"model": "A", "test_acc": list(a)}, {"model": "B", "test_acc": list(b)}]
    d = digits.difference(rows, "A", "B")
    ci = stats.ttest_rel(100 * a, 100 * b).confidence_interval(digits.CONFIDENCE)
    assert d.mean == pytest.approx(100 * np.mean(a - b))
    assert (d.low, d.high) == pytest.approx((ci.low, ci.high))
    expected = "higher" if ci.low > 0 else "lower" if ci.high < 0 else "unclear"
    assert d.verdict == expected


def test_difference_names_an_unknown_model_or_measure(table):
    with pytest.raises(ValueError, match="no model named 'CNNN'"):
        digits.difference(table, "CNNN", "MLP")
    with pytest.raises(ValueError, match="`measure` must be one of"):
        digits.difference(table, "CNN", "MLP", "speed")
    with pytest.raises(ValueError, match="at least two seeds"):
        digits.difference([{"model": "A", "test_acc": [1.0]}] * 2, "A", "A")


def test_settled_claims_fail_when_the_data_say_otherwise(table):
    """Check each claim can be false: swap the CNN's moved accuracy for an MLP's."""
    import copy

    assert set(digits.settled_claims(table).values()) <= {True, False}
    broken = copy.deepcopy(table)
    by_name = {row["model"]: row for row in broken}
    by_name["CNN"]["shifted_acc"] = list(by_name["MLP"]["shifted_acc"])
    claims = digits.settled_claims(broken)
    assert not claims["the CNN reads moved digits better than every MLP"]
    by_name["MLP"]["test_acc"] = [0.5, 0.6]
    assert not digits.settled_claims(broken)[
        "every network reaches 90 % on the test set"
    ]


# ------------------------------------------- the claims across seeds and threads

#: Three disjoint seed sets of the book's size, the book's own first.
SEED_SETS = [
    tuple(range(k * len(digits.BOOK_SEEDS), (k + 1) * len(digits.BOOK_SEEDS)))
    for k in range(3)
]
#: The comparisons the book words from the data (see chapter 4).
WORDED = [
    ("CNN", "MLP", "test_acc"),
    ("MLP, same budget", "CNN", "test_acc"),
    ("MLP, wide", "MLP", "test_acc"),
    ("CNN, global average pooling", "CNN", "test_acc"),
]


@pytest.fixture(scope="module")
def runs():
    """The experiment for every seed set and thread count (minutes)."""
    assert SEED_SETS[0] == digits.BOOK_SEEDS
    assert len(set().union(*SEED_SETS)) == sum(map(len, SEED_SETS))  # disjoint
    return {
        (seeds, threads): digits.compare(seeds, threads=threads)
        for threads in (1, 2)
        for seeds in SEED_SETS
    }


@pytest.mark.slow
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("set_index", range(3))
def test_the_books_settled_claims_hold_for_each_seed_set_and_thread_count(
    runs, set_index, threads
):
    results = runs[SEED_SETS[set_index], threads]
    failed = [
        claim for claim, holds in digits.settled_claims(results).items() if not holds
    ]
    assert not failed, f"seeds {SEED_SETS[set_index]}, {threads} threads:\n{results}"


@pytest.mark.slow
@pytest.mark.parametrize(("a", "b", "measure"), WORDED)
def test_no_seed_set_or_thread_count_contradicts_another_on_a_worded_comparison(
    runs, a, b, measure
):
    verdicts = {
        key: digits.difference(results, a, b, measure).verdict
        for key, results in runs.items()
    }
    assert not {"higher", "lower"} <= set(verdicts.values()), verdicts
