"""Peer implementations of jaxfuse's default method, for benchmarking and cross-checking.

Every peer implements the SAME method, the defaults of ``SPEC.md`` section 1: VGG19 ``conv1_1`` +
ReLU with the shipped ImageNet weights, Caffe preprocessing ``255 * img - [123.68, 116.779,
103.939]``, 'same' zero padding, first 3 output channels, min-max scaling over each ``[H, W, 3]``
feature tensor, channel mean, ``F = clip(0.3 M + 0.1 I + w_M M + w_P I)``, back to RGB through the
Gonzalez-Woods HSI with the PET's hue and saturation, clip, ``uint8 = round(255 x)``.

Every peer takes uint8 MRI ``[N, H, W]`` and uint8 PET ``[N, H, W, 3]`` and returns uint8
``[N, H, W, 3]``. They differ in *how* they compute it:

* ``jaxfuse``: ``jaxfuse.fuse(mri, pet, output_dtype=jnp.uint8)`` (3 filters only, gray-MRI
  shortcut, trig-free intensity replacement, one jit of a vmap).
* ``naive_jax``: what a JAX user would write first: ``jax.lax.conv_general_dilated`` computing all
  64 filters (then keeping 3), MRI fed as three equal channels, textbook trigonometric HSI
  (rgb -> hsi with arccos, replace I, hsi -> rgb by sectors); ``jax.jit`` of a ``jax.vmap``.
  The convolution uses JAX's default precision (on GPUs that may be TF32: see README).
* ``torch``: what a PyTorch user would write: ``torch.nn.Conv2d(3, 64, 3, padding=1)`` loaded with
  the 64 filters, all computed, first 3 kept; HSI with the arccos formulas; float32, batched, under
  ``torch.no_grad()``, on the CPU, with torch's default thread count.
* ``numba``: the strong CPU peer, written the way a performance engineer would for a CPU: the
  same shortcuts as jaxfuse (3 filters, gray-MRI shortcut, trig-free intensity replacement) in
  fused, vectorised numba loops, two passes per pair, ``prange`` over pairs (or row blocks of a
  small batch); see ``numba_peer.py``. Bench-only (``pip install ".[bench]"``).
* ``numpy``: an independent float64 reference: ``scipy.ndimage.correlate`` per (output, input)
  channel pair, trig HSI forward and inverse exactly as written in SPEC section 3. Slow.

Each peer is a :class:`Peer`: ``prepare(mri, pet)`` moves the uint8 NumPy inputs to where the
peer computes (device arrays for JAX, tensors for torch; done once, outside any timed region),
``run(*prepared)`` computes and *waits for the result* (``block_until_ready`` for JAX), and
``to_numpy(result)`` brings the uint8 output back. ``peer(mri, pet)`` does all three.

``python benchmarks/peers.py`` runs :func:`check_agreement` and prints its table.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from collections.abc import Callable
from typing import Any

import numpy as np

VGG_MEAN_RGB = np.array([123.68, 116.779, 103.939])
A_DEFAULT = 0.3
B_DEFAULT = 0.1

#: Where the shared data lives, relative to this repository (see SPEC section 6).
DATA_DIR = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "harvard" / "PET-MRI"

PEER_NAMES = ("jaxfuse", "numba", "naive_jax", "torch", "numpy")


@dataclasses.dataclass
class Peer:
    """One implementation: see the module docstring."""

    name: str
    label: str  # what and where it runs, for tables
    prepare: Callable[[np.ndarray, np.ndarray], tuple]
    run: Callable[..., Any]
    to_numpy: Callable[[Any], np.ndarray]
    backend: str  # "jax", "torch", "numba" or "numpy"

    def __call__(self, mri: np.ndarray, pet: np.ndarray) -> np.ndarray:
        return self.to_numpy(self.run(*self.prepare(mri, pet)))


class PeerUnavailable(RuntimeError):
    """The library a peer needs is not installed."""


def _vgg_params64() -> tuple[np.ndarray, np.ndarray]:
    """All 64 shipped conv1_1 filters: kernel [64, 3, 3, 3] OIHW (RGB inputs), bias [64]."""
    import jaxfuse

    params = jaxfuse.load_vgg19_conv1_1(channels=64)
    return np.array(params.kernel), np.array(params.bias)


# ---------------------------------------------------------------------------------------------
# NumPy / SciPy float64 reference
# ---------------------------------------------------------------------------------------------


def _np_rgb_to_hsi(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gonzalez-Woods RGB -> (H in turns, S, I), arccos form of SPEC section 3, float64."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    total = r + g + b
    intensity = total / 3.0
    with np.errstate(divide="ignore", invalid="ignore"):
        saturation = np.where(total > 0, 1.0 - 3.0 * np.minimum(np.minimum(r, g), b) / total, 0.0)
        num = 0.5 * ((r - g) + (r - b))
        root = np.sqrt((r - g) ** 2 + (r - b) * (g - b))
        theta = np.where(root > 0, np.arccos(np.clip(num / root, -1.0, 1.0)), 0.0)
    hue = np.where(b <= g, theta / (2 * math.pi), 1.0 - theta / (2 * math.pi))
    hue = np.where(hue >= 1.0, 0.0, hue)
    return hue, saturation, intensity


def _np_hsi_to_rgb(hue: np.ndarray, saturation: np.ndarray, intensity: np.ndarray) -> np.ndarray:
    """Gonzalez-Woods (H in turns, S, I) -> RGB by 120-degree sectors, float64, no clipping."""
    h = 2 * math.pi * hue
    sector = np.clip(np.floor(h / (2 * math.pi / 3)), 0, 2)
    hp = h - sector * (2 * math.pi / 3)
    x = intensity * (1.0 - saturation)
    y = intensity * (1.0 + saturation * np.cos(hp) / np.cos(math.pi / 3 - hp))
    z = 3.0 * intensity - (x + y)
    r = np.select([sector == 0, sector == 1], [y, x], z)
    g = np.select([sector == 0, sector == 1], [z, y], x)
    b = np.select([sector == 0, sector == 1], [x, z], y)
    return np.stack([r, g, b], axis=-1)


def _np_features(rgb: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """conv1_1 + ReLU of one image [H, W, 3] in [0, 1] -> [H, W, C], 'same' zero padding."""
    from scipy import ndimage

    x = 255.0 * rgb - VGG_MEAN_RGB
    out = np.empty(rgb.shape[:2] + (kernel.shape[0],))
    for o in range(kernel.shape[0]):
        acc = np.full(rgb.shape[:2], bias[o])
        for c in range(3):
            acc += ndimage.correlate(x[..., c], kernel[o, c], mode="constant", cval=0.0)
        out[..., o] = acc
    return np.maximum(out, 0.0)


def _np_minmax(t: np.ndarray) -> np.ndarray:
    low, span = t.min(), t.max() - t.min()
    return (t - low) / span if span > 0 else np.zeros_like(t)


def numpy_reference(mri: np.ndarray, pet: np.ndarray, params: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """float64 NumPy/SciPy version of the method; uint8 [N, H, W] + [N, H, W, 3] -> uint8 [N, H, W, 3].

    ``params``: (kernel [>=3, 3, 3, 3] OIHW RGB, bias) ; default the shipped 64 filters.
    """
    kernel, bias = _vgg_params64() if params is None else params
    kernel, bias = np.asarray(kernel)[:3].astype(np.float64), np.asarray(bias)[:3].astype(np.float64)
    out = np.empty(pet.shape, np.uint8)
    for n in range(mri.shape[0]):
        m = mri[n].astype(np.float64) / 255.0
        p = pet[n].astype(np.float64) / 255.0
        w_m = _np_minmax(_np_features(np.stack([m] * 3, axis=-1), kernel, bias)).mean(axis=-1)
        w_p = _np_minmax(_np_features(p, kernel, bias)).mean(axis=-1)
        hue, sat, inten = _np_rgb_to_hsi(p)
        fused = np.clip(A_DEFAULT * m + B_DEFAULT * inten + w_m * m + w_p * inten, 0.0, 1.0)
        rgb = np.clip(_np_hsi_to_rgb(hue, sat, fused), 0.0, 1.0)
        out[n] = np.round(255.0 * rgb).astype(np.uint8)
    return out


def make_numpy_peer() -> Peer:
    try:
        import scipy.ndimage  # noqa: F401
    except ImportError as error:
        raise PeerUnavailable(f"numpy peer needs scipy: {error}") from error
    params = _vgg_params64()  # loaded once, outside any timed call
    return Peer(
        name="numpy",
        label="NumPy/SciPy float64 (CPU, 1 pair at a time)",
        prepare=lambda mri, pet: (np.asarray(mri), np.asarray(pet)),
        run=lambda mri, pet: numpy_reference(mri, pet, params),
        to_numpy=np.asarray,
        backend="numpy",
    )


# ---------------------------------------------------------------------------------------------
# jaxfuse
# ---------------------------------------------------------------------------------------------


def _jax_device_label() -> str:
    import jax

    device = jax.devices()[0]
    return f"{device.platform.upper()} ({getattr(device, 'device_kind', device.platform)})"


def make_jaxfuse_peer() -> Peer:
    try:
        import jax
        import jax.numpy as jnp

        import jaxfuse
    except ImportError as error:
        raise PeerUnavailable(f"jaxfuse peer needs jax and jaxfuse: {error}") from error

    def run(mri, pet):
        return jax.block_until_ready(jaxfuse.fuse(mri, pet, output_dtype=jnp.uint8))

    return Peer(
        name="jaxfuse",
        label=f"jaxfuse.fuse, uint8 out ({_jax_device_label()})",
        prepare=lambda mri, pet: (jax.device_put(mri), jax.device_put(pet)),
        run=run,
        to_numpy=np.asarray,
        backend="jax",
    )


# ---------------------------------------------------------------------------------------------
# Naive JAX: 64-channel lax conv + textbook trig HSI
# ---------------------------------------------------------------------------------------------


def _naive_jax_fn():
    import jax
    import jax.numpy as jnp

    kernel64, bias64 = _vgg_params64()
    kernel = jnp.asarray(kernel64)  # OIHW
    bias = jnp.asarray(bias64)
    mean = jnp.asarray(VGG_MEAN_RGB, jnp.float32)
    two_pi = 2.0 * math.pi
    eps = 1e-8

    def features(rgb):  # [H, W, 3] in [0, 1] -> [H, W, 3]
        x = 255.0 * rgb - mean
        x = jnp.transpose(x, (2, 0, 1))[None]  # NCHW
        y = jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=("NCHW", "OIHW", "NCHW"))
        y = jax.nn.relu(y[0] + bias[:, None, None])  # all 64 channels
        return jnp.transpose(y[:3], (1, 2, 0))  # keep the first three

    def minmax(t):
        low, high = t.min(), t.max()
        return jnp.where(high > low, (t - low) / jnp.where(high > low, high - low, 1.0), 0.0)

    def rgb_to_hsi(rgb):
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        total = r + g + b
        i = total / 3.0
        s = jnp.where(total > 0, 1.0 - 3.0 * jnp.minimum(jnp.minimum(r, g), b) / (total + eps), 0.0)
        num = 0.5 * ((r - g) + (r - b))
        den = jnp.sqrt((r - g) ** 2 + (r - b) * (g - b))
        theta = jnp.where(den > 0, jnp.arccos(jnp.clip(num / (den + eps), -1.0, 1.0)), 0.0)
        h = jnp.where(b <= g, theta, two_pi - theta) / two_pi
        return h, s, i

    def hsi_to_rgb(h, s, i):
        h = two_pi * h
        rg = h < two_pi / 3
        gb = (h >= two_pi / 3) & (h < 2 * two_pi / 3)
        hp = jnp.where(rg, h, jnp.where(gb, h - two_pi / 3, h - 2 * two_pi / 3))
        x = i * (1.0 - s)
        y = i * (1.0 + s * jnp.cos(hp) / jnp.cos(math.pi / 3 - hp))
        z = 3.0 * i - (x + y)
        r = jnp.where(rg, y, jnp.where(gb, x, z))
        g = jnp.where(rg, z, jnp.where(gb, y, x))
        b = jnp.where(rg, x, jnp.where(gb, z, y))
        return jnp.stack([r, g, b], axis=-1)

    def one_pair(mri_u8, pet_u8):
        m = mri_u8.astype(jnp.float32) / 255.0
        p = pet_u8.astype(jnp.float32) / 255.0
        w_m = minmax(features(jnp.stack([m, m, m], axis=-1))).mean(axis=-1)
        w_p = minmax(features(p)).mean(axis=-1)
        h, s, i = rgb_to_hsi(p)
        f = jnp.clip(A_DEFAULT * m + B_DEFAULT * i + w_m * m + w_p * i, 0.0, 1.0)
        rgb = jnp.clip(hsi_to_rgb(h, s, f), 0.0, 1.0)
        return jnp.round(255.0 * rgb).astype(jnp.uint8)

    return jax.jit(jax.vmap(one_pair))


def make_naive_jax_peer() -> Peer:
    try:
        import jax
    except ImportError as error:
        raise PeerUnavailable(f"naive_jax peer needs jax: {error}") from error
    fn = _naive_jax_fn()
    return Peer(
        name="naive_jax",
        label=f"naive JAX: lax conv 64 ch + trig HSI ({_jax_device_label()})",
        prepare=lambda mri, pet: (jax.device_put(mri), jax.device_put(pet)),
        run=lambda mri, pet: jax.block_until_ready(fn(mri, pet)),
        to_numpy=np.asarray,
        backend="jax",
    )


# ---------------------------------------------------------------------------------------------
# PyTorch: nn.Conv2d(3, 64) + textbook HSI, CPU
# ---------------------------------------------------------------------------------------------


def _torch_module():
    import torch

    kernel64, bias64 = _vgg_params64()
    mean = torch.tensor(VGG_MEAN_RGB, dtype=torch.float32).view(1, 3, 1, 1)
    eps = 1e-8

    class VGGFusion(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1_1 = torch.nn.Conv2d(3, 64, kernel_size=3, padding=1)
            with torch.no_grad():
                self.conv1_1.weight.copy_(torch.from_numpy(kernel64))
                self.conv1_1.bias.copy_(torch.from_numpy(bias64))

        def weights(self, x):  # [N, 3, H, W] in [0, 1] -> [N, H, W]
            f = torch.relu(self.conv1_1(255.0 * x - mean))[:, :3]
            low = f.amin(dim=(1, 2, 3), keepdim=True)
            high = f.amax(dim=(1, 2, 3), keepdim=True)
            span = high - low
            f = torch.where(span > 0, (f - low) / span.clamp_min(eps), torch.zeros_like(f))
            return f.mean(dim=1)

        @staticmethod
        def rgb_to_hsi(rgb):  # [N, 3, H, W]
            r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
            total = r + g + b
            i = total / 3.0
            s = torch.where(total > 0, 1.0 - 3.0 * torch.minimum(torch.minimum(r, g), b) / (total + eps),
                            torch.zeros_like(total))
            num = 0.5 * ((r - g) + (r - b))
            den = torch.sqrt((r - g) ** 2 + (r - b) * (g - b))
            theta = torch.acos(torch.clamp(num / (den + eps), -1.0, 1.0))
            theta = torch.where(den > 0, theta, torch.zeros_like(theta))
            h = torch.where(b <= g, theta, 2 * math.pi - theta) / (2 * math.pi)
            return h, s, i

        @staticmethod
        def hsi_to_rgb(h, s, i):
            h = 2 * math.pi * h
            rg = h < 2 * math.pi / 3
            gb = (h >= 2 * math.pi / 3) & (h < 4 * math.pi / 3)
            hp = torch.where(rg, h, torch.where(gb, h - 2 * math.pi / 3, h - 4 * math.pi / 3))
            x = i * (1 - s)
            y = i * (1 + s * torch.cos(hp) / torch.cos(math.pi / 3 - hp))
            z = 3 * i - (x + y)
            r = torch.where(rg, y, torch.where(gb, x, z))
            g = torch.where(rg, z, torch.where(gb, y, x))
            b = torch.where(rg, x, torch.where(gb, z, y))
            return torch.stack([r, g, b], dim=-1)

        def forward(self, mri_u8, pet_u8):  # [N, H, W] uint8, [N, H, W, 3] uint8 -> [N, H, W, 3] uint8
            m = mri_u8.float() / 255.0
            p = pet_u8.permute(0, 3, 1, 2).float() / 255.0
            w_m = self.weights(m.unsqueeze(1).expand(-1, 3, -1, -1))
            w_p = self.weights(p)
            h, s, i = self.rgb_to_hsi(p)
            f = torch.clamp(A_DEFAULT * m + B_DEFAULT * i + w_m * m + w_p * i, 0.0, 1.0)
            rgb = torch.clamp(self.hsi_to_rgb(h, s, f), 0.0, 1.0)
            return torch.round(255.0 * rgb).to(torch.uint8)

    return VGGFusion().eval()


def make_torch_peer() -> Peer:
    try:
        import torch
    except ImportError as error:
        raise PeerUnavailable(f"torch peer needs torch (pip install torch): {error}") from error
    module = _torch_module()

    def run(mri, pet):
        with torch.no_grad():
            return module(mri, pet)

    return Peer(
        name="torch",
        label=f"PyTorch {torch.__version__} nn.Conv2d 64 ch + trig HSI (CPU, {torch.get_num_threads()} threads)",
        prepare=lambda mri, pet: (torch.from_numpy(np.ascontiguousarray(mri)),
                                  torch.from_numpy(np.ascontiguousarray(pet))),
        run=run,
        to_numpy=lambda t: t.numpy(),
        backend="torch",
    )


# ---------------------------------------------------------------------------------------------
# numba: fused, vectorised CPU loops (numba_peer.py)
# ---------------------------------------------------------------------------------------------


def make_numba_peer() -> Peer:
    try:
        import numba
    except ImportError as error:
        raise PeerUnavailable(f"numba peer needs numba (pip install numba): {error}") from error
    try:
        import numba_peer  # benchmarks/ on sys.path (compare.py, or this file run as a script)
    except ImportError:
        from benchmarks import numba_peer

    kernel64, bias64 = _vgg_params64()
    fn = numba_peer.build_numba_fuse(kernel64, bias64)  # compiled lazily: the first call includes it
    return Peer(
        name="numba",
        label=f"numba {numba.__version__} fused loops, prange over pairs (CPU, {numba.get_num_threads()} threads)",
        prepare=lambda mri, pet: (np.ascontiguousarray(mri), np.ascontiguousarray(pet)),
        run=fn,
        to_numpy=np.asarray,
        backend="numba",
    )


_FACTORIES = {
    "jaxfuse": make_jaxfuse_peer,
    "numba": make_numba_peer,
    "naive_jax": make_naive_jax_peer,
    "torch": make_torch_peer,
    "numpy": make_numpy_peer,
}


def make_peer(name: str) -> Peer:
    """Builds the named peer; raises :class:`PeerUnavailable` when its library is missing."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown peer {name!r}; known: {', '.join(PEER_NAMES)}")
    return _FACTORIES[name]()


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def real_pairs_available(data_dir: pathlib.Path = DATA_DIR) -> bool:
    return (data_dir / "MRI").is_dir() and (data_dir / "PET").is_dir() and any((data_dir / "MRI").glob("*.png"))


