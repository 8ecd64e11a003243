"""Test cells in the grader process, the student's names through the channel.

Here the student's side (the agent) runs in this process, on a namespace of
the test's making, so that the grader's view of a notebook can be checked
without a kernel: what a test cell reads, what a call returns or raises,
what comes back as a stand-in, and the message a failure leaves.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnn_course import grading
from cnn_course.autograde import agent
from cnn_course.autograde.grader import (
    Runner,
    Session,
    StudentError,
    names_read,
)

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


@pytest.fixture
def student(monkeypatch):
    """The student's namespace, served by the agent in this process."""
    space: dict = {}
    monkeypatch.setattr(agent, "namespace", lambda: space)
    return space


@pytest.fixture
def runner(student):
    setup = Runner(Session(agent.handle_request), max_output=10_000)
    setup.run("import numpy as np\nimport torch\nfrom torch import nn", test=False)
    return setup


def run(runner, source: str):
    outcome = runner.run(source, test=True)
    return outcome.ename, outcome.evalue


def define(student: dict, source: str) -> None:
    exec(source, student)


# -- reading names -------------------------------------------------------------------


def test_names_a_test_sets_itself_are_not_looked_up():
    code = compile("x = f(a)\nfor k in ks:\n    y = g(k, x)\n", "t", "exec")
    assert names_read(code) == {"f", "a", "ks", "g"}


def test_student_data_arrives_as_a_copy_of_exact_type(runner, student):
    student["BY_HAND"] = [[8, -1], [0, 7]]
    student["FLAG"] = True
    assert run(runner, "assert BY_HAND == [[8, -1], [0, 7]]\nassert FLAG is True") == (
        None,
        "",
    )
    run(runner, "BY_HAND[0][0] = 99")
    assert student["BY_HAND"][0][0] == 8  # the test changed its copy only


def test_a_missing_name_says_the_notebook_does_not_define_it(runner, student):
    ename, evalue = run(runner, "assert correlate2d_loops is not None")
    assert ename == "NameError"
    assert "'correlate2d_loops' is not defined: the notebook does not define it" in (
        evalue
    )


def test_the_graders_own_names_win_over_the_students(runner, student):
    student["np"] = "not numpy"
    assert run(runner, "assert np.zeros(2).shape == (2,)") == (None, "")


# -- calling -------------------------------------------------------------------------


def test_a_call_runs_the_students_function_on_data(runner, student):
    define(
        student,
        "import numpy as np\ndef double(x, *, k=2):\n    return np.asarray(x) * k",
    )
    source = (
        "out = double(np.arange(3.0), k=3)\n"
        "assert type(out) is np.ndarray and out.tolist() == [0.0, 3.0, 6.0]"
    )
    assert run(runner, source) == (None, "")


def test_student_exceptions_keep_their_type_and_message(runner, student):
    define(
        student,
        "class BadSize(ValueError):\n    pass\n"
        "def f(n):\n    raise BadSize(f'`n` must be positive, got {n}')\n"
        "def g():\n    raise SystemExit(3)\n",
    )
    caught = (
        "try:\n    f(-1)\nexcept ValueError as err:\n"
        "    assert type(err).__name__ == 'BadSize', type(err)\n"
        "    assert str(err) == '`n` must be positive, got -1'\n"
        "else:\n    raise AssertionError('no error')"
    )
    assert run(runner, caught) == (None, "")
    # raised out of the test: the message names the student's function
    assert run(runner, "f(0)") == (
        "BadSize",
        "your f raised BadSize: `n` must be positive, got 0",
    )
    # leaving the process is not an exception the grader could be stopped by
    ename, evalue = run(runner, "g()")
    assert ename == StudentError.__name__ and "SystemExit" in evalue


def test_a_task_not_done_says_so(runner, student):
    define(student, "def f(x):\n    raise NotImplementedError()")
    assert run(runner, "f(1)") == (
        "NotImplementedError",
        "your f raised NotImplementedError: the task is not done yet (replace "
        "`raise NotImplementedError()` with your code)",
    )


def test_inputs_changed_in_place_are_mirrored_back(runner, student):
    define(student, "def clip(x, items):\n    x[x < 0] = 0\n    items.append(1)")
    source = (
        "x = np.array([-1.0, 2.0])\nitems = []\nclip(x, items)\n"
        "assert x.tolist() == [0.0, 2.0] and items == [1]"
    )
    assert run(runner, source) == (None, "")


def test_returning_an_input_returns_the_tests_own_object(runner, student):
    define(student, "def same(x):\n    x += 1\n    return x")
    source = "x = np.zeros(2)\ny = same(x)\nassert y is x and x.tolist() == [1, 1]"
    assert run(runner, source) == (None, "")


# -- what is not data ------------------------------------------------------------------


