"""Tests for the metrics' input contract (jaxfuse.metrics._inputs) and the package API."""

from __future__ import annotations

import inspect

import jax.numpy as jnp
import numpy as np
import pytest
from metrics.reference import close, np_gray

from jaxfuse import metrics as mt


def test_to_gray(rand):
    f, _, _ = rand
    close(mt.to_gray(f), np_gray(f), "gray")
    chw = np.moveaxis(f, -1, 1)
    close(mt.to_gray(chw, channel_axis=1), np_gray(f), "gray")


def test_options_are_keyword_only():
    for name in mt.__all__:
        obj = getattr(mt, name)
        if not callable(obj):
            continue
        for param in inspect.signature(obj).parameters.values():
            if param.default is not inspect.Parameter.empty:
                assert param.kind is inspect.Parameter.KEYWORD_ONLY, f"{name}.{param.name}"


def test_bad_inputs_raise():
    a = jnp.zeros((64, 64, 3))
    with pytest.raises(ValueError, match="shapes must be equal"):
        mt.spectral_discrepancy(a, jnp.zeros((64, 32, 3)))
    with pytest.raises(ValueError, match="shapes must be equal"):
        mt.mutual_information(a, jnp.zeros((32, 32)), a)
    with pytest.raises(ValueError, match="cannot tell gray from RGB"):
        mt.qabf(a, a, a)
    with pytest.raises(ValueError, match="3 bands"):
        mt.to_gray(jnp.zeros((8, 8, 4)))
