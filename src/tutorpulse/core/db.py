"""Database plumbing: declarative base, engine factory, unit of work.

SQLite (the embedded default) runs in WAL mode with foreign keys on; PostgreSQL
goes through psycopg 3. Services flush but never commit: the edge that opened
the unit of work commits it.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always UTC-aware in Python.

    PostgreSQL stores ``timestamptz``. SQLite has no time zones, so values are
    stored as naive UTC text (``YYYY-MM-DD HH:MM:SS.ffffff``, SQLAlchemy's format,
    which SQLite's date functions understand) and come back tagged as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON column: JSONB on PostgreSQL (indexable), JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")

SQLITE_TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

# SQLite's default checkpoints the write-ahead log every 1,000 pages (4 MB), inside
# the committing transaction. Ingestion writes scattered index pages: one 500-event
# batch dirties about that many, so every commit paid a checkpoint. At 10,000 pages
# a page rewritten by several commits is copied back once (measured on the events
# table with its indexes: 12.4 → 8.8 ms per 500-row batch). The log may reach ~40 MB.
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000


def in_list(dialect_name: str, column: str, param: str, values: Iterable[Any]) -> tuple[str, Any]:
    """``column IN (values)`` as SQL text with the whole list bound as ONE parameter.

    Returns the condition (for ``text()``, parameter ``:param``) and the parameter's
    value, a string: a JSON array read with ``json_each`` on SQLite; on PostgreSQL an
    array literal (integers) or a JSON array (strings) compared with ``= ANY``. Both
    use the column's index. A statement with one parameter compiles once and is
    cached (an expanded ``IN (:p1, …, :p2000)`` was compiled anew for every list
    length: most of a refresh batch's read time), and a string is bound without the
    driver's per-element array adaptation.
    """
    items = [v.item() if hasattr(v, "item") else v for v in values]
    if dialect_name == "sqlite":
        return f"{column} IN (SELECT value FROM json_each(:{param}))", json.dumps(items)
    if all(isinstance(v, int) for v in items):
        return f"{column} = ANY(CAST(:{param} AS bigint[]))", "{" + ",".join(map(str, items)) + "}"
    return (
        f"{column} = ANY(ARRAY(SELECT json_array_elements_text(CAST(:{param} AS json))))",
        json.dumps([str(v) for v in items]),
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-200000")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
    cursor.close()
    dbapi_connection.isolation_level = None


WRITE_LOCK_TIMEOUT_SECONDS = 30.0
_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def sqlite_write_lock(engine: Engine) -> threading.Lock | None:
    """The process-wide lock serialising this SQLite database's write transactions.

    SQLite allows one writer at a time; threads that queue on a lock are handed the
    database in order, where SQLite's own busy handler would make them sleep and
    poll. None for other engines.
    """
    if engine.dialect.name != "sqlite":
        return None
    key = engine.url.render_as_string(hide_password=True)
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


def _sqlite_begin(conn: Any) -> None:
    # A declared writer (``unit_of_work(write=True)``) holds the process's write lock
    # from BEGIN IMMEDIATE to COMMIT/ROLLBACK: a deferred transaction that read first
    # cannot be upgraded once another connection has committed (SQLITE_BUSY at once).
    if not conn.get_execution_options().get("sqlite_immediate"):
        conn.exec_driver_sql("BEGIN")
        return
    lock = sqlite_write_lock(conn.engine)
    assert lock is not None
    if not lock.acquire(timeout=WRITE_LOCK_TIMEOUT_SECONDS):
        raise sqlite3.OperationalError("database is locked: no write slot within 30 s")
    conn.info["tp_write_lock"] = lock
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        conn.info.pop("tp_write_lock", None)
        lock.release()
        raise


def _sqlite_end(conn: Any) -> None:
    lock = conn.info.pop("tp_write_lock", None)
    if lock is not None:
        lock.release()


def create_db_engine(url: str, *, echo: bool = False) -> Engine:
    """Build an engine for ``url``; creates the SQLite file's folder when needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        # Let SQLAlchemy, not pysqlite, decide when transactions begin, so that
        # SAVEPOINTs and transactional DDL work (SQLAlchemy's documented recipe).
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "commit", _sqlite_end)
        event.listen(engine, "rollback", _sqlite_end)
        return engine
    engine = create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if parsed.get_backend_name() == "postgresql":
        event.listen(engine, "connect", _postgres_on_connect)
    return engine


