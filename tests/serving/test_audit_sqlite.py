"""The SQLite audit writer commits on the event loop: a decision waits out another writer's
lock, is answered only once committed, and fails cleanly when the lock is held too long."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving import audit
from serving.decide import decide, known_facts
from serving.keys import create_key
from serving.main import create_app
from serving.settings import Settings


@pytest.fixture()
def sqlite_app(tmp_path: Path, bundle_dir: Path) -> Iterator[tuple[TestClient, Path, dict]]:
    """An app on a SQLite store of its own, one stored invoice, and a service key."""
    path = tmp_path / "arbiter.db"
    settings = Settings(database_url=f"sqlite:///{path}", env="development", models=str(bundle_dir))
    with TestClient(create_app(settings)) as client:
        assert isinstance(client.app.state.audit, audit.LoopAuditWriter)
        with client.app.state.store.sessions() as session:
            headers = {"Authorization": f"Bearer {create_key(session, 'service').token}"}
            session.commit()
        customer = {"customer_id": "C-1", "collector_id": "COL-1"}
        assert client.post("/v1/customers", json=customer, headers=headers).status_code == 201
        invoice = {
            "invoice_id": "INV-1",
            "customer_id": "C-1",
            "issue_date": "2025-01-10",
            "due_date": "2025-02-09",
            "amount": "1200.00",
            "currency": "EUR",
        }
        assert client.post("/v1/invoices", json=invoice, headers=headers).status_code == 201
        yield client, path, headers


def decisions_logged(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT count(*) FROM decisions").fetchone()[0]


def decide_in_thread(client: TestClient, headers: dict) -> tuple[threading.Thread, list]:
    answers: list = []
    body = {"invoice_id": "INV-1", "as_of": "2025-02-20"}
    thread = threading.Thread(
        target=lambda: answers.append(client.post("/v1/decisions", json=body, headers=headers))
    )
    thread.start()
    return thread, answers


def test_a_decision_waits_for_another_writers_lock_and_is_answered_once_committed(sqlite_app):
    client, path, headers = sqlite_app
    before = decisions_logged(path)
    other_writer = sqlite3.connect(path, isolation_level=None)
    other_writer.execute("BEGIN IMMEDIATE")  # holds the write lock, as another process would
    thread, answers = decide_in_thread(client, headers)
    thread.join(0.5)
    assert answers == []  # not answered while its decision cannot be committed
    assert client.get("/healthz").status_code == 200  # the loop serves others meanwhile
    other_writer.execute("COMMIT")
    other_writer.close()
    thread.join(10)
    assert answers[0].status_code == 200
    assert decisions_logged(path) == before + 1
    record = client.get(f"/v1/decisions/{answers[0].json()['decision_id']}", headers=headers)
    assert record.status_code == 200


def test_a_lock_held_too_long_fails_the_decision_with_503_and_logs_nothing(sqlite_app, monkeypatch):
    client, path, headers = sqlite_app
    monkeypatch.setattr(audit, "LOCK_WAIT_SECONDS", 0.3)
    before = decisions_logged(path)
    other_writer = sqlite3.connect(path, isolation_level=None)
    other_writer.execute("BEGIN IMMEDIATE")
    try:
        thread, answers = decide_in_thread(client, headers)
        thread.join(10)
        assert answers[0].status_code == 503
        assert answers[0].json() == {
            "detail": "the audit log could not be written: OperationalError"
        }
    finally:
        other_writer.execute("ROLLBACK")
        other_writer.close()
    assert decisions_logged(path) == before
    # The writer recovers at once: the next decision is logged.
    thread, answers = decide_in_thread(client, headers)
    thread.join(10)
    assert answers[0].status_code == 200
    assert decisions_logged(path) == before + 1


def test_one_bad_decision_in_a_commit_does_not_cost_the_others_their_answer(sqlite_app):
    client, path, headers = sqlite_app
    logged = client.post(
        "/v1/decisions", json={"invoice_id": "INV-1", "as_of": "2025-02-20"}, headers=headers
    ).json()
    state = client.app.state
    facts = known_facts(state.live, "INV-1")
    good = decide(state.engines.current, state.live, facts, date(2025, 2, 21))
    again = decide(state.engines.current, state.live, facts, date(2025, 2, 22))
    clash = replace(again, body={**again.body, "decision_id": logged["decision_id"]})
    before = decisions_logged(path)

    async def commit_together() -> list:
        writer = audit.LoopAuditWriter(state.store)
        try:  # appended in one pass of the loop: one transaction, which the clash fails
            return await asyncio.gather(
                writer.append(good, "good"), writer.append(clash, "clash"), return_exceptions=True
            )
        finally:
            writer.stop()

    outcomes = asyncio.run(commit_together())
    assert outcomes[0] is None
    assert isinstance(outcomes[1], audit.AuditUnavailable)
    assert decisions_logged(path) == before + 1
    record = client.get(f"/v1/decisions/{good.body['decision_id']}", headers=headers).json()
    assert record["request_id"] == "good"
