"""The audit log writer: decisions of concurrent requests committed together.

A commit costs far more than the rows it carries (a WAL append on SQLite, a round trip and a
log flush on PostgreSQL), so one writer thread takes every decision waiting in its queue and
commits them in one transaction. A request is answered only once its decision is committed:
every decision a client received is in the log, even if the process is killed right after.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from concurrent.futures import Future

from sqlalchemy.exc import OperationalError

from serving.decide import Decided, log_decisions
from serving.logging import get_logger
from serving.store.db import Store, make_engine, make_sessionmaker

log = get_logger("audit")
MAX_BATCH = 256
LOCK_WAIT_SECONDS = 10.0


class AuditUnavailable(RuntimeError):
    """The audit log could not be written; the decision must not be returned."""


class AuditWriter:
    """Appends decisions to the audit log from one thread, in group commits.

    Args:
        store: Where the log is.
        max_batch: Most decisions committed in one transaction.
    """

    def __init__(self, store: Store, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        # SQLite's own busy handler sleeps 25-100 ms between tries once a wait gets long;
        # with several processes writing, this writer retries every millisecond instead.
        url = store.engine.url
        self._sqlite = url.get_backend_name() == "sqlite"
        engine = make_engine(url, sqlite_busy_timeout_ms=0) if self._sqlite else store.engine
        self._sessions = make_sessionmaker(engine)
        self._engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Decided, str | None, Future] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)

    def start(self) -> AuditWriter:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout)
        if self._engine is not self.store.engine:
            self._engine.dispose()

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
            self._write(batch)

    def _write(self, batch: list[tuple[Decided, str | None, Future]]) -> None:
        if not self._commit(batch) and len(batch) > 1:
            # One bad decision must not cost the others their answer: retry them one by one.
            for item in batch:
                self._commit([item])

    def _write_waiting_for_lock(self, batch: list[tuple[Decided, str | None, Future]]) -> None:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                with self._sessions() as session:
                    logged = [(decided, request_id) for decided, request_id, _ in batch]
                    log_decisions(session, logged)
                    session.commit()
                return
            except OperationalError as error:
                locked = self._sqlite and "locked" in str(error.orig)
                if not locked or time.monotonic() > deadline:
                    raise
                time.sleep(0.001)

    def _commit(self, batch: list[tuple[Decided, str | None, Future]]) -> bool:
        """Commit ``batch`` and complete its futures; False if it failed (futures left open
        when a retry one by one follows)."""
        try:
            self._write_waiting_for_lock(batch)
        except Exception as error:  # noqa: BLE001 - any failure means "not logged"
            log.error(
                "audit write failed",
                extra={"decisions": len(batch), "error": type(error).__name__},
            )
            if len(batch) == 1:
                batch[0][2].set_exception(
                    AuditUnavailable(f"the audit log could not be written: {type(error).__name__}")
                )
            return False
        for _, _, done in batch:
            done.set_result(None)
        return True
