"""jaxfuse.volume.colormap: tables vs pydicom's DICOM palettes and matplotlib, windowing and
percentiles vs NumPy float64, the rounding rule, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxfuse.volume.colormap import (
    COLORMAPS,
    DEFAULT_PERCENTILES,
    apply_colormap,
    colormap_table,
    percentile_window,
    window,
)

DICOM = {"pet": "PET", "hot_iron": "HOT_IRON", "hot_metal_blue": "HOT_METAL_BLUE", "pet_20_step": "PET_20_STEP"}


def pydicom_palette_file(label: str) -> np.ndarray:
    """Read pydicom's Color Palette Storage file for ``label`` and decode its three LUTs here."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.data import get_palette_files

    for path in get_palette_files("*.dcm"):
        ds = pydicom.dcmread(path)
        if ds.get("ContentLabel") == label:
            break
    else:
        pytest.fail(f"pydicom ships no palette labelled {label}")
    luts = []
    for colour in ("Red", "Green", "Blue"):
        entries, first, bits = ds[f"{colour}PaletteColorLookupTableDescriptor"].value
        assert (entries, first, bits) == (256, 0, 8)
        luts.append(np.frombuffer(ds[f"{colour}PaletteColorLookupTableData"].value, np.uint8))
    return np.stack(luts, axis=-1)


@pytest.mark.parametrize("name", sorted(DICOM))
def test_dicom_palettes_equal_pydicoms_copies(name):
    table = colormap_table(name)
    np.testing.assert_array_equal(table, pydicom_palette_file(DICOM[name]))
    from pydicom.pixels import apply_color_lut

    uid = {
        "hot_iron": "1.2.840.10008.1.5.1",
        "pet": "1.2.840.10008.1.5.2",
        "hot_metal_blue": "1.2.840.10008.1.5.3",
        "pet_20_step": "1.2.840.10008.1.5.4",
    }[name]  # PS3.6 Annex B well-known SOP Instance UIDs
    np.testing.assert_array_equal(table, apply_color_lut(np.arange(256, dtype=np.uint8), palette=uid))


@pytest.mark.parametrize("name", ["inferno", "hot", "jet", "gray"])
def test_matplotlib_maps_to_the_nearest_level(name):
    matplotlib = pytest.importorskip("matplotlib")
    ref = matplotlib.colormaps[name](np.arange(256))[:, :3] * 255  # its float table, before its truncation to bytes
    table = colormap_table(name).astype(np.float64)
    assert np.max(np.abs(table - ref)) <= 0.5 + 1e-9  # the nearest level (ties either way), not truncated


def test_tables_are_well_formed_and_distinct():
    tables = {name: colormap_table(name) for name in COLORMAPS}
    assert set(COLORMAPS) == {"pet", "hot_iron", "hot_metal_blue", "pet_20_step", "hot", "jet", "gray", "inferno"}
    for name, table in tables.items():
        assert table.shape == (256, 3) and table.dtype == np.uint8, name
    assert len({t.tobytes() for t in tables.values()}) == len(tables)
    gray = tables["gray"]
    assert np.all(gray[:, 0] == np.arange(256)) and np.all(gray == gray[:, :1])
    tables["pet"][0, 0] = 99  # a copy: the package's table is unchanged
    assert colormap_table("pet")[0, 0] == 0


def test_apply_colormap_index_rule():
    k = np.arange(256, dtype=np.float64)
    # exact levels, just either side of each half-level, ties, and out-of-range values
    v = np.concatenate([k / 255, (k[:-1] + 0.4999) / 255, (k[:-1] + 0.5001) / 255, [0.5, -0.3, 1.7, np.nan]])
    expected_index = np.round(255 * np.clip(v, 0, 1))
    expected_index[np.isnan(expected_index)] = 0
    assert expected_index[-4] == 128  # 127.5 rounds to the even neighbour
    for name in ("jet", "hot_iron"):
        table = colormap_table(name)
        out = apply_colormap(jnp.asarray(v, jnp.float32), name=name)
        assert out.dtype == jnp.uint8 and out.shape == (v.size, 3)
        np.testing.assert_array_equal(out, table[expected_index.astype(int)])
    gray = apply_colormap(jnp.asarray(v, jnp.float32), name="gray")
    np.testing.assert_array_equal(gray[..., 0], expected_index)
    np.testing.assert_array_equal(gray[..., 1], gray[..., 2])


def test_apply_colormap_shapes_jit_vmap():
    v = jnp.asarray(np.random.default_rng(0).random((2, 5, 6, 7)), jnp.float32)
    out = apply_colormap(v, name="pet")
    assert out.shape == (2, 5, 6, 7, 3)
    np.testing.assert_array_equal(jax.jit(lambda x: apply_colormap(x, name="pet"))(v), out)
    np.testing.assert_array_equal(jax.vmap(lambda x: apply_colormap(x, name="pet"))(v), out)


