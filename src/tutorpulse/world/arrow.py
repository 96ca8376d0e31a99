"""Fast construction of Arrow string columns (ids, ISO timestamps) straight from numpy buffers.

Formatting millions of ids or timestamps through Python strings (or
`pyarrow.compute.strftime`) takes tens of seconds; writing the UTF-8 bytes into
a numpy matrix and wrapping it as a `StringArray` takes well under one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tutorpulse.world.clock import DAY, civil_from_days

CHUNK_ROWS = 2_000_000


def _string_array(
    data: npt.NDArray[np.uint8], lengths: npt.NDArray[np.int64], valid: npt.NDArray[np.bool_] | None
) -> pa.Array:
    if int(lengths.sum()) >= 2**31:
        raise ValueError("string column too large for one Arrow chunk")
    if lengths.size and (lengths == lengths[0]).all():
        offsets = np.arange(lengths.size + 1, dtype=np.int32) * np.int32(lengths[0])
    else:
        offsets = np.zeros(lengths.size + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
    mask_buf = None
    null_count = 0
    if valid is not None and not valid.all():
        mask_buf = pa.py_buffer(np.packbits(valid, bitorder="little"))
        null_count = int((~valid).sum())
    return pa.Array.from_buffers(
        pa.string(),
        lengths.size,
        [mask_buf, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))],
        null_count=null_count,
    )


def _digit_count(numbers: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    count = np.ones(numbers.shape, dtype=np.int64)
    limit = 10
    while True:
        more = numbers >= limit
        if not more.any():
            return count
        count += more
        limit *= 10


_LUT4 = np.array([list(f"{i:04d}".encode()) for i in range(10_000)], dtype=np.uint8)
_LUT4_U32 = _LUT4.view(np.uint32).ravel()


def _write_digits(
    mat: npt.NDArray[np.uint8], pos: int, width: int, values: npt.NDArray[np.int64]
) -> None:
    """Write `values` zero-padded to `width` digits into columns pos..pos+width of `mat`."""
    rest = values
    end = pos + width
    while end > pos:
        take = min(4, end - pos)
        group = rest % 10_000
        chars = _LUT4_U32[group].view(np.uint8).reshape(-1, 4)
        mat[:, end - take : end] = chars[:, 4 - take :]
        rest = rest // 10_000
        end -= take


def format_ids(prefix: str, numbers: npt.NDArray[np.integer], width: int) -> pa.Array:
    """Return `prefix` + zero-padded `numbers` (at least `width` digits) as a string array."""
    nums = np.asarray(numbers, dtype=np.int64)
    n = nums.size
    pre = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    if n == 0 or int(nums.max()) < 10**width:
        ndig = np.full(n, width, dtype=np.int64)
    else:
        ndig = np.maximum(_digit_count(nums), width)
    maxd = int(ndig.max()) if n else width
    mat = np.empty((n, pre.size + maxd), dtype=np.uint8)
    mat[:, : pre.size] = pre
    _write_digits(mat, pre.size, maxd, nums)
    if (ndig == maxd).all():
        data = mat.ravel()
    else:
        cols = np.arange(pre.size + maxd)
        keep = (cols[None, :] < pre.size) | (cols[None, :] >= pre.size + (maxd - ndig)[:, None])
        data = mat[keep]
    return _string_array(data, pre.size + ndig, None)


def format_iso_utc(seconds: npt.NDArray[np.int64], valid: npt.NDArray[np.bool_]) -> pa.Array:
    """Return "YYYY-MM-DDTHH:MM:SS+00:00" strings for epoch seconds (null where not valid)."""
    chunks = []
    for lo in range(0, max(seconds.size, 1), CHUNK_ROWS):
        chunks.append(_iso_chunk(seconds[lo : lo + CHUNK_ROWS], valid[lo : lo + CHUNK_ROWS]))
    if len(chunks) == 1:
        return chunks[0]
    return pa.concat_arrays(chunks)


def _iso_chunk(seconds: npt.NDArray[np.int64], valid: npt.NDArray[np.bool_]) -> pa.Array:
    s = np.where(valid, seconds, 0)
    days = s // DAY
    sod = s - days * DAY
    y, m, d = civil_from_days(days)
    mat = np.empty((s.size, 25), dtype=np.uint8)
    template = np.frombuffer(b"0000-00-00T00:00:00+00:00", dtype=np.uint8)
    mat[:] = template
    fields: Sequence[tuple[npt.NDArray[np.int64], int, int]] = (
        (y, 0, 4),
        (m, 5, 2),
        (d, 8, 2),
        (sod // 3600, 11, 2),
        ((sod // 60) % 60, 14, 2),
        (sod % 60, 17, 2),
    )
    for value, pos, width in fields:
        _write_digits(mat, pos, width, value)
    lengths = np.where(valid, 25, 0).astype(np.int64)
    data = mat[valid].ravel()
    return _string_array(data, lengths, valid)


def take_labels(labels: Sequence[str], codes: npt.NDArray[np.integer]) -> pa.Array:
    """Map integer codes to their labels (code -1 becomes null)."""
    codes64 = np.asarray(codes, dtype=np.int64)
    valid = codes64 >= 0
    indices = pa.array(np.where(valid, codes64, 0), type=pa.int64(), mask=~valid)
    return pa.array(list(labels), type=pa.string()).take(indices)


def timestamps(
    seconds: npt.NDArray[np.int64], valid: npt.NDArray[np.bool_] | None = None
) -> pa.Array:
    """Epoch seconds as timestamp[us, tz=UTC] (null where not valid)."""
    mask = None if valid is None else ~valid
    return pa.array(seconds * 1_000_000, type=pa.timestamp("us", tz="UTC"), mask=mask)
