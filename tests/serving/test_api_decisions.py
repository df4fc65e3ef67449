"""Decisions, the audit record, batches, worklists and actions, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

from serving.bundle import load_bundle
from serving.policy.engine import load_policy


@pytest.fixture()
def account(client, service, new_id) -> dict:
    ids = {
        "customer_id": new_id("C"),
        "collector_id": new_id("COL"),
        "revenue_owner_id": new_id("AM"),
    }
    body = {**ids, "segment": "mid_market", "payment_terms_days": 30, "strategic": False}
    assert client.post("/v1/customers", json=body, headers=service).status_code == 201
    return ids


def new_invoice(invoice_id: str, customer_id: str, amount: str = "80000.00") -> dict:
    return {
        "invoice_id": invoice_id,
        "customer_id": customer_id,
        "issue_date": "2025-01-10",
        "due_date": "2025-02-09",
        "amount": amount,
        "currency": "EUR",
    }


def test_decision_for_a_new_invoice_answers_every_field(
    client, service, account, bundle_dir, new_id
):
    iid = new_id("INV")
    body = {"invoice": new_invoice(iid, account["customer_id"]), "as_of": "2025-02-20"}
    response = client.post("/v1/decisions", json=body, headers={**service, "X-Request-ID": "dec-1"})
    assert response.status_code == 200
    decision = response.json()
    assert set(decision) == {
        "decision_id",
        "invoice_id",
        "customer_id",
        "as_of",
        "scores",
        "owner",
        "assignee",
        "co_assignee",
        "action",
        "priority",
        "reasons",
        "trace",
        "versions",
        "created_at",
    }
    assert (decision["invoice_id"], decision["customer_id"], decision["as_of"]) == (
        iid,
        account["customer_id"],
        "2025-02-20",
    )
    scores = decision["scores"]
    assert 0 <= scores["p_late"] <= 1 and 0 <= scores["p_dispute"] <= 1
    p10, p50, p90 = (date.fromisoformat(scores[f"pay_date_{q}"]) for q in ("p10", "p50", "p90"))
    assert date(2025, 1, 10) <= p10 <= p50 <= p90
    assert decision["owner"] in ("finance", "revenue_owner", "joint", "none")
    expected_assignee = {
        "finance": account["collector_id"],
        "joint": account["collector_id"],
        "revenue_owner": account["revenue_owner_id"],
        "none": None,
    }[decision["owner"]]
    assert decision["assignee"] == expected_assignee
    assert decision["co_assignee"] == (
        account["revenue_owner_id"] if decision["owner"] == "joint" else None
    )
    priority = decision["priority"]
    at_risk = (Decimal("80000.00") * Decimal(repr(priority["risk"]))).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )
    assert Decimal(priority["amount_at_risk"]) == at_risk
    assert priority["currency"] == "EUR"
    thresholds = [("P1", 25000), ("P2", 5000), ("P3", 1000)]
    auto_tier = next((t for t, low in thresholds if at_risk >= low), "P4")
    assert priority["tier"] in (auto_tier, "P1")
    assert decision["reasons"] and decision["reasons"][0]["source"] == "rule"
    assert all(r["source"] in ("rule", "model") and r["text"] for r in decision["reasons"])
    assert [t["table"] for t in decision["trace"]] == ["routing", "priority"]
    assert decision["versions"] == {
        "models": {"late": "1", "dispute": "1", "days_to_pay": "1"},
        "policy": load_policy().version,
    }

    record = client.get(f"/v1/decisions/{decision['decision_id']}", headers=service)
    assert record.status_code == 200
    audit = record.json()
    assert audit["decision"] == decision
    assert audit["request_id"] == "dec-1"
    bundle = load_bundle(bundle_dir)
    assert list(audit["features"]) == bundle.feature_names
    x = np.array([np.nan if v is None else v for v in audit["features"].values()])
    replayed = bundle.predict(x)
    assert replayed["p_late"][0] == pytest.approx(scores["p_late"], abs=1e-12)
    assert replayed["p_dispute"][0] == pytest.approx(scores["p_dispute"], abs=1e-12)
    assert audit["features"]["amount"] == 80000.0


def test_legal_hold_goes_to_finance_with_the_whole_amount_at_risk(client, service, account, new_id):
    iid = new_id("INV")
    assert (
        client.post(
            "/v1/invoices",
            json=new_invoice(iid, account["customer_id"], "30000.00"),
            headers=service,
        ).status_code
        == 201
    )
    hold = {
        "activity_id": new_id("A"),
        "customer_id": account["customer_id"],
        "date": "2025-01-15",
        "kind": "legal_hold",
    }
    assert client.post("/v1/activities", json=hold, headers=service).status_code == 201
    before = client.post(
        "/v1/decisions", json={"invoice_id": iid, "as_of": "2025-01-15"}, headers=service
    ).json()
    after = client.post(
        "/v1/decisions", json={"invoice_id": iid, "as_of": "2025-01-16"}, headers=service
    ).json()
    assert before["trace"][0]["row"] != "finance.legal_hold"
    assert (after["owner"], after["action"], after["assignee"]) == (
        "finance",
        "legal_review",
        account["collector_id"],
    )
    assert after["priority"] == {
        "amount_at_risk": "30000.00",
        "currency": "EUR",
        "risk": 1.0,
        "tier": "P1",
    }
    assert after["trace"][0]["row"] == "finance.legal_hold"
    assert after["reasons"][0]["code"] == "rule.finance.legal_hold"


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"invoice_id": "no-such-invoice"}, 404, "unknown invoice_id 'no-such-invoice'"),
        ({}, 422, None),
    ],
)
def test_decision_errors(client, service, body, status, detail):
    response = client.post("/v1/decisions", json=body, headers=service)
    assert response.status_code == status
    if detail:
        assert response.json() == {"detail": detail}
    else:
        assert response.json()["detail"][0]["msg"] == (
            "Value error, give exactly one of invoice_id (stored) or invoice (new)"
        )


def test_as_of_before_issue_is_422_and_conflicting_invoice_is_409(client, service, account, new_id):
    iid = new_id("INV")
    client.post("/v1/invoices", json=new_invoice(iid, account["customer_id"]), headers=service)
    early = client.post(
        "/v1/decisions", json={"invoice_id": iid, "as_of": "2025-01-09"}, headers=service
    )
    assert early.status_code == 422
    assert early.json() == {
        "detail": "as_of 2025-01-09 is before the invoice's issue_date (2025-01-10)"
    }
    other = new_invoice(iid, account["customer_id"], amount="1.00")
    conflict = client.post("/v1/decisions", json={"invoice": other}, headers=service)
    assert conflict.status_code == 409
    assert conflict.json()["differences"] == [
        {"field": "amount", "stored": "80000.00", "received": "1.00"}
    ]


def test_unknown_decision_is_404(client, service):
    response = client.get("/v1/decisions/00000000-0000-0000-0000-000000000000", headers=service)
    assert response.status_code == 404
    assert response.json() == {
        "detail": "unknown decision_id '00000000-0000-0000-0000-000000000000'"
    }


def test_batch_answers_each_item(client, service, account, new_id):
    first, second = new_id("INV"), new_id("INV")
    for iid in (first, second):
        client.post("/v1/invoices", json=new_invoice(iid, account["customer_id"]), headers=service)
    items = [
        {"invoice_id": first, "as_of": "2025-03-01"},
        {"invoice_id": "missing-one"},
        {"invoice_id": second, "as_of": "2024-12-31"},
        {"invoice_id": second, "as_of": "2025-03-01"},
    ]
    response = client.post("/v1/decisions/batch", json={"items": items}, headers=service)
    assert response.status_code == 200
    body = response.json()
    assert (body["decided"], body["rejected"]) == (2, 2)
    assert [(i["index"], i["invoice_id"], i["status_code"]) for i in body["items"]] == [
        (0, first, 200),
        (1, "missing-one", 404),
        (2, second, 422),
        (3, second, 200),
    ]
    assert body["items"][1]["error"] == "unknown invoice_id 'missing-one'"
    assert body["items"][1]["decision"] is None
    assert body["items"][3]["decision"]["as_of"] == "2025-03-01"
    stored = client.get(
        f"/v1/decisions/{body['items'][0]['decision']['decision_id']}", headers=service
    )
    assert stored.json()["decision"] == body["items"][0]["decision"]


def test_roles_on_decisions_and_worklists(client, service, collector):
    assert (
        client.post("/v1/decisions", json={"invoice_id": "x"}, headers=collector).status_code == 403
    )
    assert client.get("/v1/worklist", headers=service).status_code == 403
    assert client.post("/v1/admin/reload", headers=service).status_code == 403
    assert client.post("/v1/admin/reload", headers=collector).status_code == 403


def test_worklist_ranks_rescored_items_and_actions_move_them(
    client, service, collector, account, new_id
):
    small, large = new_id("INV"), new_id("INV")
    client.post(
        "/v1/invoices", json=new_invoice(small, account["customer_id"], "1000.00"), headers=service
    )
    client.post(
        "/v1/invoices", json=new_invoice(large, account["customer_id"], "90000.00"), headers=service
    )
    for iid in (small, large):
        assert (
            client.post("/v1/decisions", json={"invoice_id": iid}, headers=service).status_code
            == 200
        )
    mine = {"assignee": account["collector_id"]}
    listed = client.get("/v1/worklist", params=mine, headers=collector)
    assert listed.status_code == 200
    body = listed.json()
    assert body["as_of"] == date.today().isoformat()
    ids = [item["invoice_id"] for item in body["items"]]
    at_risk = [Decimal(item["decision"]["priority"]["amount_at_risk"]) for item in body["items"]]
    assert set(ids) <= {small, large} and at_risk == sorted(at_risk, reverse=True)
    assert all(item["decision"]["as_of"] == body["as_of"] for item in body["items"])
    assert all(item["status"] == "open" and item["last_action"] is None for item in body["items"])

    promise = {
        "action_id": new_id("ACT"),
        "action": "promise_to_pay",
        "date": "2025-02-12",
        "promised_date": "2025-02-28",
    }
    recorded = client.post(f"/v1/worklist/{large}/actions", json=promise, headers=collector)
    assert recorded.status_code == 201
    assert recorded.json() == {
        "invoice_id": large,
        "action_id": promise["action_id"],
        "result": "created",
        "status": "promised",
        "recorded_as": "activity",
    }
    replay = client.post(f"/v1/worklist/{large}/actions", json=promise, headers=collector)
    assert (replay.status_code, replay.json()["result"]) == (200, "unchanged")
    activity = client.get(f"/v1/activities/{promise['action_id']}", headers=service).json()
    assert (activity["kind"], activity["promised_date"], activity["invoice_id"]) == (
        "promise_to_pay",
        "2025-02-28",
        large,
    )

    promised = client.get(
        "/v1/worklist", params={**mine, "status": "promised"}, headers=collector
    ).json()
    assert [(i["invoice_id"], i["status"], i["last_action"]) for i in promised["items"]] == [
        (large, "promised", "promise_to_pay")
    ]

    resolved = {"action_id": new_id("ACT"), "action": "resolved", "detail": "paid by wire"}
    assert (
        client.post(f"/v1/worklist/{large}/actions", json=resolved, headers=collector).json()[
            "status"
        ]
        == "resolved"
    )
    remaining = client.get("/v1/worklist", params=mine, headers=collector).json()
    assert large not in [i["invoice_id"] for i in remaining["items"]]


def test_logged_dispute_feeds_the_features(client, service, collector, account, new_id):
    iid = new_id("INV")
    client.post("/v1/invoices", json=new_invoice(iid, account["customer_id"]), headers=service)
    action = {
        "action_id": new_id("D"),
        "action": "dispute_logged",
        "reason": "delivery",
        "date": "2025-01-20",
    }
    response = client.post(f"/v1/worklist/{iid}/actions", json=action, headers=collector)
    assert response.json() == {
        "invoice_id": iid,
        "action_id": action["action_id"],
        "result": "created",
        "status": "disputed",
        "recorded_as": "dispute",
    }
    dispute = client.get(f"/v1/disputes/{action['action_id']}", headers=service).json()
    assert (dispute["reason"], dispute["amount"], dispute["opened_date"]) == (
        "delivery",
        "80000.00",
        "2025-01-20",
    )
    before = client.post(
        "/v1/decisions", json={"invoice_id": iid, "as_of": "2025-01-20"}, headers=service
    ).json()
    after = client.post(
        "/v1/decisions", json={"invoice_id": iid, "as_of": "2025-01-21"}, headers=service
    ).json()
    audit = {
        d: client.get(f"/v1/decisions/{d}", headers=service).json()["features"]
        for d in (before["decision_id"], after["decision_id"])
    }
    assert audit[before["decision_id"]]["inv_dispute_open"] == 0.0
    assert audit[after["decision_id"]]["inv_dispute_open"] == 1.0


def test_action_errors(client, collector, account, new_id):
    missing = client.post(
        "/v1/worklist/nope/actions",
        json={"action_id": "a1", "action": "contacted"},
        headers=collector,
    )
    assert (missing.status_code, missing.json()) == (404, {"detail": "unknown invoice_id 'nope'"})
    no_date = client.post(
        "/v1/worklist/nope/actions",
        json={"action_id": "a2", "action": "promise_to_pay"},
        headers=collector,
    )
    assert no_date.status_code == 422
    assert no_date.json()["detail"][0]["msg"] == "Value error, promise_to_pay needs promised_date"


def test_versions_and_metrics(client, service, account, new_id):
    models = client.get("/v1/models", headers=service).json()
    assert models["versions"] == {"late": "1", "dispute": "1", "days_to_pay": "1"}
    assert models["challenger"] is None and len(models["feature_names"]) == 24
    policy = client.get("/v1/policy", headers=service).json()
    assert policy == {
        "name": "default",
        "version": load_policy().version,
        "source": "default",
        "challenger": None,
    }
    iid = new_id("INV")
    decision = client.post(
        "/v1/decisions", json={"invoice": new_invoice(iid, account["customer_id"])}, headers=service
    ).json()
    text = client.get("/metrics", headers=service).text
    owner, tier = decision["owner"], decision["priority"]["tier"]
    label = f'arbiter_decisions_total{{owner="{owner}",tier="{tier}"}}'
    assert any(
        line.startswith(label) and float(line.split()[-1]) >= 1 for line in text.splitlines()
    )
    assert f'policy="{load_policy().version}"' in text and 'model_late="1"' in text


def test_pay_dates_follow_issue_date(client, service, account, new_id):
    iid = new_id("INV")
    body = {"invoice": new_invoice(iid, account["customer_id"]), "as_of": "2025-01-10"}
    decision = client.post("/v1/decisions", json=body, headers=service).json()
    p50 = date.fromisoformat(decision["scores"]["pay_date_p50"])
    assert timedelta(days=0) <= p50 - date(2025, 1, 10) <= timedelta(days=120)
