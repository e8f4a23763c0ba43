"""The one value rule: unit floats and 0..255 levels, against float64 NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from jaxfuse.core import units


@pytest.mark.parametrize("dtype, scale", [(np.uint8, 255.0), (np.uint16, 65535.0)])
def test_integers_map_to_unit_floats_and_levels(dtype, scale):
    x = np.random.default_rng(0).integers(0, np.iinfo(dtype).max + 1, (7, 9)).astype(dtype)
    np.testing.assert_allclose(np.asarray(units.to_unit_float(x)), x / scale, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(units.to_levels(x)), x / scale * 255.0, rtol=1e-6)
    assert units.to_unit_float(x).dtype == np.float32


def test_floats_are_taken_as_unit_values():
    x = np.random.default_rng(1).random((5, 5)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(units.to_unit_float(x)), x)
    np.testing.assert_allclose(np.asarray(units.to_levels(x)), 255.0 * x.astype(np.float64), rtol=1e-6)
    assert units.as_float(np.arange(3, dtype=np.int32)).dtype == np.float32


def test_unsupported_dtypes_raise():
    with pytest.raises(TypeError, match="int32"):
        units.to_unit_float(np.zeros(3, np.int32))
    with pytest.raises(TypeError, match="mri must be"):
        units.check_image_dtype(np.zeros(3, np.int64), "mri")
