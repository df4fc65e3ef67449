"""Engines and sessions: the same code on SQLite (WAL, foreign keys on) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000


def make_engine(url: str | URL, sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Engine:
    """An engine for ``url``; a SQLite file gets WAL, foreign keys and a busy timeout.

    Args:
        url: SQLAlchemy URL; ``postgresql://`` is read as ``postgresql+psycopg://``.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=10)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"check_same_thread": False})
    event.listen(
        engine,
        "connect",
        lambda connection, record: _sqlite_pragmas(connection, sqlite_busy_timeout_ms),
    )
    return engine


def _sqlite_pragmas(dbapi_connection, busy_timeout_ms: int) -> None:  # noqa: ANN001 - DB-API
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.close()


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see one committed state of the store (read only)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            yield connection
            connection.rollback()
        return
    with engine.connect() as connection:
        # pysqlite starts no transaction for reads; without one each SELECT sees the newest
        # commit and two tables could disagree.
        connection.exec_driver_sql("BEGIN")
        try:
            yield connection
        finally:
            connection.rollback()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class Store:
    """The engine and session factory of one database.

    Args:
        url: SQLAlchemy URL of the store.
    """

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)

    def upgrade(self) -> None:
        """Apply pending migrations."""
        from serving.migrations import upgrade

        upgrade(self.engine)

    def check(self) -> str:
        """``ok`` when the database answers and is at the newest revision, else why not."""
        from serving.migrations import current_revision, head_revision

        try:
            current = current_revision(self.engine)
        except Exception as error:  # noqa: BLE001 - any driver error means "not reachable"
            return f"unreachable: {type(error).__name__}"
        head = head_revision(self.engine)
        return "ok" if current == head else f"at revision {current}, expected {head}"

    def close(self) -> None:
        self.engine.dispose()
