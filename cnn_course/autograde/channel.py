"""The data-only codec between a student's kernel and the grader.

Test cells run in a grader process that never executes student code; what
they need of the student (``correlate2d_loops(image, kernel)``, ``BY_HAND``,
``build_cnn()``) crosses between the two processes as *data*, in this codec:

- NumPy arrays with their dtype and shape (real, complex and bool dtypes,
  native byte order; no object dtype, no pickle);
- Python scalars with their exact type: ``True`` stays a ``bool`` and never
  becomes an ``int``; ``float('nan')`` survives; an ``int`` subclass does
  not pass as an ``int``;
- NumPy scalars (``np.int64(3)``), ``str``, ``None``;
- ``list``, ``tuple`` and ``dict`` of these (exact types: a ``list``
  subclass is not a ``list``);
- ``torch.Tensor`` (dense, on the CPU) and ``torch.nn.Module`` trees built
  from the standard layers in :data:`LAYERS`, which are rebuilt from their
  settings and weights on the other side.

Everything else crosses as a *handle*: the receiver gets a stand-in that
names the type (``"returned a Foo"``) and can be passed back, and functions
become callables whose calls go back over the channel. Which stand-ins the
receiver builds is up to it: :func:`decode` takes a ``resolve`` callback for
the kinds ``callable``, ``opaque``, ``rmodule`` and ``ref``.

The grader side decodes what a student's kernel sent, so decoding trusts
nothing: every field is type-checked, sizes and depths are capped
(:class:`Limits`), and a malformed message raises :class:`ChannelError`.

Wire format: ``MAGIC``, a 4-byte length, a JSON header, then the binary
buffers the header's ``buffers`` list gives the lengths of.

>>> import numpy as np
>>> back = decode(encode({"x": np.arange(3), "ok": True, "n": 2}))
>>> back["x"], back["ok"], type(back["n"]).__name__
(array([0, 1, 2]), True, 'int')
"""

from __future__ import annotations

import json
import math
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MAGIC",
    "ChannelError",
    "Limits",
    "LAYERS",
    "encode",
    "decode",
    "encode_tree",
    "decode_tree",
    "describe_type",
]

MAGIC = b"CNNC1"

#: dtypes that cross as arrays (and tensors, where torch has them).
DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
)
_TORCH_DTYPES = tuple(d for d in DTYPES if d not in ("uint16", "uint32", "uint64"))


class ChannelError(ValueError):
    """Data that cannot cross the channel, or a malformed message."""


@dataclass(frozen=True)
class Limits:
    """Caps on one message; the grader side's memory stays bounded by them."""

    max_bytes: int = 256 * 2**20
    max_depth: int = 40
    max_nodes: int = 1_000_000
    max_str: int = 10 * 2**20
    max_int_digits: int = 4000
    max_params: int = 200_000_000
    max_ndim: int = 32


DEFAULT_LIMITS = Limits()


def describe_type(obj: Any) -> str:
    """The name a message shows for ``obj``'s type: ``ndarray``, ``Foo``."""
    t = type(obj)
    return getattr(t, "__qualname__", t.__name__)


# -- standard torch.nn layers --------------------------------------------------

_CONV = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "padding_mode",
)
_BN = ("num_features", "eps", "momentum", "affine", "track_running_stats")

#: ``torch.nn`` classes that cross as data, and the constructor arguments
#: read off an instance (``bias`` is derived from the weights).
LAYERS: dict[str, tuple[str, ...]] = {
    "Sequential": (),
    "ModuleList": (),
    "Identity": (),
    "Conv1d": _CONV,
    "Conv2d": _CONV,
    "Linear": ("in_features", "out_features"),
    "MaxPool1d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "MaxPool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "AvgPool1d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    "AvgPool2d": (
        "kernel_size",
        "stride",
        "padding",
        "ceil_mode",
        "count_include_pad",
        "divisor_override",
    ),
    "AdaptiveAvgPool1d": ("output_size",),
    "AdaptiveAvgPool2d": ("output_size",),
    "AdaptiveMaxPool2d": ("output_size",),
    "ReLU": (),
    "ReLU6": (),
    "LeakyReLU": ("negative_slope",),
    "ELU": ("alpha",),
    "GELU": ("approximate",),
    "SiLU": (),
    "Tanh": (),
    "Sigmoid": (),
    "Softmax": ("dim",),
    "LogSoftmax": ("dim",),
    "Flatten": ("start_dim", "end_dim"),
    "Dropout": ("p",),
    "Dropout2d": ("p",),
    "BatchNorm1d": _BN,
    "BatchNorm2d": _BN,
    "LocalResponseNorm": ("size", "alpha", "beta", "k"),
}
_WITH_BIAS = ("Conv1d", "Conv2d", "Linear")
_STRINGS = {
    "padding": ("same", "valid"),
    "padding_mode": ("zeros", "reflect", "replicate", "circular"),
    "approximate": ("none", "tanh"),
}


