"""The fusion kernel against the float64 NumPy reference, and its compile/batch/gradient contract."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference

import jaxfuse
from jaxfuse import _batching
from jaxfuse.core import fusion

# Max abs difference allowed against the float64 reference, float32 results before quantisation.
REFERENCE_ATOL = 1e-4

PARAMS = jaxfuse.load_vgg19_conv1_1(channels=64)


def _random_pair(rng, batch=4, size=(48, 40), dtype=np.uint8):
    if dtype == np.uint8:
        return rng.integers(0, 256, (batch, *size), dtype=np.uint8), rng.integers(0, 256, (batch, *size, 3), dtype=np.uint8)
    if dtype == np.uint16:
        return rng.integers(0, 65536, (batch, *size), dtype=np.uint16), rng.integers(0, 65536, (batch, *size, 3), dtype=np.uint16)
    return rng.random((batch, *size), dtype=np.float32), rng.random((batch, *size, 3), dtype=np.float32)


def _smooth_pair(rng, batch=4, size=(48, 40)):
    """Structured images (a blurred blob field plus a dark background) instead of pure noise."""
    y, x = np.mgrid[0 : size[0], 0 : size[1]] / max(size)
    mri = np.stack([0.5 + 0.4 * np.sin(7 * x + k) * np.cos(5 * y) for k in range(batch)])
    mri *= (x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.2
    pet = np.clip(np.stack([mri * 0.8, mri ** 2, 1 - mri], -1) + 0.05 * rng.random((batch, *size, 3)), 0, 1)
    return (255 * mri).round().astype(np.uint8), (255 * pet).round().astype(np.uint8)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_matches_reference_on_random_inputs(dtype):
    mri, pet = _random_pair(np.random.default_rng(0), dtype=dtype)
    got = np.asarray(jaxfuse.fuse(mri, pet))
    assert got.dtype == np.float32 and got.shape == pet.shape[:-1] + (3,)
    np.testing.assert_allclose(got, reference.fuse(mri, pet, PARAMS.kernel, PARAMS.bias), rtol=0, atol=REFERENCE_ATOL)


def test_matches_reference_on_structured_inputs():
    mri, pet = _smooth_pair(np.random.default_rng(1))
    got = np.asarray(jaxfuse.fuse(mri, pet))
    np.testing.assert_allclose(got, reference.fuse(mri, pet, PARAMS.kernel, PARAMS.bias), rtol=0, atol=REFERENCE_ATOL)


def test_matches_reference_on_real_pairs(real_pairs):
    names, mri, pet = real_pairs
    assert len(names) >= 20
    got = np.asarray(jaxfuse.fuse(mri, pet))
    want = reference.fuse(mri, pet, PARAMS.kernel, PARAMS.bias)
    error = np.abs(got - want).max(axis=(1, 2, 3))
    assert error.max() <= REFERENCE_ATOL, dict(zip(names, error))
    # quantised output: at most one level off, and only where the reference sits on a rounding edge
    got8 = np.asarray(jaxfuse.fuse(mri, pet, output_dtype=jnp.uint8)).astype(int)
    assert np.abs(got8 - np.round(255 * want)).max() <= 1


@pytest.mark.parametrize(
    "options",
    [
        dict(normalisation="channel"),
        dict(reduction="sum"),
        dict(colour_space="ihs_linear"),
        dict(a=0.5, b=0.0),
        dict(channels=8),
    ],
)
def test_options_match_reference(options):
    mri, pet = _smooth_pair(np.random.default_rng(2))
    ref_options = dict(options)
    if "normalisation" in ref_options:
        ref_options["per_channel"] = ref_options.pop("normalisation") == "channel"
    got = np.asarray(jaxfuse.fuse(mri, pet, **options))
    want = reference.fuse(mri, pet, PARAMS.kernel, PARAMS.bias, **ref_options)
    np.testing.assert_allclose(got, want, rtol=0, atol=REFERENCE_ATOL)


def test_gray_functional_image_gives_gray_fusion():
    mri, pet = _smooth_pair(np.random.default_rng(3))
    gray = pet[..., 1]
    got = np.asarray(jaxfuse.fuse(mri, gray))
    assert np.array_equal(got[..., 0], got[..., 1]) and np.array_equal(got[..., 0], got[..., 2])
    np.testing.assert_allclose(got, reference.fuse(mri, gray, PARAMS.kernel, PARAMS.bias), atol=REFERENCE_ATOL)


def test_constant_images_do_not_produce_nan():
    mri = np.zeros((2, 16, 16), np.uint8)
    pet = np.zeros((2, 16, 16, 3), np.uint8)
    got = np.asarray(jaxfuse.fuse(mri, pet))
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, reference.fuse(mri, pet, PARAMS.kernel, PARAMS.bias), atol=REFERENCE_ATOL)


def test_batch_invariance_same_bytes_alone_and_in_batch_of_16(real_pairs):
    _, mri, pet = real_pairs
    batch = jaxfuse.fuse(mri[:16], pet[:16], output_dtype=jnp.uint8)
    for i in (0, 7, 15):
        alone = jaxfuse.fuse(mri[i], pet[i], output_dtype=jnp.uint8)
        assert np.asarray(alone).tobytes() == np.asarray(batch[i]).tobytes()
    float_batch = np.asarray(jaxfuse.fuse(mri[:16], pet[:16]))
    assert np.asarray(jaxfuse.fuse(mri[3], pet[3])).tobytes() == float_batch[3].tobytes()


@pytest.mark.parametrize("count, start", [(1, 0), (2, 5), (5, 9), (11, 3)])
def test_sub_batches_give_the_same_bytes_as_the_full_batch(real_pairs, count, start):
    _, mri, pet = real_pairs
    full_u8 = np.asarray(jaxfuse.fuse(mri[:16], pet[:16], output_dtype=jnp.uint8))
    full_f32 = np.asarray(jaxfuse.fuse(mri[:16], pet[:16]))
    part = slice(start, start + count)
    assert np.asarray(jaxfuse.fuse(mri[part], pet[part], output_dtype=jnp.uint8)).tobytes() == full_u8[part].tobytes()
    assert np.asarray(jaxfuse.fuse(mri[part], pet[part])).tobytes() == full_f32[part].tobytes()


@pytest.mark.parametrize("gray_pet", [False, True])
def test_accelerator_plan_matches_reference_on_cpu(monkeypatch, gray_pet):
    """The GPU/TPU program (one vmap over the whole batch, no groups), run here on the CPU."""
    monkeypatch.setattr(_batching, "batch_plan", lambda count, platform, grouped=True: (max(count, 2), None))
    mri, pet = _smooth_pair(np.random.default_rng(3), batch=5)
    if gray_pet:
        pet = pet[..., 1]
    got = np.asarray(jaxfuse.fuse(mri, pet))
    want = reference.fuse(mri, pet, PARAMS.kernel, PARAMS.bias)
    np.testing.assert_allclose(got, want, rtol=0, atol=REFERENCE_ATOL)


def test_leading_dims_are_preserved():
    mri, pet = _random_pair(np.random.default_rng(4), batch=6)
    got = jaxfuse.fuse(mri.reshape(2, 3, 48, 40), pet.reshape(2, 3, 48, 40, 3))
    assert got.shape == (2, 3, 48, 40, 3)
    np.testing.assert_array_equal(np.asarray(got).reshape(6, 48, 40, 3), np.asarray(jaxfuse.fuse(mri, pet)))


def test_first_call_under_an_outer_trace_does_not_leak_tracers():
    code = (
        "import jax, numpy as np, jaxfuse\n"
        "m = np.zeros((2, 8, 8), np.float32); p = np.zeros((2, 8, 8, 3), np.float32)\n"
        "jax.jit(lambda a, b: jaxfuse.fuse(a, b))(m, p)\n"
        "jaxfuse.fuse(m, p).block_until_ready()\n"
    )
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_jit_and_vmap_equivalence():
    mri, pet = _random_pair(np.random.default_rng(5), dtype=np.float32)
    direct = np.asarray(jaxfuse.fuse(mri, pet))
    jitted = np.asarray(jax.jit(lambda m, p: jaxfuse.fuse(m, p))(mri, pet))
    vmapped = np.asarray(jax.vmap(lambda m, p: jaxfuse.fuse(m, p))(mri, pet))
    np.testing.assert_allclose(jitted, direct, atol=1e-6)
    np.testing.assert_allclose(vmapped, direct, atol=1e-6)


def test_compiles_once_per_shape_and_dtype():
    rng = np.random.default_rng(6)
    mri, pet = _random_pair(rng, batch=5, size=(33, 31))
    jaxfuse.fuse(mri, pet)
    before = fusion._trace_count
    for _ in range(3):
        jaxfuse.fuse(*_random_pair(rng, batch=5, size=(33, 31)))
    jaxfuse.fuse(mri, pet, a=0.7, b=0.2)  # new constants: traced, not static
    jaxfuse.fuse(mri, pet, a=jnp.float32(0.1))
    assert fusion._trace_count == before
    jaxfuse.fuse(mri.astype(np.float32) / 255, pet)  # a new dtype compiles once more
    assert fusion._trace_count == before + 1


def test_finite_gradients_wrt_inputs_constants_and_weights():
    mri, pet = _smooth_pair(np.random.default_rng(7), batch=2)
    mri = jnp.asarray(mri, jnp.float32) / 255
    pet = jnp.asarray(pet, jnp.float32) / 255
    pet = pet.at[:, :4, :4].set(0.0).at[:, 4:8, :4].set(1.0).at[:, 8:12, :4].set(0.5)  # black, white, gray

    def loss(mri, pet, a, b, params):
        return jnp.mean(jaxfuse.fuse(mri, pet, a=a, b=b, params=params) ** 2)

    params = jaxfuse.Conv1_1Params(jnp.asarray(PARAMS.kernel[:3]), jnp.asarray(PARAMS.bias[:3]))
    grads = jax.jit(jax.grad(loss, argnums=(0, 1, 2, 3, 4)))(mri, pet, 0.3, 0.1, params)  # jit: one program, not an eager dispatch per tap and its transpose
    for leaf in jax.tree.leaves(grads):
        assert bool(jnp.all(jnp.isfinite(leaf)))
    assert float(grads[2]) > 0  # a larger A brightens the fusion


def test_float64_pipeline_under_enable_x64():
    mri, pet = _smooth_pair(np.random.default_rng(8), batch=2)
    with jax.enable_x64(True):
        got = jaxfuse.fuse(mri.astype(np.float64) / 255, pet.astype(np.float64) / 255)
        assert got.dtype == jnp.float64
        want = reference.fuse(mri, pet, PARAMS.kernel, PARAMS.bias)
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-9)


def test_library_does_not_change_global_config():
    assert not jax.config.jax_enable_x64


@pytest.mark.parametrize(
    "mri_shape, pet_shape",
    [((4, 32, 32), (4, 32, 31, 3)), ((4, 32, 32), (3, 32, 32, 3)), ((32,), (32, 3)), ((4, 32, 32), (4, 32, 32, 4))],
)
def test_shape_mismatch_raises_with_shapes(mri_shape, pet_shape):
    with pytest.raises(ValueError, match=r"\(.*\)"):
        jaxfuse.fuse(np.zeros(mri_shape, np.uint8), np.zeros(pet_shape, np.uint8))


def test_bad_dtype_and_options_raise():
    mri, pet = np.zeros((8, 8), np.int32), np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(TypeError, match="int32"):
        jaxfuse.fuse(mri, pet)
    with pytest.raises(ValueError, match="normalisation"):
        jaxfuse.fuse(mri.astype(np.uint8), pet, normalisation="global")
    with pytest.raises(ValueError, match="output_dtype"):
        jaxfuse.fuse(mri.astype(np.uint8), pet, output_dtype=np.int16)


def test_normalise_features_matches_reference():
    w = np.random.default_rng(9).random((3, 10, 12, 3)) * 100
    for per_channel in (False, True):
        normalisation = "channel" if per_channel else "tensor"
        got = np.asarray(jaxfuse.normalise_features(w.astype(np.float32), normalisation=normalisation))
        want = np.stack([reference.minmax(x, per_channel=per_channel) for x in w])
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert float(jnp.max(jaxfuse.normalise_features(jnp.ones((4, 4, 3))))) == 0.0
