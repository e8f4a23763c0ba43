"""Steps 4-5a: the planar implementation, its channel-last views, and the kernel's fused form."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxfuse.core import pixel_weights as pw


@pytest.mark.parametrize("normalisation", ["tensor", "channel"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fused_form_matches_float64_reference(normalisation, reduction):
    planes = np.random.default_rng(0).random((3, 17, 23)) * 300 - 50
    got = np.asarray(pw.feature_weight(jnp.asarray(planes, jnp.float32), normalisation=normalisation, reduction=reduction))
    scaled = reference.minmax(np.moveaxis(planes, 0, -1), per_channel=normalisation == "channel")
    want = scaled.sum(-1) / (3 if reduction == "mean" else 1)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * (1 if reduction == "mean" else 3))


@pytest.mark.parametrize("normalisation", ["tensor", "channel"])
def test_channel_last_helpers_are_views_of_the_planar_functions(normalisation):
    features = jnp.asarray(np.random.default_rng(1).random((2, 9, 11, 3)) * 40, jnp.float32)
    planes = jnp.moveaxis(features, -1, -3)
    np.testing.assert_array_equal(
        np.asarray(pw.normalise_features(features, normalisation=normalisation)),
        np.moveaxis(np.asarray(pw.normalise_planes(planes, normalisation=normalisation)), -3, -1),
    )
    scaled = pw.normalise_features(features, normalisation=normalisation)
    np.testing.assert_array_equal(
        np.asarray(pw.reduce_features(scaled)), np.asarray(pw.reduce_planes(jnp.moveaxis(scaled, -1, -3)))
    )


@pytest.mark.parametrize("normalisation", ["tensor", "channel"])
def test_fused_form_equals_normalise_then_reduce(normalisation):
    planes = jnp.asarray(np.random.default_rng(2).random((3, 16, 16)) * 90, jnp.float32)
    fused = pw.feature_weight(planes, normalisation=normalisation)
    two_step = pw.reduce_planes(pw.normalise_planes(planes, normalisation=normalisation))
    np.testing.assert_allclose(np.asarray(fused), np.asarray(two_step), rtol=0, atol=1e-6)


def test_constant_tensor_and_channel_scale_to_zero():
    planes = jnp.ones((3, 5, 5), jnp.float32) * 7.0
    assert float(jnp.abs(pw.feature_weight(planes)).max()) == 0.0
    mixed = planes.at[1].set(jnp.arange(25.0).reshape(5, 5))
    per_channel = pw.normalise_planes(mixed, normalisation="channel")
    assert float(jnp.abs(per_channel[0]).max()) == 0.0 and float(per_channel[1].max()) == 1.0


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(2, 9), st.integers(2, 9), st.sampled_from(["tensor", "channel"]))
def test_normalised_values_lie_in_unit_interval(channels, height, width, normalisation):
    planes = jnp.asarray(np.random.default_rng(channels * 100 + height * 10 + width).normal(size=(channels, height, width)))
    scaled = np.asarray(pw.normalise_planes(planes, normalisation=normalisation))
    assert scaled.min() >= 0.0 and scaled.max() <= 1.0 + 1e-6


def test_gradients_are_finite_including_constant_input():
    grad_of = jax.jit(jax.grad(lambda x: pw.feature_weight(x).sum()))  # one compile for both inputs
    for planes in (jnp.ones((3, 6, 6)), jnp.asarray(np.random.default_rng(3).random((3, 6, 6)), jnp.float32)):
        grad = grad_of(planes)
        assert np.all(np.isfinite(np.asarray(grad)))


def test_unknown_options_raise():
    with pytest.raises(ValueError, match="normalisation"):
        pw.normalise_planes(jnp.ones((3, 4, 4)), normalisation="global")
    with pytest.raises(ValueError, match="reduction"):
        pw.reduce_planes(jnp.ones((3, 4, 4)), reduction="max")
