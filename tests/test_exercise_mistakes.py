"""The exercises' catalogue of typical mistakes, each made and checked.

Every entry takes the instructor's solution of one task, makes one typical
mistake in it, runs the whole notebook as grading runs it (the emulation of
``_notebooks.py``: student cells in one namespace, test cells in another,
data-only between them), and asserts that

* the visible part of that task's test fails, with a message that names the
  mistake (``says``), so a student sees it before handing in;
* the hidden part of that test fails too, run on its own;
* every other test cell passes, visible and hidden, except the tests of
  later tasks whose function calls the broken one (``fix_first``): those
  fail with a message that says "fix task N first" and no numbers of
  their own.

The other checks of this module hold for every notebook: the solutions
pass everything (hidden parts alone too); leaving one task as the released
stub fails that task's test with ``NotImplementedError`` and nothing else
except the tests of later functions that call it (which fail with the same
``NotImplementedError``, raised by the stub they call); and the catalogue
covers every task.
"""

from __future__ import annotations

import dataclasses

import _notebooks as nbrun
import numpy as np
import pytest
from _course import ASSIGNMENTS


@dataclasses.dataclass(frozen=True)
class Mistake:
    notebook: str
    cell: str  # grade id of the solution cell the mistake is made in
    label: str
    edits: tuple[tuple[str, str], ...] = ()  # (old, new), applied to the solution
    source: str | None = None  # or the whole wrong answer
    fails: str = ""  # grade id of the test that must catch it
    says: tuple[str, ...] = ()  # what the visible message must contain
    fix_first: tuple[tuple[str, str], ...] = ()  # (test grade id, "task N")
    # other cells' answers, written the student's way (a later task calling
    # the broken function where the instructor's solution calls another)
    also: tuple[tuple[str, str], ...] = ()
    hidden_says: tuple[str, ...] = ()  # what the hidden message must contain

    @property
    def id(self) -> str:
        return f"{self.notebook[:2]}-{self.cell}-{self.label}"

    def answers(self) -> dict[str, str]:
        return {**dict(self.also), self.cell: self.answer()}

    def answer(self) -> str:
        if self.source is not None:
            return self.source
        text = nbrun.solutions(self.notebook)[self.cell]
        for old, new in self.edits:
            assert text.count(old) == 1, f"{self.id}: {old!r} not found once"
            text = text.replace(old, new)
        return text


def M(
    notebook,
    cell,
    label,
    *edits,
    source=None,
    fails=None,
    says=(),
    fix_first=(),
    also=(),
    hidden_says=(),
):
    return Mistake(
        notebook,
        cell,
        label,
        tuple(edits),
        source,
        fails or f"test_{cell}",
        (says,) if isinstance(says, str) else tuple(says),
        tuple(fix_first),
        tuple(also),
        (hidden_says,) if isinstance(hidden_says, str) else tuple(hidden_says),
    )


# One mistake a line or two, as a table: not reformatted.
# fmt: off
C1 = "01_convolution"
CONVOLVE_WITH_LOOPS = (
    "convolve2d",
    "def convolve2d(image, kernel):\n"
    "    return correlate2d_loops(image, np.asarray(kernel)[::-1, ::-1])\n",
)