def load_real_pairs(data_dir: pathlib.Path = DATA_DIR) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All 256x256 PET-MRI pairs: uint8 MRI [K, 256, 256], PET [K, 256, 256, 3], names (sorted)."""
    from PIL import Image

    names = sorted(p.name for p in (data_dir / "MRI").glob("*.png") if (data_dir / "PET" / p.name).exists())
    mri = np.stack([np.asarray(Image.open(data_dir / "MRI" / n).convert("L")) for n in names])
    pet = np.stack([np.asarray(Image.open(data_dir / "PET" / n).convert("RGB")) for n in names])
    return mri, pet, names


def make_inputs(batch: int, size: int, *, seed: int = 0, source: str = "auto") -> tuple[np.ndarray, np.ndarray, str]:
    """uint8 MRI [batch, size, size] and PET [batch, size, size, 3], plus a description.

    ``source``: ``"real"`` tiles the Harvard PET-MRI pairs (256x256 each; a ``size`` that is not a
    multiple of 256 is cropped from a larger tiling; pairs drawn by a seeded permutation, each tile a
    different pair), ``"random"`` draws uniform uint8 noise from a seeded generator, ``"auto"`` is
    ``"real"`` when the data is present and ``"random"`` otherwise.
    """
    if source == "auto":
        source = "real" if real_pairs_available() else "random"
    rng = np.random.default_rng(seed)
    if source == "random":
        mri = rng.integers(0, 256, (batch, size, size), dtype=np.uint8)
        pet = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
        return mri, pet, f"random uniform uint8 (numpy default_rng seed {seed})"
    all_mri, all_pet, _ = load_real_pairs()
    tiles = -(-size // 256)
    order = rng.permutation(len(all_mri))
    pick = np.resize(order, batch * tiles * tiles).reshape(batch, tiles, tiles)
    mri = all_mri[pick].transpose(0, 1, 3, 2, 4).reshape(batch, tiles * 256, tiles * 256)[:, :size, :size]
    pet = all_pet[pick].transpose(0, 1, 3, 2, 4, 5).reshape(batch, tiles * 256, tiles * 256, 3)[:, :size, :size]
    how = "real pairs" if tiles == 1 else f"{tiles}x{tiles} tiles of real pairs"
    return (np.ascontiguousarray(mri), np.ascontiguousarray(pet),
            f"Harvard PET-MRI ({len(all_mri)} pairs), {how}, seeded permutation {seed}")


# ---------------------------------------------------------------------------------------------
# Agreement check
# ---------------------------------------------------------------------------------------------


def compare_outputs(ours: np.ndarray, theirs: np.ndarray) -> dict:
    """Max abs difference in uint8 levels and the fraction of channel values that differ."""
    diff = np.abs(ours.astype(np.int16) - theirs.astype(np.int16))
    return {
        "max_abs_levels": int(diff.max()),
        "frac_values_differ": float((diff > 0).mean()),
        "frac_pixels_differ": float((diff.max(axis=-1) > 0).mean()),
        "frac_values_off_gt1": float((diff > 1).mean()),
    }


def check_agreement(
    peers: tuple[str, ...] = PEER_NAMES, *, n_random: int = 3, n_real: int = 4, size: int = 256, seed: int = 0
) -> list[dict]:
    """Runs each peer on random and (if present) real pairs and compares with jaxfuse.

    Returns one row per (peer, input set) with :func:`compare_outputs`'s figures, or a ``skipped``
    note when a peer's library is missing.
    """
    import jaxfuse  # noqa: F401  (the reference point must exist)

    sets = [("random", *make_inputs(n_random, size, seed=seed, source="random")[:2])]
    if real_pairs_available():
        mri, pet, _ = make_inputs(n_real, size, seed=seed, source="real")
        sets.append(("real", mri, pet))
    reference = make_jaxfuse_peer()
    expected = {name: reference(mri, pet) for name, mri, pet in sets}
    rows = []
    for peer_name in peers:
        if peer_name == "jaxfuse":
            continue
        try:
            peer = make_peer(peer_name)
        except PeerUnavailable as error:
            rows.append({"peer": peer_name, "skipped": str(error)})
            continue
        for set_name, mri, pet in sets:
            got = peer(mri, pet)
            rows.append({"peer": peer_name, "inputs": f"{set_name} x{len(mri)} {size}x{size}",
                         **compare_outputs(expected[set_name], got)})
    return rows


def format_agreement(rows: list[dict]) -> str:
    lines = ["| peer vs jaxfuse | inputs | max abs (levels) | values differing | values off by >1 |",
             "|---|---|---:|---:|---:|"]
    for row in rows:
        if "skipped" in row:
            lines.append(f"| {row['peer']} | skipped: {row['skipped']} | | | |")
        else:
            lines.append(f"| {row['peer']} | {row['inputs']} | {row['max_abs_levels']} | "
                         f"{100 * row['frac_values_differ']:.4f}% | {100 * row['frac_values_off_gt1']:.4f}% |")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Check that every peer agrees with jaxfuse (uint8 levels).")
    parser.add_argument("--peers", default=",".join(PEER_NAMES))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--n-random", type=int, default=3)
    parser.add_argument("--n-real", type=int, default=4)
    args = parser.parse_args()
    print(format_agreement(check_agreement(tuple(args.peers.split(",")), n_random=args.n_random,
                                           n_real=args.n_real, size=args.size)))

