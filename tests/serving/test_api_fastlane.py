"""The fast lane of ``POST /v1/decisions`` answers what the route answers, on SQLite and
PostgreSQL.

The lane takes ``application/json`` bodies; the same body sent as ``application/vnd.api+json``
goes to the route (FastAPI reads any ``+json`` type as JSON), so each case is asked both ways
and the answers compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from serving.api import fastlane


def ask(client, headers: dict, body: dict, lane: bool):  # noqa: ANN001, ANN201 - test client
    content_type = "application/json" if lane else "application/vnd.api+json"
    return client.post(
        "/v1/decisions",
        content=json.dumps(body).encode(),
        headers={**headers, "Content-Type": content_type},
    )


def new_invoice(invoice_id: str, customer_id: str, issued: str, amount: str) -> dict:
    """An invoice in EUR due 30 days after ``issued``."""
    due = date.fromisoformat(issued) + timedelta(days=30)
    return {
        "invoice_id": invoice_id,
        "customer_id": customer_id,
        "issue_date": issued,
        "due_date": due.isoformat(),
        "amount": amount,
        "currency": "EUR",
    }


@pytest.fixture()
def cached_keys(client, monkeypatch) -> Iterator[None]:  # noqa: ANN001
    """Keys stay in the cache through the test: the lane serves only cached keys."""
    cache = client.app.state.key_cache
    monkeypatch.setattr(cache, "ttl_seconds", 3600.0)
    cache.clear()
    yield
    cache.clear()


@pytest.fixture()
def lane_decisions(monkeypatch) -> list[str]:  # noqa: ANN001
    """The invoice ids the lane decided (it wraps the real ``decide``)."""
    decided: list[str] = []
    real = fastlane.decide

    def counting(engine, live, facts, as_of):  # noqa: ANN001, ANN202
        decided.append(facts.invoice_id)
        return real(engine, live, facts, as_of)

    monkeypatch.setattr(fastlane, "decide", counting)
    return decided


@pytest.fixture()
def invoice_id(client, service, new_id, cached_keys) -> str:
    customer = new_id("C")
    body = {"customer_id": customer, "collector_id": "COL-F", "revenue_owner_id": "AM-F"}
    assert client.post("/v1/customers", json=body, headers=service).status_code == 201
    invoice_id = new_id("INV")
    invoice = new_invoice(invoice_id, customer, "2025-01-10", "12500.00")
    assert client.post("/v1/invoices", json=invoice, headers=service).status_code == 201
    return invoice_id


def requests_counted(client, admin: dict) -> float:  # noqa: ANN001
    prefix = 'arbiter_request_seconds_count{method="POST",route="/v1/decisions",status="200"}'
    lines = client.get("/metrics", headers=admin).text.splitlines()
    return sum(float(line.split()[-1]) for line in lines if line.startswith(prefix))


def test_lane_answers_a_stored_invoice_as_the_route_does_and_logs_it(
    client, service, admin, invoice_id, lane_decisions
):
    body = {"invoice_id": invoice_id, "as_of": "2025-02-20"}
    counted = requests_counted(client, admin)
    fast = ask(client, {**service, "X-Request-ID": "lane-1"}, body, lane=True)
    assert lane_decisions == [invoice_id]
    routed = ask(client, {**service, "X-Request-ID": "route-1"}, body, lane=False)
    assert lane_decisions == [invoice_id]  # the route decided the second one
    assert fast.status_code == routed.status_code == 200, routed.text
    assert fast.headers["content-type"] == routed.headers["content-type"] == "application/json"
    assert fast.headers["x-request-id"] == "lane-1"
    assert int(fast.headers["content-length"]) == len(fast.content)
    answers = [fast.json(), routed.json()]
    assert answers[0]["decision_id"] != answers[1]["decision_id"]
    same = [{k: v for k, v in a.items() if k not in ("decision_id", "created_at")} for a in answers]
    assert same[0] == same[1]
    assert answers[0]["invoice_id"] == invoice_id and answers[0]["as_of"] == "2025-02-20"
    for answer, request_id in zip(answers, ("lane-1", "route-1"), strict=True):
        record = client.get(f"/v1/decisions/{answer['decision_id']}", headers=service).json()
        assert record["decision"] == answer
        assert record["request_id"] == request_id
    # Latency is recorded under the route's name whichever way the request went.
    assert requests_counted(client, admin) == counted + 2


@pytest.mark.parametrize(
    ("case", "expected_status"),
    [
        ("unknown invoice", 404),
        ("as_of before issue", 422),
        ("unknown field", 422),
        ("no invoice at all", 422),
        ("collector key", 403),
        ("no key", 401),
        ("unknown key", 401),
    ],
)
def test_every_refusal_is_the_routes_own(
    client, service, collector, invoice_id, lane_decisions, case, expected_status
):
    headers, body = dict(service), {"invoice_id": invoice_id, "as_of": "2025-02-20"}
    if case == "unknown invoice":
        body["invoice_id"] = "INV-NOT-STORED"
    elif case == "as_of before issue":
        body["as_of"] = "2024-12-31"
    elif case == "unknown field":
        body["priority"] = "P1"
    elif case == "no invoice at all":
        body = {"as_of": "2025-02-20"}
    elif case == "collector key":
        headers = dict(collector)
    elif case == "no key":
        headers = {}
    elif case == "unknown key":
        headers = {"Authorization": "Bearer arb_000000000000_not-a-key"}
    fast = ask(client, headers, body, lane=True)
    routed = ask(client, headers, body, lane=False)
    assert fast.status_code == routed.status_code == expected_status
    assert fast.json() == routed.json()
    assert "detail" in fast.json()


def test_a_new_invoice_in_the_body_is_left_to_the_route(
    client, service, invoice_id, new_id, lane_decisions
):
    stored = client.post(
        "/v1/decisions", json={"invoice_id": invoice_id, "as_of": "2025-02-20"}, headers=service
    )
    customer = stored.json()["customer_id"]
    new = new_id("INV")
    invoice = new_invoice(new, customer, "2025-02-01", "900.00")
    response = ask(client, service, {"invoice": invoice, "as_of": "2025-02-20"}, lane=True)
    assert response.status_code == 200
    assert response.json()["invoice_id"] == new
    assert lane_decisions == [invoice_id]  # stored by the route, which decided it too
