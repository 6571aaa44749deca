"""Inputs and probes for exercise 05, run inside the sandbox.

``build_*`` functions return the names a cell reads; ``probe_*`` functions call what the cell
defined and turn the results into plain data. Nothing here knows the expected answers: those
come from running the reference cell through the same functions.

Besides the raw outputs, the convolution probes return two *diagnoses* so that a wrong answer
is named, not just measured: whether the function flips the kernel (found with a single bright
pixel, whose response is the kernel itself for a convolution and the flipped kernel for a
correlation) and which border rule its output follows (compared with SciPy's border modes).
The grader compares these with the reference's diagnoses like any other observation.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

import numpy as np
import scipy.ndimage

from nngrade.grader import probes
from nngrade.grader.probes import ProbeError, call, function, raised

GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)

# --- images and kernels ---------------------------------------------------------------------


@lru_cache(maxsize=1)
def photo_crop() -> np.ndarray:
    """The notebook's image: a 300x450 crop of matplotlib's grace_hopper.jpg, averaged in 3x3
    blocks, in [0, 1]."""
    import matplotlib.pyplot as plt
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as file:
        photo = plt.imread(file)
    crop = photo[30:330, 31:481].astype(np.float64)
    return crop.reshape(100, 3, 150, 3, 3).mean(axis=(1, 3)) / 255.0


def photo_gray() -> np.ndarray:
    """The grey version of the notebook's image, as the notebook computes it."""
    return photo_crop() @ np.array(GRAY_WEIGHTS)


def random_image(seed: int, shape: list[int]) -> np.ndarray:
    """A float64 image of uniform grey levels in [0, 1]."""
    return np.random.default_rng(seed).random(tuple(shape))


def square_image(shape: list[int]) -> np.ndarray:
    """A dark image with a bright rectangle: clean edges for the Laplacian."""
    image = np.full(tuple(shape), 0.1)
    h, w = image.shape
    image[h // 4: 3 * h // 4, w // 3: 2 * w // 3] = 0.9
    return image


def make_kernel(seed: int, shape: list[int], symmetric: bool) -> np.ndarray:
    """A kernel of normal weights; ``symmetric`` makes it equal to its own flip (then a
    correlation and a convolution agree), otherwise it is clearly asymmetric."""
    rng = np.random.default_rng(seed + 1000)
    # scaled so that outputs stay of order one whatever the size: float32 rounding stays
    # well inside the tolerance of the PyTorch item
    kernel = rng.normal(size=tuple(shape)) / np.sqrt(np.prod(shape))
    if symmetric:
        return (kernel + kernel[::-1, ::-1]) / 2
    if kernel.size > 1 and np.abs(kernel - kernel[::-1, ::-1]).max() < 0.2:
        kernel[0, 0] += 0.5  # keep the flip visible
    return kernel


def _case_inputs(seed: int, image_shape: list[int], kernel_shape: list[int],
                 symmetric: bool, photo: bool) -> tuple[np.ndarray, np.ndarray]:
    image = photo_gray() if photo else random_image(seed, image_shape)
    return image, make_kernel(seed, kernel_shape, symmetric)


# --- turning what a student's function returned into an array --------------------------------

def _as_array(value: Any, what: str) -> np.ndarray:
    """A float64 NumPy array of a returned value (tensor, array or nested list)."""
    if value is None:
        raise ProbeError(f"{what} returned None: is a `return` missing?")
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProbeError(f"{what} returned {type(value).__name__}, expected an array of "
                         "numbers") from None
    return array


# --- the from-scratch guard ------------------------------------------------------------------

# Library convolutions a from-scratch convolve2d must not use, by the module a student reaches
# them through; any other call into these libraries is caught by the guard's profile hook.
FORBIDDEN: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("scipy.ndimage", ("convolve", "correlate", "convolve1d", "correlate1d")),
    ("scipy.signal", ("convolve", "convolve2d", "correlate", "correlate2d", "fftconvolve",
                      "oaconvolve")),
    ("torch.nn.functional", ("conv1d", "conv2d", "conv3d")),
    ("torch", ("conv1d", "conv2d", "conv3d")),
    ("cv2", ("filter2D",)),
)
LIBRARIES = ("scipy", "torch", "cv2")


def run_from_scratch(fn: Callable[[], Any], namespace: dict[str, Any],
                     threads_before: frozenset[int] | None = None
                     ) -> tuple[Any, BaseException | None, list[str]]:
    """``fn`` run with every library convolution forbidden (see ``probes.run_from_scratch``)."""
    return probes.run_from_scratch(fn, namespace, forbidden=FORBIDDEN, libraries=LIBRARIES,
                                   threads_before=threads_before)