CATALOGUE = [
    # -- 01: convolution ---------------------------------------------------
    M(C1, "correlate2d_loops", "flipped kernel",
      ("patch * kernel", "patch * kernel[::-1, ::-1]"),
      says="the kernel was flipped", hidden_says="the kernel was flipped",
      fix_first=[("test_convolve2d", "task 1")], also=[CONVOLVE_WITH_LOOPS]),
    M(C1, "correlate2d_loops", "flipped rows only",
      ("patch * kernel", "patch * kernel[::-1, :]"),
      says="turned upside down"),
    M(C1, "correlate2d_loops", "one position short",
      ("out_h = image.shape[0] - kh + 1", "out_h = image.shape[0] - kh"),
      ("out_w = image.shape[1] - kw + 1", "out_w = image.shape[1] - kw"),
      says="one position short"),
    M(C1, "correlate2d_loops", "integer result for integer image",
      ("image = np.asarray(image, dtype=float)", "image = np.asarray(image)"),
      ("out = np.zeros((out_h, out_w))", "out = np.zeros((out_h, out_w), dtype=image.dtype)"),
      says="floating-point"),
    M(C1, "correlate2d_loops", "returns a list",
      ("    return out", "    return out.tolist()"),
      says="should return a numpy.ndarray, got list"),
    M(C1, "correlate2d_loops", "rows and columns swapped",
      ("out_h = image.shape[0] - kh + 1", "out_h = image.shape[1] - kw + 1"),
      ("out_w = image.shape[1] - kw + 1", "out_w = image.shape[0] - kh + 1"),
      says="rows and columns swapped"),
    M(C1, "correlate2d_fast", "flipped kernel",
      ("out += kernel[a, b] *", "out += kernel[kh - 1 - a, kw - 1 - b] *"),
      says="the kernel was flipped",
      fix_first=[("test_convolve2d", "task 2")]),
    M(C1, "correlate2d_fast", "changes the image in place",
      ("    out = np.zeros((out_h, out_w))\n    for a in range(kh):\n        for b in range(kw):\n"
       "            out += kernel[a, b] * image[a:a + out_h, b:b + out_w]",
       "    out = image[:out_h, :out_w]\n    out *= kernel[0, 0]\n"
       "    for a in range(kh):\n        for b in range(kw):\n            if a or b:\n"
       "                out += kernel[a, b] * image[a:a + out_h, b:b + out_w]"),
      ("image = np.asarray(image, dtype=float)", "image = np.asarray(image)"),
      says="changed its input `image` in place",
      fix_first=[("test_convolve2d", "task 2")]),
    M(C1, "correlate2d_fast", "one position short",
      ("out_h = image.shape[0] - kh + 1", "out_h = image.shape[0] - kh"),
      ("out_w = image.shape[1] - kw + 1", "out_w = image.shape[1] - kw"),
      says="one position short", fix_first=[("test_convolve2d", "task 2")]),
    M(C1, "by_hand", "flipped kernel", source="BY_HAND = [[6, -3], [3, 7]]",
      says="the kernel was flipped"),
    M(C1, "by_hand", "one value wrong", source="BY_HAND = [[8, -1], [0, 6]]",
      says="not the right answer"),
    M(C1, "by_hand", "a flat list", source="BY_HAND = [8, -1, 0, 7]",
      says="should have shape (2, 2)"),
    M(C1, "convolve2d", "not flipped",
      ("kernel[::-1, ::-1]", "kernel"), says="not flipped"),
    M(C1, "convolve2d", "one axis flipped",
      ("kernel[::-1, ::-1]", "kernel[::-1, :]"), says="upside down only"),
    M(C1, "convolve2d", "flips the kernel in place",
      ("    kernel = np.asarray(kernel, dtype=float)\n    return correlate2d_fast(image, kernel[::-1, ::-1])",
       "    kernel[...] = kernel[::-1, ::-1].copy()\n    return correlate2d_fast(image, kernel)"),
      says="changed its input `kernel` in place"),
]

C2 = "02_filters"
CATALOGUE += [
    # -- 02: filters --------------------------------------------------------
    M(C2, "kernels", "Sobel with rows and columns swapped",
      ("SOBEL_X = np.array([[-1.0, 0.0, 1.0],\n                    [-2.0, 0.0, 2.0],\n"
       "                    [-1.0, 0.0, 1.0]])",
       "SOBEL_X = np.array([[-1.0, -2.0, -1.0],\n                    [0.0, 0.0, 0.0],\n"
       "                    [1.0, 2.0, 1.0]])"),
      says="rows and columns swapped"),
    M(C2, "kernels", "emboss mirrored",
      ("EMBOSS = np.array([[-2.0, -1.0, 0.0],\n                   [-1.0, 1.0, 1.0],\n"
       "                   [0.0, 1.0, 2.0]])",
       "EMBOSS = np.array([[0.0, -1.0, -2.0],\n                   [1.0, 1.0, -1.0],\n"
       "                   [2.0, 1.0, 0.0]])"),
      says="EMBOSS is mirrored"),
    M(C2, "kernels", "integer arrays",
      ("OUTLINE = np.array([[-1.0, -1.0, -1.0],\n                    [-1.0, 8.0, -1.0],\n"
       "                    [-1.0, -1.0, -1.0]])",
       "OUTLINE = np.array([[-1, -1, -1],\n                    [-1, 8, -1],\n"
       "                    [-1, -1, -1]])"),
      says=("OUTLINE", "floating-point")),
    M(C2, "kernels", "rounded decimals",
      ("BOX_BLUR = np.full((3, 3), 1 / 9)", "BOX_BLUR = np.full((3, 3), 0.11)"),
      says=("BOX_BLUR sums to 0.99", "not rounded decimals")),
    M(C2, "kernels", "sharpen with the wrong centre",
      ("[-1.0, 5.0, -1.0]", "[-1.0, 4.0, -1.0]"),
      says="SHARPEN sums to 0"),
    M(C2, "box_blur", "1/n per cell",
      ("1.0 / n**2", "1.0 / n"), says="each cell is 1/n**2"),
    M(C2, "box_blur", "no check of n",
      ("    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:\n"
       "        raise ValueError(f\"`n` must be an int >= 1, got {n!r}\")\n", ""),
      says="box_blur(0) should raise ValueError, but it raised ZeroDivisionError"),
    M(C2, "box_blur", "message without the value",
      ('f"`n` must be an int >= 1, got {n!r}"', '"n must be a positive int"'),
      says="does not mention '0'"),
    M(C2, "apply_filter", "zero padding",
      ('mode="edge"', 'mode="constant"'), says="padded with zeros"),
    M(C2, "apply_filter", "not clipped",
      ("return np.clip(out, 0.0, 1.0)", "return out"), says="not clipped"),
    M(C2, "apply_filter", "uint8 not divided by 255",
      ("    if image.dtype == np.uint8:\n        image = image / 255.0\n", ""),
      says="divide them by 255 first"),
    M(C2, "apply_filter", "flipped kernel",
      ("out += kernel[a, b] *", "out += kernel[kh - 1 - a, kw - 1 - b] *"),
      says="the kernel was flipped"),
    M(C2, "apply_filter", "no padding",
      ('np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)), mode="edge")', "image"),
      ("    h, w = image.shape\n", "    h, w = image.shape[0] - kh + 1, image.shape[1] - kw + 1\n"),
      says="the picture was not padded"),
    M(C2, "match", "two pictures swapped",
      source='MATCH = {"A": "emboss", "B": "sharpen", "C": "outline", "D": "box_blur"}',
      says="is not right"),
    M(C2, "match", "a name that is not a candidate",
      source='MATCH = {"A": "sharpen", "B": "emboss", "C": "outline", "D": "blur"}',
      says="not one of the candidates"),
    M(C2, "match", "lower-case letters",
      source='MATCH = {"a": "sharpen", "b": "emboss", "c": "outline", "d": "box_blur"}',
      says="should be a dict with the keys ['A', 'B', 'C', 'D']"),
]

