"""Write a world to disk: the four contract files (CSV or Parquet) plus truth.json.

Output is byte-identical for identical worlds: rows are sorted by id, Parquet is
written by pyarrow with fixed options, CSV timestamps are formatted explicitly
as ISO-8601 with a `+00:00` offset, and truth.json uses sorted keys.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tutorpulse.world.arrow import format_iso_utc
from tutorpulse.world.generator import World

FORMATS = ("csv", "parquet")
TABLE_NAMES = ("tutors", "students", "sessions", "events")
PARQUET_ROW_GROUP = 1_000_000


def _csv_ready(table: pa.Table) -> pa.Table:
    """Replace timestamp columns by "YYYY-MM-DDTHH:MM:SS+00:00" strings."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if pa.types.is_timestamp(field.type):
            chunks = []
            for chunk in column.chunks:
                micros = pc.fill_null(chunk.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
                valid = np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
                chunks.append(format_iso_utc(micros // 1_000_000, valid))
            columns.append(pa.chunked_array(chunks, type=pa.string()))
        else:
            columns.append(column)
    names = table.schema.names
    return pa.Table.from_arrays(columns, names=names)


def _write_table(table: pa.Table, path: Path, fmt: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "parquet":
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            row_group_size=PARQUET_ROW_GROUP,
            use_dictionary=True,
            write_statistics=True,
        )
    else:
        pacsv.write_csv(_csv_ready(table), tmp, write_options=pacsv.WriteOptions(batch_size=65_536))
    os.replace(tmp, path)


def truth_json(truth: dict[str, Any]) -> str:
    return json.dumps(truth, sort_keys=True, indent=2, allow_nan=False) + "\n"


def write_world(world: World, out_dir: Path, *, fmt: Literal["csv", "parquet"]) -> dict[str, Path]:
    """Write `<name>.<fmt>` for the four tables and `truth.json` into `out_dir`.

    Files of the other format with the same names are removed so that an
    importer reading the directory never mixes two worlds. Returns name -> path.
    Raises ValueError for an unknown format.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, table in world.tables().items():
        path = out_dir / f"{name}.{fmt}"
        _write_table(table, path, fmt)
        paths[name] = path
        for other in FORMATS:
            stale = out_dir / f"{name}.{other}"
            if other != fmt and stale.exists():
                stale.unlink()
    truth_path = out_dir / "truth.json"
    tmp = truth_path.with_name("truth.json.tmp")
    tmp.write_text(truth_json(world.truth), encoding="utf-8")
    os.replace(tmp, truth_path)
    paths["truth"] = truth_path
    return paths
