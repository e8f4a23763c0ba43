"""Adaptive A, B (jaxfuse.adaptive): the criterion against float64 NumPy, the optimiser against an
exhaustive float64 grid, bounds, gradients, batch invariance, jit/vmap, determinism, registry, CLI.

Small synthetic images (32x40) keep compiles cheap; one real pair checks the registered method.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import reference
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxfuse
from jaxfuse import adaptive
from jaxfuse.adaptive import choose_weights, content_criterion, fuse_adaptive
from jaxfuse.adaptive import fuse as adaptive_fuse
from jaxfuse.methods import METHODS, batch_fuser, fuse_with

H, W = 32, 40
PARAMS = jaxfuse.load_vgg19_conv1_1(channels=3)


# --------------------------------------------------------------------------- independent references


def criterion_np(fused, mri, intensity, weight):
    """The documented criterion in float64 NumPy, with the two gradients taken separately."""
    f, m, i = (np.asarray(x, np.float64) for x in (fused, mri, intensity))
    gx = (f[..., :, 1:] - f[..., :, :-1]) - (m[..., :, 1:] - m[..., :, :-1])
    gy = (f[..., 1:, :] - f[..., :-1, :]) - (m[..., 1:, :] - m[..., :-1, :])
    return -(
        np.mean((f - i) ** 2, axis=(-2, -1)) + weight * (np.mean(gx**2, axis=(-2, -1)) + np.mean(gy**2, axis=(-2, -1)))
    )


def terms_np(mri, pet):
    """Eq. 1's terms in float64 NumPy (tests/reference.py's conv1_1 and min-max)."""
    m = mri / 255.0
    p = pet / 255.0
    weights = [
        reference.minmax(reference.conv1_1(x, PARAMS.kernel, PARAMS.bias)).mean(-1) for x in (np.stack([m] * 3, -1), p)
    ]
    return m, p.mean(-1), weights[0], weights[1]


def grid_optimum_np(mri, pet, weight, step=0.01, low=0.0, high=1.0):
    m, i, wm, wp = terms_np(mri, pet)
    grid = np.arange(low, high + 1e-9, step)
    values = np.array(
        [[criterion_np(np.clip(a * m + b * i + wm * m + wp * i, 0, 1), m, i, weight) for b in grid] for a in grid]
    )
    ia, ib = np.unravel_index(np.argmax(values), values.shape)
    return grid[ia], grid[ib], values.max(), (m, i, wm, wp)


def synthetic_pairs(count, seed=0):
    """Blobby MRI and a coloured 'tracer' image (smooth fields, so the features are image-like)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W] / np.array([H, W])[:, None, None]
    mri, pet = [], []
    for _ in range(count):
        c = rng.uniform(0.2, 0.8, (4, 2))
        m = sum(np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 0.02) for cy, cx in c) + 0.1 * rng.random((H, W))
        t = np.exp(-((y - c[0, 0]) ** 2 + (x - c[1, 1]) ** 2) / rng.uniform(0.01, 0.08))
        rgb = np.stack([t, t**2, 0.3 * (1 - t)], -1) * rng.uniform(0.6, 1.0)
        mri.append(np.round(255 * np.clip(m / m.max(), 0, 1)))
        pet.append(np.round(255 * np.clip(rgb, 0, 1)))
    return np.asarray(mri, np.uint8), np.asarray(pet, np.uint8)


@pytest.fixture(scope="module")
def pairs():
    return synthetic_pairs(5)


@pytest.fixture(scope="module")
def result(pairs):
    mri, pet = pairs
    return fuse_adaptive(mri, pet, output_dtype=jnp.uint8)


# --------------------------------------------------------------------------- the criterion