def test_window_matches_numpy():
    rng = np.random.default_rng(1)
    x = rng.gamma(2.0, 3.0, (7, 8, 9)).astype(np.float32)  # e.g. SUV
    for low, high in [(0.0, 12.5), (2.0, 3.0), (-1.0, 40.0)]:
        ref = np.clip((x.astype(np.float64) - low) / (high - low), 0, 1)
        out = window(x, low=low, high=high)
        assert out.dtype == jnp.float32
        np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)
    assert float(window(np.array([3], np.int16), low=0, high=6)[0]) == 0.5
    jitted = jax.jit(lambda a, lo, hi: window(a, low=lo, high=hi))(x, 0.0, 12.5)
    np.testing.assert_allclose(jitted, window(x, low=0.0, high=12.5), rtol=1e-6)


@pytest.mark.parametrize("pcts", [DEFAULT_PERCENTILES, (2.5, 97.5), (0.0, 100.0), (13.7, 61.2)])
def test_percentile_window_matches_numpy(pcts):
    rng = np.random.default_rng(2)
    x = (rng.gamma(2.0, 3000.0, (20, 24, 18))).astype(np.float32)  # Bq/ml-like
    mask = rng.random(x.shape) < 0.6
    x[~mask] = -1000.0  # outside the field of view: must not count
    # float32: the position between order statistics is rounded to float32 (about 1e-7 relative),
    # so allow 1e-5 of the value range (a window level is 1/255 of it).
    tol = 1e-5 * np.ptp(x)
    low, high = percentile_window(x, low_pct=pcts[0], high_pct=pcts[1], mask=mask)
    ref = np.percentile(x[mask].astype(np.float64), pcts)
    np.testing.assert_allclose([float(low), float(high)], ref, rtol=0, atol=tol)
    assert float(low) > 0  # the -1000s outside the mask were not counted
    low_all, high_all = percentile_window(x, low_pct=pcts[0], high_pct=pcts[1])
    ref_all = np.percentile(x.astype(np.float64), pcts)
    np.testing.assert_allclose([float(low_all), float(high_all)], ref_all, rtol=0, atol=tol)
    jitted = jax.jit(lambda a, m: percentile_window(a, low_pct=pcts[0], high_pct=pcts[1], mask=m))(x, mask)
    np.testing.assert_allclose([float(jitted[0]), float(jitted[1])], ref, rtol=0, atol=tol)
    with jax.enable_x64(True):
        low64, high64 = percentile_window(x.astype(np.float64), low_pct=pcts[0], high_pct=pcts[1], mask=mask)
        np.testing.assert_allclose([float(low64), float(high64)], ref, rtol=1e-12)


def test_default_window_is_p0_p99_5():
    x = np.arange(1001, dtype=np.float32)
    low, high = percentile_window(x)
    assert DEFAULT_PERCENTILES == (0.0, 99.5)
    assert float(low) == 0.0 and float(high) == pytest.approx(995.0)


def test_errors():
    x = np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match="high > low"):
        window(x, low=2.0, high=2.0)
    with pytest.raises(ValueError, match="high > low"):
        window(x, low=3.0, high=1.0)
    with pytest.raises(ValueError, match="finite"):
        window(x, low=0.0, high=np.inf)
    with pytest.raises(ValueError, match="finite"):
        window(x, low=np.nan, high=1.0)
    with pytest.raises(ValueError, match="scalar"):
        window(x, low=np.zeros(2), high=1.0)
    with pytest.raises(ValueError, match="percentiles"):
        percentile_window(x, low_pct=50, high_pct=50)
    with pytest.raises(ValueError, match="percentiles"):
        percentile_window(x, low_pct=-1, high_pct=50)
    with pytest.raises(ValueError, match=r"mask must be bool of the image's shape \(4, 4\).*\(4, 3\)"):
        percentile_window(x, mask=np.ones((4, 3), bool))
    with pytest.raises(ValueError, match="mask must be bool"):
        percentile_window(x, mask=np.ones((4, 4), np.float32))
    with pytest.raises(ValueError, match="no voxel"):
        percentile_window(x, mask=np.zeros((4, 4), bool))
    with pytest.raises(ValueError, match="unknown colour map 'viridis'.*pet, hot_iron"):
        apply_colormap(x, name="viridis")
    with pytest.raises(ValueError, match="unknown colour map"):
        colormap_table("PET")
    with pytest.raises(ValueError, match="float window values"):
        apply_colormap(np.array([0, 255], np.uint8), name="gray")
