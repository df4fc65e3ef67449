"""The audit log writers: decisions of concurrent requests committed together.

A commit costs far more than the rows it carries (a WAL append on SQLite, a round trip and a
log flush on PostgreSQL), so every decision waiting is committed in one transaction. A request
is answered only once its decision is committed: every decision a client received is in the
log, even if the process is killed right after.

Two writers, one per kind of store (``audit_writer`` picks):

- ``LoopAuditWriter`` (SQLite) commits on the event loop, once per pass of the loop, taking
  every decision made in that pass. A SQLite commit is local work of a fraction of a
  millisecond; handing it to a thread cost more than the write itself, in switches of the
  interpreter lock, and doubled the time a request waited for its commit. While another
  process holds the write lock it tries again every half millisecond, without blocking the
  loop.
- ``AuditWriter`` (PostgreSQL) commits from a thread of its own, because a commit there waits
  on the network and the server's log flush, and the loop must go on serving meanwhile.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from concurrent.futures import Future

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from serving.decide import Decided, log_decisions
from serving.logging import get_logger
from serving.store.db import Store, is_sqlite, make_engine, make_sessionmaker

log = get_logger("audit")
MAX_BATCH = 256
LOCK_WAIT_SECONDS = 10.0
LOCK_RETRY_SECONDS = 0.0005

Pending = tuple[Decided, str | None]
Waiting = tuple[Decided, str | None, asyncio.Future]  # on the loop
Queued = tuple[Decided, str | None, Future]  # for the writer thread


class AuditUnavailable(RuntimeError):
    """The audit log could not be written; the decision must not be returned."""


def audit_writer(store: Store) -> LoopAuditWriter | AuditWriter:
    """The writer suited to ``store``'s database, started."""
    return (LoopAuditWriter if is_sqlite(store.engine) else AuditWriter)(store).start()


def write_decisions(sessions: sessionmaker[Session], batch: list[Pending]) -> None:
    """Append ``batch`` to the log in one transaction."""
    with sessions() as session:
        log_decisions(session, batch)
        session.commit()


def _settle(done: asyncio.Future | Future, error: Exception | None = None) -> None:
    """Complete a request's future, unless the request gave up waiting (it was cancelled)."""
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def _is_locked(error: Exception) -> bool:
    """Whether another connection holds SQLite's write lock."""
    if not isinstance(error, OperationalError):
        return False
    return "locked" in str(error.orig) or "busy" in str(error.orig)


def _unavailable(error: Exception) -> AuditUnavailable:
    return AuditUnavailable(f"the audit log could not be written: {type(error).__name__}")


def _committed(batch: list[Waiting] | list[Queued]) -> None:
    for _, _, done in batch:
        _settle(done)


def _commit_each(
    sessions: sessionmaker[Session], batch: list[Waiting] | list[Queued], error: Exception
) -> None:
    """After ``batch`` failed with ``error``: one bad decision must not cost the others their
    answer, so each is tried alone and answered with its own outcome."""
    log.error("audit write failed", extra={"decisions": len(batch), "error": type(error).__name__})
    if len(batch) == 1:
        _settle(batch[0][2], _unavailable(error))
        return
    for decided, request_id, done in batch:
        try:
            write_decisions(sessions, [(decided, request_id)])
        except Exception as single:  # noqa: BLE001 - any failure means "not logged"
            _settle(done, _unavailable(single))
        else:
            _settle(done)


def _commit_settling(sessions: sessionmaker[Session], batch: list[Waiting] | list[Queued]) -> None:
    """Commit ``batch`` in one transaction and answer its requests, each alone on failure."""
    try:
        write_decisions(sessions, [(d, r) for d, r, _ in batch])
    except Exception as error:  # noqa: BLE001 - any failure means "not logged"
        _commit_each(sessions, batch, error)
    else:
        _committed(batch)


class LoopAuditWriter:
    """Appends decisions to a SQLite audit log from the event loop; see the module docstring.

    Args:
        store: Where the log is (a SQLite store).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        # Lock waits are this writer's own: SQLite's busy handler would block the loop.
        self._engine = make_engine(store.engine.url, sqlite_busy_timeout_ms=0)
        self._sessions = make_sessionmaker(self._engine)
        self._pending: list[Waiting] = []
        self._flushing = False
        self._locked_since: float | None = None
        self._stopped = False

    def start(self) -> LoopAuditWriter:
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking decisions, write what is still waiting, close the log's connections."""
        self._stopped = True
        waiting, self._pending = self._pending, []
        if waiting:
            _commit_settling(self._sessions, waiting)
        self._engine.dispose()

    async def append(self, decided: Decided, request_id: str | None) -> None:
        """Queue a decision and wait for the commit that carries it.

        Raises:
            AuditUnavailable: The transaction carrying it failed, or the writer is stopped.
        """
        if self._stopped:
            raise AuditUnavailable("the audit log writer is not running; retry")
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._pending.append((decided, request_id, done))
        if not self._flushing:
            self._flushing = True
            loop.call_soon(self._flush)
        await done

    def _flush(self) -> None:
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        loop = asyncio.get_running_loop()
        try:
            write_decisions(self._sessions, [(d, r) for d, r, _ in batch])
        except Exception as error:  # noqa: BLE001 - any failure means "not logged"
            if _is_locked(error) and not self._waited_too_long():
                self._pending[:0] = batch
                loop.call_later(LOCK_RETRY_SECONDS, self._flush)
                return
            _commit_each(self._sessions, batch, error)
        else:
            _committed(batch)
        self._locked_since = None
        self._flushing = bool(self._pending)
        if self._flushing:
            loop.call_soon(self._flush)

    def _waited_too_long(self) -> bool:
        now = time.monotonic()
        if self._locked_since is None:
            self._locked_since = now
        return now - self._locked_since > LOCK_WAIT_SECONDS


class AuditWriter:
    """Appends decisions to the audit log from one thread, in group commits.

    Args:
        store: Where the log is.
        max_batch: Most decisions committed in one transaction.
    """

    def __init__(self, store: Store, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self._sessions = make_sessionmaker(store.engine)
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Queued | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)

    def start(self) -> AuditWriter:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)

    def submit(self, decided: Decided, request_id: str | None) -> Future:
        """Queue a decision; the future completes once it is committed (or fails).

        Raises:
            AuditUnavailable: The writer is not running (the service is stopping).
        """
        if not self._thread.is_alive():
            raise AuditUnavailable("the audit log writer is not running; retry")
        done: Future = Future()
        self._queue.put((decided, request_id, done))
        return done

    async def append(self, decided: Decided, request_id: str | None) -> None:
        """Queue a decision and wait for its commit.

        Raises:
            AuditUnavailable: The transaction carrying it failed.
        """
        await asyncio.wrap_future(self.submit(decided, request_id))

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            _commit_settling(self._sessions, batch)
