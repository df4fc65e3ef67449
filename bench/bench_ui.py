"""Server time of the worklist page (50 rows) on the demo book, and the time to decide every
open invoice of a freshly loaded store.

Usage: python bench/bench_ui.py [--store data/arbiter.db] [--models models/champion]
       [--renders 30] [--skip-refresh]

Needs the demo of ``make run`` (its store and champion models). Works on a copy of the store,
so the demo is left as it is. Steps:

1. the copy is emptied of decisions and worklist items, as right after ``arbiter load``, and
   ``serving.freshness.refresh`` decides every open invoice (the start-up refresh), timed;
2. the app runs in-process (TestClient); an admin signs in; ``GET /ui/worklist`` (50 rows, the
   first page) is rendered ``--renders`` times, then the same with a filter (owner team
   revenue_owner) and the third page. Prints median and p90 of the server time per render.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from serving.decide import today
from serving.engine import EngineHolder
from serving.events import EventTail
from serving.freshness import refresh
from serving.keys import create_key
from serving.live import LiveFeatures
from serving.main import create_app
from serving.settings import Settings
from serving.store.db import Store
from serving.store.models import Decision, Invoice, WorklistItem, WorklistSync

VIEWS = {
    "first page, no filter": "/ui/worklist",
    "owner revenue_owner": "/ui/worklist?owner=revenue_owner",
    "third page": "/ui/worklist?page=3",
}


def time_start_up_refresh(url: str, settings: Settings) -> None:
    """Empty the copy's worklist, then decide every open invoice as the start-up refresh does."""
    store = Store(url)
    store.upgrade()
    with store.sessions() as session:
        for model in (WorklistItem, Decision, WorklistSync):
            session.execute(delete(model))
        session.commit()
        open_invoices = session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.paid_date.is_(None))
        )
    started = time.perf_counter()
    live = LiveFeatures()
    events = EventTail(store.engine, live).rebuild()
    rebuilt = time.perf_counter() - started
    engine = EngineHolder().load(settings)
    assert engine is not None, "models and policy did not load"
    result = refresh(store.sessions, engine, live, today())
    store.close()
    print(
        f"open invoices: {open_invoices:,} (online state of {events:,} events in {rebuilt:.1f} s)"
    )
    print(
        f"start-up refresh: {result.decided:,} decided, {result.skipped:,} skipped in "
        f"{result.seconds:.1f} s ({result.decided / max(result.seconds, 1e-9):,.0f} per second)"
    )


def sign_in(client: TestClient, token: str) -> None:
    form = client.get("/ui/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    response = client.post("/ui/login", data={"api_key": token, "csrf": csrf})
    assert response.status_code == 200, response.status_code


def time_renders(settings: Settings, renders: int) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        with app.state.store.sessions() as session:
            token = create_key(session, "admin", "bench").token
            session.commit()
        sign_in(client, token)
        for label, path in VIEWS.items():
            client.get(path)
            times = []
            for _ in range(renders):
                started = time.perf_counter()
                response = client.get(path)
                times.append(1000 * (time.perf_counter() - started))
                assert response.status_code == 200
            rows = response.text.count("<tr data-invoice=")
            p90 = statistics.quantiles(times, n=10)[-1]
            print(
                f"{label:<24} {rows} rows: median {statistics.median(times):6.1f} ms, "
                f"p90 {p90:6.1f} ms over {renders} renders"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/arbiter.db"))
    parser.add_argument("--models", type=Path, default=Path("models/champion"))
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--skip-refresh", action="store_true")
    args = parser.parse_args()
    if not args.store.exists() or not (args.models / "manifest.json").exists():
        raise SystemExit(f"{args.store} or {args.models} is missing: run `make run` once first")
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "arbiter.db"
        with sqlite3.connect(args.store) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        url = f"sqlite:///{copy}"
        settings = Settings(database_url=url, models=str(args.models), log_level="WARNING")
        if not args.skip_refresh:
            time_start_up_refresh(url, settings)
        time_renders(settings, args.renders)


if __name__ == "__main__":
    main()
