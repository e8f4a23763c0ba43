"""VGG19 conv1_1 features against scipy's correlation in float64."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference

import jaxfuse

PARAMS = jaxfuse.load_vgg19_conv1_1(channels=64)


@pytest.mark.parametrize("channels", [1, 3, 64])
def test_rgb_features_match_scipy(channels):
    images = np.random.default_rng(0).random((2, 21, 18, 3))
    got = np.asarray(jaxfuse.vgg19_conv1_1(images.astype(np.float32), channels=channels))
    assert got.shape == (2, 21, 18, channels)
    want = np.stack([reference.conv1_1(x, PARAMS.kernel[:channels], PARAMS.bias[:channels]) for x in images])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-4)  # values reach ~500


def test_gray_features_equal_three_equal_channels(real_pairs):
    _, mri, _ = real_pairs
    gray = mri[:2].astype(np.float32) / 255
    got = np.asarray(jaxfuse.vgg19_conv1_1_gray(gray))
    want = np.stack([reference.conv1_1(np.stack([g] * 3, -1), PARAMS.kernel[:3], PARAMS.bias[:3]) for g in gray])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=5e-4)


def test_zero_padding_is_applied_after_mean_subtraction():
    # A black image: inside, x = -mean everywhere; at the border the padded taps are 0, not -mean.
    out = np.asarray(jaxfuse.vgg19_conv1_1(jnp.zeros((5, 5, 3)), channels=64))
    want = reference.conv1_1(np.zeros((5, 5, 3)), PARAMS.kernel, PARAMS.bias)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=2e-4)
    assert not np.allclose(out[0, 0], out[2, 2])


def test_custom_params_and_gradients():
    params = jaxfuse.Conv1_1Params(jnp.asarray(PARAMS.kernel[:3]), jnp.asarray(PARAMS.bias[:3]))
    images = jnp.asarray(np.random.default_rng(1).random((1, 8, 8, 3)), jnp.float32)
    grad = jax.jit(jax.grad(lambda p: jnp.sum(jaxfuse.vgg19_conv1_1(images, params=p))))(params)  # jit: one program, not an eager dispatch per tap and its transpose
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grad))
    with pytest.raises(ValueError, match="holds only|hold only"):
        jaxfuse.vgg19_conv1_1(images, channels=4, params=params)


def test_bad_shape_raises():
    with pytest.raises(ValueError, match=r"\(8, 8, 4\)"):
        jaxfuse.vgg19_conv1_1(jnp.zeros((8, 8, 4)))
