"""The machine a benchmark ran on, for its JSON: every absolute figure carries its CPU."""

from __future__ import annotations

import pathlib
import platform

__all__ = ["cpu_model"]


def cpu_model() -> str:
    """The first "model name" of /proc/cpuinfo, else ``platform.processor()``, else "unknown"."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
