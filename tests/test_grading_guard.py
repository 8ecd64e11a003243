"""The exercises' guard and comparison helpers (cnn_course.grading)."""

import functools
import subprocess
import sys
import threading

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view
from torch.nn.functional import conv2d as imported_conv2d

import cnn_course as cc
from cnn_course import grading
from cnn_course.grading import GuardError, guard

X = torch.randn(1, 1, 6, 6, generator=torch.Generator().manual_seed(0))
W = torch.randn(1, 1, 3, 3, generator=torch.Generator().manual_seed(1))
IMG = np.arange(36.0).reshape(6, 6)
K = np.ones((3, 3))


def own_correlate(image, kernel):
    """A correct student solution: no forbidden routine anywhere."""
    windows = sliding_window_view(np.pad(image, 0), kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def _via_thread():
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("y", F.conv2d(X, W)))
    t.start()
    t.join()
    return out["y"]


def _reassigned_reference():
    # The student points the public name at their own code first; the
    # original reference, reached another way, must still be caught.
    from cnn_course import conv

    original = conv.correlate2d
    try:
        cc.correlate2d = own_correlate
        return original(IMG, K)
    finally:
        cc.correlate2d = original


def _swallowed():
    try:
        F.conv2d(X, W)
        raise ValueError("pretend it failed")
    except ValueError:
        return own_correlate(IMG, K)


FORBIDDEN = {
    "cc.correlate2d": (lambda: cc.correlate2d(IMG, K), "cnn_course.conv"),
    "cc.conv2d_naive": (
        lambda: cc.conv2d_naive(IMG[None, None], K[None, None]),
        "cnn_course.conv.conv2d_naive",
    ),
    "reassigned cc name": (_reassigned_reference, "cnn_course.conv"),
    "cc.filters.apply_filter": (
        lambda: cc.filters.apply_filter(IMG / 36, K),
        "cnn_course.filters.apply_filter",
    ),
    "F.conv2d": (lambda: F.conv2d(X, W), "conv"),
    "imported alias": (lambda: imported_conv2d(X, W), "conv"),
    "torch.conv2d": (lambda: torch.conv2d(X, W), "conv"),
    "called from C via partial and map": (
        lambda: list(map(functools.partial(imported_conv2d, weight=W), [X])),
        "aten::convolution",
    ),
    "nn.Conv2d": (lambda: torch.nn.Conv2d(1, 1, 3)(X), "conv"),
    "aten op": (
        lambda: torch.ops.aten.convolution(
            X, W, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1
        ),
        "aten::convolution",
    ),
    "in another thread": (_via_thread, "conv"),
    "swallowed by try/except": (_swallowed, "conv"),
    "F.max_pool2d": (lambda: F.max_pool2d(X, 2), "pool"),
    "nn.AvgPool2d": (lambda: torch.nn.AvgPool2d(2)(X), "avg_pool2d"),
    "adaptive pool": (lambda: F.adaptive_avg_pool2d(X, 2), "pool"),
    "numpy.convolve": (lambda: np.convolve([1.0, 2.0], [3.0, 4.0]), "numpy.convolve"),
    "numpy.correlate via map": (
        lambda: list(map(np.correlate, [[1.0, 2.0]], [[3.0, 4.0]])),
        "numpy.correlate",
    ),
    "scipy.signal.correlate2d": (
        lambda: scipy.signal.correlate2d(IMG, K, mode="valid"),
        "scipy.signal (correlate2d)",
    ),
    "scipy.signal.fftconvolve": (
        lambda: scipy.signal.fftconvolve(IMG, K, mode="valid"),
        "scipy.signal",
    ),
    "scipy.ndimage.maximum_filter": (
        lambda: scipy.ndimage.maximum_filter(IMG, 2),
        "maximum_filter",
    ),
    "switching the profiler off": (
        lambda: sys.setprofile(None),
        "sys.setprofile",
    ),
    "another process": (
        lambda: subprocess.run([sys.executable, "-c", "pass"], check=True),
        "subprocess",
    ),
}


@pytest.mark.parametrize("case", sorted(FORBIDDEN))
def test_guard_fails_a_call_of_a_routine_that_does_the_work(case):
    call, named = FORBIDDEN[case]
    with pytest.raises(GuardError) as info:
        with guard("student_fn"):
            call()
    message = str(info.value)
    assert message.startswith("GUARD: student_fn called ")
    assert named in message