C3 = "03_parameters"
NETWORK_WITH_OWN_SUM = (
    "network_params",
    "def network_params(layers):\n"
    "    total = 0\n"
    "    for layer in layers:\n"
    "        if layer[0] == 'conv':\n"
    "            total += conv2d_params(*layer[1:])\n"
    "        elif layer[0] == 'linear':\n"
    "            total += linear_params(*layer[1:])\n"
    "    return total\n",
)
CATALOGUE += [
    # -- 03: parameters -----------------------------------------------------
    M(C3, "shapes", "swapped channels",
      ("return (out_channels, *filter_shape(in_channels, kernel_size))",
       "return (in_channels, out_channels, *filter_shape(in_channels, kernel_size)[1:])"),
      says="PyTorch puts C_out first",
      fix_first=[("test_conv2d_params", "task 1"), ("test_network_params", "task 2")]),
    M(C3, "shapes", "lists instead of tuples",
      ("return (in_channels, kh, kw)", "return [in_channels, kh, kw]"),
      ("return (out_channels, *filter_shape(in_channels, kernel_size))",
       "return [out_channels, *filter_shape(in_channels, kernel_size)]"),
      says="should be a tuple, got list"),
    M(C3, "shapes", "an int kernel not made square",
      ("kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size\n"
       "    return (in_channels, kh, kw)",
       "if isinstance(kernel_size, int):\n        return (in_channels, kernel_size)\n"
       "    return (in_channels, *kernel_size)"),
      says="a kernel of size k is k x k",
      fix_first=[("test_conv2d_params", "task 1"), ("test_network_params", "task 2")]),
    M(C3, "conv2d_params", "bias forgotten",
      ("kh * kw * c_in * c_out + (c_out if bias else 0)", "kh * kw * c_in * c_out"),
      says="the bias is missing", hidden_says="the bias is missing",
      fix_first=[("test_network_params", "task 2")]),
    M(C3, "conv2d_params", "one bias per weight",
      ("kh * kw * c_in * c_out + (c_out if bias else 0)",
       "2 * kh * kw * c_in * c_out if bias else kh * kw * c_in * c_out"),
      says="not one per weight",
      fix_first=[("test_network_params", "task 2")]),
    M(C3, "conv2d_params", "one bias per input channel",
      ("(c_out if bias else 0)", "(c_in if bias else 0)"),
      says="not per input channel",
      fix_first=[("test_network_params", "task 2")]),
    M(C3, "conv2d_params", "bias=False ignored",
      ("(c_out if bias else 0)", "c_out"),
      says="bias=False means no bias at all"),
    M(C3, "conv2d_params", "filters one channel deep",
      ("kh * kw * c_in * c_out +", "kh * kw * c_out +"),
      says="each filter spans all C_in input channels",
      fix_first=[("test_network_params", "task 2")]),
    M(C3, "conv2d_params", "a float from division",
      ("kh * kw * c_in * c_out + (c_out if bias else 0)",
       "(kh * kw * c_in + 1) * c_out / 1 if bias else kh * kw * c_in * c_out"),
      says="should be an int, got float",
      fix_first=[("test_network_params", "task 2")]),
    M(C3, "linear_params", "bias forgotten",
      ("in_features * out_features + (out_features if bias else 0)",
       "in_features * out_features"),
      says="the bias is missing",
      fix_first=[("test_network_params", "task 3")]),
    M(C3, "linear_params", "one bias per input",
      ("(out_features if bias else 0)", "(in_features if bias else 0)"),
      says="one bias per output, not per input",
      fix_first=[("test_network_params", "task 3")]),
    M(C3, "feature_map_shape", "input minus filter, no +1",
      ("return (c_out, h - kh + 1, w - kw + 1)", "return (c_out, h - kh, w - kw)"),
      says="one position short"),
    M(C3, "feature_map_shape", "channels not checked",
      ("    if c_filter != c_in:\n        raise ValueError(\n"
       "            f\"the filters have {c_filter} channels but the input has {c_in}\")\n", ""),
      says="should raise ValueError, but it returned"),
    M(C3, "feature_map_shape", "message without the numbers",
      ('f"the filters have {c_filter} channels but the input has {c_in}"',
       '"the channels do not match"'),
      says="does not mention '6', '4'"),
    M(C3, "feature_map_shape", "height and width swapped",
      ("return (c_out, h - kh + 1, w - kw + 1)", "return (c_out, w - kw + 1, h - kh + 1)"),
      says="height and width swapped"),
    M(C3, "network_params", "pooling counted as having weights",
      ("            total += linear_params(layer[1], layer[2])\n",
       "            total += linear_params(layer[1], layer[2])\n"
       "        elif layer[0] == 'maxpool':\n"
       "            total += layer[1] * layer[1]\n"),
      says="a pooling layer learns nothing"),
    M(C3, "network_params", "linear layers left out",
      ("        elif layer[0] == \"linear\":\n            total += linear_params(layer[1], layer[2])\n", ""),
      says="the Linear layers hold parameters too"),
]

