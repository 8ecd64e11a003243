"""The student's side of the channel: answers the grader from inside the kernel.

While a notebook is graded, its test cells run in a grader process
(:mod:`cnn_course.autograde.grader`). When a test names something of the
student's (``correlate2d_loops``, ``BY_HAND``), the grader's request reaches
the student's kernel as one silent cell, ``serve("<base64>")``, and this
module answers it with data (:mod:`cnn_course.autograde.channel`):

- ``lookup``: the values of some names in the notebook's namespace;
- ``call``: call a function (or a model) the grader holds a handle to, with
  arguments that are data, and return the result; arrays, lists and dicts
  the call changed in place are sent back too, so the grader can mirror the
  change;
- ``method``: ``forward``, ``train`` or ``eval`` of a model handle;
- ``steps``: how many Python steps a call takes (advisory only: this
  process is the student's, so the number cannot be trusted).

The answer goes back as a display message of type :data:`MIME`. This code
runs in the student's process, which its code can change: nothing it says
decides a grade. The grader checks each answer as untrusted data.
"""

from __future__ import annotations

import base64
import sys
import types
from itertools import count

from . import channel

__all__ = ["MIME", "serve", "handle_request", "namespace"]

MIME = "application/vnd.cnn-course.channel+base64"

# The objects the grader holds handles to, kept alive so that ids stay valid.
_objects: dict[int, object] = {}
_ids: dict[int, int] = {}
_next = count(1)

#: Largest answer sent back; beyond it the grader is told why, not flooded.
MAX_ANSWER_BYTES = 32 * 2**20
#: Models whose weights are bigger than this reach the student without them.
_METHODS = ("forward", "train", "eval")


def _ident(obj) -> int:
    key = id(obj)
    if key not in _ids:
        h = next(_next)
        _ids[key] = h
        _objects[h] = obj
    return _ids[key]


def _name_of(obj) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(name, str):
        name = type(obj).__name__
    return name[:100]


def _handle_for(obj, enc):
    """The tree for a value that is not data: a handle the grader can use."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.nn.Module):
        return {
            "t": "rmodule",
            "h": _ident(obj),
            "cls": type(obj).__name__[:100],
            "training": bool(obj.training),
            "children": [[n, enc.tree(c, 1)] for n, c in obj._modules.items()],
            "params": [
                [n, enc.tensor(p)] for n, p in obj._parameters.items() if p is not None
            ],
            "buffers": [
                [n, enc.tensor(b)] for n, b in obj._buffers.items() if b is not None
            ],
        }
    if isinstance(obj, types.ModuleType):
        return {"t": "pymodule", "name": str(obj.__name__)[:200]}
    t = type(obj)
    bases = [c.__name__ for c in t.__mro__ if c.__module__ == "builtins"]
    if callable(obj):
        return {"t": "callable", "h": _ident(obj), "name": _name_of(obj)}
    return {
        "t": "opaque",
        "h": _ident(obj),
        "type": _name_of(t),
        "module": str(getattr(t, "__module__", ""))[:100],
        "bases": bases[:10],
    }


def _encode(value, **kw):
    return channel.encode_tree(value, _handle_for, identity=_ident, **kw)


def _resolve(tree, decoder):
    """What the grader sent that is not data: our own handles, or a module."""
    t = tree["t"]
    if t == "ref":
        h = tree.get("h")
        if type(h) is not int or h not in _objects:
            raise channel.ChannelError("unknown handle")
        return _objects[h]
    if t == "pymodule":
        import importlib

        return importlib.import_module(tree["name"])
    raise channel.ChannelError(f"the grader cannot send a {t}")


def _error(err: BaseException) -> dict:
    try:
        message = str(err)
    except BaseException:  # a student's exception whose __str__ fails
        message = "(its message could not be read)"
    t = type(err)
    return {
        "type": _name_of(t),
        "bases": [c.__name__ for c in t.__mro__ if c.__module__ == "builtins"][:10],
        "message": message[:4000],
        "interrupted": isinstance(err, KeyboardInterrupt),
    }


def _snapshot(value) -> bytes | None:
    """Bytes that change when ``value`` (data only) changes in place."""
    if type(value) not in (list, dict) and type(value).__name__ not in (
        "ndarray",
        "Tensor",
    ):
        return None
    try:
        tree, buffers = channel.encode_tree(value)
        return channel.pack({"v": tree}, buffers)
    except channel.ChannelError:
        return None


def _call(header: dict, buffers) -> tuple[dict, list]:
    target = _objects.get(header.get("target"))
    if target is None:
        raise channel.ChannelError("unknown function handle")
    args = channel.decode_tree(header["args"], buffers, _resolve)
    kwargs = channel.decode_tree(header["kwargs"], buffers, _resolve)
    if type(args) is not list or type(kwargs) is not dict:
        raise channel.ChannelError("bad arguments")
    op = header["op"]
    if op == "method":
        name = header.get("name")
        if name not in _METHODS:
            raise channel.ChannelError(f"method {name!r} is not allowed")
        target = getattr(target, name)
    before = {("args", i): _snapshot(a) for i, a in enumerate(args)}
    before.update({("kwargs", k): _snapshot(v) for k, v in kwargs.items()})
    try:
        if op == "steps":
            from ..grading import count_steps

            result = count_steps(target, *args, **kwargs)
        else:
            result = target(*args, **kwargs)
    except BaseException as err:  # everything the student's code can raise
        return {"raised": _error(err)}, []
    places = {("args", i): a for i, a in enumerate(args)}
    places.update({("kwargs", k): v for k, v in kwargs.items()})
    changed = []
    for path, old in before.items():
        if old is not None and _snapshot(places[path]) != old:
            changed.append([list(path), places[path]])
    result_tree = None
    for path, value in places.items():
        if result is value and before.get(path) is not None:
            result_tree = {"t": "argref", "path": list(path)}
    tree, out = _encode([result if result_tree is None else None, changed])
    if result_tree is not None:
        tree["v"][0] = result_tree
    return {"ok": tree}, out


def namespace() -> dict:
    """The notebook's namespace: IPython's, or ``__main__``'s outside IPython."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    return shell.user_ns if shell is not None else sys.modules["__main__"].__dict__


