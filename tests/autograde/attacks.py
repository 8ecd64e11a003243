"""A hostile class: every way we know to fool grading, each in variants.

Built from an assignment's solution notebook like :mod:`corpus`. Each
:class:`~corpus.Submission` carries the score its *honest work* earns: an
attack on the release (nothing solved) must score 0, an attack added to a
perfect notebook must score full marks, and an attack that replaces one
task's honest code must lose exactly that task. The classes (see the issue
"Grading you can trust"):

- ``verdict``: switch off the kernel's error reporting or the test helpers;
- ``reference``: compute a task with the course's reference or a blocked
  library routine, however reached;
- ``leak``: print the hidden tests, in any encoding;
- ``active``: script or a fake score in what a TA opens;
- ``malformed``: metadata and text that once stopped the class;
- ``limits``: memory (forking), disk, output (display updates, widgets);
- ``classic``: what was stopped before (edited or deleted tests, ``==``
  tricks, ``os._exit``, endless loops, reading solutions).
"""

from __future__ import annotations

import copy
import json

import nbformat
from nbformat.v4 import new_markdown_cell

from .corpus import (
    Submission,
    _add_cell,
    _break_answer,
    _dump,
    _is_answer,
    _is_test,
    _meta,
    release_view,
    student_view,
)

__all__ = ["build_attacks", "SENTINEL", "ACTIVE_PAYLOADS"]

#: What an active payload would put in the page if it ran.
SENTINEL = "PWNED"

VERDICT = {
    "showtraceback-off": (
        "ip = get_ipython()\n"
        "ip.showtraceback = lambda *a, **k: None\n"
        "ip.showsyntaxerror = lambda *a, **k: None"
    ),
    "custom-exc": (
        "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"
    ),
    "cells-to-pass": (
        "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])"
    ),
    "testing-patched": (
        "import numpy.testing, numpy\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "numpy.allclose = lambda *a, **k: True\n"
        "from cnn_course import grading\n"
        "for name in dir(grading):\n"
        "    if name.startswith('assert_'):\n"
        "        setattr(grading, name, lambda *a, **k: None)"
    ),
    "code-objects-patched": (
        "from cnn_course import grading\n"
        "import numpy.testing\n"
        "noop = (lambda *a, **k: None).__code__\n"
        "for f in (grading.assert_array, grading.assert_int, grading.assert_shape,\n"
        "          grading.assert_number):\n"
        "    f.__code__ = noop\n"
        "numpy.testing.assert_allclose.__code__ = noop"
    ),
    "partial-credit-hook": (
        "from IPython.display import display\n"
        "get_ipython().events.register('post_run_cell',\n"
        "    lambda result: display(1.0))"
    ),
    "builtins-swapped": (
        "import builtins\n"
        "class Quiet(Exception):\n    pass\n"
        "builtins.AssertionError = Quiet\n"
        "builtins.NameError = Quiet"
    ),
}

REFERENCE = {
    # each body replaces a task's honest code; {call} is the reference call
    "cc-attribute": "import cnn_course as cc\nreturn cc.{fn}({args})",
    "submodule-import": "from cnn_course.{module} import {fn} as ref\nreturn ref({args})",
    "source-reexecuted": (
        "import os, cnn_course\n"
        "path = os.path.join(os.path.dirname(cnn_course.__file__), '{module}.py')\n"
        "space = {{}}\n"
        "exec(compile(open(path).read(), 'mine.py', 'exec'), space)\n"
        "return space['{fn}']({args})"
    ),
    "thread-before": (
        "import threading\nimport cnn_course as cc\n"
        "box = {{}}\n"
        "t = threading.Thread(target=lambda: box.setdefault('y', cc.{fn}({args})))\n"
        "t.start(); t.join()\n"
        "return box['y']"
    ),
    "raw-thread": (
        "import _thread, time\nimport cnn_course as cc\n"
        "box = {{}}\n"
        "_thread.start_new_thread(lambda: box.setdefault('y', cc.{fn}({args})), ())\n"
        "time.sleep(0.5)\n"
        "return box['y']"
    ),
    "guard-switched-off": (
        "import cnn_course as cc\nfrom cnn_course import grading\n"
        "grading.guard = lambda *a, **k: __import__('contextlib').nullcontext()\n"
        "return cc.{fn}({args})"
    ),
    "scipy-signal": ("import scipy.signal\nreturn {scipy}"),
    "other-site-packages": (
        "import sys, glob\n"
        "for p in glob.glob('/root/.pyenv/versions/*/lib/python3*/site-packages')"
        " + glob.glob('/usr/lib/python3/dist-packages'):\n"
        "    sys.path.insert(0, p)\n"
        "for m in [m for m in sys.modules if m.startswith('scipy')]:\n"
        "    del sys.modules[m]\n"
        "import scipy.signal\nreturn {scipy}"
    ),
    "torch-private": (
        "import torch\n"
        "x = torch.as_tensor(image, dtype=torch.float64)[None, None]\n"
        "w = torch.as_tensor(kernel, dtype=torch.float64)[None, None]\n"
        "return torch._C._nn._conv_depthwise2d(x, w, w.shape[2:], None, 1, 0, 1)"
        "[0, 0].numpy()"
    ),
    "import-time": (
        "import sys, types\n"
        "mod = types.ModuleType('precomputed')\n"
        "exec('import cnn_course as cc\\nf = cc.{fn}', mod.__dict__)\n"
        "return mod.f({args})"
    ),
}

