"""The reference solution of exercise 05: the source of every graded cell, by item id.

This is what ``nngrade solution`` fills into the student notebook and what the grader runs,
through the same sandbox as a student's cell, to compute every expected value.
"""

SOLUTION: dict[str, str] = {
    "edges.rgb2gray": (
        "def rgb2gray(rgb):\n"
        '    """Grey levels (H, W) of an RGB or RGBA image (H, W, 3 or 4); alpha is ignored."""\n'
        "    rgb = np.asarray(rgb, dtype=float)\n"
        "    return 0.2989 * rgb[..., 0] + 0.5870 * rgb[..., 1] + 0.1140 * rgb[..., 2]\n"
    ),
    "edges.convolve2d": (
        "def convolve2d(image, kernel):\n"
        '    """The 2-D convolution of image with an odd-sized kernel, same size as image,\n'
        "    borders as scipy.ndimage.convolve's default mode=\"reflect\".\"\"\"\n"
        "    image = np.asarray(image, dtype=float)\n"
        "    kernel = np.asarray(kernel, dtype=float)\n"
        "    kh, kw = kernel.shape\n"
        "    rh, rw = kh // 2, kw // 2\n"
        "    # SciPy's 'reflect' repeats the edge pixel: that is NumPy's 'symmetric'\n"
        '    padded = np.pad(image, ((rh, rh), (rw, rw)), mode="symmetric")\n'
        "    flipped = kernel[::-1, ::-1]\n"
        "    h, w = image.shape\n"
        "    out = np.zeros((h, w))\n"
        "    # one pass per kernel entry: add the shifted image times that weight\n"
        "    for i in range(kh):\n"
        "        for j in range(kw):\n"
        "            out += flipped[i, j] * padded[i:i + h, j:j + w]\n"
        "    return out\n"
    ),
    "edges.blur": (
        "def box_kernel(size):\n"
        '    """A size x size kernel of equal weights that sum to 1."""\n'
        "    return np.full((size, size), 1.0 / size**2)\n"
        "\n"
        "blurred = convolve2d(gray, box_kernel(5))\n"
    ),
    "edges.laplacian": (
        "laplacian_kernel = np.array([[0, 1, 0],\n"
        "                             [1, -4, 1],\n"
        "                             [0, 1, 0]], dtype=float)\n"
        "edges = convolve2d(gray, laplacian_kernel)\n"
    ),
    "edges.torch_conv": (
        "def conv2d_torch(image, kernel):\n"
        '    """convolve2d with torch.nn.functional.conv2d: same output, in float32."""\n'
        "    kernel = np.asarray(kernel, dtype=np.float32)\n"
        "    kh, kw = kernel.shape\n"
        "    image = np.asarray(image, dtype=np.float32)\n"
        '    padded = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)), mode="symmetric")\n'
        "    x = torch.from_numpy(padded)[None, None]  # (batch, channels, H, W)\n"
        "    # conv2d computes a correlation: flip the kernel to get a convolution\n"
        "    w = torch.from_numpy(kernel[::-1, ::-1].copy())[None, None]\n"
        "    return F.conv2d(x, w)[0, 0].numpy()\n"
    ),
    "edges.param_count": (
        "conv_params = out_channels * (in_channels * 3 * 3 + 1)\n"
        "n_inputs = in_channels * height * width\n"
        "n_outputs = out_channels * height * width\n"
        "dense_params = n_outputs * (n_inputs + 1)\n"
    ),
}
