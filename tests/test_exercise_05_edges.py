"""Exercise 05 end to end: answers that are right but written differently get full marks;
almost-right answers (a correlation, the wrong border rule, a library call inside the
from-scratch convolution, a forgotten flip, an unnormalised blur, ...) lose their item with a
message that names what is off. Also the from-scratch guard on its own, in this process.

Submissions are the blank notebook with some cells filled by item id. In the almost-right
notebooks the items not under test stay blank, so they cost no sandbox run.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage

from nngrade.reference import load_exercise
from nngrade.reference.edges import cases

from grading import grade_answers

EXERCISE = load_exercise("05_edge_detection")
POINTS = {item.id: item.points for item in EXERCISE.items}


def _grade(grader, tmp_path: Path, answers: dict[str, str], name: str,
           keep_reference: bool = False):
    """Grade the notebook with ``answers``; the other graded cells hold the reference
    (``keep_reference``) or their blank template (no sandbox run for them)."""
    return grade_answers(grader, EXERCISE, tmp_path / name, answers,
                         rest="reference" if keep_reference else "blank")


def _items(report) -> dict[str, tuple[str, float, str]]:
    return {i.id: (i.status, i.score, i.message) for i in report.items}


# --- right, but written differently ----------------------------------------------------------

RIGHT_BUT_DIFFERENT = {
    "edges.rgb2gray": (
        "def rgb2gray(rgb):\n"
        "    return np.asarray(rgb)[..., :3] @ np.array([0.2989, 0.5870, 0.1140])\n"
    ),
    "edges.convolve2d": (
        "from numpy.lib.stride_tricks import sliding_window_view\n"
        "\n"
        "def convolve2d(image, kernel):\n"
        "    kernel = np.asarray(kernel, dtype=float)\n"
        "    rh, rw = kernel.shape[0] // 2, kernel.shape[1] // 2\n"
        "    padded = np.pad(np.asarray(image, dtype=float), [(rh, rh), (rw, rw)], 'symmetric')\n"
        "    windows = sliding_window_view(padded, kernel.shape)\n"
        "    return np.einsum('yxij,ij->yx', windows, np.flip(kernel))\n"
    ),
    "edges.blur": (
        "def box_kernel(size):\n"
        "    return np.ones((size, size)) / (size * size)\n"
        "blurred = convolve2d(gray, box_kernel(5))\n"
    ),
    "edges.laplacian": (
        "laplacian_kernel = np.zeros((3, 3))\n"
        "laplacian_kernel[1, :] = laplacian_kernel[:, 1] = 1\n"
        "laplacian_kernel[1, 1] = -4\n"
        "edges = convolve2d(gray, laplacian_kernel)\n"
    ),
    # Pads in torch by concatenating flipped edge slices (edge pixel included), flips with
    # torch.flip, goes through nn.Conv2d, and returns a tensor rather than an array.
    "edges.torch_conv": (
        "def _pad_symmetric(x, r, dim):\n"
        "    if r == 0:\n"
        "        return x\n"
        "    head = x.narrow(dim, 0, r).flip(dim)\n"
        "    tail = x.narrow(dim, x.shape[dim] - r, r).flip(dim)\n"
        "    return torch.cat([head, x, tail], dim=dim)\n"
        "\n"
        "def conv2d_torch(image, kernel):\n"
        "    w = torch.tensor(np.asarray(kernel), dtype=torch.float32)\n"
        "    x = torch.tensor(np.asarray(image), dtype=torch.float32)\n"
        "    x = _pad_symmetric(_pad_symmetric(x, w.shape[0] // 2, 0), w.shape[1] // 2, 1)\n"
        "    layer = nn.Conv2d(1, 1, tuple(w.shape), bias=False)\n"
        "    with torch.no_grad():\n"
        "        layer.weight.copy_(torch.flip(w, dims=(0, 1))[None, None])\n"
        "        return layer(x[None, None]).squeeze()\n"
    ),
    "edges.param_count": (
        "conv = nn.Conv2d(in_channels, out_channels, 3)\n"
        "conv_params = sum(p.numel() for p in conv.parameters())\n"
        "dense_params = (in_channels * height * width + 1) * (out_channels * height * width)\n"
    ),
}


def test_right_answers_written_differently_get_full_marks(grader, tmp_path):
    report = _grade(grader, tmp_path, RIGHT_BUT_DIFFERENT, "right")
    assert report.score == EXERCISE.max_score, _items(report)
    assert report.cell_errors == ()


# --- almost right ------------------------------------------------------------------------------

def _reference_without_flip() -> str:
    return EXERCISE.solution["edges.convolve2d"].replace("kernel[::-1, ::-1]", "kernel")


def _reference_with_pad(mode: str) -> str:
    return EXERCISE.solution["edges.convolve2d"].replace('mode="symmetric"', f'mode="{mode}"')


def _torch_reference(old: str, new: str) -> str:
    source = EXERCISE.solution["edges.torch_conv"]
    assert old in source
    return source.replace(old, new)


# (answer, words the item's message must contain), one dict per notebook
ALMOST_RIGHT_1 = {
    "edges.rgb2gray": ("def rgb2gray(rgb):\n    return np.asarray(rgb)[..., :3].mean(axis=-1)\n",
                       ["weights rgb2gray gives to red, green and blue", "0.33333"]),
    "edges.convolve2d": (_reference_without_flip(),
                         ["on a 6x8 image with an asymmetric 3x3 kernel: whether convolve2d "
                          "flips the kernel", "not flipped (a correlation)"]),
    "edges.blur": ("def box_kernel(size):\n    return np.ones((size, size))\n"
                   "blurred = convolve2d(gray, box_kernel(5))\n", ["normalised"]),
    "edges.laplacian": ("laplacian_kernel = -np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]])\n"
                        "edges = convolve2d(gray, laplacian_kernel)\n", ["laplacian_kernel"]),
    "edges.torch_conv": (_torch_reference("kernel[::-1, ::-1].copy()", "kernel.copy()"),
                         ["whether conv2d_torch flips the kernel", "not flipped (a correlation)"]),
    "edges.param_count": ("conv_params = out_channels * in_channels * 3 * 3\n"
                          "dense_params = out_channels * height * width * (in_channels * height"
                          " * width + 1)\n", ["conv_params", "expected 448, found 432"]),
}

ALMOST_RIGHT_2 = {
    "edges.rgb2gray": ("def rgb2gray(rgb):\n"
                       "    return np.asarray(rgb) @ np.array([0.2989, 0.5870, 0.1140])\n",
                       ["RGBA", "raised ValueError"]),
    "edges.convolve2d": (_reference_with_pad("constant"),
                         ["symmetric 3x3 kernel", "found zeros outside the image"]),
    "edges.torch_conv": (
        _torch_reference(
            'padded = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)), mode="symmetric")',
            "padded = F.pad(torch.from_numpy(image)[None], (kw // 2, kw // 2, kh // 2, kh // 2),"
            " mode='reflect')[0].numpy()"),
        ["found 'mirror'"]),
    # a hard-coded answer: right on the notebook's layers, wrong on a hidden configuration,
    # and the message does not give the hidden answer away
    "edges.param_count": ("conv_params = 448\ndense_params = 10800240000\n",
                          ["on a hidden case (a grey 28x28 image and 8 filters)",
                           "found 448, which is not right"]),
}

ALMOST_RIGHT_3 = {
    "edges.convolve2d": (_reference_with_pad("reflect"), ["found 'mirror'"]),
    "edges.torch_conv": (
        "def conv2d_torch(image, kernel):\n"
        "    x = torch.tensor(image, dtype=torch.float32)[None, None]\n"
        "    w = torch.tensor(np.flip(kernel).copy(), dtype=torch.float32)[None, None]\n"
        "    return F.conv2d(x, w, padding='same')[0, 0].numpy()\n",
        ["found zeros outside the image"]),
}

ALMOST_RIGHT_4 = {
    "edges.convolve2d": ("from scipy import ndimage\n"
                         "def convolve2d(image, kernel):\n"
                         "    return ndimage.convolve(image, kernel)\n",
                         ["convolve2d must be written from scratch: it called "
                          "scipy.ndimage.convolve"]),
    "edges.torch_conv": ("from scipy import ndimage\n"
                         "def conv2d_torch(image, kernel):\n"
                         "    return ndimage.convolve(image, kernel).astype(np.float32)\n",
                         ["whether conv2d_torch calls torch.nn.functional.conv2d: expected "
                          "yes, found no"]),
}


# cheats: SciPy, called where the guard was meant not to see it
CHEATS = {
    "edges.convolve2d": ("import sys\nfrom scipy import ndimage\n"
                         "def convolve2d(image, kernel, _c=ndimage.convolve):\n"
                         "    hook = sys.getprofile()\n"
                         "    sys.setprofile(None)\n"
                         "    out = _c(image, kernel)\n"
                         "    sys.setprofile(hook)\n"
                         "    return out\n",
                         ["convolve2d must be written from scratch: it called sys.setprofile"]),
}


@pytest.mark.parametrize("variants", [ALMOST_RIGHT_1, ALMOST_RIGHT_2, ALMOST_RIGHT_3,
                                      ALMOST_RIGHT_4, CHEATS],
                         ids=["set1", "set2", "set3", "set4", "cheats"])
def test_each_almost_right_answer_loses_its_item_with_a_reason(grader, tmp_path, variants):
    report = _grade(grader, tmp_path, {k: v[0] for k, v in variants.items()}, "almost")
    items = _items(report)
    for item_id, (_, words) in variants.items():
        status, score, message = items[item_id]
        assert status == "failed" and score == 0, (item_id, items[item_id])
        for word in words:
            assert word in message, (item_id, message)
        if "hidden case" in message:
            assert "expected" not in message, message
    assert report.score == 0  # the other items were left blank


def test_the_visible_convolution_cases_start_with_a_symmetric_then_an_asymmetric_kernel():
    # With set1's correlation failing on the second case, this order is what makes it
    # "passes a symmetric kernel, fails an asymmetric one".
    first, second = [c for c in EXERCISE.item("edges.convolve2d").cases if not c.hidden][:2]
    assert first.args["symmetric"] and not second.args["symmetric"]
    assert EXERCISE.item("edges.convolve2d").cases[:2] == (first, second)


# --- the from-scratch guard, in this process ----------------------------------------------------

IMAGE = np.random.default_rng(0).random((6, 7))
KERNEL = np.random.default_rng(1).normal(size=(3, 3))


def _calls(fn, namespace=None):
    # this process has the grader's own threads: only threads started after this are a cell's
    result, error, calls = cases.run_from_scratch(lambda: fn(IMAGE, KERNEL), namespace or {},
                                                  frozenset(sys._current_frames()))
    return calls


def test_guard_catches_a_library_convolution_however_it_is_reached():
    from scipy.ndimage import convolve as aliased

    namespace = {"aliased": aliased}

    def through_alias(image, kernel):
        return namespace["aliased"](image, kernel)

    partial = functools.partial(scipy.ndimage.convolve, mode="reflect")

    def through_partial(image, kernel, _f=partial):
        return _f(image, kernel)

    def through_late_import(image, kernel):
        from scipy.signal import convolve2d
        return convolve2d(image, kernel, mode="same")

    def through_torch(image, kernel):
        import torch
        return torch.nn.functional.conv2d(torch.tensor(image)[None, None],
                                          torch.tensor(kernel)[None, None])

    def swallowing_the_error(image, kernel):
        try:
            return scipy.ndimage.correlate(image, kernel)
        except Exception:
            return np.zeros_like(image)

    assert _calls(through_alias, namespace)[0] == "scipy.ndimage.convolve"
    assert namespace["aliased"] is aliased  # put back after the call
    assert _calls(through_partial)[0] == "scipy.ndimage.convolve"
    assert _calls(through_late_import)[0] == "scipy.signal.convolve2d"
    assert _calls(through_torch)[0].startswith("torch.")
    assert _calls(swallowing_the_error) == ["scipy.ndimage.correlate"]
    assert scipy.ndimage.correlate.__module__ == "scipy.ndimage._filters"


def test_guard_catches_a_call_it_was_meant_not_to_see():
    import queue
    import threading

    def tracing_switched_off(image, kernel, _c=scipy.ndimage.convolve):
        hook = sys.getprofile()
        sys.setprofile(None)
        try:
            return _c(image, kernel)
        finally:
            sys.setprofile(hook)

    def in_a_new_thread(image, kernel, _c=scipy.ndimage.convolve):
        out = []
        worker = threading.Thread(target=lambda: out.append(_c(image, kernel)))
        worker.start()
        worker.join()
        return out[0]

    assert "sys.setprofile" in _calls(tracing_switched_off)
    assert "a new thread (_thread.start_new_thread)" in _calls(in_a_new_thread)
    before = frozenset(sys._current_frames())
    jobs, done = queue.Queue(), queue.Queue()
    helper = threading.Thread(target=lambda: done.put(scipy.ndimage.convolve(*jobs.get())))
    helper.start()  # as a cell could: a thread started before the probe, fed through a queue

    def through_a_waiting_thread(image, kernel):
        jobs.put((image, kernel))
        return done.get()

    calls = cases.run_from_scratch(lambda: through_a_waiting_thread(IMAGE, KERNEL), {}, before)[2]
    assert calls == ["a thread that the cell left running"]
    helper.join()


def test_guard_lets_plain_numpy_through_and_keeps_its_result():
    def numpy_only(image, kernel):
        from numpy.lib.stride_tricks import sliding_window_view
        padded = np.pad(image, 1, mode="symmetric")
        return np.einsum("yxij,ij->yx", sliding_window_view(padded, (3, 3)), kernel[::-1, ::-1])

    result, error, calls = cases.run_from_scratch(lambda: numpy_only(IMAGE, KERNEL), {},
                                                  frozenset(sys._current_frames()))
    assert calls == [] and error is None
    np.testing.assert_allclose(result, scipy.ndimage.convolve(IMAGE, KERNEL), atol=1e-12)


def test_diagnoses_name_the_flip_and_the_border_rule():
    conv = scipy.ndimage.convolve(cases.impulse(KERNEL), KERNEL)
    corr = scipy.ndimage.correlate(cases.impulse(KERNEL), KERNEL)
    assert cases.orientation(conv, KERNEL, 1e-9) == cases.FLIPPED
    assert cases.orientation(corr, KERNEL, 1e-9) == cases.NOT_FLIPPED
    wide = np.random.default_rng(2).normal(size=(5, 5))  # 3x3 cannot tell reflect from nearest
    for mode, label in cases.BORDER_RULES:
        output = scipy.ndimage.convolve(IMAGE, wide, mode=mode)
        assert cases.border_rule(output, IMAGE, wide, 1e-9) == label


# --- boundaries the notebook's convention fixes ------------------------------------------------

# Padding by hand, edge pixel repeated: right while the border is no wider than the image, and
# while the kernel is wider than 1. The notebook: convolve2d "must also work when the image is
# smaller than the kernel"; conv2d_torch is checked on "odd-sized kernels (1 x 1 included)".
# (conv2d_torch is not checked on a border wider than the image: RIGHT_BUT_DIFFERENT's
# one-reflection padding, right by the notebook's text, would lose it.)
_HAND_PADDED = (
    "    rows = np.concatenate([image[:rh][::-1], image, image[{bottom}:][::-1]], axis=0)\n"
    "    padded = np.concatenate([rows[:, :rw][:, ::-1], rows, rows[:, {right}:][:, ::-1]],"
    " axis=1)\n"
)

BOUNDARIES = {
    # one reflection only: too few rows when the border is wider than the image
    "edges.convolve2d": (
        "def convolve2d(image, kernel):\n"
        "    image = np.asarray(image, dtype=float)\n"
        "    kernel = np.asarray(kernel, dtype=float)\n"
        "    kh, kw = kernel.shape\n"
        "    rh, rw = kh // 2, kw // 2\n"
        "    h, w = image.shape\n"
        + _HAND_PADDED.format(bottom="h - rh", right="w - rw") +
        "    flipped = kernel[::-1, ::-1]\n"
        "    out = np.zeros((h, w))\n"
        "    for i in range(kh):\n"
        "        for j in range(kw):\n"
        "            out += flipped[i, j] * padded[i:i + h, j:j + w]\n"
        "    return out\n",
        ["on a hidden case (a 1x2 image with an asymmetric 7x5 kernel, whose border reaches "
         "beyond the whole image)", "raised ValueError"]),
    # image[-rh:] with rh = 0 is the whole image, not nothing: a 1 x 1 kernel doubles the size
    "edges.torch_conv": (
        "def conv2d_torch(image, kernel):\n"
        "    image = np.asarray(image, dtype=np.float32)\n"
        "    kernel = np.asarray(kernel, dtype=np.float32)\n"
        "    rh, rw = kernel.shape[0] // 2, kernel.shape[1] // 2\n"
        + _HAND_PADDED.format(bottom="-rh", right="-rw") +
        "    x = torch.from_numpy(np.ascontiguousarray(padded))[None, None]\n"
        "    w = torch.from_numpy(kernel[::-1, ::-1].copy())[None, None]\n"
        "    return F.conv2d(x, w)[0, 0].numpy()\n",
        ["on a hidden case (a 5x4 image with a 1x1 kernel)",
         "the shape of conv2d_torch(image, kernel): found (10, 8), which is not right"]),
}


def test_hidden_cases_hold_a_border_wider_than_the_image_and_a_1x1_torch_kernel():
    def shapes(item_id):
        return [(tuple(c.args["image_shape"]), tuple(c.args["kernel_shape"]))
                for c in EXERCISE.item(item_id).cases if c.hidden and not c.args["photo"]]

    assert any(k[0] // 2 > i[0] for i, k in shapes("edges.convolve2d"))
    assert ((5, 4), (1, 1)) in shapes("edges.torch_conv")


def test_reference_equals_scipy_where_the_border_is_wider_than_the_image():
    namespace = {"np": np}
    exec(EXERCISE.solution["edges.convolve2d"], namespace)
    for case in EXERCISE.item("edges.convolve2d").cases:
        image, kernel = cases._case_inputs(**{k: case.args[k] for k in (
            "seed", "image_shape", "kernel_shape", "symmetric", "photo")})
        np.testing.assert_allclose(namespace["convolve2d"](image, kernel),
                                   scipy.ndimage.convolve(image, kernel), rtol=0, atol=1e-12)


def test_hand_padding_right_in_the_middle_loses_on_the_boundary_cases(grader, tmp_path):
    report = _grade(grader, tmp_path, {k: v[0] for k, v in BOUNDARIES.items()}, "boundaries")
    items = _items(report)
    for item_id, (_, words) in BOUNDARIES.items():
        status, score, message = items[item_id]
        assert status in ("failed", "error") and score == 0, (item_id, items[item_id])
        for word in words:
            assert word in message, (item_id, message)
        assert "expected" not in message, message  # a hidden case shows no expected value