C4 = "04_cnn_structure"
CHAPTER_4_CNN = """
from cnn_course.experiments import digits

def build_cnn():
    return digits.make_cnn()
"""
CATALOGUE += [
    # -- 04: pooling and a CNN -------------------------------------------------
    M(C4, "max_pool2d", "partial windows kept",
      ("out_h, out_w = (h - k) // s + 1, (w - k) // s + 1",
       "out_h, out_w = -(-(h - k) // s) + 1, -(-(w - k) // s) + 1\n"
       "    x = np.pad(x, ((0, 0), (0, 0), (0, k), (0, k)), constant_values=-np.inf)"),
      says="a window that would run past the edge is dropped"),
    M(C4, "max_pool2d", "maximum started at 0",
      ("np.full((n, c, out_h, out_w), -np.inf)", "np.zeros((n, c, out_h, out_w))"),
      says="not from 0"),
    M(C4, "max_pool2d", "stride ignored",
      ("s = k if stride is None else stride", "s = k"),
      says="windows move one pixel at a time"),
    M(C4, "max_pool2d", "channels mixed",
      ("out = np.maximum(out, window)",
       "out = np.maximum(out, window.max(axis=1, keepdims=True))"),
      says="do not mix channels"),
    M(C4, "max_pool2d", "result written into the input",
      ("    out = np.full((n, c, out_h, out_w), -np.inf)\n",
       "    out = x[:, :, :s * (out_h - 1) + 1:s, :s * (out_w - 1) + 1:s]\n"),
      ("out = np.maximum(out, window)", "np.maximum(out, window, out=out)"),
      ("x = np.asarray(x, dtype=float)", "x = np.asarray(x)"),
      says="changed its input `x` in place"),
    M(C4, "avg_pool2d", "divided by k",
      ("return out / (k * k)", "return out / k"), says="divide by k*k"),
    M(C4, "avg_pool2d", "integer division",
      ("x = np.asarray(x, dtype=float)", "x = np.asarray(x)"),
      ("out = np.zeros((n, c, out_h, out_w))", "out = np.zeros((n, c, out_h, out_w), dtype=x.dtype)"),
      ("return out / (k * k)", "return out // (k * k)"),
      says="divide with /, not //"),
    M(C4, "avg_pool2d", "partial windows kept",
      ("out_h, out_w = (h - k) // s + 1, (w - k) // s + 1",
       "out_h, out_w = -(-(h - k) // s) + 1, -(-(w - k) // s) + 1\n"
       "    x = np.pad(x, ((0, 0), (0, 0), (0, k), (0, k)))"),
      says="a window that would run past the edge is dropped"),
    M(C4, "build_cnn", "chapter 4's network copied", source=CHAPTER_4_CNN,
      says="parameters, over the budget of 1,000"),
    M(C4, "build_cnn", "one convolution only",
      source="def build_cnn():\n    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(),\n"
             "        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 10))\n",
      says="1 nn.Conv2d layer(s); the specification asks for at least two"),
    M(C4, "build_cnn", "no pooling",
      source="def build_cnn():\n    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(),\n"
             "        nn.Conv2d(4, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 10))\n",
      says="no pooling layer"),
    M(C4, "build_cnn", "shapes not planned",
      ("nn.Linear(32, 10)", "nn.Linear(64, 10)"),
      says="mat1 and mat2 shapes cannot be multiplied"),
    M(C4, "build_cnn", "a class of one's own",
      source="class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
             "        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),\n"
             "            nn.MaxPool2d(2), nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(),\n"
             "            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32, 10))\n\n"
             "    def forward(self, x):\n        return self.body(x)\n\n\n"
             "def build_cnn():\n    return Net()\n",
      says="should return a torch.nn.Module, got Net"),
    M(C4, "param_split", "biases left out",
      ("split[\"conv\"] += sum(p.numel() for p in module.parameters())",
       "split[\"conv\"] += module.weight.numel()"),
      ("split[\"linear\"] += sum(p.numel() for p in module.parameters())",
       "split[\"linear\"] += module.weight.numel()"),
      says="count the biases too"),
    M(C4, "param_split", "top level only",
      ("for module in model.modules():", "for module in model.children():"),
      says="nested nn.Sequential count too"),
]

