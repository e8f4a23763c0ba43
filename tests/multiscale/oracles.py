"""Independent float64 oracles: a SciPy Burt & Adelson pyramid and NumPy/PyWavelets fusion rules."""

from __future__ import annotations

import numpy as np
import pywt
from scipy import ndimage

_K = np.array([1, 4, 6, 4, 1], np.float64) / 16


def np_blur(x, k):
    x = ndimage.convolve1d(x, k, axis=0, mode="mirror")
    return ndimage.convolve1d(x, k, axis=1, mode="mirror")


def np_pyramid(x, levels):
    x = np.asarray(x, np.float64)
    out = []
    for _ in range(levels):
        low = np_blur(x, _K)[::2, ::2]
        up = np.zeros_like(x)
        up[::2, ::2] = low
        out.append(x - np_blur(up, 2 * _K))
        x = low
    return out + [x]


def np_reconstruct(pyr):
    x = pyr[-1]
    for band in reversed(pyr[:-1]):
        up = np.zeros_like(band)
        up[::2, ::2] = x
        x = band + np_blur(up, 2 * _K)
    return x


def np_max_abs(a, b):
    return np.where(np.abs(a) >= np.abs(b), a, b)


def np_fuse_laplacian(a, b, levels):
    pa, pb = np_pyramid(a, levels), np_pyramid(b, levels)
    fused = [np_max_abs(x, y) for x, y in zip(pa[:-1], pb[:-1])] + [(pa[-1] + pb[-1]) / 2]
    return np_reconstruct(fused)


def np_fuse_dwt(a, b, levels, wavelet):
    ca = pywt.wavedec2(np.float64(a), wavelet, mode="periodization", level=levels)
    cb = pywt.wavedec2(np.float64(b), wavelet, mode="periodization", level=levels)
    fused = [(ca[0] + cb[0]) / 2] + [
        tuple(np_max_abs(x, y) for x, y in zip(da, db)) for da, db in zip(ca[1:], cb[1:])]
    return pywt.waverec2(fused, wavelet, mode="periodization")
