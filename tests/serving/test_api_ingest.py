"""Ingest under /v1: created, unchanged and updated replays, conflicts, unknown ids, field-level
validation, the stored book's rules, and bulk per-item results; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest


def customer_body(customer_id: str) -> dict:
    return {
        "customer_id": customer_id,
        "name": "Acme GmbH",
        "segment": "enterprise",
        "industry": "manufacturing",
        "country": "DE",
        "payment_terms_days": 30,
        "credit_limit": "50000.00",
        "revenue_owner_id": "AM-1",
        "collector_id": "COL-1",
        "strategic": True,
        "created_date": "2020-05-01",
    }


def invoice_body(invoice_id: str, customer_id: str, /, **changes: object) -> dict:
    body = {
        "invoice_id": invoice_id,
        "customer_id": customer_id,
        "issue_date": "2025-03-01",
        "due_date": "2025-03-31",
        "amount": "1200.50",
        "currency": "eur",
        "order_id": "O-1",
        "paperless": True,
    }
    return {**body, **changes}


@pytest.fixture()
def customer_id(client, service, new_id) -> str:
    cid = new_id("C")
    assert client.post("/v1/customers", json=customer_body(cid), headers=service).status_code == 201
    return cid


@pytest.fixture()
def invoice_id(client, service, new_id, customer_id) -> str:
    iid = new_id("INV")
    response = client.post("/v1/invoices", json=invoice_body(iid, customer_id), headers=service)
    assert response.status_code == 201
    return iid


def without_time(record: dict) -> dict:
    assert record.pop("ingested_at").endswith("Z")
    return record


def test_customer_created_then_read_back(client, service, collector, new_id):
    cid = new_id("C")
    response = client.post("/v1/customers", json=customer_body(cid), headers=service)
    assert response.status_code == 201
    body = response.json()
    assert body["result"] == "created"
    assert without_time(body["record"]) == customer_body(cid)
    read = client.get(f"/v1/customers/{cid}", headers=collector)
    assert read.status_code == 200
    assert without_time(read.json()) == customer_body(cid)


def test_invoice_created_with_every_field_normalised(client, service, customer_id, new_id):
    iid = new_id("INV")
    response = client.post(
        "/v1/invoices", json=invoice_body(iid, f"  {customer_id} "), headers=service
    )
    assert response.status_code == 201
    assert response.json()["result"] == "created"
    assert without_time(response.json()["record"]) == {
        "invoice_id": iid,
        "customer_id": customer_id,
        "issue_date": "2025-03-01",
        "due_date": "2025-03-31",
        "amount": "1200.50",
        "currency": "EUR",
        "order_id": "O-1",
        "paperless": True,
        "paid_date": None,
    }


def test_replay_with_same_content_is_unchanged(client, service, customer_id, invoice_id):
    body = invoice_body(invoice_id, customer_id, amount=1200.5)
    response = client.post("/v1/invoices", json=body, headers=service)
    assert response.status_code == 200
    assert response.json()["result"] == "unchanged"
    assert response.json()["record"]["amount"] == "1200.50"


def test_replay_with_other_content_is_409_naming_each_difference(
    client, service, customer_id, invoice_id
):
    body = invoice_body(invoice_id, customer_id, amount="1300.00", due_date="2025-04-15")
    response = client.post("/v1/invoices", json=body, headers=service)
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"invoice_id '{invoice_id}' is already stored with other due_date, amount",
        "differences": [
            {"field": "due_date", "stored": "2025-03-31", "received": "2025-04-15"},
            {"field": "amount", "stored": "1200.50", "received": "1300.00"},
        ],
    }
    stored = client.get(f"/v1/invoices/{invoice_id}", headers=service).json()
    assert (stored["amount"], stored["due_date"]) == ("1200.50", "2025-03-31")


def test_paid_date_fills_once_then_conflicts(client, service, customer_id, invoice_id):
    paid = invoice_body(invoice_id, customer_id, paid_date="2025-04-02")
    first = client.post("/v1/invoices", json=paid, headers=service)
    assert (first.status_code, first.json()["result"]) == (200, "updated")
    assert first.json()["record"]["paid_date"] == "2025-04-02"
    open_again = client.post(
        "/v1/invoices", json=invoice_body(invoice_id, customer_id), headers=service
    )
    assert (open_again.status_code, open_again.json()["result"]) == (200, "unchanged")
    assert open_again.json()["record"]["paid_date"] == "2025-04-02"
    other = invoice_body(invoice_id, customer_id, paid_date="2025-04-03")
    conflict = client.post("/v1/invoices", json=other, headers=service)
    assert conflict.status_code == 409
    assert conflict.json()["differences"] == [
        {"field": "paid_date", "stored": "2025-04-02", "received": "2025-04-03"}
    ]


def test_invoice_for_unknown_customer_is_404(client, service, new_id):
    missing = new_id("C")
    response = client.post(
        "/v1/invoices", json=invoice_body(new_id("INV"), missing), headers=service
    )
    assert response.status_code == 404
    assert response.json() == {"detail": f"unknown customer_id '{missing}'", "field": "customer_id"}


def test_payment_for_unknown_invoice_is_404(client, service, new_id):
    missing = new_id("INV")
    body = {
        "payment_id": new_id("P"),
        "invoice_id": missing,
        "payment_date": "2025-03-05",
        "amount": 10,
    }
    response = client.post("/v1/payments", json=body, headers=service)
    assert response.status_code == 404
    assert response.json() == {"detail": f"unknown invoice_id '{missing}'", "field": "invoice_id"}


def test_get_unknown_record_is_404(client, service, new_id):
    missing = new_id("INV")
    response = client.get(f"/v1/invoices/{missing}", headers=service)
    assert response.status_code == 404
    assert response.json() == {"detail": f"unknown invoice_id '{missing}'"}


def validation_errors(response) -> dict[str, str]:
    assert response.status_code == 422
    return {".".join(map(str, e["loc"][1:])): e["msg"] for e in response.json()["detail"]}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"amount": "-5.00"}, "amount", "Input should be greater than 0"),
        ({"amount": "0"}, "amount", "Input should be greater than 0"),
        ({"amount": "10.123"}, "amount", "Decimal input should have no more than 2 decimal places"),
        (
            {"due_date": "2025-02-27"},
            "due_date",
            "Value error, due_date is before issue_date (2025-03-01)",
        ),
        (
            {"paid_date": "2025-01-01"},
            "paid_date",
            "Value error, paid_date is before issue_date (2025-03-01)",
        ),
        ({"currency": "EUX"}, "currency", "Value error, unknown ISO 4217 currency code 'EUX'"),
        ({"currency": "EURO"}, "currency", "String should have at most 3 characters"),
        (
            {"issue_date": "2025-13-01"},
            "issue_date",
            "Input should be a valid date or datetime, "
            "month value is outside expected range of 1-12",
        ),
        ({"invoice_id": "   "}, "invoice_id", "String should have at least 1 character"),
        (
            {"invoice_id": "a\x00b"},
            "invoice_id",
            "String should match pattern '^[^\\x00-\\x1f\\x7f]*$'",
        ),
        ({"discount": 5}, "discount", "Extra inputs are not permitted"),
    ],
)
def test_invalid_invoice_is_422_naming_the_field(
    client, service, customer_id, new_id, changes, field, message
):
    body = invoice_body(new_id("INV"), customer_id, **changes)
    assert validation_errors(client.post("/v1/invoices", json=body, headers=service)) == {
        field: message
    }


def test_missing_fields_are_each_named(client, service):
    response = client.post("/v1/invoices", json={"invoice_id": "X"}, headers=service)
    assert validation_errors(response) == {
        name: "Field required"
        for name in ("customer_id", "issue_date", "due_date", "amount", "currency")
    }


def test_unknown_dispute_reason_and_activity_kind_are_422(
    client, service, customer_id, invoice_id, new_id
):
    dispute = {
        "dispute_id": new_id("D"),
        "invoice_id": invoice_id,
        "opened_date": "2025-03-10",
        "reason": "weather",
        "amount": "100.00",
    }
    errors = validation_errors(client.post("/v1/disputes", json=dispute, headers=service))
    assert errors == {
        "reason": "Input should be 'pricing', 'delivery', 'quality', 'billing_error', "
        "'admin' or 'other'"
    }
    activity = {
        "activity_id": new_id("A"),
        "customer_id": customer_id,
        "date": "2025-03-02",
        "kind": "lunch",
    }
    errors = validation_errors(client.post("/v1/activities", json=activity, headers=service))
    assert list(errors) == ["kind"]
    assert errors["kind"].startswith("Input should be 'support_ticket_opened', ")


def payment(payment_id: str, invoice_id: str, amount: str, day: str = "2025-03-20") -> dict:
    return {
        "payment_id": payment_id,
        "invoice_id": invoice_id,
        "payment_date": day,
        "amount": amount,
    }


def test_payments_beyond_the_invoice_amount_are_refused(client, service, invoice_id, new_id):
    first = client.post(
        "/v1/payments", json=payment(new_id("P"), invoice_id, "1000.00"), headers=service
    )
    assert (first.status_code, first.json()["result"]) == (201, "created")
    over = client.post(
        "/v1/payments", json=payment(new_id("P"), invoice_id, "200.51"), headers=service
    )
    assert validation_errors(over) == {
        "amount": "payments total 1200.51 exceeds the invoice amount 1200.50"
    }
    assert client.get(f"/v1/invoices/{invoice_id}", headers=service).json()["paid_date"] is None


def test_payment_completing_the_invoice_sets_its_paid_date(client, service, invoice_id, new_id):
    pays = [("1000.00", "2025-03-20"), ("200.50", "2025-04-03")]
    for amount, day in pays:
        response = client.post(
            "/v1/payments", json=payment(new_id("P"), invoice_id, amount, day), headers=service
        )
        assert response.status_code == 201
        assert response.json()["record"]["amount"] == amount
    invoice = client.get(f"/v1/invoices/{invoice_id}", headers=service).json()
    assert invoice["paid_date"] == "2025-04-03"


def test_payment_before_issue_is_422(client, service, invoice_id, new_id):
    body = payment(new_id("P"), invoice_id, "10.00", day="2025-02-01")
    assert validation_errors(client.post("/v1/payments", json=body, headers=service)) == {
        "payment_date": "payment_date is before the invoice's issue_date (2025-03-01)"
    }


def test_dispute_resolution_fills_on_replay(client, service, invoice_id, new_id):
    dispute = {
        "dispute_id": new_id("D"),
        "invoice_id": invoice_id,
        "opened_date": "2025-03-10",
        "reason": "pricing",
        "amount": "300.00",
    }
    created = client.post("/v1/disputes", json=dispute, headers=service)
    assert (created.status_code, created.json()["result"]) == (201, "created")
    resolved = {**dispute, "resolved_date": "2025-03-25", "resolution": "credit_note"}
    updated = client.post("/v1/disputes", json=resolved, headers=service)
    assert (updated.status_code, updated.json()["result"]) == (200, "updated")
    assert without_time(updated.json()["record"]) == resolved


def test_activity_with_unknown_invoice_is_404(client, service, customer_id, new_id):
    missing = new_id("INV")
    body = {
        "activity_id": new_id("A"),
        "customer_id": customer_id,
        "invoice_id": missing,
        "date": "2025-03-02",
        "kind": "contact",
        "detail": "called\nleft a message",
    }
    response = client.post("/v1/activities", json=body, headers=service)
    assert response.status_code == 404
    assert response.json() == {"detail": f"unknown invoice_id '{missing}'", "field": "invoice_id"}
    created = client.post("/v1/activities", json={**body, "invoice_id": None}, headers=service)
    assert created.status_code == 201
    assert without_time(created.json()["record"]) == {
        **body,
        "invoice_id": None,
        "order_id": None,
        "promised_date": None,
    }


def test_bulk_reports_every_item_in_order(client, service, customer_id, invoice_id, new_id):
    fresh, dup = new_id("INV"), new_id("INV")
    items = [
        invoice_body(fresh, customer_id),
        invoice_body(invoice_id, customer_id),
        invoice_body(invoice_id, customer_id, amount="1.00"),
        invoice_body(new_id("INV"), customer_id, amount="-3"),
        invoice_body(new_id("INV"), "no-such-customer"),
        invoice_body(dup, customer_id),
        invoice_body(dup, customer_id, paid_date="2025-03-30"),
        {"invoice_id": 7},
    ]
    response = client.post("/v1/invoices/bulk", json={"items": items}, headers=service)
    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {"created": 2, "unchanged": 1, "updated": 1, "rejected": 4}
    summary = [(i["index"], i["result"], i["status_code"]) for i in body["items"]]
    assert summary == [
        (0, "created", 201),
        (1, "unchanged", 200),
        (2, "rejected", 409),
        (3, "rejected", 422),
        (4, "rejected", 404),
        (5, "created", 201),
        (6, "updated", 200),
        (7, "rejected", 422),
    ]
    assert body["items"][2]["errors"] == [
        {"field": "amount", "message": "stored 1200.50, received 1.00"}
    ]
    assert body["items"][3]["errors"] == [
        {"field": "amount", "message": "Input should be greater than 0"}
    ]
    assert body["items"][4]["errors"] == [
        {"field": "customer_id", "message": "unknown customer_id 'no-such-customer'"}
    ]
    assert body["items"][7]["id"] is None
    assert {e["field"] for e in body["items"][7]["errors"]} == {
        "invoice_id",
        "customer_id",
        "issue_date",
        "due_date",
        "amount",
        "currency",
    }
    assert client.get(f"/v1/invoices/{dup}", headers=service).json()["paid_date"] == "2025-03-30"
    assert client.get(f"/v1/invoices/{fresh}", headers=service).status_code == 200


def test_bulk_replay_changes_nothing(client, service, customer_id, new_id):
    items = [invoice_body(new_id("INV"), customer_id) for _ in range(3)]
    first = client.post("/v1/invoices/bulk", json={"items": items}, headers=service).json()
    again = client.post("/v1/invoices/bulk", json={"items": items}, headers=service).json()
    assert first["counts"] == {"created": 3, "unchanged": 0, "updated": 0, "rejected": 0}
    assert again["counts"] == {"created": 0, "unchanged": 3, "updated": 0, "rejected": 0}


def test_bulk_payments_apply_in_order(client, service, invoice_id, new_id):
    items = [
        payment(new_id("P"), invoice_id, "700.00"),
        payment(new_id("P"), invoice_id, "600.00"),
        payment(new_id("P"), invoice_id, "500.50"),
    ]
    body = client.post("/v1/payments/bulk", json={"items": items}, headers=service).json()
    assert [i["result"] for i in body["items"]] == ["created", "rejected", "created"]
    assert body["items"][1]["errors"] == [
        {"field": "amount", "message": "payments total 1300.00 exceeds the invoice amount 1200.50"}
    ]
    assert (
        client.get(f"/v1/invoices/{invoice_id}", headers=service).json()["paid_date"]
        == "2025-03-20"
    )


def test_bulk_size_is_bounded(client, service):
    response = client.post(
        "/v1/customers/bulk", json={"items": [{"customer_id": "x"}] * 1001}, headers=service
    )
    assert validation_errors(response) == {
        "items": "List should have at most 1000 items after validation, not 1001"
    }
    empty = client.post("/v1/customers/bulk", json={"items": []}, headers=service)
    assert validation_errors(empty) == {
        "items": "List should have at least 1 item after validation, not 0"
    }


def test_body_over_the_limit_is_413(client, service, settings):
    big = {"items": [{"customer_id": f"C{i}", "name": "x" * 190} for i in range(1000)]}
    response = client.post("/v1/customers/bulk", json=big, headers=service)
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"request body larger than {settings.max_body_bytes} bytes",
        "field": None,
    }


def test_streamed_body_over_the_limit_is_413(client, service, settings):
    def chunks():
        yield b'{"items": ['
        for i in range(2000):
            yield b'{"customer_id": "C%d", "name": "%s"},' % (i, b"x" * 150)
        yield b'{"customer_id": "last"}]}'

    headers = {**service, "Content-Type": "application/json"}
    response = client.post("/v1/customers/bulk", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"request body larger than {settings.max_body_bytes} bytes"
    }


def test_malformed_json_is_422(client, service):
    headers = {**service, "Content-Type": "application/json"}
    response = client.post("/v1/invoices", content=b'{"invoice_id": ', headers=headers)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"
