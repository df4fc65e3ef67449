"""Several service processes on one store: each follows the event log, on SQLite and
PostgreSQL. Two apps with their own online state stand for two processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from features.book import Book
from serving.main import create_app
from serving.refresher import Refresher
from serving.settings import Settings
from serving.store.db import Store
from serving.store.events import (
    ENGINE_RELOAD,
    decode,
    encode,
    prune_events,
    publish_marker,
)
from serving.store.loader import load_into_store
from serving.store.models import FeatureEvent


@pytest.fixture(scope="module")
def second(settings: Settings, app_client: TestClient) -> Iterator[TestClient]:
    """A second process of the service on the same store as ``client``."""
    with TestClient(create_app(settings)) as other:
        yield other


def customer(customer_id: str, collector: str) -> dict:
    return {
        "customer_id": customer_id,
        "collector_id": collector,
        "revenue_owner_id": f"AM-{customer_id}",
        "segment": "mid_market",
        "payment_terms_days": 30,
    }


def invoice(invoice_id: str, customer_id: str, issued: str, due: str, amount: str) -> dict:
    return {
        "invoice_id": invoice_id,
        "customer_id": customer_id,
        "issue_date": issued,
        "due_date": due,
        "amount": amount,
        "currency": "USD",
    }


def features_of(client: TestClient, headers: dict, invoice_id: str, as_of: str) -> dict:
    response = client.post(
        "/v1/decisions", json={"invoice_id": invoice_id, "as_of": as_of}, headers=headers
    )
    assert response.status_code == 200, response.text
    record = client.get(f"/v1/decisions/{response.json()['decision_id']}", headers=headers)
    return record.json()["features"]


def test_what_one_process_ingests_the_other_decides_on_at_once(client, second, service, new_id):
    cid, old, new = new_id("C"), new_id("INV"), new_id("INV")
    assert (
        client.post("/v1/customers", json=customer(cid, "COL-7"), headers=service).status_code
        == 201
    )
    body = invoice(old, cid, "2025-01-02", "2025-02-01", "1000.00")
    assert client.post("/v1/invoices", json=body, headers=service).status_code == 201
    body = invoice(new, cid, "2025-03-01", "2025-03-31", "250.00")
    assert client.post("/v1/invoices", json=body, headers=service).status_code == 201

    # The second process never saw these requests, yet decides both invoices, with the
    # collector of the customer the first process stored.
    answer = second.post(
        "/v1/decisions", json={"invoice_id": new, "as_of": "2025-03-02"}, headers=service
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["customer_id"] == cid
    assert answer.json()["priority"]["currency"] == "USD"
    before = features_of(second, service, new, "2025-03-02")
    assert before["hist_n_paid"] == 0

    # A payment stored through the first process settles the old invoice late for both.
    payment = {
        "payment_id": new_id("PAY"),
        "invoice_id": old,
        "payment_date": "2025-02-20",
        "amount": "1000.00",
    }
    assert client.post("/v1/payments", json=payment, headers=service).status_code == 201
    after_second = features_of(second, service, new, "2025-03-02")
    after_first = features_of(client, service, new, "2025-03-02")
    assert after_second["hist_n_paid"] == 1
    assert after_second["hist_late_share"] == 1.0
    assert after_second == after_first


def test_a_bulk_load_reaches_a_running_process(client, second, service, new_id):
    cid, iid = new_id("C"), new_id("INV")
    book = Book(
        {
            "customers": pd.DataFrame([customer(cid, "COL-9")]).assign(
                strategic=False, created_date=pd.Timestamp("2024-01-01")
            ),
            "invoices": pd.DataFrame(
                [
                    {
                        **invoice(iid, cid, "2025-04-01", "2025-05-01", "99.50"),
                        "issue_date": pd.Timestamp("2025-04-01"),
                        "due_date": pd.Timestamp("2025-05-01"),
                        "amount": 99.5,
                        "paid_date": pd.NaT,
                    }
                ]
            ),
        }
    )
    result = load_into_store(client.app.state.store, book)
    assert result.counts["invoices"]["created"] == 1
    answer = second.post(
        "/v1/decisions", json={"invoice_id": iid, "as_of": "2025-04-10"}, headers=service
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["priority"]["currency"] == "USD"


def test_a_reload_in_one_process_reloads_the_other(client, second, admin):
    loaded_at = second.get("/v1/models", headers=admin).json()["loaded_at"]
    assert client.post("/v1/admin/reload", headers=admin).status_code == 200
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        # Any request that reads the online state makes the process read the log.
        second.post("/v1/decisions", json={"invoice_id": "none"}, headers=admin)
        if second.get("/v1/models", headers=admin).json()["loaded_at"] != loaded_at:
            return
        time.sleep(0.2)
    pytest.fail("the second process did not reload within 20 s")


def test_a_process_behind_pruned_events_rebuilds_and_decides_as_the_other(
    client, second, service, new_id
):
    second.app.state.tail.catch_up()  # up to date; then idle while the first one ingests
    cid, iid, later = new_id("C"), new_id("INV"), new_id("INV")
    answer = client.post("/v1/customers", json=customer(cid, "COL-4"), headers=service)
    assert answer.status_code == 201
    for invoice_id in (iid, later):
        body = invoice(invoice_id, cid, "2025-05-02", "2025-06-01", "640.00")
        assert client.post("/v1/invoices", json=body, headers=service).status_code == 201
    store = client.app.state.store
    with store.sessions() as session:
        newest = session.scalar(select(func.max(FeatureEvent.seq)))
        assert prune_events(session, keep=10**9) == 0  # nothing beyond what is kept
        deleted = prune_events(session, keep=1)
        session.commit()
        left = session.execute(
            select(FeatureEvent.seq, FeatureEvent.payload).order_by(FeatureEvent.seq)
        ).all()
    assert deleted >= 1
    assert len(left) == 2 and left[0].seq == newest < left[1].seq  # the newest and the marker
    assert left[0].payload["invoice_id"] == later
    assert left[1].payload == {"kind": "events_pruned", "through": newest - 1}
    # The second process never read the new invoice's events, which are gone: it rebuilds
    # from the store and decides the invoice as the first process does.
    assert features_of(second, service, iid, "2025-05-20") == features_of(
        client, service, iid, "2025-05-20"
    )
    # A process that is up to date ignores the marker: no rebuild, the same state object.
    state = client.app.state.live
    client.app.state.tail.catch_up()
    assert client.app.state.live is state


def test_the_daily_run_prunes_the_log_to_the_events_it_keeps(client, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'own.db'}")  # its own: these markers go nowhere else
    store.upgrade()
    refresher = Refresher(store.sessions, client.app.state.engines, client.app.state.live, 20)
    with store.sessions() as session:
        numbers = [publish_marker(session, ENGINE_RELOAD) for _ in range(25)]
        session.commit()
    refresher._prune_events()
    with store.sessions() as session:
        left = session.execute(
            select(FeatureEvent.seq, FeatureEvent.payload).order_by(FeatureEvent.seq)
        ).all()
    assert [seq for seq, _ in left[:-1]] == numbers[5:]  # the newest 20
    assert left[-1].payload == {"kind": "events_pruned", "through": numbers[4]}
    # One event more than it keeps (the marker) is less than a tenth of 20: left alone.
    refresher._prune_events()
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FeatureEvent)) == 21
    store.close()


def test_events_survive_the_log_unchanged() -> None:
    event = {
        "kind": "invoice_issued",
        "invoice_id": "I-1",
        "customer_id": "C-1",
        "date": date(2025, 1, 2),
        "due_date": date(2025, 2, 1),
        "amount": 10.25,
        "order_id": None,
        "paperless": True,
        "facts": {"amount": Decimal("10.25"), "currency": "SEK"},
    }
    assert decode(encode(event)) == event
