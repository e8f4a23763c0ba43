"""Flax NNX wrappers: parameters are pytrees, results equal the functional API, gradients finite."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jaxfuse
from jaxfuse.nn import VGG19Conv1_1, VGG19Fusion


def _pair():
    rng = np.random.default_rng(0)
    return rng.random((2, 24, 24), dtype=np.float32), rng.random((2, 24, 24, 3), dtype=np.float32)


def test_module_equals_function():
    mri, pet = _pair()
    np.testing.assert_array_equal(np.asarray(VGG19Fusion()(mri, pet)), np.asarray(jaxfuse.fuse(mri, pet)))
    model = VGG19Fusion(a=0.5, b=0.2, normalisation="channel")
    np.testing.assert_array_equal(
        np.asarray(model(mri, pet)), np.asarray(jaxfuse.fuse(mri, pet, a=0.5, b=0.2, normalisation="channel"))
    )
    features = VGG19Conv1_1(channels=5)
    np.testing.assert_array_equal(np.asarray(features(pet)), np.asarray(jaxfuse.vgg19_conv1_1(pet, channels=5)))


def test_parameters_are_a_pytree_of_params():
    state = nnx.state(VGG19Fusion(), nnx.Param)
    shapes = {"/".join(map(str, path)): leaf.shape for path, leaf in jax.tree_util.tree_leaves_with_path(state) if hasattr(leaf, "shape")}
    assert len(jax.tree.leaves(state)) == 4
    assert sorted(shapes.values(), key=len) == sorted([(), (), (3,), (3, 3, 3, 3)], key=len)


def test_gradients_wrt_a_b_and_weights_are_finite_and_nonzero():
    mri, pet = _pair()
    model = VGG19Fusion()
    grads = nnx.jit(nnx.grad(lambda m: jnp.mean(m(mri, pet))))(model)  # one program, not eager dispatches
    leaves = jax.tree.leaves(nnx.state(grads, nnx.Param))
    assert len(leaves) == 4
    for leaf in leaves:
        assert bool(jnp.all(jnp.isfinite(leaf)))
    assert float(grads.a[...]) > 0 and float(grads.b[...]) > 0
    assert float(jnp.abs(grads.features.kernel[...]).sum()) > 0


def test_module_under_nnx_jit():
    mri, pet = _pair()
    model = VGG19Fusion()
    out = nnx.jit(lambda m, x, y: m(x, y))(model, mri, pet)
    np.testing.assert_allclose(np.asarray(out), np.asarray(jaxfuse.fuse(mri, pet)), atol=1e-6)
