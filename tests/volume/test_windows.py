"""jaxfuse.volume.windows: percentile windows against an order-statistic reference written here
(float64, full sort), with ties, masks and several ranks; inputs are never reordered."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxfuse.volume import windows
from jaxfuse.volume.windows import parse_window, resolve_window


def reference_percentile(values: np.ndarray, percent: float) -> float:
    """Linear interpolation between the sorted values at rank ``percent / 100 * (n - 1)``."""
    ordered = np.sort(values.astype(np.float64).ravel())
    rank = percent / 100.0 * (ordered.size - 1)
    below = int(np.floor(rank))
    above = min(below + 1, ordered.size - 1)
    return float(ordered[below] + (rank - below) * (ordered[above] - ordered[below]))


percents = st.floats(0.0, 100.0, allow_nan=False).map(lambda p: round(p, 3))


@settings(max_examples=400, deadline=None)
@given(
    size=st.integers(1, 400),
    seed=st.integers(0, 2**31 - 1),
    bounds=st.tuples(percents, percents).filter(lambda b: b[0] < b[1]),
    ties=st.booleans(),
    masked=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64, np.int16]),
    sample=st.sampled_from([None, 1, 2, 5, 64]),
    fortran=st.booleans(),
)
def test_percentile_window_is_the_order_statistic(size, seed, bounds, ties, masked, dtype, sample, fortran):
    """``sample``: None takes the small-selection path; a number forces the bracketed path (large
    selections) with a sample that small, so brackets miss often and must be caught."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=size) * 1000.0
    values = (np.round(values / 100.0) if ties else values).astype(dtype)
    mask = rng.random(size) < 0.7 if masked else None
    if mask is not None and not mask.any():
        mask[0] = True
    if fortran and size % 4 == 0:  # a 3-D Fortran-ordered volume (the NIfTI reader's), mask in C order
        values = np.asfortranarray(values.reshape(2, 2, -1))
        mask = None if mask is None else mask.reshape(2, 2, -1)
    before = values.copy()
    with pytest.MonkeyPatch.context() as patch:
        if sample is not None:
            patch.setattr(windows, "BRACKET_ABOVE", 0)
            patch.setattr(windows, "_SAMPLE", sample)
        low, high = resolve_window(values, parse_window(f"p{bounds[0]},p{bounds[1]}"), mask=mask)
    np.testing.assert_array_equal(values, before)  # the caller's array is never reordered
    selected = values[mask] if mask is not None else values
    want = [reference_percentile(selected, p) for p in bounds]  # (ravel order does not matter: sorted)
    scale = max(1.0, float(np.abs(selected.astype(np.float64)).max()))
    if want[1] > want[0]:
        assert abs(low - want[0]) <= 1e-12 * scale and abs(high - want[1]) <= 1e-12 * scale
    else:  # a constant selection: the window opens by one unit
        assert (low, high) == (want[0], want[0] + 1.0)


# Large selections at ranks where NumPy's introselect leaves the value above rank k out of
# place (found by search: small arrays come out sorted, so only these catch a window that takes
# the element after x[k] instead of the least one above it), and ordinary ones.
@pytest.mark.parametrize(
    ("seed", "dtype", "rank"),
    [(42, np.float64, 16313), (104, np.float32, 36058), (90, np.float64, 12256), (0, np.float32, None), (1, np.float64, None)],
)
def test_large_selections(seed, dtype, rank):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=int(rng.integers(2000, 200000))).astype(dtype)
    high = 99.5 if rank is None else 100.0 * (rank + 0.5) / (values.size - 1)
    for bounds in [(0.0, high), (1.0, high), (high / 2, high)]:
        got = resolve_window(values, parse_window(f"p{bounds[0]!r},p{bounds[1]!r}"))
        assert got == pytest.approx([reference_percentile(values, p) for p in bounds], rel=1e-12, abs=1e-12)


def test_window_of_a_volume_matches_numpy_in_memory_order():
    rng = np.random.default_rng(3)
    volume = np.asfortranarray(rng.gamma(2.0, 1.0, size=(37, 41, 29)).astype(np.float32))
    inside = rng.random(volume.shape) < 0.8
    selected = volume[inside].astype(np.float64)
    for spec, percents in [("p0,p99.5", [0, 99.5]), ("p2,p98", [2, 98]), ("p0.5,p100", [0.5, 100]), (None, [0, 100])]:
        got = resolve_window(volume, parse_window(spec), mask=inside)  # None: min-max
        np.testing.assert_allclose(got, np.percentile(selected, percents), rtol=1e-6)


def test_windows_in_units_and_errors():
    assert resolve_window(np.zeros(3), parse_window("2,12")) == (2.0, 12.0)
    with pytest.raises(ValueError, match="no values"):
        resolve_window(np.zeros(3), parse_window("p0,p99"), mask=np.zeros(3, bool))


@pytest.mark.parametrize("spec", ["p0,p99.5", "p1,p99", "p50,p100", None])
def test_large_masked_volume_takes_the_bracket_and_matches_numpy(spec, monkeypatch):
    """A volume past BRACKET_ABOVE: the bracketed order statistics and the sampled extremes equal
    np.percentile of the selection (the hypothesis test above forces brackets that miss)."""
    rng = np.random.default_rng(11)
    volume = rng.gamma(2.0, 1.0, size=(90, 80, 70)).astype(np.float32)
    inside = rng.random(volume.shape) < 0.6
    assert np.count_nonzero(inside) > windows.BRACKET_ABOVE
    found = []
    original = windows._bracketed_neighbours
    monkeypatch.setattr(windows, "_bracketed_neighbours", lambda *args: found.append(original(*args)) or found[-1])
    want = np.percentile(volume[inside].astype(np.float64), [0, 100] if spec is None else [float(p[1:]) for p in spec.split(",")])
    assert resolve_window(volume, parse_window(spec), mask=inside) == pytest.approx(want, rel=1e-12, abs=0)
    inner = 0 if spec is None else sum(0 < float(p[1:]) < 100 for p in spec.split(","))
    assert len(found) == inner and all(pair is not None for pair in found)  # the bracket held each rank
