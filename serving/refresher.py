"""The background refresh of the worklist: at start-up, after each UTC midnight, and on demand.
Each run also prunes the store's log of online-feature events to its newest ``keep_events``.

A read re-decides only a few stale items itself (those it is about to show); when it finds many
(a new day, a freshly loaded book) it asks this thread to decide the rest, so that a page view
never waits for the whole book. The thread is a daemon: stopping the service interrupts it
between two chunks, and the store keeps what is committed (every chunk is one transaction).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from serving.decide import today
from serving.engine import EngineHolder
from serving.freshness import refresh
from serving.live import LiveFeatures
from serving.logging import get_logger
from serving.store.events import prune_events

log = get_logger("worklist")
RETRY_SECONDS = 30.0
PAUSE_SECONDS = 0.05
AFTER_MIDNIGHT = timedelta(seconds=5)


def seconds_to_next_day(moment: datetime) -> float:
    """Seconds from ``moment`` (UTC) until just after the next UTC midnight."""
    tomorrow = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), UTC)
    return (tomorrow + AFTER_MIDNIGHT - moment).total_seconds()


class Refresher:
    """Runs ``freshness.refresh`` over every stale item in a background thread.

    Args:
        sessions: Session factory of the store.
        engines: The holder of the models and policy in use (read at each run).
        live: The online features.
        keep_events: Events of the online-feature log kept by each run's pruning.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        engines: EngineHolder,
        live: LiveFeatures,
        keep_events: int = 100_000,
    ) -> None:
        self.sessions = sessions
        self.engines = engines
        self.live = live
        self.keep_events = keep_events
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worklist-refresh", daemon=True)
        self.running = False

    def start(self) -> Refresher:
        self._thread.start()
        return self

    def kick(self) -> None:
        """Ask for a run now (does nothing more while one is under way)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self._run_once()
            self._wake.wait(wait)
            self._wake.clear()

    def _run_once(self) -> float:
        self._prune_events()
        engine = self.engines.current
        if engine is None:
            return RETRY_SECONDS
        self.running = True
        try:
            result = refresh(
                self.sessions, engine, self.live, today(), stop=self._stop, pause=PAUSE_SECONDS
            )
            if result.decided:
                log.info(
                    "worklist refreshed",
                    extra={"decided": result.decided, "seconds": round(result.seconds, 1)},
                )
        except Exception:  # noqa: BLE001 - the thread must outlive one failed run
            log.exception("worklist refresh failed")
            return RETRY_SECONDS
        finally:
            self.running = False
        return seconds_to_next_day(datetime.now(UTC))

    def _prune_events(self) -> None:
        try:
            with self.sessions() as session:
                deleted = prune_events(session, self.keep_events)
                session.commit()
        except Exception:  # noqa: BLE001 - a failed prune is retried at the next run
            log.exception("pruning the event log failed")
            return
        if deleted:
            log.info("event log pruned", extra={"deleted": deleted, "kept": self.keep_events})