def _postgres_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # psycopg prepares a statement after its fifth execution, and PostgreSQL may then
    # switch to a generic plan, chosen without the parameter values and kept while the
    # table grows. For the ingest path's key lookup that meant a plan made when the
    # events table was nearly empty (a scan) still running at 100,000 rows: 2,959
    # events/s in 500-event batches against 11,382 with this setting. Every query here
    # has parameters that drive its selectivity (id lists, date windows), so plan each
    # execution for its values; statements stay prepared (no re-parsing).
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET plan_cache_mode = force_custom_plan")
    finally:
        dbapi_connection.autocommit = autocommit


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


_IMMEDIATE: dict[int, Engine] = {}


def _immediate_bind(factory: sessionmaker[Session]) -> Engine | None:
    """The factory's SQLite engine with BEGIN IMMEDIATE for its transactions (else None)."""
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine) or bind.dialect.name != "sqlite":
        return None
    engine = _IMMEDIATE.get(id(bind))
    if engine is None:
        engine = _IMMEDIATE[id(bind)] = bind.execution_options(sqlite_immediate=True)
    return engine


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, write: bool = False) -> Iterator[Session]:
    """Open a session, commit when the block succeeds, roll back when it raises.

    ``write=True`` declares that the transactions will write: on SQLite they begin
    IMMEDIATE under the process's write lock (see ``_sqlite_begin``) at their first
    statement, so they never fail half-way on a read-to-write upgrade; elsewhere it
    changes nothing.
    """
    immediate = _immediate_bind(factory) if write and isinstance(factory, sessionmaker) else None
    session = factory(bind=immediate) if immediate is not None else factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_sqlite(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "sqlite"


# PostgreSQL's "deadlock detected" and "could not serialize": the transaction was
# rolled back whole and may simply be run again.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
T = TypeVar("T")


UNIQUE_VIOLATION = "23505"


def with_retry(
    attempt: Callable[[], T], *, tries: int = 5, also: frozenset[str] = frozenset()
) -> T:
    """Run ``attempt`` (one whole unit of work) again when the database aborted it
    for a deadlock or a serialization failure (or an SQLSTATE in ``also``, e.g. a
    unique violation that a re-run resolves by reading the winner's row); other
    errors propagate at once."""
    retryable = RETRYABLE_SQLSTATES | also
    for remaining in range(tries - 1, -1, -1):
        try:
            return attempt()
        except DBAPIError as exc:
            code = getattr(exc.orig, "sqlstate", None)
            if remaining == 0 or code not in retryable:
                raise
            time.sleep(random.uniform(0.005, 0.02) * (tries - remaining))  # jittered backoff
    raise AssertionError("unreachable")  # pragma: no cover


def read_aside(db: Session, read: Callable[[Session], T]) -> Callable[[], T]:
    """Start ``read`` on a read-only session of its own in a worker thread and return a
    function that waits for its result, so independent bulk reads overlap (sqlite3 and
    psycopg release the GIL while the database works).

    The worker's transaction is not ``db``'s: it sees the last committed data, not
    ``db``'s uncommitted writes — use it only for reads that do not depend on them.
    A session bound to a connection (an outer transaction, as in the tests) and an
    in-memory SQLite database (one per connection) are read inline on ``db``.
    """
    engine = db.get_bind()
    if not isinstance(engine, Engine) or (
        engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
    ):
        value = read(db)
        return lambda: value

    def work() -> T:
        with Session(bind=engine.execution_options(sqlite_immediate=False)) as side:
            try:
                return read(side)
            finally:
                side.rollback()

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-aside")
    future = pool.submit(work)
    pool.shutdown(wait=False)
    return future.result
