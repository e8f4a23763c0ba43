"""Files at the edge of the library (NumPy, not JAX): reading inputs, atomic writes.

The volume readers and writer are imported on first use (PEP 562), so that ``import jaxfuse`` for
2-D work does not pay for importing nibabel and pydicom (about 0.3 s).
"""

from __future__ import annotations

import importlib

_LAZY = {
    "Volume": "jaxfuse.io.volumes",
    "DEFAULT_MAX_VOXELS": "jaxfuse.io.volumes",
    "read_volume": "jaxfuse.io.volumes",
    "read_nifti": "jaxfuse.io.volumes",
    "write_rgb_nifti": "jaxfuse.io.volumes",
    "read_dicom_series": "jaxfuse.io.dicom",
}

__all__: list[str] = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