def run_with_spy(fn: Callable[[], Any], namespace: dict[str, Any]
                 ) -> tuple[Any, BaseException | None, bool]:
    """``fn`` run with ``torch.nn.functional.conv2d`` watched: was it called?"""
    import torch.nn.functional as F

    return probes.run_with_spy(fn, namespace, F.conv2d, ("torch.nn.functional", "torch"))


# --- diagnoses -------------------------------------------------------------------------------

FLIPPED = "flipped (a true convolution)"
NOT_FLIPPED = "not flipped (a correlation)"
NEITHER = "neither: the output is not a sliding weighted sum"

BORDER_RULES: tuple[tuple[str, str], ...] = (
    ("reflect", "SciPy's default 'reflect' (edge repeated: c b a|a b c)"),
    ("mirror", "'mirror' (edge not repeated: c b|a b c)"),
    ("constant", "zeros outside the image"),
    ("nearest", "'nearest' (edge pixel extended: a a|a b c)"),
    ("wrap", "'wrap' (values from the opposite edge)"),
)
NO_RULE = "none of SciPy's border rules"


def impulse(kernel: np.ndarray) -> np.ndarray:
    """A black image, three kernels wide, with one bright pixel in the middle."""
    kh, kw = kernel.shape
    image = np.zeros((3 * kh, 3 * kw))
    image[3 * kh // 2, 3 * kw // 2] = 1.0
    return image


def orientation(response: np.ndarray, kernel: np.ndarray, atol: float) -> str:
    """Whether the response to ``impulse(kernel)`` is the kernel (a convolution: the kernel is
    flipped as it slides) or the flipped kernel (a correlation)."""
    image = impulse(kernel)
    if response.shape != image.shape:
        return NEITHER
    kh, kw = kernel.shape
    top, left = 3 * kh // 2 - kh // 2, 3 * kw // 2 - kw // 2
    window = response[top: top + kh, left: left + kw]
    if np.allclose(window, kernel, rtol=0, atol=atol):
        return FLIPPED
    if np.allclose(window, kernel[::-1, ::-1], rtol=0, atol=atol):
        return NOT_FLIPPED
    return NEITHER


def border_rule(output: np.ndarray, image: np.ndarray, kernel: np.ndarray, atol: float) -> str:
    """The first of SciPy's border modes whose convolution equals ``output``."""
    if output.shape != image.shape:
        return NO_RULE
    for mode, label in BORDER_RULES:
        try:
            expected = scipy.ndimage.convolve(image, kernel, mode=mode)
        except (RuntimeError, ValueError):  # a mode that cannot handle this size
            continue
        if np.allclose(output, expected, rtol=0, atol=atol):
            return label
    return NO_RULE


def _convolution_observation(call: Callable[[np.ndarray, np.ndarray], Any], name: str,
                             image: np.ndarray, kernel: np.ndarray,
                             atol: float) -> dict[str, Any]:
    """Shape, orientation, border rule and values of one student convolution function.

    ``call(image, kernel)`` runs the student's function under whatever watch the item needs
    and returns its result (raising ProbeError for anything that went wrong).
    """
    output = _as_array(call(image.copy(), kernel.copy()), f"{name}(image, kernel)")
    response = _as_array(call(impulse(kernel), kernel.copy()),
                         f"{name} on an image with a single bright pixel")
    return {
        "shape": list(output.shape),
        "orientation": orientation(response, kernel, atol),
        "borders": border_rule(output, image, kernel, atol),
        "output": output,
    }


# --- edges.rgb2gray --------------------------------------------------------------------------

build_nothing = probes.build_nothing


def probe_rgb2gray(ns: dict[str, Any], seed: int = 0, shape: list[int] | None = None,
                   photo: bool = False, **_: Any) -> dict[str, Any]:
    """Grey levels of one image, and the weight given to each of red, green and blue."""
    rgb2gray = function(ns, "rgb2gray")
    image = photo_crop() if photo else random_image(seed, shape or [5, 4, 3])
    if image.shape[-1] == 4:
        kind = "an RGBA image (4 channels; the alpha channel must be ignored)"
    else:
        kind = "an RGB image"
    gray, error = call(lambda: rgb2gray(image.copy()))
    if error is not None:
        raise raised(f"rgb2gray on {kind}", error)
    gray = _as_array(gray, "rgb2gray")
    primaries = np.eye(3).reshape(1, 3, 3)  # one pure red, one green, one blue pixel
    weights, error = call(lambda: rgb2gray(primaries.copy()))
    if error is not None:
        raise raised("rgb2gray on a 1x3 image of a red, a green and a blue pixel", error)
    return {
        "shape": list(gray.shape),
        "weights": _as_array(weights, "rgb2gray").ravel(),
        "gray": gray,
    }


# --- edges.convolve2d ------------------------------------------------------------------------

def probe_convolve(ns: dict[str, Any], seed: int, image_shape: list[int],
                   kernel_shape: list[int], symmetric: bool = False, photo: bool = False,
                   **_: Any) -> dict[str, Any]:
    """convolve2d on one image and kernel, watched so that no library convolution is used."""
    convolve2d = function(ns, "convolve2d")
    image, kernel = _case_inputs(seed, image_shape, kernel_shape, symmetric, photo)

    def call(img: np.ndarray, ker: np.ndarray) -> Any:
        result, error, calls = run_from_scratch(lambda: convolve2d(img, ker), ns)
        if calls:
            raise ProbeError(f"convolve2d must be written from scratch: it called {calls[0]}")
        if error is not None:
            raise raised("convolve2d(image, kernel)", error)
        return result

    return _convolution_observation(call, "convolve2d", image, kernel, atol=1e-9)


# --- edges.blur and edges.laplacian ----------------------------------------------------------

def library_convolve2d(image: Any, kernel: Any) -> np.ndarray:
    """A correct convolve2d for the cells that use one, so they are graded on their own."""
    return scipy.ndimage.convolve(np.asarray(image, dtype=np.float64),
                                  np.asarray(kernel, dtype=np.float64), mode="reflect")


def build_gray(seed: int = 0, shape: list[int] | None = None, photo: bool = False,
               square: bool = False, **_: Any) -> dict[str, Any]:
    """A grey image (the notebook's, a random one or a bright rectangle) and a convolve2d."""
    if photo:
        gray = photo_gray()
    elif square:
        gray = square_image(shape or [20, 30])
    else:
        gray = random_image(seed, shape or [20, 30])
    return {"gray": gray, "convolve2d": library_convolve2d}


def probe_blur(ns: dict[str, Any], sizes: list[int], **_: Any) -> dict[str, Any]:
    """box_kernel for several sizes (their shapes, sums and entries) and the blurred image."""
    box_kernel = function(ns, "box_kernel")
    kernels = []
    for size in sizes:
        kernel, error = call(lambda: box_kernel(size))
        if error is not None:
            raise raised("box_kernel(size)", error)
        kernels.append(_as_array(kernel, "box_kernel(size)"))
    return {
        "kernel_shapes": [list(k.shape) for k in kernels],
        "kernel_sums": np.array([k.sum() for k in kernels]),
        "kernels": np.concatenate([k.ravel() for k in kernels]),
        "blurred": _as_array(ns["blurred"], "`blurred`"),
    }


def probe_laplacian(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The Laplacian kernel and the edge image."""
    return {
        "kernel": _as_array(ns["laplacian_kernel"], "`laplacian_kernel`"),
        "edges": _as_array(ns["edges"], "`edges`"),
    }


# --- edges.torch_conv ------------------------------------------------------------------------

def probe_torch_conv(ns: dict[str, Any], seed: int, image_shape: list[int],
                     kernel_shape: list[int], symmetric: bool = False, photo: bool = False,
                     **_: Any) -> dict[str, Any]:
    """conv2d_torch on one image and kernel; also whether it used F.conv2d."""
    conv2d_torch = function(ns, "conv2d_torch")
    image, kernel = _case_inputs(seed, image_shape, kernel_shape, symmetric, photo)
    used: list[bool] = []

    def call(img: np.ndarray, ker: np.ndarray) -> Any:
        result, error, spied = run_with_spy(lambda: conv2d_torch(img, ker), ns)
        if error is not None:
            raise raised("conv2d_torch(image, kernel)", error)
        used.append(spied)
        return result

    observation = _convolution_observation(call, "conv2d_torch", image, kernel, atol=1e-5)
    observation["uses_conv2d"] = all(used)
    return observation


# --- edges.param_count -----------------------------------------------------------------------

def build_layers(in_channels: int, out_channels: int, height: int, width: int,
                 **_: Any) -> dict[str, Any]:
    """The layer configuration the parameter-count cell reads."""
    return {"in_channels": in_channels, "out_channels": out_channels,
            "height": height, "width": width}


def _count(value: Any, name: str) -> int:
    """A whole number, whether written as an int, a NumPy integer or an integral float."""
    if hasattr(value, "item") and getattr(value, "size", 1) == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProbeError(f"`{name}` should be a whole number, found {type(value).__name__}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ProbeError(f"`{name}` should be a whole number of parameters, "
                             f"found {value:g}")
        value = int(value)
    return int(value)


def probe_params(ns: dict[str, Any], **_: Any) -> dict[str, Any]:
    """The two parameter counts, as integers."""
    return {"conv_params": _count(ns["conv_params"], "conv_params"),
            "dense_params": _count(ns["dense_params"], "dense_params")}
