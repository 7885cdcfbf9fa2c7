"""Vectorised string building for the event volume.

Formatting tens of millions of timestamps and UUIDs through Python objects (or even Arrow's
strftime) is the bottleneck of a synthetic event generator, so strings are built as fixed-width
byte matrices in numpy and handed to Arrow as raw buffers, without one Python object per value.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pyarrow as pa

MS_PER_DAY = 86_400_000
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_PAIRS = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), dtype=np.uint16)


def strings_from_matrix(mat: np.ndarray, lengths: np.ndarray | None = None) -> pa.StringArray:
    """Turn an (n, w) uint8 matrix (row i = the first lengths[i] bytes) into an Arrow string array."""
    n, width = mat.shape
    if lengths is None:
        data = np.ascontiguousarray(mat).reshape(-1)
        offsets = np.arange(n + 1, dtype=np.int64) * width
    else:
        keep = np.arange(width)[None, :] < lengths[:, None]
        data = mat[keep]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))
    ).cast(pa.string())


def uuid_strings(rng: np.random.Generator, n: int) -> pa.StringArray:
    """Random version-4-shaped UUID strings (8-4-4-4-12 lower-case hex), drawn from rng."""
    packed = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    packed[:, 6] = 0x40 | (packed[:, 6] & 0x0F)  # version 4
    packed[:, 8] = 0x80 | (packed[:, 8] & 0x3F)  # RFC 4122 variant
    hexed = _HEX_PAIRS[packed].view(np.uint8).reshape(n, 32)
    out = np.empty((n, 36), dtype=np.uint8)
    out[:, 0:8] = hexed[:, 0:8]
    out[:, 9:13] = hexed[:, 8:12]
    out[:, 14:18] = hexed[:, 12:16]
    out[:, 19:23] = hexed[:, 16:20]
    out[:, 24:36] = hexed[:, 20:32]
    out[:, [8, 13, 18, 23]] = ord("-")
    return strings_from_matrix(out)


def _u64(text: bytes) -> np.uint64:
    return np.frombuffer(text, dtype=np.uint64)[0]


# Lookup tables of 8-byte pieces: ":SS.mmm" + terminator, and "HH:MM" + padding.
_SEC_MS = np.frombuffer(
    b"".join(f":{s:02d}.{m:03d}".encode() for s in range(60) for m in range(1000)), dtype="S7"
)
_TAIL = {
    term: np.frombuffer(b"".join(x + term for x in _SEC_MS.tolist()), dtype=np.uint64)
    for term in (b"Z", b"+", b"-")
}
_T_HHMM = np.frombuffer(
    b"".join(f"T{h:02d}:{m:02d}".encode() for h in range(24) for m in range(60)), dtype=np.uint8
).reshape(1440, 6)
_HHMM = np.frombuffer(
    b"".join(f"{h:02d}:{m:02d}   ".encode() for h in range(24) for m in range(60)), dtype=np.uint64
)


@functools.lru_cache(maxsize=4096)
def _day_tables(day: int) -> tuple[np.ndarray, np.ndarray]:
    """("YYYY-MM-",) and the 1440 "DDTHH:MM" pieces of one day, as uint64 lookup tables."""
    text = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat().encode()
    head = np.frombuffer(text[:8], dtype=np.uint64)
    mid = np.empty((1440, 8), dtype=np.uint8)
    mid[:, 0:2] = np.frombuffer(text[8:10], dtype=np.uint8)
    mid[:, 2:8] = _T_HHMM
    return head, mid.view(np.uint64).reshape(1440)
    return head, mid


def iso_timestamps(epoch_ms: np.ndarray, offset_minutes: np.ndarray | None = None) -> pa.StringArray:
    """ISO 8601 strings with milliseconds: `Z` when the offset is 0, else `+HH:MM`/`-HH:MM` local time.

    Built from three 8-byte lookups per value ("YYYY-MM-", "DDTHH:MM", ":SS.mmmZ") plus an
    "HH:MM" suffix for local-time values.
    """
    epoch_ms = np.asarray(epoch_ms, dtype=np.int64)
    n = epoch_ms.shape[0]
    has_offset = offset_minutes is not None and bool(np.any(offset_minutes))
    local = epoch_ms + (np.asarray(offset_minutes, dtype=np.int64) * 60_000 if has_offset else 0)
    minutes = local // 60_000
    days = minutes // 1440
    out = np.empty((n, 4 if has_offset else 3), dtype=np.uint64)
    if n:
        lo, hi = int(days.min()), int(days.max())
        tables = [_day_tables(d) for d in range(lo, hi + 1)]
        head = np.concatenate([t[0] for t in tables])
        mid = np.concatenate([t[1] for t in tables])
        out[:, 0] = head[days - lo]
        out[:, 1] = mid[minutes - lo * 1440]
    sec_ms = local % 60_000
    if not has_offset:
        out[:, 2] = _TAIL[b"Z"][sec_ms]
        return strings_from_matrix(out.view(np.uint8).reshape(n, 24))
    offset_minutes = np.asarray(offset_minutes, dtype=np.int64)
    out[:, 2] = np.where(
        offset_minutes == 0,
        _TAIL[b"Z"][sec_ms],
        np.where(offset_minutes > 0, _TAIL[b"+"][sec_ms], _TAIL[b"-"][sec_ms]),
    )
    out[:, 3] = _HHMM[np.abs(offset_minutes) % 1440]
    lengths = np.where(offset_minutes != 0, 29, 24).astype(np.int64)
    return strings_from_matrix(out.view(np.uint8).reshape(n, 32), lengths)


def prefixed_numbers(prefix: str, numbers: np.ndarray, width: int) -> list[str]:
    """Ids like `usr_000001` for a (small) vector of numbers; used for lookup tables, not per event."""
    return [f"{prefix}{int(x):0{width}d}" for x in numbers]