def test_an_int_subclass_or_always_equal_object_is_named_not_trusted(runner, student):
    define(
        student,
        "class MyInt(int):\n    pass\n"
        "class AlwaysEqual:\n    def __eq__(self, other):\n        return True\n"
        "def f():\n    return MyInt(1792)\n"
        "def g():\n    return AlwaysEqual()\n",
    )
    ename, evalue = run(
        runner, "from cnn_course import grading\ngrading.assert_int(f(), 1792, 'f()')"
    )
    assert (ename, evalue) == ("AssertionError", "f() should be an int, got MyInt "
                               "(<MyInt object from the student's code>).")  # fmt: skip
    assert run(runner, "assert g() != 5 and not (g() == g())") == (None, "")
    assert run(runner, "obj = g()\nassert isinstance(obj, object)") == (None, "")


def test_a_standard_model_arrives_as_a_real_module(runner, student):
    define(
        student,
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "MODEL = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(72, 3))\n"
        "def build():\n    return MODEL\n",
    )
    x = torch.randn(2, 1, 8, 8)
    expected = student["MODEL"](x).detach()
    runner.namespace["x"], runner.namespace["expected"] = x, expected
    source = (
        "m = build()\n"
        "assert type(m) is nn.Sequential and type(m[0]) is nn.Conv2d\n"
        "assert sum(p.numel() for p in m.parameters()) == 20 + 219\n"
        "assert torch.allclose(m(x), expected)\n"
        "assert build() is m, 'the same object twice is one object'"
    )
    assert run(runner, source) == (None, "")


def test_a_model_of_the_students_own_class_runs_forward_in_the_student(runner, student):
    define(
        student,
        "import torch\nfrom torch import nn\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(4, 2)\n"
        "        self.scale = nn.Parameter(torch.ones(1))\n"
        "    def forward(self, x):\n        return self.fc(x) * 0 + 7\n"
        "def build():\n    return Net()\n",
    )
    source = (
        "m = build()\n"
        "assert isinstance(m, nn.Module) and type(m).__name__ == 'Net'\n"
        "assert [type(c) for c in m.children()] == [nn.Linear]\n"
        "assert sum(p.numel() for p in m.parameters()) == 10 + 1\n"
        "out = m(torch.zeros(3, 4))\n"
        "assert type(out) is torch.Tensor and out.shape == (3, 2)\n"
        "assert torch.all(out == 7), 'forward ran the student code'"
    )
    assert run(runner, source) == (None, "")


def test_a_test_can_pass_a_model_to_the_students_function(runner, student):
    define(
        student,
        "def count(model):\n    return sum(p.numel() for p in model.parameters())\n",
    )
    source = (
        "net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8, 5))\n"
        "assert count(net) == 224 + 45\n"
        "big = nn.Sequential(nn.Linear(3000, 2000))\n"
        "assert count(big) == 3000 * 2000 + 2000  # crosses without its weights"
    )
    assert run(runner, source) == (None, "")


def test_a_test_cannot_send_what_is_not_data(runner, student):
    define(student, "def f(x):\n    return x")
    ename, evalue = run(runner, "f(lambda: 1)")
    assert ename == "TypeError" and "cannot pass this to the student's code" in evalue


# -- messages ---------------------------------------------------------------------------


def test_a_bare_assert_shows_its_line_when_visible_and_nothing_when_hidden(runner):
    source = f"x = 1\nassert x == 2\n{BEGIN}\nassert x == 3\n{END}\n"
    assert run(runner, source) == ("AssertionError", "this check failed: assert x == 2")
    hidden = f"x = 1\n{BEGIN}\nassert x == 3\n{END}\n"
    assert run(runner, hidden) == (
        "AssertionError",
        "a hidden check failed (it has no message)",
    )


def test_printed_output_is_kept_and_capped(student):
    runner = Runner(Session(agent.handle_request), max_output=50)
    outcome = runner.run("print('x' * 200)", test=True)
    assert outcome.ename is None
    assert outcome.stdout.startswith("x" * 50)
    assert "output cut" in outcome.stdout


# -- the secret ------------------------------------------------------------------------


def test_rng_follows_the_secret_only_in_the_grader(monkeypatch):
    public = grading.rng(7).random(3)
    np.testing.assert_array_equal(public, np.random.default_rng(7).random(3))
    monkeypatch.setitem(grading._GRADER, "secret", "a secret")
    np.testing.assert_array_equal(grading.rng(7).random(3), public)  # not a grader
    monkeypatch.setitem(grading._GRADER, "active", True)
    one = grading.rng(7).random(3)
    assert not np.allclose(one, public)
    np.testing.assert_array_equal(grading.rng(7).random(3), one)
    monkeypatch.setitem(grading._GRADER, "secret", "another")
    assert not np.allclose(grading.rng(7).random(3), one)


def test_rng_names_a_bad_seed():
    with pytest.raises(TypeError, match="`seed` must be an int, got float"):
        grading.rng(1.5)