C5 = "05_stride_padding"
SPAN = "return (n + 2 * padding - span) // stride + 1"
CEIL = "room = n + 2 * padding - kernel_size"
CONV_FIRST = [("test_conv2d", "task 1")]
CATALOGUE += [
    # -- 05: stride and padding ------------------------------------------------
    M(C5, "output_size", "padding on one side only",
      (SPAN, "return (n + padding - span) // stride + 1"),
      says="padding p is added on each side", hidden_says="padding p is added on each side",
      fix_first=CONV_FIRST),
    M(C5, "output_size", "rounded up",
      (SPAN, "return -(-(n + 2 * padding - span) // stride) + 1"),
      says="round down (floor)", hidden_says="round down (floor), not up",
      fix_first=CONV_FIRST),
    M(C5, "output_size", "rounded to the nearest",
      (SPAN, "return round((n + 2 * padding - span) / stride) + 1"),
      says="round down (floor)", fix_first=CONV_FIRST),
    M(C5, "output_size", "dilation ignored",
      ("span = dilation * (kernel_size - 1) + 1", "span = kernel_size"),
      says="a dilated kernel spans d(k - 1) + 1 inputs"),
    M(C5, "output_size", "the first position not counted",
      (SPAN, "return (n + 2 * padding - span) // stride"),
      says="the +1 is missing", fix_first=CONV_FIRST),
    M(C5, "output_size", "a float",
      (SPAN, "return np.floor((n + 2 * padding - span) / stride) + 1"),
      says="should be an int, got float64", fix_first=CONV_FIRST),
    M(C5, "pool_output_size", "ceil without PyTorch's rule",
      ("    if (out - 1) * stride >= n + padding:\n        out -= 1\n", ""),
      says="a last window that would start in the right padding is dropped",
      hidden_says="right padding"),
    M(C5, "pool_output_size", "ceil_mode ignored",
      ("    if not ceil_mode:\n", "    if True:\n"),
      says="ceil_mode=True rounds up"),
    M(C5, "pool_output_size", "padding on one side only",
      (CEIL, "room = n + padding - kernel_size"),
      says="padding p is added on each side"),
    M(C5, "same_padding", "the extra zero before",
      ("return (total // 2, total - total // 2)", "return (total - total // 2, total // 2)"),
      says="the extra zero goes after"),
    M(C5, "same_padding", "dilation ignored",
      ("total = dilation * (kernel_size - 1)", "total = kernel_size - 1"),
      says="a dilated kernel spans d(k - 1) + 1 inputs"),
    M(C5, "same_padding", "a list",
      ("return (total // 2, total - total // 2)", "return [total // 2, total - total // 2]"),
      says="should be a tuple, got list"),
    M(C5, "transposed", "output_padding forgotten",
      (" + output_padding\n", "\n"),
      says="output_padding adds a zeros at the end"),
    M(C5, "transposed", "padding taken off once",
      ("2 * (kernel_size - padding - 1)", "2 * (kernel_size - 1) - padding"),
      says="the padding is taken off both ends"),
    M(C5, "transposed", "n gaps for n inputs",
      ("stretched = stride * (n - 1) + 1", "stretched = stride * n + 1"),
      says="n inputs have n - 1 gaps"),
    M(C5, "transposed", "output_padding without the padding",
      ("return (n + 2 * padding - kernel_size) % stride", "return (n - kernel_size) % stride"),
      says="the padding counts too"),
    M(C5, "conv2d", "bias forgotten",
      ("    if bias is not None:\n        out += np.asarray(bias, dtype=float)[None, :, None, None]\n", ""),
      says="the bias is missing", hidden_says="the bias is missing"),
    M(C5, "conv2d", "flipped kernel",
      ("weight[:, :, u, v])", "weight[:, :, kh - 1 - u, kw - 1 - v])"),
      says="the kernel was flipped"),
    M(C5, "conv2d", "padding on one side only",
      ("((0, 0), (0, 0), (padding, padding), (padding, padding))",
       "((0, 0), (0, 0), (padding, 0), (padding, 0))"),
      ("    out_h = output_size(h, kh, stride, padding)\n    out_w = output_size(w, kw, stride, padding)\n", ""),
      ("    out = np.zeros((n, c_out, out_h, out_w))",
       "    out_h = output_size(xp.shape[2], kh, stride)\n"
       "    out_w = output_size(xp.shape[3], kw, stride)\n"
       "    out = np.zeros((n, c_out, out_h, out_w))"),
      says="pad the bottom and the right too"),
    M(C5, "conv2d", "stride ignored",
      ("xp[:, :, u:u + stride * (out_h - 1) + 1:stride,\n                       v:v + stride * (out_w - 1) + 1:stride]",
       "xp[:, :, u:u + out_h, v:v + out_w]"),
      ("    out_h = output_size(h, kh, stride, padding)\n    out_w = output_size(w, kw, stride, padding)\n",
       "    out_h = output_size(h, kh, 1, padding)\n    out_w = output_size(w, kw, 1, padding)\n"),
      says="the stride is the step between positions"),
    M(C5, "conv2d", "integer sums for an integer x",
      ("x = np.asarray(x, dtype=float)", "x = np.asarray(x)"),
      ("out = np.zeros((n, c_out, out_h, out_w))", "out = np.zeros((n, c_out, out_h, out_w), dtype=x.dtype)"),
      ("out += np.einsum(\"nchw,oc->nohw\", patch, weight[:, :, u, v])",
       "out += np.einsum(\"nchw,oc->nohw\", patch, weight[:, :, u, v]).astype(out.dtype)"),
      says="floating-point"),
]