def _lookup(header: dict) -> tuple[dict, list]:
    space = namespace()
    names = header.get("names")
    if type(names) is not list:
        raise channel.ChannelError("bad names")
    found, missing = {}, []
    for name in names:
        if type(name) is not str:
            continue
        if name in space:
            found[name] = space[name]
        else:
            missing.append(name)
    buffers_all: list = []
    values = []
    for name, value in found.items():
        try:
            tree, buffers = _encode(value)
        except channel.ChannelError as err:
            tree, buffers = {"t": "toolarge", "why": str(err)[:300]}, []
        offset = len(buffers_all)
        _shift(tree, offset)
        buffers_all += buffers
        values.append([name, tree])
    return {"values": values, "missing": missing}, buffers_all


def _shift(tree, offset: int) -> None:
    """Renumber the buffer indices of ``tree`` by ``offset`` (in place)."""
    if not offset:
        return
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "b" in node and isinstance(node["b"], int):
                node["b"] += offset
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def handle_request(data: bytes) -> bytes:
    """Answer one request (both in the wire format)."""
    try:
        header, buffers = channel.unpack(data)
        op = header.get("op")
        if op == "lookup":
            answer, out = _lookup(header)
        elif op in ("call", "method", "steps"):
            answer, out = _call(header, buffers)
        else:
            raise channel.ChannelError(f"unknown request {op!r}")
    except channel.ChannelError as err:
        answer, out = {"refused": str(err)[:1000]}, []
    except BaseException as err:  # the channel itself broke; say how
        answer, out = {"refused": f"{type(err).__name__}: {err}"[:1000]}, []
    message = channel.pack(answer, out)
    if len(message) > MAX_ANSWER_BYTES:
        message = channel.pack(
            {
                "refused": f"the answer has {len(message)} bytes; the grader "
                f"accepts up to {MAX_ANSWER_BYTES}"
            },
            [],
        )
    return message


def serve(request_b64: str) -> None:
    """Answer one request and publish the answer as display data."""
    from IPython.display import publish_display_data

    answer = handle_request(base64.b64decode(request_b64))
    publish_display_data({MIME: base64.b64encode(answer).decode("ascii")})
