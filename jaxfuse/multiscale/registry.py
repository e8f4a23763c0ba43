"""The registry of multiscale transforms, by the name :func:`jaxfuse.multiscale.fuse_multiscale` takes.

Every transform module defines its :class:`~jaxfuse.multiscale.base.MultiscaleTransform` value;
this module only lists them, explicitly, so that importing any module of the package gives the
same registry (nothing registers itself as a side effect of being imported).

Plugging in a new transform: write its ``forward`` and ``inverse`` over a pytree of coefficients in
its own module, say how the pytree splits into a low-pass part and a high-pass part, and add one
entry here::

    "mytransform": MultiscaleTransform(
        forward=functools.partial(my_forward, n_directions=8),  # forward(image, *, levels)
        inverse=functools.partial(my_inverse, n_directions=8),  # inverse(coeffs)
        split=split_first, merge=merge_first),

:func:`~jaxfuse.multiscale.fuse_multiscale` and :func:`~jaxfuse.multiscale.fuse_coefficients`
then work unchanged (the rule is applied leaf by leaf with ``jax.tree.map``), and the contract test
``tests/multiscale/test_contract.py`` checks the new entry (reconstruction, jit, vmap, compile
once, gradients, bad inputs). A :class:`~jaxfuse.multiscale.base.MultiscaleTransform` value can
also be passed as ``transform=`` directly, without registering it.
"""

from __future__ import annotations

from jaxfuse.multiscale.base import MultiscaleTransform
from jaxfuse.multiscale.contourlet import CONTOURLET
from jaxfuse.multiscale.curvelet import CURVELET
from jaxfuse.multiscale.dwt import DWT
from jaxfuse.multiscale.laplacian import LAPLACIAN
from jaxfuse.multiscale.nsct import NSCT

__all__ = ["TRANSFORMS"]

#: Registered transforms, by the name :func:`jaxfuse.multiscale.fuse_multiscale` takes.
TRANSFORMS: dict[str, MultiscaleTransform] = {
    "laplacian": LAPLACIAN,
    "dwt": DWT,
    "curvelet": CURVELET,
    "contourlet": CONTOURLET,
    "nsct": NSCT,
}
