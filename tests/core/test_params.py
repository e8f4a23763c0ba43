"""The shipped VGG19 conv1_1 weights: checksum, provenance values, corruption handling."""

from __future__ import annotations

import hashlib
import importlib.resources

import numpy as np
import pytest

import jaxfuse
from jaxfuse.core import params as weights


def test_shipped_file_matches_recorded_sha256():
    data = (importlib.resources.files("jaxfuse") / "data" / "vgg19_conv1_1.npz").read_bytes()
    assert hashlib.sha256(data).hexdigest() == weights.WEIGHTS_SHA256


def test_known_values_from_spec():
    params = jaxfuse.load_vgg19_conv1_1(channels=64)
    assert params.kernel.shape == (64, 3, 3, 3) and params.kernel.dtype == np.float32
    assert params.bias.shape == (64,) and params.bias.dtype == np.float32
    # OIHW, RGB input order: R channel, top-left tap of filter 0.
    np.testing.assert_allclose(params.kernel[0, 0, 0, 0], 0.39416704, rtol=0, atol=1e-7)
    np.testing.assert_allclose(params.bias[:4], [0.73017758, 0.06493629, 0.03428847, 0.8260386], rtol=0, atol=1e-7)


def test_not_torchvision_weights():
    # torchvision's retrained vgg19 conv1_1 bias[0] is about 0.64; the original is 0.7302.
    assert abs(jaxfuse.load_vgg19_conv1_1().bias[0] - 0.7301776) < 1e-6


def test_channels_slice_and_range():
    three = jaxfuse.load_vgg19_conv1_1()
    every = jaxfuse.load_vgg19_conv1_1(channels=64)
    np.testing.assert_array_equal(three.kernel, every.kernel[:3])
    with pytest.raises(ValueError, match="1..64"):
        jaxfuse.load_vgg19_conv1_1(channels=65)


def test_corrupt_file_is_refused_with_a_clear_message():
    data = bytearray((importlib.resources.files("jaxfuse") / "data" / "vgg19_conv1_1.npz").read_bytes())
    data[200] ^= 0xFF
    with pytest.raises(jaxfuse.WeightsError, match="does not match the recorded"):
        weights._read_verified(bytes(data), origin="vgg19_conv1_1.npz")


def test_installed_package_carries_the_weights():
    """The loader reads through importlib.resources: the file travels inside the package."""
    resource = importlib.resources.files("jaxfuse") / "data" / "vgg19_conv1_1.npz"
    assert resource.is_file()


def test_ci_runs_against_the_installed_package():
    """In CI the package must come from site-packages (a wheel install), not from the source tree."""
    import os
    import pathlib

    if os.environ.get("CI") != "true":
        return
    source_tree = pathlib.Path(__file__).resolve().parents[1] / "jaxfuse"
    assert pathlib.Path(jaxfuse.__file__).resolve().parent != source_tree
    assert "site-packages" in jaxfuse.__file__