def test_criterion_matches_float64_numpy():
    rng = np.random.default_rng(1)
    f, m, i = (rng.random((2, 3, 9, 13)) for _ in range(3))
    for weight in (0.0, 0.7, 5.0):
        got = np.asarray(
            content_criterion(f.astype(np.float32), m.astype(np.float32), i.astype(np.float32), gradient_weight=weight)
        )
        np.testing.assert_allclose(got, criterion_np(f, m, i, weight), rtol=1e-5, atol=1e-7)
        assert got.shape == (2, 3)
    with jax.enable_x64(True):
        got = content_criterion(jnp.asarray(f), jnp.asarray(m), jnp.asarray(i), gradient_weight=5.0)
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(got), criterion_np(f, m, i, 5.0), rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(offset=st.floats(-0.5, 0.5), weight=st.floats(0.0, 50.0), seed=st.integers(0, 2**16))
def test_criterion_is_at_most_zero_and_zero_at_its_ideal(offset, weight, seed):
    rng = np.random.default_rng(seed)
    i = rng.random((6, 7)).astype(np.float32)
    other = rng.random((6, 7)).astype(np.float32)
    assert float(content_criterion(other, i, i, gradient_weight=weight)) <= 0.0
    # F = I and M = I + constant: both terms vanish (up to float32 rounding of the differences)
    assert float(content_criterion(i, i + np.float32(offset), i, gradient_weight=weight)) >= -1e-10 * (1 + weight)


def test_criterion_shape_errors():
    with pytest.raises(ValueError, match="shape"):
        content_criterion(jnp.zeros((4, 4)), jnp.zeros((4, 5)), jnp.zeros((4, 4)), gradient_weight=1.0)
    with pytest.raises(ValueError, match="H, W >= 2"):
        content_criterion(jnp.zeros((1, 4)), jnp.zeros((1, 4)), jnp.zeros((1, 4)), gradient_weight=1.0)


# --------------------------------------------------------------------------- the optimisation


def test_optimum_matches_an_exhaustive_float64_grid(pairs, result):
    """Adam's A, B reach the criterion's maximum over a 0.01 grid of [0, 1]^2 (float64 NumPy)."""
    mri, pet = pairs
    for k in range(2):
        a_best, b_best, best, (m, i, wm, wp) = grid_optimum_np(mri[k], pet[k], adaptive.DEFAULT_GRADIENT_WEIGHT)
        a, b = float(result.a[k]), float(result.b[k])
        got = criterion_np(np.clip(a * m + b * i + wm * m + wp * i, 0, 1), m, i, adaptive.DEFAULT_GRADIENT_WEIGHT)
        start = criterion_np(np.clip(0.3 * m + 0.1 * i + wm * m + wp * i, 0, 1), m, i, adaptive.DEFAULT_GRADIENT_WEIGHT)
        assert best > start  # the test means something: (0.3, 0.1) is not already optimal
        assert got >= best - 1e-3 * (best - start), (a, b, a_best, b_best)
        assert abs(a - a_best) < 0.03 and abs(b - b_best) < 0.03


def test_bounds_are_respected_and_reached(pairs):
    mri, pet = pairs
    out = fuse_adaptive(mri, pet, bounds=(0.35, 0.4), output_dtype=jnp.uint8)  # the fixture's program
    a, b = np.asarray(out.a), np.asarray(out.b)
    assert a.min() >= 0.35 and a.max() <= 0.4 and b.min() >= 0.35 and b.max() <= 0.4
    assert np.isin(np.concatenate([a, b]), np.float32([0.35, 0.4])).any()  # a bound is active somewhere
    pinned = fuse_adaptive(mri, pet, bounds=(0.25, 0.25), output_dtype=jnp.uint8)
    assert np.all(np.asarray(pinned.a) == np.float32(0.25)) and np.all(np.asarray(pinned.b) == np.float32(0.25))


def test_zero_steps_is_the_paper_method_bytes(pairs):
    mri, pet = pairs
    out = fuse_adaptive(mri, pet, steps=0, output_dtype=jnp.uint8)
    assert np.all(np.asarray(out.a) == np.float32(0.3)) and np.all(np.asarray(out.b) == np.float32(0.1))
    assert np.asarray(out.fused).tobytes() == np.asarray(jaxfuse.fuse(mri, pet, output_dtype=jnp.uint8)).tobytes()


