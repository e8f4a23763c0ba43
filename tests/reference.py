"""An independent float64 NumPy reference of the whole method (SPEC sections 1-3).

Written from the SPEC, not from the package: textbook arccos HSI with explicit sectors, the
convolution by scipy.ndimage.correlate on the mean-subtracted, zero-padded input, MRI fed as three
equal channels. Used by the tests as the oracle for every kernel.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate

MEAN_RGB = np.array([123.68, 116.779, 103.939])


def to_unit(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float64) / 65535.0
    return image.astype(np.float64)


def rgb_to_hsi(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., k].astype(np.float64) for k in range(3))
    total = r + g + b
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(total > 0, 1.0 - 3.0 * np.minimum(np.minimum(r, g), b) / total, 0.0)
        num = 0.5 * ((r - g) + (r - b))
        den = np.sqrt((r - g) ** 2 + (r - b) * (g - b))
        theta = np.where(den > 0, np.arccos(np.clip(num / den, -1.0, 1.0)), 0.0)
    h = np.where(b <= g, theta / (2 * np.pi), 1.0 - theta / (2 * np.pi))
    h = np.where(den > 0, h, 0.0)
    h = np.where(h >= 1.0, 0.0, h)
    return np.stack([h, s, total / 3.0], axis=-1)


def hsi_to_rgb(hsi: np.ndarray) -> np.ndarray:
    h = 2 * np.pi * (hsi[..., 0] % 1.0)
    s, i = hsi[..., 1], hsi[..., 2]
    out = np.zeros(hsi.shape)
    for lo, order in ((0.0, (1, 2, 0)), (2 * np.pi / 3, (0, 1, 2)), (4 * np.pi / 3, (2, 0, 1))):
        sel = (h >= lo) & (h < lo + 2 * np.pi / 3)
        hp = h - lo
        x = i * (1 - s)
        y = i * (1 + s * np.cos(hp) / np.cos(np.pi / 3 - hp))
        z = 3 * i - (x + y)
        # order gives, for (R, G, B), which of (x, y, z) it takes
        values = (x, y, z)
        for band, which in enumerate(order):
            out[..., band] = np.where(sel, values[which], out[..., band])
    return out


def conv1_1(rgb: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """[H, W, 3] float in [0, 1] -> [H, W, C] float64, conv1_1 + ReLU (Caffe preprocessing)."""
    centred = 255.0 * rgb.astype(np.float64) - MEAN_RGB
    kernel = kernel.astype(np.float64)
    out = np.empty(rgb.shape[:2] + (kernel.shape[0],))
    for o in range(kernel.shape[0]):
        acc = np.full(rgb.shape[:2], float(bias[o]))
        for c in range(3):
            acc += correlate(centred[..., c], kernel[o, c], mode="constant", cval=0.0)
        out[..., o] = acc
    return np.maximum(out, 0.0)


def minmax(w: np.ndarray, *, per_channel: bool = False) -> np.ndarray:
    axes = (0, 1) if per_channel else (0, 1, 2)
    lo = w.min(axis=axes, keepdims=True)
    span = w.max(axis=axes, keepdims=True) - lo
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(span > 0, (w - lo) / np.where(span > 0, span, 1.0), 0.0)


def fuse_pair(
    mri, pet, kernel, bias, *, a=0.3, b=0.1, channels=3, per_channel=False, reduction="mean", colour_space="hsi"
) -> np.ndarray:
    """One pair: mri [H, W], pet [H, W, 3] or [H, W]; returns float64 RGB [H, W, 3] in [0, 1]."""
    m = to_unit(mri)
    p = to_unit(pet)
    gray_pet = p.ndim == 2
    p_rgb = np.stack([p] * 3, -1) if gray_pet else p
    k, bb = kernel[:channels], bias[:channels]
    w_m = minmax(conv1_1(np.stack([m] * 3, -1), k, bb), per_channel=per_channel)
    w_p = minmax(conv1_1(p_rgb, k, bb), per_channel=per_channel)
    w_m = w_m.mean(-1) if reduction == "mean" else w_m.sum(-1)
    w_p = w_p.mean(-1) if reduction == "mean" else w_p.sum(-1)
    hsi = rgb_to_hsi(p_rgb)
    intensity = hsi[..., 2]
    f = np.clip(a * m + b * intensity + w_m * m + w_p * intensity, 0.0, 1.0)
    if gray_pet:
        return np.stack([f] * 3, -1)
    if colour_space == "hsi":
        hsi[..., 2] = f
        return np.clip(hsi_to_rgb(hsi), 0.0, 1.0)
    return np.clip(p_rgb + (f - intensity)[..., None], 0.0, 1.0)


def fuse(mri, pet, kernel, bias, **options) -> np.ndarray:
    """Batched over a leading axis: mri [N, H, W], pet [N, H, W(, 3)] -> [N, H, W, 3] float64."""
    return np.stack([fuse_pair(m, p, kernel, bias, **options) for m, p in zip(mri, pet)])
