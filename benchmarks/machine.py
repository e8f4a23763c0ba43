"""The machine a benchmark ran on, for its JSON: every absolute figure carries its CPU."""

from __future__ import annotations

import os
import pathlib
import platform

__all__ = ["cpu_model", "cpu_details"]


def cpu_model() -> str:
    """The first "model name" of /proc/cpuinfo, else ``platform.processor()``, else "unknown"."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_details() -> dict:
    """The first CPU of /proc/cpuinfo beyond its name, and the cores this process may use.

    A VM's "model name" can be generic ("Intel(R) Xeon(R) Processor"), so vendor, family, model,
    stepping, cache size and the vector-ISA flags (avx2, fma, avx512*, amx*) are recorded too.
    """
    details: dict = {}
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key in ("vendor_id", "cpu family", "model", "stepping", "cache size") and key not in details:
                details[key] = value
            elif key == "flags" and "flags" not in details:
                details["flags"] = sorted(f for f in value.split() if f.startswith(("avx2", "fma", "avx512", "amx")))
            elif not line.strip() and details:
                break
    except OSError:
        pass
    details["cores_usable"] = len(os.sched_getaffinity(0))
    return details
