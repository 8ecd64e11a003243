"""The data-only codec between a student's kernel and the grader.

What crosses keeps its exact type and value; what is not data never crosses
as data; and whatever bytes arrive, decoding fails only with a
``ChannelError`` and within its caps.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cnn_course.autograde import channel
from cnn_course.autograde.channel import ChannelError, Limits, decode, encode


def roundtrip(value, **kw):
    return decode(encode(value, **kw))


# -- exact types -------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [True, False, 0, -7, 2**70, 1.5, -0.0, math.inf, -math.inf, 1 + 2j, "", "한글 ∑",
     None, [], (), {}, [1, (2.0, "x")], {"a": [1, 2], 3: None, (1, 2): True}],
)  # fmt: skip
def test_plain_values_keep_their_exact_type_and_value(value):
    back = roundtrip(value)
    assert type(back) is type(value)
    assert back == value
    if isinstance(value, float):
        assert math.copysign(1, back) == math.copysign(1, value)


def test_nan_survives_and_true_is_not_an_int():
    assert math.isnan(roundtrip(float("nan")))
    back = roundtrip([True, 1])
    assert type(back[0]) is bool and type(back[1]) is int


@pytest.mark.parametrize("dtype", channel.DTYPES)
def test_arrays_keep_dtype_shape_and_values(dtype):
    a = (np.arange(24) % 5).astype(dtype).reshape(2, 3, 4)
    back = roundtrip(a)
    assert type(back) is np.ndarray and back.dtype == a.dtype and back.shape == a.shape
    np.testing.assert_array_equal(back, a)
    back[0, 0, 0] = 1  # a copy the receiver may change


def test_views_big_endian_empty_and_zero_d_arrays():
    a = np.arange(20.0).reshape(4, 5)
    for value in (a[::2, 1:], a.T, a.astype(">f8"), np.zeros((0, 3)), np.array(3.5)):
        back = roundtrip(value)
        np.testing.assert_array_equal(back, value)
        assert back.shape == value.shape and back.dtype.isnative


def test_numpy_scalars_keep_their_numpy_type():
    for value in (np.int64(3), np.float32(0.25), np.bool_(True), np.uint8(7)):
        back = roundtrip(value)
        assert type(back) is type(value) and back == value


def test_tensors_and_parameters_keep_dtype_and_grad():
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3).requires_grad_()
    back = roundtrip(t)
    assert type(back) is torch.Tensor and back.dtype == torch.float32
    assert back.requires_grad and torch.equal(back.detach(), t.detach())
    p = torch.nn.Parameter(torch.ones(2))
    assert type(roundtrip(p)) is torch.nn.Parameter
    assert roundtrip(torch.tensor([1, 2])).dtype == torch.int64


class Meters(float):
    pass


class Counter(int):
    pass


@pytest.mark.parametrize(
    "value",
    [Counter(3), Meters(1.0), np.array([object()]), np.zeros(2, dtype=[("a", "i4")]),
     np.array(["text"]), np.zeros(2).view(type("Sub", (np.ndarray,), {})), object(), lambda x: x, [1, object()],
     type("L", (list,), {})([1])],
)  # fmt: skip
def test_what_is_not_data_does_not_cross_as_data(value):
    with pytest.raises(ChannelError, match="cannot cross"):
        encode(value)


def test_a_handle_callback_names_what_is_not_data():
    seen = []

    def handle_for(obj, enc):
        seen.append(obj)
        return {"t": "opaque", "h": 1, "type": type(obj).__name__}

    tree, _ = channel.encode_tree([1, Counter(2)], handle_for)
    assert tree["v"][1] == {"t": "opaque", "h": 1, "type": "Counter"}
    assert seen == [2] and type(seen[0]) is Counter


def test_handles_are_refused_where_only_data_is_allowed():
    data = channel.pack({"value": {"t": "callable", "h": 1, "name": "f"}}, [])
    with pytest.raises(ChannelError, match="only data"):
        decode(data)


# -- models ------------------------------------------------------------------------


def small_cnn():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 8, 3, groups=2, bias=False),
        torch.nn.BatchNorm2d(8),
        torch.nn.Flatten(),
        torch.nn.Linear(32, 10),
    )


def test_standard_models_are_rebuilt_with_their_weights():
    model = small_cnn().eval()
    back = roundtrip(model)
    assert [type(m) for m in back.modules()] == [type(m) for m in model.modules()]
    assert not back.training
    for (n1, p1), (n2, p2) in zip(
        model.state_dict().items(), back.state_dict().items(), strict=True
    ):
        assert n1 == n2 and torch.equal(p1, p2)
    x = torch.randn(3, 1, 8, 8)
    torch.testing.assert_close(back(x), model(x))  # PyTorch computes both
    assert back[3].groups == 2 and back[3].bias is None


def test_a_model_with_a_class_of_the_students_own_is_not_data():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)

        def forward(self, x):
            return self.fc(x) * 2

    with pytest.raises(ChannelError, match="cannot cross"):
        encode(Net())
    with pytest.raises(ChannelError, match="cannot cross"):
        encode(torch.nn.Sequential(torch.nn.Linear(2, 2), Net()))


def test_big_models_cross_without_their_weights_when_asked():
    model = torch.nn.Sequential(torch.nn.Linear(300, 300))
    back = roundtrip(model, state_cap=1000)
    assert back[0].weight.shape == (300, 300)
    assert not torch.equal(back[0].weight, model[0].weight)  # freshly initialised


def test_settings_that_would_allocate_too_much_are_refused_before_allocating():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2))
    tree, buffers = channel.encode_tree(model)
    tree["children"][0][1]["config"]["in_features"] = {"t": "int", "v": "100000"}
    tree["children"][0][1]["config"]["out_features"] = {"t": "int", "v": "100000"}
    data = channel.pack({"value": tree}, buffers)
    with pytest.raises(ChannelError, match="parameters"):
        decode(data, limits=Limits(max_params=10**6))


def test_weights_of_the_wrong_shape_are_refused():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3))
    tree, buffers = channel.encode_tree(model)
    tree["children"][0][1]["config"]["out_features"] = {"t": "int", "v": "4"}
    with pytest.raises(ChannelError, match="shape"):
        decode(channel.pack({"value": tree}, buffers))


# -- untrusted bytes ----------------------------------------------------------------


def test_caps_on_depth_and_size():
    deep = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(ChannelError, match="deeper"):
        encode(deep)
    with pytest.raises(ChannelError, match="larger"):
        encode(np.zeros(10**6), limits=Limits(max_bytes=1000))
    tree = {"t": "ndarray", "dtype": "float64", "shape": [10**9], "b": 0}
    with pytest.raises(ChannelError, match="needs"):
        decode(channel.pack({"value": tree}, [b"\0" * 8]))


@pytest.mark.parametrize(
    "data",
    [b"", b"CNNC1", b"CNNC1\x00\x00\x00\x05{}", b"garbage", b"CNNC1\xff\xff\xff\xff{"],
)
def test_malformed_messages_raise_channel_errors(data):
    with pytest.raises(ChannelError):
        decode(data)


data_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | hnp.arrays(
        st.sampled_from(["int8", "int64", "float32", "float64", "bool"]),
        hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
    ),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


def same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


@settings(max_examples=150, deadline=None)
@given(data_values)
def test_any_data_round_trips_exactly(value):
    assert same(roundtrip(value), value)


@settings(max_examples=300, deadline=None)
@given(data_values, st.data())
def test_corrupted_messages_fail_only_with_channel_errors(value, data):
    message = bytearray(encode(value))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(message) - 1))
        message[i] = data.draw(st.integers(0, 255))
    try:
        decode(bytes(message))
    except ChannelError:
        pass