C6 = "06_alexnet"
CATALOGUE += [
    # -- 06: AlexNet -----------------------------------------------------------
    M(C6, "conv_layer", "groups ignored",
      ("params = k * k * (c // groups) * out + out", "params = k * k * c * out + out"),
      says="with groups, each filter sees C_in/groups channels",
      fix_first=[("test_alexnet_table", "task 1")]),
    M(C6, "conv_layer", "padding on one side only",
      ("size = lambda n: (n + 2 * p - k) // s + 1", "size = lambda n: (n + p - k) // s + 1"),
      says="padding p goes on each side",
      fix_first=[("test_alexnet_table", "task 1"), ("test_slide", "task 2")]),
    M(C6, "conv_layer", "bias forgotten",
      ("params = k * k * (c // groups) * out + out", "params = k * k * (c // groups) * out"),
      says="the bias is missing", fix_first=[("test_alexnet_table", "task 1")]),
    M(C6, "conv_layer", "the shape as a list",
      ("return (out, size(h), size(w)), params", "return [out, size(h), size(w)], params"),
      says="should be a tuple, got list", fix_first=[("test_alexnet_table", "task 1")]),
    M(C6, "alexnet_table", "pool5 skipped, as on the slide",
      ('elif kind == "maxpool":', 'elif kind == "maxpool" and name != "pool5":'),
      says="shrinks 13x13 to 6x6", hidden_says="6x6",
      fix_first=[("test_slide", "task 2")]),
    M(C6, "alexnet_table", "dense layers without biases",
      ('params = shape[0] * cfg["out"] + cfg["out"]', 'params = shape[0] * cfg["out"]'),
      says="the dense layer's biases count too"),
    M(C6, "alexnet_table", "no row for torchvision's avgpool",
      ('        elif kind == "adaptive_avgpool":\n'
       '            shape = (shape[0], cfg["size"], cfg["size"])\n', ""),
      ('        rows.append({"name": name, "out_shape": shape, "params": params})',
       '        if kind != "adaptive_avgpool":\n'
       '            rows.append({"name": name, "out_shape": shape, "params": params})'),
      says="should return 13 rows, one per layer of SPEC"),
    M(C6, "slide", "fc6's biases counted",
      ('FC6_WEIGHTS = _rows["flatten"]["out_shape"][0] * _rows["fc6"]["out_shape"][0]',
       'FC6_WEIGHTS = _rows["fc6"]["params"]'),
      says="without fc6's biases"),
    M(C6, "slide", "13x13 maps, as on the slide",
      ('FC6_WEIGHTS = _rows["flatten"]["out_shape"][0] * _rows["fc6"]["out_shape"][0]',
       "FC6_WEIGHTS = 13 * 13 * 256 * 4096"),
      says="pool5 comes between conv5 and fc6"),
    M(C6, "slide", "the ratio upside down",
      ("SLIDE_RATIO = SLIDE_FC6 / FC6_WEIGHTS", "SLIDE_RATIO = FC6_WEIGHTS / SLIDE_FC6"),
      says="divide the slide's number by the true one"),
    M(C6, "conv_dense_split", "every layer counted as convolution",
      ('        elif row["name"].startswith("fc"):\n            split["linear"] += row["params"]\n', ""),
      ('        if row["name"].startswith("conv"):\n            split["conv"] += row["params"]\n',
       '        split["conv"] += row["params"]\n'),
      says="only convolution layers count in 'conv'"),
    M(C6, "conv_dense_split", "another key",
      ('split = {"conv": 0, "linear": 0}', 'split = {"conv": 0, "dense": 0}'),
      ('split["linear"] += row["params"]', 'split["dense"] += row["params"]'),
      says="should be a dict with the keys ['conv', 'linear']"),
]