def _torch():
    import torch

    return torch


def _is_torch_obj(obj) -> bool:
    return type(obj).__module__.split(".")[0] == "torch" and "torch" in sys.modules


def _standard_layer(module) -> str | None:
    """The LAYERS name of ``module`` if it is exactly that torch.nn class."""
    nn = _torch().nn
    name = type(module).__name__
    if name in LAYERS and type(module) is getattr(nn, name, None):
        return name
    return None


def _all_standard(module, depth: int = 0) -> bool:
    if depth > DEFAULT_LIMITS.max_depth or _standard_layer(module) is None:
        return False
    return all(_all_standard(child, depth + 1) for child in module._modules.values())


# -- encoding ------------------------------------------------------------------

HandleFor = Callable[[Any, "_Encoder"], dict | None]
Identity = Callable[[Any], int | None]


class _Encoder:
    def __init__(
        self,
        handle_for: HandleFor | None,
        identity: Identity | None,
        limits: Limits,
        state_cap: int,
    ):
        self.handle_for = handle_for
        self.identity = identity
        self.limits = limits
        self.buffers: list[bytes] = []
        self.size = 0
        self.nodes = 0
        self.state_cap = state_cap

    def buffer(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limits.max_bytes:
            raise ChannelError(
                f"the data is larger than the channel's {self.limits.max_bytes} bytes"
            )
        self.buffers.append(data)
        return len(self.buffers) - 1

    def array(self, a: np.ndarray) -> dict:
        a = np.require(a, requirements="C")  # keeps 0-d arrays 0-d
        if a.dtype.byteorder == ">":
            a = a.astype(a.dtype.newbyteorder("="))
        return {
            "t": "ndarray",
            "dtype": a.dtype.name,
            "shape": list(a.shape),
            "b": self.buffer(a.tobytes()),
        }

    def handle(self, obj) -> dict:
        if self.handle_for is not None:
            tree = self.handle_for(obj, self)
            if tree is not None:
                return tree
        raise ChannelError(f"a {describe_type(obj)} cannot cross the channel")

    def tree(self, obj, depth: int = 0) -> dict:
        self.nodes += 1
        if depth > self.limits.max_depth:
            raise ChannelError(f"data nested deeper than {self.limits.max_depth}")
        if self.nodes > self.limits.max_nodes:
            raise ChannelError(f"more than {self.limits.max_nodes} values")
        t = type(obj)
        if obj is None:
            return {"t": "none"}
        if t is bool:
            return {"t": "bool", "v": obj}
        if t is int:
            text = str(obj) if abs(obj) < 10**self.limits.max_int_digits else None
            if text is None:
                return self.handle(obj)
            return {"t": "int", "v": text}
        if t is float:
            return {"t": "float", "v": obj.hex()}
        if t is complex:
            return {"t": "complex", "v": [obj.real.hex(), obj.imag.hex()]}
        if t is str:
            if len(obj) > self.limits.max_str:
                return self.handle(obj)
            return {"t": "str", "v": obj}
        if t in (list, tuple):
            return {
                "t": t.__name__,
                "v": [self.tree(item, depth + 1) for item in obj],
            }
        if t is dict:
            return {
                "t": "dict",
                "v": [
                    [self.tree(k, depth + 1), self.tree(v, depth + 1)]
                    for k, v in obj.items()
                ],
            }
        if t is np.ndarray and obj.dtype.name in DTYPES:
            return self.array(obj)
        if (
            isinstance(obj, np.generic)
            and t.__module__ == "numpy"
            and np.dtype(t).name in DTYPES
        ):
            tree = self.array(np.asarray(obj))
            tree["t"] = "npscalar"
            return tree
        if _is_torch_obj(obj):
            tree = self.torch_tree(obj, depth)
            if tree is not None:
                return tree
        return self.handle(obj)

    def torch_tree(self, obj, depth: int) -> dict | None:
        torch = _torch()
        if type(obj) in (torch.Tensor, torch.nn.Parameter):
            return self.tensor(obj)
        if isinstance(obj, torch.nn.Module) and _all_standard(obj):
            return self.module(obj, depth)
        return None

    def tensor(self, t) -> dict | None:
        torch = _torch()
        if t.layout != torch.strided or t.device.type != "cpu" or t.is_quantized:
            return None
        name = str(t.dtype).removeprefix("torch.")
        if name not in _TORCH_DTYPES:
            return None
        tree = self.array(t.detach().contiguous().numpy())
        tree.update(
            t="tensor",
            param=type(t) is torch.nn.Parameter,
            grad=bool(t.requires_grad),
        )
        return tree

    def module(self, m, depth: int) -> dict:
        """A standard torch.nn tree: settings, weights, children."""
        name = _standard_layer(m)
        config = {}
        for field in LAYERS[name]:
            config[field] = self.tree(getattr(m, field), depth + 1)
        if name in _WITH_BIAS:
            config["bias"] = self.tree(m.bias is not None, depth + 1)
        if name.startswith("BatchNorm") and not m.affine:
            config["affine"] = self.tree(False, depth + 1)
        state_bytes = sum(t.numel() * t.element_size() for t in m.state_dict().values())
        with_state = state_bytes <= self.state_cap
        tree = {
            "t": "module",
            "cls": name,
            "config": config,
            "training": bool(m.training),
            "state": with_state,
            "children": [
                [child_name, self.module(child, depth + 1)]
                for child_name, child in m._modules.items()
            ],
        }
        if with_state:
            tree["params"] = [
                [n, self.tensor(p)] for n, p in m._parameters.items() if p is not None
            ]
            tree["buffers"] = [
                [n, self.tensor(b)] for n, b in m._buffers.items() if b is not None
            ]
        if self.identity is not None:
            ident = self.identity(m)
            if ident is not None:
                tree["h"] = ident
        return tree


def encode_tree(
    obj: Any,
    handle_for: HandleFor | None = None,
    identity: Identity | None = None,
    limits: Limits = DEFAULT_LIMITS,
    state_cap: int = 2**62,
) -> tuple[dict, list[bytes]]:
    """``obj`` as a JSON-able tree and its binary buffers.

    ``handle_for(obj, encoder)`` is asked for each value that is not data; it
    returns the tree to send instead (``{"t": "opaque", ...}``), or None to
    refuse. ``identity(obj)`` may give a standard module a handle number, so
    that the receiver can tell one object returned twice. ``state_cap``:
    modules whose weights take more bytes cross without them (the receiver
    initialises a fresh module of the same structure).
    """
    enc = _Encoder(handle_for, identity, limits, state_cap)
    return enc.tree(obj), enc.buffers


def pack(header: dict, buffers: list[bytes]) -> bytes:
    """Header and buffers in the wire format."""
    header = dict(header, buffers=[len(b) for b in buffers])
    text = json.dumps(header, ensure_ascii=True, allow_nan=False).encode("ascii")
    return b"".join([MAGIC, struct.pack(">I", len(text)), text, *buffers])


def unpack(data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[dict, list]:
    """The inverse of :func:`pack`; raises :class:`ChannelError` if malformed."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ChannelError("a message must be bytes")
    data = memoryview(data)
    if len(data) > limits.max_bytes + 2**20:
        raise ChannelError(f"a message of {len(data)} bytes is over the cap")
    if bytes(data[: len(MAGIC)]) != MAGIC or len(data) < len(MAGIC) + 4:
        raise ChannelError("not a channel message")
    (length,) = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])
    start = len(MAGIC) + 4
    if start + length > len(data):
        raise ChannelError("the message header is cut off")
    try:
        header = json.loads(bytes(data[start : start + length]).decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ChannelError(f"the message header is not JSON: {err}") from None
    if not isinstance(header, dict) or not isinstance(header.get("buffers"), list):
        raise ChannelError("the message header has no buffer list")
    buffers, offset = [], start + length
    for n in header["buffers"]:
        if type(n) is not int or n < 0 or offset + n > len(data):
            raise ChannelError("the message's buffers do not add up")
        buffers.append(data[offset : offset + n])
        offset += n
    if offset != len(data):
        raise ChannelError("the message has bytes after its last buffer")
    return header, buffers


def encode(obj: Any, handle_for: HandleFor | None = None, **kw) -> bytes:
    """``obj`` as one message (see :func:`encode_tree`)."""
    tree, buffers = encode_tree(obj, handle_for, **kw)
    return pack({"value": tree}, buffers)


# -- decoding ------------------------------------------------------------------

Resolve = Callable[[dict], Any]


def _fail(what: str):
    raise ChannelError(f"malformed data: {what}")


class _Decoder:
    def __init__(
        self, buffers, resolve: Resolve | None, limits: Limits, memo: dict | None
    ):
        self.buffers = buffers
        self.resolve = resolve
        self.memo = memo
        self.limits = limits
        self.nodes = 0
        self.params = 0

    def field(self, tree: dict, key: str, kind):
        value = tree.get(key)
        if type(value) is not kind:
            _fail(f"{tree.get('t')!r} has no {kind.__name__} {key!r}")
        return value

    def array(self, tree: dict) -> np.ndarray:
        dtype = self.field(tree, "dtype", str)
        if dtype not in DTYPES:
            _fail(f"dtype {dtype[:40]!r} is not allowed")
        shape = self.field(tree, "shape", list)
        if len(shape) > self.limits.max_ndim or any(
            type(n) is not int or n < 0 for n in shape
        ):
            _fail("bad array shape")
        index = self.field(tree, "b", int)
        if not 0 <= index < len(self.buffers):
            _fail("array buffer out of range")
        buf = self.buffers[index]
        dt = np.dtype(dtype)
        if math.prod(shape) * dt.itemsize != len(buf):
            _fail(
                f"an array of shape {tuple(shape)} and dtype {dtype} needs "
                f"{math.prod(shape) * dt.itemsize} bytes, got {len(buf)}"
            )
        return np.frombuffer(buf, dtype=dt).reshape(tuple(shape)).copy()

    def float_(self, text) -> float:
        if type(text) is not str or len(text) > 40:
            _fail("bad float")
        try:
            return float.fromhex(text)
        except ValueError:
            _fail("bad float")

    def tree(self, tree, depth: int = 0):
        self.nodes += 1
        if depth > self.limits.max_depth:
            _fail(f"nested deeper than {self.limits.max_depth}")
        if self.nodes > self.limits.max_nodes:
            _fail(f"more than {self.limits.max_nodes} values")
        if type(tree) is not dict or type(tree.get("t")) is not str:
            _fail("a value without a type")
        t = tree["t"]
        if t == "none":
            return None
        if t == "bool":
            return self.field(tree, "v", bool)
        if t == "int":
            text = self.field(tree, "v", str)
            if len(text) > self.limits.max_int_digits + 1:
                _fail("an int too long")
            try:
                return int(text)
            except ValueError:
                _fail("bad int")
        if t == "float":
            return self.float_(tree.get("v"))
        if t == "complex":
            v = self.field(tree, "v", list)
            if len(v) != 2:
                _fail("bad complex")
            return complex(self.float_(v[0]), self.float_(v[1]))
        if t == "str":
            text = self.field(tree, "v", str)
            if len(text) > self.limits.max_str:
                _fail("a string too long")
            return text
        if t in ("list", "tuple"):
            items = [self.tree(item, depth + 1) for item in self.field(tree, "v", list)]
            return items if t == "list" else tuple(items)
        if t == "dict":
            out = {}
            for pair in self.field(tree, "v", list):
                if type(pair) is not list or len(pair) != 2:
                    _fail("bad dict item")
                key = self.tree(pair[0], depth + 1)
                try:
                    hash(key)
                except TypeError:
                    _fail(f"a dict key of type {describe_type(key)}")
                out[key] = self.tree(pair[1], depth + 1)
            return out
        if t == "ndarray":
            return self.array(tree)
        if t == "npscalar":
            a = self.array(tree)
            if a.shape != ():
                _fail("a NumPy scalar with a shape")
            return a[()]
        if t == "tensor":
            return self.tensor(tree)
        if t == "module":
            return self.module(tree, depth)
        if t in ("callable", "opaque", "rmodule", "ref", "pymodule", "argref"):
            if self.resolve is None:
                _fail(f"a {t} where only data is allowed")
            return self.resolve(tree, self)
        _fail(f"unknown kind {t[:40]!r}")

    def tensor(self, tree):
        torch = _torch()
        if tree.get("dtype") not in _TORCH_DTYPES:
            _fail("tensor dtype not allowed")
        t = torch.from_numpy(self.array(tree))
        if self.field(tree, "param", bool):
            return torch.nn.Parameter(t, requires_grad=self.field(tree, "grad", bool))
        return (
            t.requires_grad_(self.field(tree, "grad", bool))
            if t.is_floating_point()
            else t
        )

    def config_value(self, name: str, tree):
        value = self.tree(tree, 1)
        ok_scalar = type(value) in (int, float, bool) or value is None
        if type(value) is float and not math.isfinite(value):
            ok_scalar = False
        if type(value) is int and not -(2**31) <= value <= 2**31:
            ok_scalar = False
        ok_tuple = (
            type(value) is tuple
            and all(type(v) is int and 0 <= v <= 2**20 for v in value)
            and len(value) <= 3
        )
        ok_str = type(value) is str and value in _STRINGS.get(name, ())
        if not (ok_scalar or ok_tuple or ok_str):
            _fail(f"setting {name} = {value!r:.60}")
        return value

    def module(self, tree: dict, depth: int):
        """Rebuild a standard torch.nn tree (on the meta device first).

        A module the sender numbered (``"h"``) and this decoder's ``memo``
        has seen is the same object again.
        """
        h = tree.get("h")
        if self.memo is not None and type(h) is int and h in self.memo:
            return self.memo[h]
        module = self._module(tree, depth)
        if self.memo is not None and type(h) is int:
            self.memo[h] = module
        return module

    def _module(self, tree: dict, depth: int):
        torch = _torch()
        name = self.field(tree, "cls", str)
        if name not in LAYERS:
            _fail(f"layer {name[:40]!r} is not a standard one")
        config_tree = self.field(tree, "config", dict)
        allowed = set(LAYERS[name]) | ({"bias"} if name in _WITH_BIAS else set())
        if name.startswith("BatchNorm"):
            allowed.add("affine")
        if set(config_tree) - allowed:
            _fail(f"{name} with unknown settings {sorted(config_tree)[:5]}")
        config = {k: self.config_value(k, v) for k, v in config_tree.items()}
        children = self.field(tree, "children", list)
        built = []
        for pair in children:
            if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                _fail("bad child")
            if type(pair[1]) is not dict or pair[1].get("t") != "module":
                _fail("a child that is not a standard layer")
            built.append((pair[0], self.module(pair[1], depth + 1)))
        cls = getattr(torch.nn, name)
        if name in ("Sequential", "ModuleList"):
            if config:
                _fail(f"{name} takes no settings")
            from collections import OrderedDict

            module = (
                torch.nn.Sequential(OrderedDict(built))
                if name == "Sequential"
                else torch.nn.ModuleList([m for _, m in built])
            )
        else:
            if built:
                _fail(f"{name} has no children")
            try:
                with torch.device("meta"):
                    module = cls(**config)
            except Exception as err:  # the settings do not make a layer
                _fail(f"{name}({config!r:.80}) cannot be built: {err}")
            count = sum(p.numel() for p in module.parameters())
            count += sum(b.numel() for b in module.buffers())
            self.params += count
            if self.params > self.limits.max_params:
                _fail(f"more than {self.limits.max_params} parameters")
            module = module.to_empty(device="cpu")
            if self.field(tree, "state", bool):
                self.load_state(module, tree)
            else:
                for child in module.modules():
                    if hasattr(child, "reset_parameters"):
                        child.reset_parameters()
        module.train(self.field(tree, "training", bool))
        return module

    def load_state(self, module, tree: dict) -> None:
        torch = _torch()
        for key, own in (("params", module._parameters), ("buffers", module._buffers)):
            items = self.field(tree, key, list)
            names = set()
            for pair in items:
                if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                    _fail(f"bad {key}")
                name, value = pair
                if name not in own or own[name] is None:
                    _fail(f"{type(module).__name__} has no {key[:-1]} {name[:40]!r}")
                tensor = self.tensor(value)
                if tuple(tensor.shape) != tuple(own[name].shape):
                    _fail(
                        f"{type(module).__name__}.{name} has shape "
                        f"{tuple(tensor.shape)}, its settings need "
                        f"{tuple(own[name].shape)}"
                    )
                with torch.no_grad():
                    own[name].copy_(tensor)
                names.add(name)
            missing = {n for n, v in own.items() if v is not None} - names
            if missing:
                _fail(f"{type(module).__name__} lacks {sorted(missing)}")


def decode_tree(
    tree: dict,
    buffers,
    resolve: Resolve | None = None,
    limits=DEFAULT_LIMITS,
    memo: dict | None = None,
):
    """The value of ``tree`` (see :func:`encode_tree`).

    ``resolve(tree, decoder)`` builds the value of a handle kind; without
    it, only data is accepted. ``memo`` maps handle numbers to the models
    already rebuilt.
    """
    try:
        return _Decoder(buffers, resolve, limits, memo).tree(tree)
    except ChannelError:
        raise
    except (RecursionError, MemoryError) as err:
        raise ChannelError(f"malformed data: {type(err).__name__}") from None
    except Exception as err:  # a value the checks above did not foresee
        raise ChannelError(f"malformed data: {type(err).__name__}: {err}") from None


def decode(data: bytes, resolve: Resolve | None = None, limits=DEFAULT_LIMITS):
    """The value of one message made by :func:`encode`."""
    header, buffers = unpack(data, limits)
    if "value" not in header:
        _fail("no value")
    return decode_tree(header["value"], buffers, resolve, limits)