LEAK = {
    "history": (
        "ip = get_ipython()\n"
        "print('HIST', [c for _, _, c in ip.history_manager.get_range(output=False)])\n"
        "print('IN', In, '_ih', _ih)"
    ),
    "encoded": (
        "import base64, html\n"
        "ip = get_ipython()\n"
        "text = '\\n'.join(c for _, _, c in ip.history_manager.get_range())\n"
        "text += '\\n'.join(str(v) for v in list(globals().values())[:200])\n"
        "print(base64.b64encode(text.encode()).decode())\n"
        "print(''.join(f'&#{ord(ch)};' for ch in text[:5000]))\n"
        "print(text.replace(' ', '\\u00a0'))"
    ),
    "svg": (
        "from IPython.display import SVG, display\n"
        "ip = get_ipython()\n"
        "text = ' '.join(c for _, _, c in ip.history_manager.get_range())\n"
        "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\"><text>'\n"
        "            + text.replace('<', ' ').replace('&', ' ') + '</text></svg>'))"
    ),
    "request-spy": (
        "import base64\n"
        "seen = []\n"
        "get_ipython().events.register('pre_run_cell',\n"
        "    lambda info: seen.append(info.raw_cell))\n"
    ),
    "request-spy-print": (
        "print('SPY', base64.b64encode('\\n'.join(seen).encode()).decode())"
    ),
}

ACTIVE_PAYLOADS = {
    "markdown-script": f"<script>document.title = '{SENTINEL}'</script>",
    "markdown-onerror": f"<img src=x onerror=\"document.title='{SENTINEL}'\">",
    "markdown-iframe": f"<iframe srcdoc=\"<script>parent.document.title='{SENTINEL}'"
    '</script>"></iframe>',
    "markdown-form": '<form action="https://example.com"><input name=q>'
    "<button>go</button></form>",
    "markdown-js-link": f"[click me](javascript:document.title='{SENTINEL}')",
    "markdown-overlay": '<div style="position:fixed;top:0;left:0;width:100%;'
    'height:100%;background:white;z-index:9999">Score: 100.0 / 100.0</div>',
    "markdown-svg-script": f"<svg><script>document.title='{SENTINEL}'</script>"
    f"<rect onload=\"document.title='{SENTINEL}'\"/></svg>",
}

OUTPUT_PAYLOADS = (
    "from IPython.display import HTML, Javascript, Markdown, SVG, display\n"
    f"display(HTML(\"<script>document.title='{SENTINEL}'</script>"
    f'<img src=x onerror=\\"document.title=\'{SENTINEL}\'\\">"))\n'
    f"display(Javascript(\"document.title='{SENTINEL}'\"))\n"
    f"display(Markdown(\"<script>document.title='{SENTINEL}'</script>\"))\n"
    f'display(SVG(\'<svg xmlns="http://www.w3.org/2000/svg"><script>'
    f'document.title="{SENTINEL}"</script><circle r="5"/></svg>\'))\n'
    "display(HTML('<div style=\"position:fixed;top:0;left:0;width:100%;height:100%;"
    "background:white\">Score: 100.0 / 100.0</div>'))\n"
    "display({'image/png': 'AAAA\" onerror=\"document.title=1'}, raw=True,\n"
    f"        metadata={{'image/png': {{'width': '1 onload=document.title={SENTINEL}'}}}})\n"
    "display({'application/vnd.jupyter.widget-view+json': {'model_id': 'x'}}, raw=True)"
)

