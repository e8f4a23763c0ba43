"""jaxfuse.volume's public API: explicit __all__, data positional and options keyword-only,
docstrings with examples that run."""

from __future__ import annotations

import doctest
import importlib
import inspect

import pytest

import jaxfuse.volume

DATA_ARGS = {
    "resample": 2,
    "field_of_view": 2,
    "grid_to_grid": 2,
    "resample_to": 1,
    "to_canonical": 2,
    "from_canonical": 2,
    "volume_to_slices": 1,
    "slices_to_volume": 1,
    "window": 1,
    "percentile_window": 1,
    "colormap_table": 1,
    "apply_colormap": 1,
}


def test_all_names_exist_and_functions_are_listed():
    for name in jaxfuse.volume.__all__:
        assert hasattr(jaxfuse.volume, name), name
    functions = {n for n in jaxfuse.volume.__all__ if inspect.isfunction(getattr(jaxfuse.volume, n))}
    assert functions == set(DATA_ARGS)


@pytest.mark.parametrize("name", sorted(DATA_ARGS))
def test_options_are_keyword_only_and_documented(name):
    fn = getattr(jaxfuse.volume, name)
    params = list(inspect.signature(fn).parameters.values())
    for p in params[: DATA_ARGS[name]]:
        assert p.kind == p.POSITIONAL_OR_KEYWORD, f"{name}: {p.name!r}"
    for p in params[DATA_ARGS[name] :]:
        assert p.kind == p.KEYWORD_ONLY, f"{name}: option {p.name!r} must be keyword-only"
    doc = fn.__doc__ or ""
    assert "Returns:" in doc and "Example:" in doc, name


@pytest.mark.parametrize("module", ["resample", "slicing", "colormap"])
def test_docstring_examples_run(module):
    # import_module: the package's ``resample`` attribute is the function, not the module
    result = doctest.testmod(importlib.import_module(f"jaxfuse.volume.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result
