"""The check declaration of exercise 05: items, points, inputs, hidden cases, tolerances.

Expected values are never written here: every comparison is against what the reference cell
(``solution.py``) produces from the same inputs, through the same sandbox. The convolution
items compare, in this order, the output's shape, whether the kernel is flipped, which border
rule the output follows, and the values, so the first failing check names what is off.
"""

from nngrade.grader.spec import Case, Exercise, Expect, Item
from nngrade.reference.edges.solution import SOLUTION


def _conv_case(describe: str, seed: int, image: list[int], kernel: list[int], *,
               hidden: bool = True, symmetric: bool = False, photo: bool = False,
               probe: str = "probe_convolve") -> Case:
    return Case("build_nothing", probe, describe, hidden=hidden,
                args={"seed": seed, "image_shape": image, "kernel_shape": kernel,
                      "symmetric": symmetric, "photo": photo})


_FLIP_HINT = ("a convolution flips the kernel (kernel[::-1, ::-1]) before sliding it over the "
              "image; sliding it unflipped computes a correlation. A symmetric kernel hides "
              "the difference, an asymmetric one does not.")
_BORDER_HINT = ("scipy.ndimage.convolve's default mode='reflect' repeats the edge pixel "
                "(c b a | a b c d), which is np.pad(..., mode='symmetric'); NumPy's and "
                "PyTorch's 'reflect' skip the edge pixel, which is SciPy's 'mirror'.")

RGB2GRAY = Item(
    id="edges.rgb2gray",
    points=1,
    writes=("rgb2gray",),
    cases=(
        Case("build_nothing", "probe_rgb2gray", "the notebook's photo", args={"photo": True}),
        Case("build_nothing", "probe_rgb2gray", "a 4x6 RGBA image (alpha ignored)",
             args={"seed": 1, "shape": [4, 6, 4]}),
        Case("build_nothing", "probe_rgb2gray", "a 7x5 RGB image", hidden=True,
             args={"seed": 2, "shape": [7, 5, 3]}),
        Case("build_nothing", "probe_rgb2gray", "a single-pixel RGBA image", hidden=True,
             args={"seed": 3, "shape": [1, 1, 4]}),
    ),
    expects=(
        Expect("shape", "the shape of rgb2gray(image)", rule="equal",
               hint="one grey level per pixel: shape (H, W), without a channel axis"),
        Expect("weights", "the weights rgb2gray gives to red, green and blue", rtol=0,
               atol=1e-9, hint="grey = 0.2989 R + 0.5870 G + 0.1140 B: a weighted sum, not "
                               "the plain average of the channels"),
        Expect("gray", "rgb2gray(image)", rtol=0, atol=1e-9,
               hint="use the first three channels only: the fourth channel of an RGBA image "
                    "is the opacity, not a colour"),
    ),
    hint="rgb[..., 0], rgb[..., 1] and rgb[..., 2] are the red, green and blue planes.",
)

CONVOLVE2D = Item(
    id="edges.convolve2d",
    points=3,
    writes=("convolve2d",),
    cases=(
        _conv_case("a 7x5 image with a symmetric 3x3 kernel", 11, [7, 5], [3, 3],
                   hidden=False, symmetric=True),
        _conv_case("a 6x8 image with an asymmetric 3x3 kernel", 12, [6, 8], [3, 3],
                   hidden=False),
        _conv_case("a 5x4 image with a 1x1 kernel", 13, [5, 4], [1, 1]),
        _conv_case("a 9x11 image with an asymmetric 5x5 kernel", 14, [9, 11], [5, 5]),
        _conv_case("an 8x6 image with an asymmetric 3x5 kernel", 15, [8, 6], [3, 5]),
        _conv_case("a 5x9 image with an asymmetric 5x3 kernel", 16, [5, 9], [5, 3]),
        _conv_case("a single-row image with an asymmetric 3x3 kernel", 17, [1, 7], [3, 3]),
        _conv_case("a 2x3 image, smaller than its asymmetric 5x5 kernel", 18, [2, 3], [5, 5]),
        _conv_case("a 1x2 image with an asymmetric 7x5 kernel, whose border reaches beyond "
                   "the whole image", 19, [1, 2], [7, 5]),
    ),
    expects=(
        Expect("shape", "the shape of convolve2d(image, kernel)", rule="equal",
               hint="the output has the input's size: pad the image by half the kernel's "
                    "height and width on each side first"),
        Expect("orientation", "whether convolve2d flips the kernel", rule="equal",
               hint=_FLIP_HINT),
        Expect("borders", "how convolve2d fills in pixels beyond the border", rule="equal",
               hint=_BORDER_HINT),
        Expect("output", "convolve2d(image, kernel)", rtol=0, atol=1e-9,
               hint="compare with scipy.ndimage.convolve(image, kernel) in the notebook"),
    ),
    hint="Pad with np.pad(..., mode='symmetric'), flip the kernel, then add up shifted copies "
         "of the padded image weighted by the kernel's entries.",
)

BLUR = Item(
    id="edges.blur",
    points=1,
    reads=("gray", "convolve2d"),
    writes=("box_kernel", "blurred"),
    cases=(
        Case("build_gray", "probe_blur", "the notebook's grey photo",
             args={"photo": True, "sizes": [1, 3, 5]}),
        Case("build_gray", "probe_blur", "a 17x23 grey image and other kernel sizes",
             hidden=True, args={"seed": 31, "shape": [17, 23], "sizes": [7, 9, 4]}),
    ),
    expects=(
        Expect("kernel_shapes", "the shapes of box_kernel(size)", rule="equal",
               hint="box_kernel(size) is a size x size array"),
        Expect("kernel_sums", "the sum of the weights of box_kernel(size), which should be 1 "
                              "(normalised)", rtol=0, atol=1e-12,
               hint="divide by size**2 so that the weights sum to 1: the blur then averages "
                    "and keeps the image's brightness"),
        Expect("kernels", "the entries of box_kernel(size)", rtol=0, atol=1e-12),
        Expect("blurred", "blurred, the grey image convolved with box_kernel(5)", rtol=0,
               atol=1e-9, hint="blurred = convolve2d(gray, box_kernel(5))"),
    ),
    hint="Every entry of a size x size box kernel is 1 / size**2.",
)

