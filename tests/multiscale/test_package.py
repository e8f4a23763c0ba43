"""The package's shape: every old public name reachable, jaxfuse.transforms, keyword-only options."""

from __future__ import annotations

import inspect
import types

import jaxfuse
from jaxfuse import multiscale
from jaxfuse.multiscale import registry, rule

# The public names of the modules before the family became a package (their __all__).
OLD_TRANSFORMS = ["MultiscaleTransform", "TRANSFORMS", "WAVELETS", "laplacian_pyramid",
                  "reconstruct_laplacian_pyramid", "dwt2", "idwt2", "fuse_coefficients",
                  "fuse_multiscale", "fuse_laplacian", "fuse_dwt"]
OLD_MODULES = {
    "curvelet": ["CURVELET", "CurveletCoefficients", "CurveletLayout", "curvelet_transform",
                 "inverse_curvelet_transform"],
    "contourlet": ["CONTOURLET", "DFB_FILTERS", "ContourletCoefficients", "contourlet_transform",
                   "default_directions", "dfb_orientations", "directional_filter_bank",
                   "inverse_contourlet_transform", "inverse_directional_filter_bank"],
    "nsct": ["DEFAULT_DIRECTIONS", "NSCT", "dmaxflat", "filter_pair", "insct", "nsct",
             "nsct_filters", "nsct_orientations"],
}


def test_old_public_names_are_reachable():
    assert jaxfuse.transforms is multiscale
    for name in OLD_TRANSFORMS:
        assert getattr(jaxfuse.transforms, name) is not None, name
        assert name in multiscale.__all__, name
    for module, names in OLD_MODULES.items():
        mod = getattr(jaxfuse, module)
        assert isinstance(mod, types.ModuleType) and mod is getattr(multiscale, module)
        for name in names:
            assert name in mod.__all__ and getattr(mod, name) is not None, (module, name)
            # re-exported by the package, except the transform nsct, whose name is the module's
            if name != "nsct":
                assert getattr(multiscale, name) is getattr(mod, name), (module, name)
    assert callable(jaxfuse.nsct.nsct)


def test_one_registry_with_every_transform_method():
    assert registry.TRANSFORMS is multiscale.TRANSFORMS is rule.TRANSFORMS
    assert {"laplacian", "dwt", "curvelet", "contourlet", "nsct"} <= set(jaxfuse.METHODS)
    assert list(registry.TRANSFORMS) == ["laplacian", "dwt", "curvelet", "contourlet", "nsct"]


def test_public_api_options_keyword_only():
    functions = 0
    for name in multiscale.__all__:
        obj = getattr(multiscale, name)
        assert obj is not None, name
        if not inspect.isfunction(obj) or name == "dmaxflat":  # dmaxflat(order): its one argument
            continue
        functions += 1
        for p in inspect.signature(obj).parameters.values():
            if p.default is not inspect.Parameter.empty:
                assert p.kind is inspect.Parameter.KEYWORD_ONLY, f"{name}({p.name}) positional"
    assert functions >= 20


def test_every_parameter_after_the_image_is_keyword_only():
    functions = [multiscale.contourlet_transform, multiscale.directional_filter_bank,
                 multiscale.inverse_directional_filter_bank]
    functions += [f for spec in registry.TRANSFORMS.values() for f in (spec.forward, spec.inverse)]
    for fn in functions:
        params = list(inspect.signature(fn).parameters.values())[1:]
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), fn.__name__