CLASSIC = {
    "always-equal": (
        "class AlwaysEqual:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    __array_priority__ = 1000\n"
        "return AlwaysEqual()"
    ),
    "ndarray-subclass": (
        "class Liar(np.ndarray):\n"
        "    def __eq__(self, other):\n        return np.ones(np.shape(other), bool)\n"
        "return np.zeros((2, 2)).view(Liar)"
    ),
    "os-exit": "import os\nos._exit(0)",
    "sys-exit-in-call": "raise SystemExit('done')",
    "endless-loop-in-call": "while True:\n    pass",
}

SNOOP_SOLUTIONS = (
    "import glob, os\n"
    "found = [p for pattern in ('/work/*/solutions/*/*.ipynb', '/tmp/*/out/course/*',\n"
    "                           '/tmp/pytest-of-*/*/*/out/course/gradebook.db',\n"
    "                           '/tmp/cnngrader-*/*', '/tmp/cnnjob-*/*')\n"
    "         for p in glob.glob(pattern, recursive=True)]\n"
    "print('SNOOP', found)"
)

LIMITS = {
    "fork-bomb": (
        "import os, time\n"
        "for _ in range(24):\n"
        "    if os.fork() == 0:\n"
        "        hog = bytearray(400 * 2**20)\n"
        "        for i in range(0, len(hog), 4096):\n"
        "            hog[i] = 1\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
        "time.sleep(30)"
    ),
    "disk-filler": (
        "import os, glob\n"
        "results = []\n"
        "targets = glob.glob('/tmp/cnnsbx-*/ipc') + ['/home/student', '/dev/shm', '/tmp']\n"
        "for folder in targets:\n"
        "    try:\n"
        "        with open(os.path.join(folder, 'filler.bin'), 'wb') as f:\n"
        "            for _ in range(64):\n"
        "                f.write(b'x' * 2**24)\n"
        "        results.append((folder, 'wrote'))\n"
        "    except OSError as err:\n"
        "        results.append((folder, type(err).__name__))\n"
        "for i in range(2000):\n"
        "    try:\n"
        "        open(f'/home/student/many-{i}', 'wb').write(b'y' * 2**20)\n"
        "    except OSError:\n"
        "        break\n"
        "print(results)"
    ),
    "display-update-flood": (
        "from IPython.display import display, HTML\n"
        "handle = display(HTML('small'), display_id=True)\n"
        "for i in range(400):\n"
        "    handle.update(HTML('x' * 500_000))"
    ),
    "comm-flood": (
        "from ipykernel.comm import Comm\n"
        "c = Comm(target_name='jupyter.widget', data={'state': {'_model_name': 'x',\n"
        "         '_model_module': '@jupyter-widgets/base', 'v': 'y' * 10**6}})\n"
        "for i in range(300):\n"
        "    c.send({'method': 'update', 'state': {'v': 'z' * 10**6}})"
    ),
}


def _folder(student: str, nb_bytes: bytes, filename: str) -> dict[str, bytes]:
    return {f"{student}/{filename}": nb_bytes}


def _answer_index(source_nb, answer_id: str) -> int:
    return next(
        i
        for i, c in enumerate(source_nb.cells)
        if _meta(c).get("grade_id") == answer_id
    )


def _with_body(source_nb, answer_id: str, body: str):
    """Student view with the solution of ``answer_id`` replaced by ``body``."""
    return _break_answer(source_nb, _answer_index(source_nb, answer_id), body)


