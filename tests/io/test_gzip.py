"""The block-parallel gzip writer: a standard gzip stream of the input, the same bytes for any thread count."""

from __future__ import annotations

import gzip
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxfuse.io._deflate import compressobj
from jaxfuse.io._gzip import _WINDOW, gzip_chunks


def _compress(parts, **options) -> bytes:
    return b"".join(gzip_chunks(parts, **options))


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 2 * _WINDOW), min_size=1, max_size=3),
    block=st.sampled_from([1, 7, 1000, _WINDOW - 1, _WINDOW + 1, 3 * _WINDOW]),
    level=st.sampled_from([0, 1, 2, 3, 4, 6, 9]),  # stored, ISA-L 1-3, zlib 4-9
    seed=st.integers(0, 2**16),
)
def test_any_parts_round_trip_and_do_not_depend_on_threads(sizes, block, level, seed):
    rng = np.random.default_rng(seed)
    sizes = [min(n, 500 * block) for n in sizes]  # at most 500 blocks a part: 1-byte blocks stay cheap
    # runs of a few values: compressible, with matches that reach across block edges
    parts = [np.repeat(rng.integers(0, 4, max(1, n // 50) + 1, dtype=np.uint8), 50)[:n].tobytes() for n in sizes]
    one = _compress(parts, level=level, threads=1, block_bytes=block)
    assert gzip.decompress(one) == b"".join(parts)  # gzip.decompress checks the CRC and the length
    assert _compress(parts, level=level, threads=3, block_bytes=block) == one


def test_numpy_parts_and_header_fields():
    data = np.arange(200_000, dtype=np.uint32).reshape(100, 2000) % 251
    stream = _compress([b"head", data], level=1, threads=2, block_bytes=65536)
    assert gzip.decompress(stream) == b"head" + data.tobytes()
    # the header gzip.GzipFile(filename="", mtime=0) writes at level 1
    assert stream[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\xff"
    assert int.from_bytes(stream[-8:-4], "little") == zlib.crc32(b"head" + data.tobytes())


@pytest.mark.parametrize("level", [1, 6])  # ISA-L, zlib
def test_size_close_to_one_serial_stream(level):
    rng = np.random.default_rng(0)
    data = np.repeat(rng.integers(0, 8, 400_000, dtype=np.uint8), 8).tobytes()
    compressor = compressobj(level, wbits=-zlib.MAX_WBITS)  # the same library, one serial stream
    serial = len(compressor.compress(data) + compressor.flush()) + 18  # + gzip header and trailer
    blocked = len(_compress([data], level=level, threads=2, block_bytes=1 << 18))
    assert serial * 0.99 <= blocked <= serial * 1.01 + 100


def test_corruption_is_detected():
    stream = bytearray(_compress([bytes(range(256)) * 4000], level=1, threads=2, block_bytes=100_000))
    stream[-6] ^= 0xFF  # the CRC
    with pytest.raises((zlib.error, gzip.BadGzipFile, EOFError)):
        gzip.decompress(bytes(stream))


@pytest.mark.parametrize("bad", [{"level": 10}, {"level": -1}, {"level": 1, "block_bytes": 0}])
def test_bad_options(bad):
    with pytest.raises(ValueError):
        _compress([b"x"], **bad)