def test_guard_leaves_the_profiler_as_it_found_it():
    before = sys.getprofile()
    with pytest.raises(GuardError):
        with guard("f"):
            F.conv2d(X, W)
    assert sys.getprofile() is before
    with guard("f"):
        own_correlate(IMG, K)
    assert sys.getprofile() is before


def test_guard_lets_data_moving_helpers_and_own_code_through():
    with guard("correlate") as g:
        got = own_correlate(IMG, K)
        F.unfold(X, 3)
        F.pad(X, (1, 1, 1, 1))
        np.fft.rfft2(IMG)
        X.unfold(2, 3, 1)
        torch.einsum("nchw->nhw", X)
    np.testing.assert_allclose(got, cc.correlate2d(IMG, K))
    assert g.calls > 0


def test_guard_kinds_select_what_is_forbidden():
    with guard("pool_only", kinds=("conv",)):
        F.max_pool2d(X, 2)
    with pytest.raises(GuardError, match="pool"):
        with guard("pool_only", kinds=("pool",)):
            F.max_pool2d(X, 2)
    with guard("count", kinds=("reference",)):
        list(torch.nn.Conv2d(1, 2, 3).parameters())
    with pytest.raises(GuardError, match=r"Module\.parameters"):
        with guard("count", kinds=("layers",)):
            sum(p.numel() for p in torch.nn.Conv2d(1, 2, 3).parameters())


def test_guard_allows_named_reference_functions_and_what_they_call():
    with guard("conv", allow=("output_size",)):
        cc.output_size(7, 3, stride=2)
    with pytest.raises(GuardError, match="output_size"):
        with guard("conv"):
            cc.output_size(7, 3, stride=2)


def test_guard_reraises_the_students_error_when_nothing_was_forbidden():
    with pytest.raises(NotImplementedError):
        with guard("stub"):
            raise NotImplementedError


def test_guard_error_wins_over_the_students_error():
    with pytest.raises(GuardError):
        with guard("f"):
            F.conv2d(X, W)
            raise ValueError("then it broke")


def test_guard_rejects_unknown_kinds_by_name():
    with pytest.raises(ValueError, match=r"`kinds` must be drawn from .*'fft'"):
        guard("f", kinds=("fft",))
    with pytest.raises(TypeError, match="`task` must be a non-empty str"):
        guard("")


def test_call_guarded_returns_the_result_and_names_the_function():
    got = grading.call_guarded(own_correlate, IMG, K)
    np.testing.assert_allclose(got, cc.correlate2d(IMG, K))
    with pytest.raises(GuardError, match="GUARD: correlate2d called"):
        grading.call_guarded(cc.correlate2d, IMG, K)


def test_count_steps_grows_with_the_input_for_loops_only():
    def loops(a):
        out = np.zeros((a.shape[0] - 2, a.shape[1] - 2))
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] = a[i : i + 3, j : j + 3].sum()
        return out

    def vectorised(a):
        return sliding_window_view(a, (3, 3)).sum(axis=(2, 3))

    small, big = np.ones((8, 8)), np.ones((32, 32))
    assert grading.count_steps(loops, big) > 10 * grading.count_steps(loops, small)
    assert grading.count_steps(vectorised, big) == grading.count_steps(
        vectorised, small
    )


class AlwaysEqual:
    """What a student might return to fool `==`."""

    shape = (2, 2)
    dtype = np.dtype(float)

    def __eq__(self, other):
        return True

    def __array__(self, dtype=None, copy=None):
        return np.ones((2, 2))


class SubArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)


class FakeInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


def test_assert_array_rejects_look_alikes_and_wrong_shapes():
    expected = np.ones((2, 2))
    with pytest.raises(AssertionError, match="numpy.ndarray, got AlwaysEqual"):
        grading.assert_array(AlwaysEqual(), expected, "f(x)")
    with pytest.raises(AssertionError, match="got SubArray"):
        grading.assert_array(np.zeros((2, 2)).view(SubArray), expected, "f(x)")
    with pytest.raises(AssertionError, match=r"shape \(2, 2\), got \(4,\)"):
        grading.assert_array(np.ones(4), expected, "f(x)")
    with pytest.raises(AssertionError, match="wrong values"):
        grading.assert_array(np.zeros((2, 2)), expected, "f(x)")
    with pytest.raises(AssertionError, match="dtype object"):
        grading.assert_array(np.ones((2, 2), dtype=object), expected, "f(x)")
    grading.assert_array(np.ones((2, 2)), expected, "f(x)")