# fmt: on

IDS = [m.id for m in CATALOGUE]


def _failing(outcomes: dict[str, nbrun.Outcome]) -> dict[str, str]:
    return {k: o.whole for k, o in outcomes.items() if not o.passed}


@pytest.mark.parametrize("mistake", CATALOGUE, ids=IDS)
def test_each_mistake_fails_its_own_task_with_a_message_that_names_it(mistake):
    outcomes = nbrun.run(mistake.notebook, mistake.answers())
    own = outcomes[mistake.fails]
    assert own.visible is not None, f"the visible test passes {mistake.label}"
    for phrase in mistake.says:
        assert phrase in own.visible, own.visible
    assert own.hidden_alone is not None, "the hidden test passes it"
    for phrase in mistake.hidden_says:
        assert phrase in own.hidden_alone, own.hidden_alone
    expected_dependents = dict(mistake.fix_first)
    for test, outcome in outcomes.items():
        if test == mistake.fails:
            continue
        if test in expected_dependents:
            # the later function calls the broken one: its test fails, and
            # says which task to fix first (visible, or hidden on cases
            # where the visible ones happen not to show the mistake)
            assert outcome.whole is not None, f"{test} passes"
            assert f"fix {expected_dependents[test]} first" in outcome.whole, (
                outcome.whole
            )
            continue
        assert outcome.passed, f"{test} fails too: {outcome.whole}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solutions_pass_every_test_visible_and_hidden(name):
    outcomes = nbrun.run(name)
    for test, outcome in outcomes.items():
        assert outcome.visible is None, f"{test}: {outcome.visible}"
        assert outcome.hidden_alone is None, f"{test} hidden: {outcome.hidden_alone}"
        assert outcome.whole is None, f"{test}: {outcome.whole}"


def test_the_catalogue_covers_every_task_with_forty_mistakes_or_more():
    assert len(CATALOGUE) >= 40
    assert len(set(IDS)) == len(IDS), "two mistakes share a name"
    per_notebook = {
        name: [m for m in CATALOGUE if m.notebook == name] for name in ASSIGNMENTS
    }
    for name in ("01_convolution", "03_parameters", "05_stride_padding"):
        assert len(per_notebook[name]) >= 8, name
    for name in ASSIGNMENTS:
        tasks = set(nbrun.solutions(name))
        assert {m.cell for m in per_notebook[name]} == tasks, (
            f"{name}: a task has no mistake"
        )
    # the kinds of mistake issue 10 names, each present
    labels = " | ".join(m.label for m in CATALOGUE)
    for kind in [
        "flipped kernel",
        "not flipped",
        "one position short",
        "bias forgotten",
        "one bias per weight",
        "swapped channels",
        "padding on one side only",
        "rounded to the nearest",
        "integer",
        "list",
        "in place",
        "pooling counted as having weights",
        "dilation ignored",
        "groups ignored",
        "ceil without PyTorch's rule",
    ]:
        assert kind in labels, kind