def test_fused_image_is_eq1_with_the_chosen_weights(pairs, result):
    """The output is the float64 NumPy pipeline (tests/reference.py) run with the returned A, B."""
    mri, pet = pairs
    floats = fuse_adaptive(mri, pet)
    np.testing.assert_array_equal(np.asarray(floats.a), np.asarray(result.a))
    for k in range(len(mri)):
        want = reference.fuse_pair(
            mri[k], pet[k], PARAMS.kernel, PARAMS.bias, a=float(floats.a[k]), b=float(floats.b[k])
        )
        np.testing.assert_allclose(np.asarray(floats.fused[k]), want, atol=1e-4)


def test_gradients_of_the_objective_are_finite():
    """At the start, inside, and where everything saturates (A = B = 1), also for black images."""
    mri, pet = synthetic_pairs(1, seed=3)
    m, i, wm, wp = (jnp.asarray(x, jnp.float32) for x in terms_np(mri[0], pet[0]))

    def objective(ab, m, i):
        return content_criterion(jnp.clip(ab[0] * m + ab[1] * i + wm * m + wp * i, 0, 1), m, i, gradient_weight=5.0)

    grad = jax.jit(jax.grad(objective))
    for point in ([0.3, 0.1], [0.0, 0.0], [1.0, 1.0], [0.55, 0.02]):
        for planes in ((m, i), (jnp.zeros_like(m), jnp.zeros_like(i)), (jnp.ones_like(m), jnp.ones_like(i))):
            g = grad(jnp.asarray(point, jnp.float32), *planes)
            assert np.all(np.isfinite(np.asarray(g)))
    # and through the whole method (a few steps, a small image) with respect to a float input
    f = jnp.asarray(mri[0, :12, :12], jnp.float32) / 255
    p = jnp.asarray(pet[0, :12, :12], jnp.float32) / 255
    g = jax.jit(jax.grad(lambda x: jnp.sum(fuse_adaptive(x, p, steps=2).fused)))(f)
    assert np.all(np.isfinite(np.asarray(g)))


# --------------------------------------------------------------------------- batching and compilation


def test_pair_alone_and_in_a_batch_gives_the_same_weights_and_bytes(pairs, result):
    mri, pet = pairs
    for k in (0, 3, 4):
        alone = fuse_adaptive(mri[k], pet[k], output_dtype=jnp.uint8)
        assert alone.fused.shape == (H, W, 3) and alone.a.shape == ()
        assert np.asarray(alone.fused).tobytes() == np.asarray(result.fused[k]).tobytes()
        assert np.asarray(alone.a).tobytes() == np.asarray(result.a[k]).tobytes()
        assert np.asarray(alone.b).tobytes() == np.asarray(result.b[k]).tobytes()
    nested = fuse_adaptive(mri[:4].reshape(2, 2, H, W), pet[:4].reshape(2, 2, H, W, 3), output_dtype=jnp.uint8)
    assert nested.a.shape == (2, 2)
    assert np.asarray(nested.fused).reshape(4, H, W, 3).tobytes() == np.asarray(result.fused[:4]).tobytes()


def test_deterministic(pairs, result):
    mri, pet = pairs
    again = fuse_adaptive(mri, pet, output_dtype=jnp.uint8)
    for x, y in zip(again, result):
        assert np.asarray(x).tobytes() == np.asarray(y).tobytes()


def test_compiles_once_for_new_hyper_parameters(pairs):
    mri, pet = pairs
    fuse_adaptive(mri, pet, gradient_weight=1.0, output_dtype=jnp.uint8)
    before = adaptive_fuse._trace_count
    out = fuse_adaptive(mri, pet, gradient_weight=20.0, learning_rate=0.02, bounds=(0.1, 0.9), output_dtype=jnp.uint8)
    assert adaptive_fuse._trace_count == before  # traced hyper-parameters: no new compile
    fuse_adaptive(mri, pet, steps=7, output_dtype=jnp.uint8)
    assert adaptive_fuse._trace_count == before + 1  # the step count is static
    assert np.asarray(out.a).min() >= 0.1