def test_assert_array_names_a_known_mistake():
    expected = np.full((2, 2), 3.0)
    with pytest.raises(AssertionError, match="Likely mistake: forgot the bias"):
        grading.assert_array(
            np.full((2, 2), 2.0),
            expected,
            "conv2d(x, w, b)",
            mistakes={"forgot the bias": np.full((2, 2), 2.0)},
        )


def test_assert_int_rejects_bools_floats_and_look_alikes():
    with pytest.raises(AssertionError, match="should be an int, got FakeInt"):
        grading.assert_int(FakeInt(3), 4, "n")
    with pytest.raises(AssertionError, match="should be an int, got bool"):
        grading.assert_int(True, 1, "n")
    with pytest.raises(AssertionError, match="should be an int, got float"):
        grading.assert_int(4.0, 4, "n")
    grading.assert_int(np.int64(4), 4, "n")
    with pytest.raises(AssertionError, match="Likely mistake: floor, not ceil"):
        grading.assert_int(5, 4, "n", mistakes={5: "floor, not ceil"})


def test_assert_shape_and_number_check_types():
    grading.assert_shape((3, 4), (3, 4), "s")
    with pytest.raises(AssertionError, match="should be a tuple, got list"):
        grading.assert_shape([3, 4], (3, 4), "s")
    with pytest.raises(AssertionError, match="ints only"):
        grading.assert_shape((3.0, 4), (3, 4), "s")
    with pytest.raises(AssertionError, match=r"13x13.*"):
        grading.assert_shape(
            (256, 13, 13), (256, 6, 6), "s", mistakes={(256, 13, 13): "13x13"}
        )
    grading.assert_number(0.25, 0.25, "share")
    with pytest.raises(AssertionError, match="should be a number, got AlwaysEqual"):
        grading.assert_number(AlwaysEqual(), 0.25, "share")
    with pytest.raises(AssertionError, match="should be 0.25, got 0.5"):
        grading.assert_number(0.5, 0.25, "share")


def test_reassigning_a_reference_name_fails_every_check():
    original = cc.correlate2d
    cc.correlate2d = own_correlate
    try:
        with pytest.raises(GuardError, match=r"reassigned cnn_course\.correlate2d"):
            grading.assert_array(np.ones(2), np.ones(2), "f(x)")
        with pytest.raises(GuardError, match=r"reassigned cnn_course\.correlate2d"):
            with guard("f"):
                pass
    finally:
        cc.correlate2d = original
    grading.check_untouched()


def test_reassigning_numpy_testing_fails_the_checks():
    original = np.testing.assert_allclose
    np.testing.assert_allclose = lambda *args, **kwargs: None
    try:
        with pytest.raises(GuardError, match=r"numpy\.testing\.assert_allclose"):
            grading.assert_int(1, 1, "n")
    finally:
        np.testing.assert_allclose = original


