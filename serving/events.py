"""Keeps each service process's online state in step with the store's event log.

Every process keeps its own online state (``serving.live``). Before it answers from that
state it applies the events logged since (``EventTail.catch_up``: one indexed query); a
process that has just ingested catches up at once, so a client reads its own writes whichever
process answers next. See ``serving.store.events`` for how events are logged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import func, select

from serving.live import LiveFeatures
from serving.logging import get_logger
from serving.store.db import snapshot
from serving.store.events import BOOK_LOADED, ENGINE_RELOAD, decode
from serving.store.models import FeatureEvent

log = get_logger("events")


class EventTail:
    """Keeps one process's online state in step with the event log.

    Args:
        engine: The store.
        live: The online state it feeds.
        on_reload: Called (in a new thread) for an ``engine_reload`` marker.
    """

    def __init__(
        self,
        engine: SqlEngine,
        live: LiveFeatures,
        on_reload: Callable[[], object] | None = None,
    ) -> None:
        self.engine = engine
        self.live = live
        self.on_reload = on_reload
        self.seen = 0
        self.own_markers: set[int] = set()
        self._lock = threading.Lock()

    def rebuild(self) -> int:
        """Replace the state by the store's book and skip the log up to that moment.

        Returns:
            The number of events replayed.
        """
        with self._lock:
            return self._rebuild()

    def _rebuild(self) -> int:
        with snapshot(self.engine) as connection:
            seen = last_event(connection)
            applied = self.live.rebuild(connection)
        self.seen = seen
        return applied

    def catch_up(self) -> int:
        """Apply the events logged since the last call; returns how many were read."""
        with self._lock:
            with self.engine.connect() as connection:
                rows = connection.execute(
                    select(FeatureEvent.seq, FeatureEvent.payload)
                    .where(FeatureEvent.seq > self.seen)
                    .order_by(FeatureEvent.seq)
                ).all()
            for seq, payload in rows:
                if seq <= self.seen:
                    continue  # a rebuild below already covered it
                if seq not in self.own_markers:
                    self._dispatch(decode(payload))
                self.seen = max(self.seen, seq)
            return len(rows)

    def _dispatch(self, event: dict[str, Any]) -> None:
        if event["kind"] == BOOK_LOADED:
            events = self._rebuild()
            log.info("state rebuilt after a bulk load", extra={"events": events})
        elif event["kind"] == ENGINE_RELOAD:
            if self.on_reload is not None:
                threading.Thread(target=self.on_reload, name="engine-reload", daemon=True).start()
        else:
            self.live.apply([event])


def last_event(connection: Any) -> int:
    """The number of the newest logged event (0 for none), read on ``connection``."""
    return int(connection.execute(select(func.coalesce(func.max(FeatureEvent.seq), 0))).scalar())
