"""The public API's shape: explicit __all__, keyword-only options, docstrings."""

from __future__ import annotations

import inspect

import jaxfuse

# Functions whose leading positional parameters are data (images); everything else keyword-only.
DATA_ARGS = {
    "fuse": 2,
    "fusion_rule": 4,
    "rgb_to_hsi": 1,
    "hsi_to_rgb": 1,
    "rgb_to_intensity": 1,
    "replace_intensity": 2,
    "replace_intensity_planar": 2,
    "rgb_to_ihs_linear": 1,
    "ihs_linear_to_rgb": 1,
    "replace_intensity_linear": 2,
    "vgg19_conv1_1": 1,
    "vgg19_conv1_1_gray": 1,
    "normalise_features": 1,
    "reduce_features": 1,
    "to_unit_float": 1,
    "load_vgg19_conv1_1": 0,
    "read_image": 1,
    "read_mri": 1,
    "read_functional": 1,
    "write_png": 2,
    "fuse_with": 2,
    "fuse_volumes": 2,
}


def test_all_names_exist():
    for name in jaxfuse.__all__:
        assert hasattr(jaxfuse, name), name


def test_options_are_keyword_only():
    for name, positional in DATA_ARGS.items():
        params = list(inspect.signature(getattr(jaxfuse, name)).parameters.values())
        for p in params[positional:]:
            assert p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD), f"{name}: option {p.name!r} must be keyword-only"
        for p in params[:positional]:
            assert p.kind == p.POSITIONAL_OR_KEYWORD, f"{name}: {p.name!r}"


def test_every_public_function_has_a_docstring():
    for name in jaxfuse.__all__:
        obj = getattr(jaxfuse, name)
        if callable(obj):
            assert obj.__doc__ and len(obj.__doc__.strip()) > 20, name


def test_every_module_declares_all_and_its_names_exist():
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(jaxfuse.__path__, prefix="jaxfuse."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        module = importlib.import_module(info.name)
        assert hasattr(module, "__all__"), info.name
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.{name}"
