"""The chapter 4 experiment: data, models, training, and what it reports."""

import numpy as np
import pytest
import torch
from torch import nn

import cnn_course as cc
from cnn_course import digits

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


def test_the_cnn_has_the_fewest_parameters_but_for_the_mlp_built_to_match_it():
    counts = {name: cc.count_params(make()) for name, make in digits.models().items()}
    assert counts["CNN"] < counts["MLP"] < counts["MLP, wide"]
    assert abs(counts["MLP, same budget"] - counts["CNN"]) <= 75 / 2


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: digits.make_cnn((8,)), TypeError, "`channels` must be a pair"),
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
    """The chapter's experiment for one seed, at full length (a few seconds)."""
    return digits.compare(seeds=(0,))


def test_compare_reports_each_models_true_parameter_count(table):
    for row in table:
        make = digits.models()[row["model"]]
        assert row["params"] == sum(p.numel() for p in make().parameters())


def test_every_model_learns_the_digits_far_above_chance(table):
    for row in table:
        (test,) = row["test_acc"]
        assert test > 0.9, row["model"]  # chance is 0.1


def test_the_cnn_holds_up_best_when_the_digits_move_by_one_pixel(table):
    shifted = {row["model"]: row["shifted_acc"][0] for row in table}
    cnn = shifted.pop("CNN")
    assert all(cnn > other + 0.05 for other in shifted.values()), shifted


def test_compare_gives_the_same_numbers_for_the_same_seed():
    a = digits.compare(seeds=(1, 2), epochs=1)
    b = digits.compare(seeds=(1, 2), epochs=1)
    for row_a, row_b in zip(a, b, strict=True):
        assert row_a == row_b
        assert len(row_a["test_acc"]) == 2
        assert "±" in row_a["test_acc_text"]


def test_compare_prints_parameters_and_accuracies_in_per_cent(table):
    text = str(table)
    assert text.splitlines()[0].split() == [
        "model",
        "parameters",
        "train",
        "accuracy",
        "test",
        "accuracy",
        "shifted",
        "test",
        "accuracy",
    ]
    cnn = table[0]
    assert f"{100 * cnn['test_acc'][0]:.1f}\N{NO-BREAK SPACE}%" in text
    assert "1,898" in text


def test_compare_names_the_bad_argument():
    with pytest.raises(TypeError, match="`seeds` must be a non-empty sequence"):
        digits.compare(seeds=())
    with pytest.raises(ValueError, match=r"`seeds\[1\]` must be an int >= 0"):
        digits.compare(seeds=(0, -2))