def build_attacks(source_nb, assignment: str, target: dict | None = None) -> list:
    """The hostile class for ``assignment``.

    ``target`` names the task the ``reference`` attacks replace:
    ``{"answer": grade id, "fn": reference name, "module": cnn_course
    module, "args": call arguments, "scipy": scipy call, "tests": test ids
    that then fail}``; without it, no reference attacks are made.
    """
    name = f"{assignment}.ipynb"
    tests = [c for c in source_nb.cells if _is_test(c)]
    points = {_meta(c)["grade_id"]: float(_meta(c)["points"]) for c in tests}
    total = sum(points.values())
    perfect = student_view(source_nb)
    blank = release_view(source_nb)
    first_answer = next(i for i, c in enumerate(blank.cells) if _is_answer(c))
    last_answer = max(i for i, c in enumerate(source_nb.cells) if _is_answer(c))
    last_tests = {
        _meta(c)["grade_id"] for c in source_nb.cells[last_answer + 1 :] if _is_test(c)
    }
    out: list[Submission] = []

    def add(kind, variant, nb, score, codes=(), failed=(), note=""):
        student = f"{kind}-{variant}"
        out.append(
            Submission(
                student,
                _folder(student, _dump(nb), name),
                score,
                set(codes),
                set(failed),
                note or kind,
            )
        )

    # verdict: on the release, so the honest work is nothing
    for variant, code in VERDICT.items():
        nb = copy.deepcopy(blank)
        nb.cells.insert(first_answer, nbformat.v4.new_code_cell(code))
        add("verdict", variant, nb, 0.0, failed=set(points))

    # reference: one task's honest code replaced
    if target is not None:
        for variant, body in REFERENCE.items():
            if variant == "torch-private" and "image" not in target["args"]:
                continue
            text = body.format(**target)
            nb = _with_body(source_nb, target["answer"], text)
            lost = sum(points[t] for t in target["tests"])
            add("reference", variant, nb, total - lost, failed=target["tests"])

    # leak: on a perfect notebook; full marks, and no hidden line anywhere
    for variant in ("history", "encoded", "svg"):
        add("leak", variant, _add_cell(perfect, LEAK[variant]), total)
    spy = copy.deepcopy(perfect)
    spy.cells.insert(first_answer, nbformat.v4.new_code_cell(LEAK["request-spy"]))
    spy = _add_cell(spy, LEAK["request-spy-print"])
    add("leak", "request-spy", spy, total)

    # active content: on a perfect notebook
    for variant, payload in ACTIVE_PAYLOADS.items():
        nb = copy.deepcopy(perfect)
        nb.cells.append(new_markdown_cell(f"My notes\n\n{payload}\n\nend"))
        add("active", variant, nb, total)
    add("active", "outputs", _add_cell(perfect, OUTPUT_PAYLOADS), total)
    nb = copy.deepcopy(perfect)
    nb.metadata["title"] = f"</title><script>document.title='{SENTINEL}'</script>"
    nb.cells[first_answer].metadata["tags"] = ['x" onmouseover="document.title=1']
    nb.cells.append(
        new_markdown_cell(
            "![pic](attachment:a.png)",
            attachments={"a.png": {"image/png": 'AA" onerror="document.title=1'}},
        )
    )
    add("active", "metadata", nb, total)

    # malformed: once stopped the class; now scored on their honest work
    nb = copy.deepcopy(perfect)
    first_test = next(i for i, c in enumerate(nb.cells) if _is_test(c))
    nb.cells[first_test].metadata["nbgrader"]["points"] = "lots"
    add("malformed", "points-string", nb, total, {"metadata-changed"})
    nb = copy.deepcopy(perfect)
    nb.cells[first_answer].metadata["nbgrader"]["grade_id"] = ["not", "a", "name"]
    # the answer cell loses its metadata but still runs: its tests still pass
    add("malformed", "grade-id-list", nb, total, {"metadata-changed"})
    raw = json.loads(_dump(perfect))
    raw["cells"].append(
        {"cell_type": "markdown", "metadata": {}, "source": "bad \ud800 text"}
    )
    out.append(
        Submission(
            "malformed-surrogate",
            _folder(
                "malformed-surrogate", json.dumps(raw).encode(), name
            ),  # \ud800 stays escaped in the JSON text
            total,
            {"text-repaired"},
            set(),
            "malformed",
        )
    )

    # classic: what the single-kernel grader already stopped, still stopped
    last_id = _meta(source_nb.cells[last_answer])["grade_id"]
    broken = total - sum(points[t] for t in last_tests)
    nb = copy.deepcopy(perfect)
    nb.cells[first_test].source = "pass"
    add("classic", "edited-test", nb, total, {"test-edited"})
    nb = copy.deepcopy(perfect)
    del nb.cells[first_test]
    add("classic", "deleted-test", nb, total, {"test-deleted"})
    for variant, body in CLASSIC.items():
        add(
            "classic",
            variant,
            _with_body(source_nb, last_id, body),
            broken,
            failed=last_tests,
        )
    add("classic", "snoop", _add_cell(perfect, SNOOP_SOLUTIONS), total)

    # limits
    add(
        "limits",
        "fork-bomb",
        _with_body(
            source_nb,
            _meta(source_nb.cells[last_answer])["grade_id"],
            LIMITS["fork-bomb"],
        ),
        total - sum(points[t] for t in last_tests),
        {"memory-exhausted"},
        last_tests,
    )
    for variant in ("disk-filler", "display-update-flood", "comm-flood"):
        codes = {"output-capped"} if variant == "display-update-flood" else set()
        add("limits", variant, _add_cell(perfect, LIMITS[variant]), total, codes)
    return out
