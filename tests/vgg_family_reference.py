"""Independent float64 NumPy references of the VGG19 family (Li et al. 2018, Lahoud & Süsstrunk 2019).

Written from the papers' equations, not from the package: VGG19 as explicit 3x3 correlations
(nine shifted tensor contractions on the zero-padded input) and reshaped 2x2 max pooling; the
two-scale base layer as a sparse linear solve of its normal equations; block averages with
scipy.ndimage.uniform_filter; upsampling with np.repeat and edge padding; YCbCr by the BT.601
matrix and its numerical inverse.
"""

from __future__ import annotations

import numpy as np
import reference
import scipy.sparse as sp
from scipy.ndimage import uniform_filter
from scipy.sparse.linalg import spsolve

MEAN_RGB = reference.MEAN_RGB
TRUNK = (
    "conv1_1", "relu1_1", "conv1_2", "pool", "conv2_1", "relu2_1", "conv2_2", "pool", "conv3_1", "relu3_1",
    "conv3_2", "conv3_3", "conv3_4", "pool", "conv4_1", "relu4_1",
)  # fmt: skip
FACTOR = {"relu1_1": 1, "relu2_1": 2, "relu3_1": 4, "relu4_1": 8}
YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def correlate3x3(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``[C, H, W]`` -> ``[O, H, W]``: 'same' zero-padded correlation, + bias, ReLU, float64."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    _, height, width = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    out = np.zeros((kernel.shape[0], height, width))
    for dy in range(3):
        for dx in range(3):
            out += np.tensordot(kernel[:, :, dy, dx], padded[:, dy : dy + height, dx : dx + width], axes=(1, 0))
    return np.maximum(out + np.asarray(bias, np.float64)[:, None, None], 0.0)


def max_pool(x: np.ndarray) -> np.ndarray:
    c, h, w = x.shape
    h2, w2 = h // 2, w // 2
    return x[:, : 2 * h2, : 2 * w2].reshape(c, h2, 2, w2, 2).max(axis=(2, 4))


def vgg19(rgb_planes: np.ndarray, params: dict, outputs) -> dict[str, np.ndarray]:
    """``[3, H, W]`` RGB in [0, 1] -> ``{relu name: [C, h, w]}`` (Caffe preprocessing)."""
    x = 255.0 * np.asarray(rgb_planes, np.float64) - MEAN_RGB[:, None, None]
    found = {}
    for step in TRUNK:
        if step == "pool":
            x = max_pool(x)
        elif step.startswith("conv"):
            x = correlate3x3(x, *params[step])
        elif step in outputs:
            found[step] = x
            if len(found) == len(outputs):
                break
    return found


def base_layer(image: np.ndarray, lam: float = 5.0) -> np.ndarray:
    """argmin ||I - B||^2 + lam (||Dx B||^2 + ||Dy B||^2), forward differences inside the image."""
    h, w = image.shape

    def diff(n):
        return sp.diags([-np.ones(n - 1), np.ones(n - 1)], [0, 1], shape=(n - 1, n))

    dx = sp.kron(sp.identity(h), diff(w))
    dy = sp.kron(diff(h), sp.identity(w))
    system = sp.identity(h * w) + lam * (dx.T @ dx + dy.T @ dy)
    return spsolve(system.tocsc(), np.asarray(image, np.float64).ravel()).reshape(h, w)


def ratio(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = a + b
    wa = np.divide(a, total, out=np.full(a.shape, 0.5), where=total > 0)
    return wa, 1.0 - wa


def upsample(w: np.ndarray, factor: int, shape) -> np.ndarray:
    big = np.repeat(np.repeat(w, factor, axis=0), factor, axis=1)
    pad = ((0, max(0, shape[0] - big.shape[0])), (0, max(0, shape[1] - big.shape[1])))
    return np.pad(big, pad, mode="edge")[: shape[0], : shape[1]]


def three(gray: np.ndarray) -> np.ndarray:
    return np.stack([gray] * 3)


def li2018_intensity(m: np.ndarray, i: np.ndarray, params: dict) -> np.ndarray:
    """Li et al. 2018 on two gray images in [0, 1] -> fused, not clipped."""
    bases = [base_layer(m), base_layer(i)]
    details = [m - bases[0], i - bases[1]]
    layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    feats = [vgg19(three(d), params, layers) for d in details]
    fused_detail = None
    for name in layers:
        acts = [uniform_filter(f[name].sum(axis=0), size=3, mode="constant", cval=0.0) for f in feats]
        weights = [upsample(w, FACTOR[name], m.shape) for w in ratio(*acts)]
        layer = weights[0] * details[0] + weights[1] * details[1]
        fused_detail = layer if fused_detail is None else np.maximum(fused_detail, layer)
    return 0.5 * (bases[0] + bases[1]) + fused_detail


def hsi_restore(pet: np.ndarray, fused: np.ndarray) -> np.ndarray:
    hsi = reference.rgb_to_hsi(pet)
    hsi[..., 2] = np.clip(fused, 0, 1)
    return np.clip(reference.hsi_to_rgb(hsi), 0, 1)


def li2018(mri: np.ndarray, pet: np.ndarray, params: dict) -> np.ndarray:
    """uint8 MRI [H, W] + PET [H, W, 3] -> fused RGB [H, W, 3] float64 in [0, 1]."""
    m, p = reference.to_unit(mri), reference.to_unit(pet)
    return hsi_restore(p, li2018_intensity(m, p.mean(axis=-1), params))


def lahoud2019_luminance(m: np.ndarray, y: np.ndarray, params: dict, layers=("relu1_1",)) -> np.ndarray:
    feats = [vgg19(three(s), params, layers) for s in (m, y)]
    fused = None
    for name in layers:
        weights = [upsample(w, FACTOR[name], m.shape) for w in ratio(*(f[name].sum(axis=0) for f in feats))]
        layer = weights[0] * m + weights[1] * y
        fused = layer if fused is None else np.maximum(fused, layer)
    return fused


def lahoud2019(mri: np.ndarray, pet: np.ndarray, params: dict, layers=("relu1_1",)) -> np.ndarray:
    """uint8 MRI [H, W] + PET [H, W, 3] -> fused RGB [H, W, 3] float64 in [0, 1]."""
    m, p = reference.to_unit(mri), reference.to_unit(pet)
    ycc = p @ YCBCR.T + np.array([0.0, 0.5, 0.5])
    ycc[..., 0] = lahoud2019_luminance(m, ycc[..., 0], params, layers)
    return np.clip((ycc - np.array([0.0, 0.5, 0.5])) @ np.linalg.inv(YCBCR).T, 0, 1)