def test_importing_a_library_is_not_calling_it():
    # a fresh interpreter, so that scipy is really imported inside the guard
    code = (
        "from cnn_course.grading import guard\n"
        "with guard('f'):\n"
        "    import scipy.ndimage, scipy.signal\n"
        "print('imported')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "imported"
    with pytest.raises(GuardError, match="scipy.signal"):
        with guard("f"):
            exec("import scipy.signal\nscipy.signal.convolve([1.0], [2.0])")


# --------------------------------------------------------------------------
# The helpers test cells call to explain themselves.


def test_calling_names_the_call_when_the_students_code_raises():
    with pytest.raises(AssertionError, match=r"^f\(x\) raised ValueError: bad x$"):
        with grading.calling("f(x)"):
            raise ValueError("bad x")


def test_calling_lets_an_unfinished_task_the_guard_and_the_memory_cap_through():
    for error in (NotImplementedError(), MemoryError(), GuardError("GUARD: f")):
        with pytest.raises(type(error)):
            with grading.calling("f(x)"):
                raise error


def test_calling_fails_a_call_that_changed_an_input_and_says_where():
    x = np.zeros((2, 3))
    with pytest.raises(
        AssertionError, match=r"changed its input `x` in place \(at index \(1, 2\)"
    ):
        with grading.calling("f(x)", x=x):
            x[1, 2] = 5.0
    nan = np.array([np.nan, 1.0])
    with grading.calling("f(nan)", nan=nan):
        pass  # NaN equals NaN here: nothing changed


def test_builds_on_blames_a_broken_earlier_task_and_only_then():
    def broken():
        raise AssertionError("square(3) should be 9, got 6")

    def fine():
        pass

    with pytest.raises(AssertionError, match="fix task 1 first") as info:
        with grading.builds_on("cube(3)", [("task 1", "square", broken)]):
            raise AssertionError("cube(3) should be 27, got 18")
    assert "18" not in str(info.value)  # no numbers of the other task's making
    with pytest.raises(AssertionError, match="got 18"):
        with grading.builds_on("cube(3)", [("task 1", "square", fine)]):
            raise AssertionError("cube(3) should be 27, got 18")
    with pytest.raises(NotImplementedError):
        with grading.builds_on("cube(3)", [("task 1", "square", broken)]):
            raise NotImplementedError
    with grading.builds_on("cube(3)", [("task 1", "square", broken)]):
        pass  # a later task that works passes, whatever the earlier one does


def test_assert_raises_says_what_happened_instead():
    def returns(n):
        return n

    def raises_type_error(n):
        raise TypeError("no")

    def quiet(n):
        raise ValueError("wrong")

    with pytest.raises(
        AssertionError, match=r"should raise ValueError, but it returned 0"
    ):
        grading.assert_raises(ValueError, "g(0)", returns, 0)
    with pytest.raises(AssertionError, match="but it raised TypeError: no"):
        grading.assert_raises(ValueError, "g(0)", raises_type_error, 0)
    with pytest.raises(AssertionError, match="does not mention '0'"):
        grading.assert_raises(ValueError, "g(0)", quiet, 0, mention=["0"])


def test_fingerprints_ignore_type_and_dtype_but_not_values_or_shape():
    f = grading.fingerprint
    assert (
        f([[1, 2], [3, 4]])
        == f(np.array([[1.0, 2.0], [3.0, 4.0]]))
        == f(((1, 2), (3, 4)))
    )
    assert f([1, 2, 3, 4]) != f([[1, 2], [3, 4]])
    assert f([0.0]) == f([-0.0])
    assert f([1.0]) != f([1.001])
    with pytest.raises(AssertionError, match="Likely mistake: flipped") as info:
        grading.assert_fingerprint([[2, 1]], f([[1, 2]]), "A", shape=(1, 2),
                                   mistakes={f([[2, 1]]): "flipped"})  # fmt: skip
    assert "[[1, 2]]" not in str(info.value)  # the answer is not shown


def test_assert_int_says_how_to_get_an_int_from_a_division():
    with pytest.raises(AssertionError, match="// divides to an int"):
        grading.assert_int(3.0, 3, "n")


def test_check_packages_names_what_is_missing_and_how_to_install_it():
    with pytest.raises(grading.SetupError) as info:
        grading.check_packages("numpy", "surely_not_installed_here")
    text = str(info.value)
    assert text.startswith("This notebook needs surely_not_installed_here,")
    assert sys.executable in text and "%pip install -r requirements-student.txt" in text
    assert info.value._render_traceback_() == [text]  # IPython shows the message only


def test_tracebacks_lose_numpys_frames_and_the_checks_but_keep_the_students():
    def students_code():
        np.testing.assert_allclose(np.ones(2), np.zeros(2))

    try:
        students_code()
    except AssertionError as err:
        tb = err.__traceback__
    kept = grading._without_library_frames(tb)
    files = []
    while kept is not None:
        files.append(kept.tb_frame.f_code.co_filename)
        kept = kept.tb_next
    assert files[0] == __file__  # the first frame, as IPython's own, stays
    assert __file__ in files[1:]  # students_code
    assert not any("numpy" in f for f in files)


def test_advise_vectorised_advises_and_never_fails(capsys):
    def loops(n):
        return sum(i for i in range(n))

    grading.advise_vectorised(loops, (10,), (1000,), "loops")
    assert "no points depend on it" in capsys.readouterr().out
    grading.advise_vectorised(len, ([1],), ([1] * 1000,), "len")
    assert capsys.readouterr().out == ""
    grading.advise_vectorised(lambda n: 1 / n, (0,), (0,), "broken")
    assert "could not count" in capsys.readouterr().out