def test_choose_weights_under_jit_and_vmap_equals_the_kernel(pairs):
    mri, pet = pairs
    terms = [jnp.asarray(np.stack(t), jnp.float32) for t in zip(*(terms_np(m, p) for m, p in zip(mri[:2], pet[:2])))]
    hyper = dict(
        gradient_weight=5.0,
        steps=adaptive.DEFAULT_STEPS,
        learning_rate=adaptive.DEFAULT_LEARNING_RATE,
        low=0.0,
        high=1.0,
    )
    batched = jax.jit(jax.vmap(lambda *t: choose_weights(*t, **hyper)))(*terms)
    kernel = fuse_adaptive(mri, pet, output_dtype=jnp.uint8)  # float64 NumPy terms vs the kernel's float32 ones
    np.testing.assert_allclose(np.asarray(batched), np.stack([kernel.a[:2], kernel.b[:2]], -1), atol=2e-3)


def test_float64_under_enable_x64(pairs, result):
    mri, pet = pairs
    with jax.enable_x64(True):
        out = fuse_adaptive(jnp.asarray(mri[:2], jnp.float64) / 255, jnp.asarray(pet[:2], jnp.float64) / 255)
        assert out.a.dtype == jnp.float64 and out.fused.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(out.a), np.asarray(result.a[:2]), atol=2e-3)


def test_bad_options():
    mri, pet = np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.uint8)
    for options, message in (
        (dict(steps=-1), "steps"), (dict(steps=2.5), "steps"), (dict(bounds=(0.5, 0.2)), "bounds"),
        (dict(bounds=(-0.1, 0.2)), "bounds"), (dict(gradient_weight=-1.0), "gradient_weight"),
        (dict(learning_rate=0.0), "learning_rate"), (dict(normalisation="x"), "normalisation"),
    ):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            fuse_adaptive(mri, pet, **options)
    with pytest.raises(ValueError, match="pet must have shape"):
        fuse_adaptive(mri, np.zeros((8, 9, 3), np.uint8))


# --------------------------------------------------------------------------- registry and CLI


def test_registered_method_is_fuse_adaptive(pairs, result):
    mri, pet = pairs
    assert METHODS["vgg19_adaptive"].fuse is not None
    got = fuse_with(mri, pet, method="vgg19_adaptive", output_dtype=jnp.uint8)
    assert np.asarray(got).tobytes() == np.asarray(result.fused).tobytes()
    fuser = batch_fuser("vgg19_adaptive")  # uint8 by default, like every batch run
    assert np.asarray(fuser(mri, pet)).tobytes() == np.asarray(result.fused).tobytes()
    with pytest.raises(ValueError, match="vgg19 only"):
        batch_fuser("vgg19_adaptive", a=0.5)


def test_cli_adaptive(tmp_path, pairs, result, capsys):
    from jaxfuse.cli import main
    from jaxfuse.io.images import read_image, write_png

    mri, pet = pairs
    write_png(tmp_path / "mri.png", mri[1])
    write_png(tmp_path / "pet.png", pet[1])
    out = tmp_path / "fused.png"
    assert main(["fuse", str(tmp_path / "mri.png"), str(tmp_path / "pet.png"), "-o", str(out), "--adaptive"]) == 0
    assert np.asarray(read_image(out)).tobytes() == np.asarray(result.fused[1]).tobytes()
    for extra, message in ((["--a", "0.5"], "drop --a"), (["--method", "dwt"], "--method dwt")):
        args = [
            "fuse",
            str(tmp_path / "mri.png"),
            str(tmp_path / "pet.png"),
            "-o",
            str(tmp_path / "x.png"),
            "--adaptive",
        ]
        assert main(args + extra) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()
