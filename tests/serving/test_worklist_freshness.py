"""The worklist's stored decisions stay fresh: every open invoice is listed, each stale item is
re-decided once, and a read of fresh items logs nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from serving.store.models import Decision, WorklistItem


@pytest.fixture()
def customer(client, service, new_id) -> dict:
    ids = {"customer_id": new_id("C"), "collector_id": new_id("COL"), "revenue_owner_id": "AM-1"}
    assert client.post("/v1/customers", json=ids, headers=service).status_code == 201
    return ids


def add_invoices(client, service, new_id, customer_id: str, amounts: list[str]) -> list[str]:
    ids = [new_id("INV") for _ in amounts]
    items = [
        {
            "invoice_id": invoice_id,
            "customer_id": customer_id,
            "issue_date": "2025-03-01",
            "due_date": "2025-03-31",
            "amount": amount,
            "currency": "GBP",
        }
        for invoice_id, amount in zip(ids, amounts, strict=True)
    ]
    response = client.post("/v1/invoices/bulk", json={"items": items}, headers=service)
    assert response.json()["counts"]["created"] == len(ids)
    return ids


def decisions_of(client, invoice_ids: list[str]) -> dict[str, int]:
    with client.app.state.store.sessions() as session:
        rows = session.execute(
            select(Decision.invoice_id, func.count())
            .where(Decision.invoice_id.in_(invoice_ids), Decision.role == "champion")
            .group_by(Decision.invoice_id)
        )
        counted = dict(rows.all())
    return {i: counted.get(i, 0) for i in invoice_ids}


def read(client, collector, **params) -> dict:
    response = client.get("/v1/worklist", params=params, headers=collector)
    assert response.status_code == 200
    return response.json()


def test_every_open_invoice_is_listed_and_decided_once(
    client, service, collector, customer, new_id
):
    ids = add_invoices(client, service, new_id, customer["customer_id"], ["100.00", "300.00"])
    paid = add_invoices(client, service, new_id, customer["customer_id"], ["50.00"])[0]
    payment = {"payment_id": new_id("P"), "invoice_id": paid, "payment_date": "2025-03-20"}
    assert (
        client.post(
            "/v1/payments", json={**payment, "amount": "50.00"}, headers=service
        ).status_code
        == 201
    )

    body = read(client, collector, customer_id=customer["customer_id"])
    assert body["as_of"] == date.today().isoformat()
    assert (body["total"], body["offset"]) == (2, 0)
    assert [item["invoice_id"] for item in body["items"]] == [ids[1], ids[0]]
    assert all(item["decision"]["as_of"] == body["as_of"] for item in body["items"])
    assert all(item["customer_id"] == customer["customer_id"] for item in body["items"])
    assert decisions_of(client, [*ids, paid]) == {ids[0]: 1, ids[1]: 1, paid: 0}

    again = read(client, collector, customer_id=customer["customer_id"])
    assert [i["decision"]["decision_id"] for i in again["items"]] == [
        i["decision"]["decision_id"] for i in body["items"]
    ]
    assert decisions_of(client, ids) == {ids[0]: 1, ids[1]: 1}


def test_paging_splits_the_ranked_items(client, service, collector, customer, new_id):
    amounts = [f"{1000 + 100 * n}.00" for n in range(5)]
    ids = add_invoices(client, service, new_id, customer["customer_id"], amounts)
    mine = {"customer_id": customer["customer_id"], "limit": 2}
    pages = [read(client, collector, **mine, offset=offset) for offset in (0, 2, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5]
    assert [p["offset"] for p in pages] == [0, 2, 4]
    listed = [item["invoice_id"] for p in pages for item in p["items"]]
    assert sorted(listed) == sorted(ids) and len(listed) == 5
    at_risk = [
        float(i["decision"]["priority"]["amount_at_risk"]) for p in pages for i in p["items"]
    ]
    assert at_risk == sorted(at_risk, reverse=True)
    assert read(client, collector, **mine, offset=10)["items"] == []


def test_an_event_on_the_customer_makes_its_items_stale_once(
    client, service, collector, customer, new_id
):
    ids = add_invoices(client, service, new_id, customer["customer_id"], ["700.00", "900.00"])
    read(client, collector, customer_id=customer["customer_id"])
    assert decisions_of(client, ids) == {ids[0]: 1, ids[1]: 1}

    ticket = {
        "activity_id": new_id("A"),
        "customer_id": customer["customer_id"],
        "date": "2025-03-10",
        "kind": "support_ticket_opened",
    }
    assert client.post("/v1/activities", json=ticket, headers=service).status_code == 201
    read(client, collector, customer_id=customer["customer_id"])
    assert decisions_of(client, ids) == {ids[0]: 2, ids[1]: 2}
    read(client, collector, customer_id=customer["customer_id"])
    assert decisions_of(client, ids) == {ids[0]: 2, ids[1]: 2}


def test_a_decision_of_an_earlier_day_is_replaced_by_todays(
    client, service, collector, customer, new_id
):
    (invoice_id,) = add_invoices(client, service, new_id, customer["customer_id"], ["400.00"])
    past = client.post(
        "/v1/decisions", json={"invoice_id": invoice_id, "as_of": "2025-03-15"}, headers=service
    )
    assert past.status_code == 200
    with client.app.state.store.sessions() as session:
        assert session.get(WorklistItem, invoice_id).decision_id == past.json()["decision_id"]
    (item,) = read(client, collector, customer_id=customer["customer_id"])["items"]
    assert item["decision"]["as_of"] == date.today().isoformat()
    assert item["decision"]["decision_id"] != past.json()["decision_id"]
    assert decisions_of(client, [invoice_id]) == {invoice_id: 2}


def test_an_action_re_decides_its_invoice_at_once(client, service, collector, customer, new_id):
    (invoice_id,) = add_invoices(client, service, new_id, customer["customer_id"], ["800.00"])
    read(client, collector, customer_id=customer["customer_id"])
    action = {"action_id": new_id("ACT"), "action": "escalated", "detail": "to the CFO"}
    recorded = client.post(f"/v1/worklist/{invoice_id}/actions", json=action, headers=collector)
    assert (recorded.status_code, recorded.json()["status"]) == (201, "escalated")
    assert decisions_of(client, [invoice_id]) == {invoice_id: 2}
    (item,) = read(client, collector, customer_id=customer["customer_id"])["items"]
    assert (item["status"], item["last_action"]) == ("escalated", "escalated")
    assert decisions_of(client, [invoice_id]) == {invoice_id: 2}
    replay = client.post(f"/v1/worklist/{invoice_id}/actions", json=action, headers=collector)
    assert replay.status_code == 200
    assert decisions_of(client, [invoice_id]) == {invoice_id: 2}


def test_worklist_filters_are_validated(client, collector):
    assert client.get("/v1/worklist", params={"offset": -1}, headers=collector).status_code == 422
    assert client.get("/v1/worklist", params={"tier": "P9"}, headers=collector).status_code == 422
    long_id = "C" * 65
    response = client.get("/v1/worklist", params={"customer_id": long_id}, headers=collector)
    assert response.status_code == 422
