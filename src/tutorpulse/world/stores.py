"""Growable struct-of-arrays containers used by the day-stepped simulation."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class Store:
    """Columns of equal length that grow by appending blocks and shrink by compaction."""

    def __init__(self, dtypes: dict[str, npt.DTypeLike], capacity: int = 4096) -> None:
        self._dtypes = {name: np.dtype(dt) for name, dt in dtypes.items()}
        self._cols = {name: np.zeros(capacity, dtype=dt) for name, dt in self._dtypes.items()}
        self.n = 0

    def __getitem__(self, name: str) -> npt.NDArray:
        return self._cols[name][: self.n]

    def append(self, **cols: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Append a block; every column must be given. Returns the new rows' positions."""
        lengths = {np.shape(v)[0] for v in cols.values()}
        if len(lengths) != 1 or set(cols) != set(self._dtypes):
            raise ValueError("append needs every column with one common length")
        k = lengths.pop()
        need = self.n + k
        capacity = next(iter(self._cols.values())).shape[0]
        if need > capacity:
            new_cap = max(need, int(capacity * 1.5) + 1024)
            for name, arr in self._cols.items():
                grown = np.zeros(new_cap, dtype=arr.dtype)
                grown[: self.n] = arr[: self.n]
                self._cols[name] = grown
        for name, value in cols.items():
            self._cols[name][self.n : need] = value
        positions = np.arange(self.n, need, dtype=np.int64)
        self.n = need
        return positions

    def compact(self, keep: npt.NDArray[np.bool_]) -> None:
        idx = np.flatnonzero(keep)
        for _name, arr in self._cols.items():
            arr[: idx.size] = arr[idx]
        self.n = idx.size


class ChunkBuffer:
    """Collects per-day column blocks and concatenates them once at the end."""

    def __init__(self, dtypes: dict[str, npt.DTypeLike]) -> None:
        self._dtypes = {name: np.dtype(dt) for name, dt in dtypes.items()}
        self._chunks: dict[str, list[npt.NDArray]] = {name: [] for name in self._dtypes}

    def add(self, **cols: npt.ArrayLike) -> None:
        if set(cols) != set(self._dtypes):
            raise ValueError("add needs every column")
        for name, value in cols.items():
            self._chunks[name].append(np.asarray(value, dtype=self._dtypes[name]))

    def finish(self) -> dict[str, npt.NDArray]:
        out = {
            name: np.concatenate(parts) if parts else np.zeros(0, dtype=self._dtypes[name])
            for name, parts in self._chunks.items()
        }
        self._chunks = {name: [] for name in self._dtypes}
        return out


def sort_order(*keys: npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
    """Stable sort order by several integer keys (most significant first), like np.lexsort.

    Keys are packed into one int64 (ranks replace the less significant part when the
    bits run out), which is several times faster than `np.lexsort` on millions of rows.
    """
    combined: npt.NDArray[np.int64] | None = None
    bits = 0
    for key in reversed(keys):
        k = np.asarray(key, dtype=np.int64)
        k = k - (k.min() if k.size else 0)
        width = int(k.max()).bit_length() if k.size else 0
        if combined is None:
            combined, bits = k, width
            continue
        if bits + width > 62:
            order = np.argsort(combined, kind="stable")
            rank = np.empty(order.size, dtype=np.int64)
            rank[order] = np.arange(order.size, dtype=np.int64)
            combined, bits = rank, int(order.size).bit_length()
        combined = (k << bits) | combined
        bits += width
    if combined is None:
        raise ValueError("sort_order needs at least one key")
    return np.asarray(np.argsort(combined, kind="stable"), dtype=np.int64)
