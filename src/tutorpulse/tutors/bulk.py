"""Bulk upserts for the file import: executemany on SQLite, COPY + INSERT … SELECT on PostgreSQL.

These write through the raw DB-API connection of an open SQLAlchemy transaction,
so an import is one transaction: all of it lands or none of it does.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Index, Table, text
from sqlalchemy.schema import AddConstraint, DropConstraint

CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class TargetColumn:
    """One database column and the kind of value written to it."""

    name: str
    kind: str  # str/int/float/bool/date/timestamp/json
    update: bool = True  # part of the change check and the SET list on conflict


@dataclass
class UpsertResult:
    inserted: int = 0
    updated: int = 0

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(self.inserted + other.inserted, self.updated + other.updated)


# --- value conversion -----------------------------------------------------------------

_POW10 = [10**k for k in range(7)]


def format_sqlite_timestamps(values: pd.Series) -> list[str | None]:
    """UTC timestamps → SQLAlchemy's SQLite text (``YYYY-MM-DD HH:MM:SS.ffffff``), vectorised."""
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        if values.isna().all():  # an absent optional column
            return [None] * len(values)
        values = pd.to_datetime(values, utc=True)
    arr = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    missing = np.isnat(arr)
    us = np.where(missing, 0, arr.astype(np.int64))
    day_us = 86_400_000_000
    days = us // day_us
    rem = us - days * day_us
    d = days.astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    fields = (
        (0, d.astype("datetime64[Y]").astype(np.int64) + 1970, 4),
        (5, month_start.astype(np.int64) % 12 + 1, 2),
        (8, (d - month_start).astype(np.int64) + 1, 2),
        (11, rem // 3_600_000_000, 2),
        (14, rem // 60_000_000 % 60, 2),
        (17, rem // 1_000_000 % 60, 2),
        (20, rem % 1_000_000, 6),
    )
    out = np.empty((len(arr), 26), dtype=np.uint8)
    for start, val, width in fields:
        for k in range(width):
            out[:, start + width - 1 - k] = 48 + (val // _POW10[k]) % 10
    out[:, 4] = out[:, 7] = 45  # '-'
    out[:, 10] = 32  # ' '
    out[:, 13] = out[:, 16] = 58  # ':'
    out[:, 19] = 46  # '.'
    text_values: list[str | None] = out.view("S26").ravel().astype("U26").tolist()
    if missing.any():
        for i in np.flatnonzero(missing):
            text_values[i] = None
    return text_values


def sqlite_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _python_values(series: pd.Series, kind: str) -> list[Any]:
    if kind == "timestamp":
        return format_sqlite_timestamps(series)
    if kind == "date":
        return [None if v is None or v is pd.NaT else v.isoformat() for v in series.tolist()]
    if kind == "bool":
        flags = series.astype("boolean")
        return flags.astype("Int64").astype(object).where(flags.notna(), None).tolist()
    if kind == "int":
        ints = series.astype("Int64")
        return ints.astype(object).where(ints.notna(), None).tolist()
    if kind == "float":
        floats = series.astype("float64").to_numpy()
        obj = floats.astype(object)
        obj[np.isnan(floats)] = None
        return obj.tolist()
    texts = series.astype(object)
    return texts.where(texts.notna(), None).tolist()


def sqlite_rows(
    frame: pd.DataFrame, columns: Sequence[TargetColumn]
) -> Iterator[list[tuple[Any, ...]]]:
    """Yield chunks of row tuples ready for ``executemany``."""
    for start in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        cols = [_python_values(chunk[c.name], c.kind) for c in columns]
        yield list(zip(*cols, strict=True))


# --- SQL ---------------------------------------------------------------------------------


def _literal(value: Any, dialect: str) -> str:
    if isinstance(value, datetime):
        stamp = (
            sqlite_timestamp(value) if dialect == "sqlite" else value.astimezone(UTC).isoformat()
        )
        return f"'{stamp}'" if dialect == "sqlite" else f"CAST('{stamp}' AS TIMESTAMPTZ)"
    raise TypeError(f"unsupported constant {value!r}")


def _upsert_sql(
    table: str,
    columns: Sequence[TargetColumn],
    conflict: str,
    dialect: str,
    overrides: dict[str, str],
    source: str = "VALUES",
    constants: dict[str, Any] | None = None,
) -> str:
    constants = constants or {}
    const_names = list(constants)
    const_sql = [_literal(v, dialect) for v in constants.values()]
    names = [c.name for c in columns]
    updatable = [c.name for c in columns if c.update and c.name != conflict]
    distinct = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
    sets = [f"{n} = {overrides.get(n, f'excluded.{n}')}" for n in updatable]
    if "updated_at" in constants:
        sets.append("updated_at = excluded.updated_at")
    changed = " OR ".join(
        f"{table}.{n} {distinct} ({overrides.get(n, f'excluded.{n}')})" for n in updatable
    )
    head = f"INSERT INTO {table} ({', '.join(names + const_names)}) "
    if source == "VALUES":
        body = f"VALUES ({', '.join(['?'] * len(names) + const_sql)})"
    else:
        body = f"SELECT {', '.join(names + const_sql)} FROM {source}"
    if not updatable:
        return f"{head}{body} ON CONFLICT ({conflict}) DO NOTHING"
    tail = f" ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(sets)} WHERE {changed}"
    if source != "VALUES" and dialect == "sqlite":
        body += " WHERE true"  # SQLite's parser needs it before ON CONFLICT in INSERT … SELECT
    return head + body + tail


def _count(conn: Connection, table: str) -> int:
    return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def upsert_frame(
    conn: Connection,
    table: Table,
    frame: pd.DataFrame,
    columns: Sequence[TargetColumn],
    *,
    conflict: str = "external_id",
    overrides: dict[str, str] | None = None,
    constants: dict[str, Any] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> UpsertResult:
    """Insert new rows and update changed ones (matched on ``conflict``); unchanged rows stay put.

    ``frame`` holds every column in ``columns`` (typed); ``constants`` are the same
    for every row (e.g. ``created_at``) and go into the SQL once instead of per row.
    """
    if frame.empty:
        return UpsertResult()
    overrides = overrides or {}
    name = table.name
    before = _count(conn, name)
    if conn.dialect.name == "sqlite":
        changed = _sqlite_upsert(
            conn,
            table,
            frame,
            columns,
            conflict,
            overrides,
            constants or {},
            before == 0,
            on_progress,
        )
    else:
        changed = _postgres_upsert(
            conn,
            table,
            frame,
            columns,
            conflict,
            overrides,
            constants or {},
            before == 0,
            on_progress,
        )
    inserted = _count(conn, name) - before
    return UpsertResult(inserted=inserted, updated=max(changed - inserted, 0))


def _secondary_indexes(table: Table) -> list[Index]:
    return [ix for ix in table.indexes if not ix.unique]


def _sqlite_upsert(
    conn: Connection,
    table: Table,
    frame: pd.DataFrame,
    columns: Sequence[TargetColumn],
    conflict: str,
    overrides: dict[str, str],
    constants: dict[str, Any],
    empty: bool,
    on_progress: Callable[[int], None] | None,
) -> int:
    # Into an empty table it is much cheaper to build secondary indexes once at the end.
    dropped = _secondary_indexes(table) if empty and len(frame) > 200_000 else []
    for ix in dropped:
        ix.drop(conn)
    sql = _upsert_sql(table.name, columns, conflict, "sqlite", overrides, constants=constants)
    if empty:
        # Nothing to conflict with (keys were checked unique in the file): a plain insert.
        sql = sql.split(" ON CONFLICT ")[0]
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    changed = 0
    # Sequential on purpose: converting in a second thread made executemany
    # slower overall (both need the GIL to build and bind Python values).
    try:
        for rows in sqlite_rows(frame, columns):
            cursor.executemany(sql, rows)
            changed += max(cursor.rowcount, 0)
            if on_progress:
                on_progress(len(rows))
    finally:
        cursor.close()
    for ix in dropped:
        ix.create(conn)
    return changed


_ARROW_TYPES = {
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "str": pa.string(),
    "json": pa.string(),
}


def _postgres_upsert(
    conn: Connection,
    table: Table,
    frame: pd.DataFrame,
    columns: Sequence[TargetColumn],
    conflict: str,
    overrides: dict[str, str],
    constants: dict[str, Any],
    empty: bool,
    on_progress: Callable[[int], None] | None,
) -> int:
    if empty and len(frame) > 200_000:
        # Into an empty table: COPY straight in, then build the secondary indexes
        # and check the foreign keys once each, as PostgreSQL's bulk-loading
        # advice recommends (per-row FK triggers cost more than the COPY itself).
        dropped = _secondary_indexes(table)
        foreign_keys = list(table.foreign_key_constraints)
        for fk in foreign_keys:
            conn.execute(DropConstraint(fk))
        for ix in dropped:
            ix.drop(conn)
        _copy_frame(conn, table.name, frame, columns, constants, on_progress)
        for ix in dropped:
            ix.create(conn)
        for fk in foreign_keys:
            conn.execute(AddConstraint(fk))
        return len(frame)
    names = [c.name for c in columns]
    staging = f"_stage_{table.name}"
    conn.execute(text(f"DROP TABLE IF EXISTS {staging}"))
    conn.execute(
        text(
            f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS "
            f"SELECT {', '.join(names)} FROM {table.name} WITH NO DATA"
        )
    )
    _copy_frame(conn, staging, frame, columns, {}, on_progress)
    sql = _upsert_sql(
        table.name, columns, conflict, "postgresql", overrides, source=staging, constants=constants
    )
    result = conn.execute(text(sql))
    conn.execute(text(f"DROP TABLE IF EXISTS {staging}"))
    return int(result.rowcount or 0)


def _copy_frame(
    conn: Connection,
    target: str,
    frame: pd.DataFrame,
    columns: Sequence[TargetColumn],
    constants: dict[str, Any],
    on_progress: Callable[[int], None] | None,
) -> None:
    """Stream ``frame`` (plus constant columns) into ``target`` with COPY … FORMAT csv."""
    names = [c.name for c in columns] + list(constants)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    step = CHUNK_ROWS * 4
    with raw.cursor() as cursor:  # type: ignore[attr-defined]
        for start in range(0, len(frame), step):
            chunk = frame.iloc[start : start + step]
            arrays = {
                c.name: pa.array(
                    _arrow_ready(chunk[c.name], c.kind), type=_ARROW_TYPES[c.kind], from_pandas=True
                )
                for c in columns
            }
            for name, value in constants.items():
                stamp = np.datetime64(value.astimezone(UTC).replace(tzinfo=None), "us")
                arrays[name] = pc.cast(
                    pa.array(np.full(len(chunk), stamp)), _ARROW_TYPES["timestamp"]
                )
            buffer = io.BytesIO()
            pacsv.write_csv(
                pa.table(arrays),
                buffer,
                pacsv.WriteOptions(include_header=False, quoting_style="needed"),
            )
            with cursor.copy(
                f"COPY {target} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)"
            ) as copy:
                copy.write(buffer.getvalue())
            if on_progress:
                on_progress(len(chunk))


def _arrow_ready(series: pd.Series, kind: str) -> Any:
    if kind in ("int",):
        return series.astype("Int64")
    if kind == "bool":
        return series.astype("boolean")
    if kind in ("str", "json"):
        return series.astype(object).where(series.notna(), None)
    return series


def execute_many(conn: Connection, sql: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(text(sql), rows)
