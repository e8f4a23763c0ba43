"""Which deflate implementation compresses at which level, for the PNG and gzip writers.

Levels follow zlib's 0-9 scale, so callers keep one option:

* ``0``: stored blocks, no compression (zlib).
* ``1``-``3``: ISA-L (Intel's Intelligent Storage Acceleration Library, through the ``isal``
  package) at its own levels 1-3. On fused RGB data it is 3-5x faster than zlib's level 1 at
  about the same size (``benchmarks/RESULTS.md``, 2-core AMD EPYC Zen 4, one thread): a 256x256
  fusion's PNG 0.46 against 1.3 ms (zlib's run-length strategy), 80 against 85 kB; the fused
  MNI152 volume's 26 MB 0.04 against 0.20 s, 6.47 against 6.19 MB.
* ``4``-``9``: zlib (ISA-L has no higher levels), for the smallest files.

Both write ordinary deflate streams that any inflater reads; only the compressed bytes differ
between the two libraries (and between ISA-L builds), never the data they decode to. ISA-L, like
zlib, releases the GIL while it compresses, so the gzip writer's threads run in parallel.
"""

from __future__ import annotations

import zlib

from isal import isal_zlib

__all__ = ["ISAL_LEVELS", "compressobj", "crc32"]

#: The levels compressed by ISA-L; the others by zlib.
ISAL_LEVELS = range(1, 4)

#: CRC-32 (the gzip and PNG checksum): ISA-L's, the same values as ``zlib.crc32``, several times faster.
crc32 = isal_zlib.crc32


def compressobj(level: int, *, wbits: int, zdict=None):
    """A deflate compressor (``compress``/``flush`` as ``zlib.compressobj``'s) for ``level`` 0-9.

    Args:
        level: 0 (stored), 1-3 (ISA-L's levels) or 4-9 (zlib's).
        wbits: as zlib's: 15 for a zlib stream (PNG's IDAT), -15 for raw deflate.
        zdict: bytes the stream starts primed with (a preset dictionary), or None.

    Raises:
        ValueError: ``level`` outside 0..9.
    """
    if not 0 <= level <= 9:
        raise ValueError(f"level must be 0..9, got {level}")
    extra = {} if zdict is None else {"zdict": zdict}
    if level in ISAL_LEVELS:
        return isal_zlib.compressobj(level, isal_zlib.DEFLATED, wbits, **extra)
    return zlib.compressobj(level, zlib.DEFLATED, wbits, 9, zlib.Z_DEFAULT_STRATEGY, **extra)