LAPLACIAN = Item(
    id="edges.laplacian",
    points=1,
    reads=("gray", "convolve2d"),
    writes=("laplacian_kernel", "edges"),
    cases=(
        Case("build_gray", "probe_laplacian", "the notebook's grey photo", args={"photo": True}),
        Case("build_gray", "probe_laplacian", "a 20x30 image of a bright rectangle",
             hidden=True, args={"square": True, "shape": [20, 30]}),
    ),
    expects=(
        Expect("kernel", "laplacian_kernel", rtol=0, atol=1e-12,
               hint="the 3x3 kernel [[0, 1, 0], [1, -4, 1], [0, 1, 0]]"),
        Expect("edges", "edges, the grey image convolved with laplacian_kernel", rtol=0,
               atol=1e-9, hint="edges = convolve2d(gray, laplacian_kernel), the signed "
                               "response (take absolute values only for the plot)"),
    ),
    hint="The Laplacian kernel compares each pixel with its four neighbours.",
)

TORCH_CONV = Item(
    id="edges.torch_conv",
    points=2,
    writes=("conv2d_torch",),
    cases=(
        _conv_case("a 6x8 image with an asymmetric 3x3 kernel", 51, [6, 8], [3, 3],
                   hidden=False, probe="probe_torch_conv"),
        _conv_case("the notebook's grey photo with an asymmetric 5x5 kernel", 52, [0, 0],
                   [5, 5], photo=True, probe="probe_torch_conv"),
        _conv_case("an 8x6 image with an asymmetric 3x5 kernel", 54, [8, 6], [3, 5],
                   probe="probe_torch_conv"),
        _conv_case("a 7x9 image with an asymmetric 5x3 kernel", 55, [7, 9], [5, 3],
                   probe="probe_torch_conv"),
        _conv_case("a 5x4 image with a 1x1 kernel", 56, [5, 4], [1, 1],
                   probe="probe_torch_conv"),
    ),
    expects=(
        Expect("shape", "the shape of conv2d_torch(image, kernel)", rule="equal",
               hint="return a 2-D array of the image's shape: drop the batch and channel "
                    "axes with [0, 0] and pad before the convolution"),
        Expect("orientation", "whether conv2d_torch flips the kernel (F.conv2d alone does "
                              "not)", rule="equal",
               hint="torch.nn.functional.conv2d computes a correlation: pass it the flipped "
                    "kernel, kernel[::-1, ::-1] (or torch.flip(w, dims=(-2, -1)))"),
        Expect("borders", "how conv2d_torch fills in pixels beyond the border", rule="equal",
               hint=_BORDER_HINT + " conv2d's own padding= adds zeros."),
        Expect("output", "conv2d_torch(image, kernel)", rtol=0, atol=1e-5),
        Expect("uses_conv2d", "whether conv2d_torch calls torch.nn.functional.conv2d",
               rule="equal", hint="this item is about doing the convolution with PyTorch"),
    ),
    hint="Pad with np.pad(..., mode='symmetric'), make (1, 1, H, W) float32 tensors, flip the "
         "kernel, call F.conv2d without padding, return the (H, W) result as a NumPy array.",
)

PARAM_COUNT = Item(
    id="edges.param_count",
    points=1,
    reads=("in_channels", "out_channels", "height", "width"),
    writes=("conv_params", "dense_params"),
    cases=(
        Case("build_layers", "probe_params", "the notebook's layers",
             args={"in_channels": 3, "out_channels": 16, "height": 100, "width": 150}),
        Case("build_layers", "probe_params", "a grey 28x28 image and 8 filters", hidden=True,
             args={"in_channels": 1, "out_channels": 8, "height": 28, "width": 28}),
    ),
    expects=(
        Expect("conv_params", "conv_params, the weights and biases of the 3x3 convolution "
                              "layer", rule="equal",
               hint="each of the out_channels filters has in_channels x 3 x 3 weights and "
                    "one bias"),
        Expect("dense_params", "dense_params, the weights and biases of the dense layer",
               rule="equal",
               hint="a dense layer has one weight per (input, output) pair and one bias per "
                    "output; inputs and outputs are every pixel of every channel"),
    ),
    hint="Count from the layer sizes with a formula; do not build the dense layer.",
)

EXERCISE = Exercise(
    stem="05_edge_detection",
    title="Convolution and edge detection (NumPy, SciPy, PyTorch)",
    items=(RGB2GRAY, CONVOLVE2D, BLUR, LAPLACIAN, TORCH_CONV, PARAM_COUNT),
    cases_module="nngrade.reference.edges.cases",
    solution=SOLUTION,
    preamble=(
        "import numpy as np\n"
        "import matplotlib.pyplot as plt\n"
        "import torch\n"
        "import torch.nn.functional as F\n"
        "from torch import nn\n"
    ),
    # every item run brings the notebook's imports: each one left out of the preload costs
    # every sandbox its import. The photo comes from matplotlib's sample data, not
    # scikit-learn's: sklearn.datasets brings scipy.stats, pandas and joblib, 1.1 s of the
    # fork server's start, of every notebook kernel's and of the student's first cell
    preload=("numpy", "scipy.ndimage", "matplotlib.pyplot", "torch"),
)