# Which later tests may fail when a task is left as the released stub: those
# whose solution calls the stub (the later function then raises the stub's
# NotImplementedError, which the test lets through as it is).
STUB_DEPENDENTS = {
    ("01_convolution", "correlate2d_fast"): {"test_convolve2d"},
    ("03_parameters", "shapes"): {"test_conv2d_params", "test_network_params"},
    ("03_parameters", "conv2d_params"): {"test_network_params"},
    ("03_parameters", "linear_params"): {"test_network_params"},
    ("05_stride_padding", "output_size"): {"test_conv2d"},
    ("06_alexnet", "conv_layer"): {"test_alexnet_table", "test_slide"},
    ("06_alexnet", "alexnet_table"): {"test_slide"},
}


@pytest.mark.parametrize(
    "name, task",
    [(name, task) for name in ASSIGNMENTS for task in nbrun.solutions(name)],
)
def test_a_task_left_undone_fails_only_its_own_test_and_its_callers(name, task):
    outcomes = nbrun.run(name, {task: nbrun.stubs(name)[task]})
    own = f"test_{task}"
    assert outcomes[own].visible is not None
    # a function stub raises NotImplementedError; a variable stub leaves the name undefined
    assert outcomes[own].visible.startswith(("NotImplementedError", "NameError")), (
        outcomes[own].visible
    )
    dependents = STUB_DEPENDENTS.get((name, task), set())
    for test, outcome in outcomes.items():
        if test == own:
            continue
        if test in dependents:
            assert outcome.whole is not None, f"{test} passes without {task}"
            assert (
                "NotImplementedError" in outcome.whole or "fix task" in outcome.whole
            ), outcome.whole
        else:
            assert outcome.passed, f"{test} fails without {task}: {outcome.whole}"


def test_copying_chapter_4s_cnn_does_not_meet_exercise_4s_budget():
    """The task text says chapter 4's CNN has almost twice the budget."""
    import cnn_course as cc

    budget = 1000
    test = next(
        c for c in nbrun.cells("04_cnn_structure") if c.grade_id == "test_build_cnn"
    )
    assert f"BUDGET = {budget}" in test.source
    total = cc.count_params(cc.experiments.digits.make_cnn())
    assert 1.5 * budget < total < 2 * budget


def _digest_cases():
    """(notebook, test, wrong answer, phrase of its hint), for every digest hint."""
    import cnn_course as cc

    X = np.array([[2.0, 0.0, 1.0], [1.0, 3.0, 0.0], [0.0, 1.0, 2.0]])
    K = np.array([[1.0, -1.0], [0.0, 2.0]])
    kernels = cc.filters.KERNELS
    paper = {r["name"]: r for r in cc.alexnet.layer_table("paper")}
    fc6 = paper["fc6"]
    return [
        ("01_convolution", "test_by_hand", cc.correlate2d(X, K), None),
        ("01_convolution", "test_by_hand", cc.correlate2d(X, K[::-1, ::-1]), "flipped"),
        ("01_convolution", "test_by_hand", cc.correlate2d(X, K[::-1]), "upside down"),
        ("01_convolution", "test_by_hand", cc.correlate2d(X, K[:, ::-1]), "mirrored"),
        ("01_convolution", "test_by_hand", cc.correlate2d(X, K.T), "swapped"),
        ("02_filters", "test_kernels", kernels["emboss"][::-1, ::-1], "turned round"),
        ("02_filters", "test_kernels", kernels["emboss"][::-1], "upside down"),
        ("02_filters", "test_kernels", kernels["emboss"][:, ::-1], "EMBOSS is mirrored"),
        ("02_filters", "test_kernels", kernels["sobel_x"][:, ::-1], "SOBEL_X is mirrored"),
        ("02_filters", "test_kernels", kernels["sobel_x"].T, "rows and columns swapped"),
        ("06_alexnet", "test_alexnet_table", [256, 13, 13, 0], "pool5, a 3x3 max-pool"),
        ("06_alexnet", "test_alexnet_table",
         [256, 27, 27, cc.conv2d_params(96, 256, 5)], "groups=2"),
        ("06_alexnet", "test_alexnet_table", [4096, fc6["weights"]], "biases count too"),
        ("06_alexnet", "test_slide", fc6["params"], "count the weights only"),
        ("06_alexnet", "test_slide", 13 * 13 * 256 * 4096, "pool5 comes between"),
    ]  # fmt: skip


def test_each_digest_in_a_visible_test_names_the_answer_it_stands_for():
    """A digest's hint sits on its line; the right answer's digest is there too."""
    from cnn_course import grading

    for notebook, test, answer, phrase in _digest_cases():
        source = next(c.source for c in nbrun.cells(notebook) if c.grade_id == test)
        digest = grading.fingerprint(answer)
        lines = [line for line in source.splitlines() if digest in line]
        assert lines, f"{notebook} {test}: no digest for {phrase or 'the answer'}"
        if phrase:  # (a wrong row may share its digest with another right row)
            assert any(phrase in line for line in lines), (phrase, lines)
