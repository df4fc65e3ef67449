"""Health, readiness, metrics, request ids, JSON logs without amounts or keys, settings."""

from __future__ import annotations

import io
import json
import logging

import pytest
from pydantic import ValidationError

from serving.logging import LOGGER_NAME, JsonFormatter
from serving.settings import Settings


def test_readyz_reports_each_check(client, service):
    response = client.get("/readyz", headers=service)
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["checks"]["store"] == "ok"
    assert set(body["checks"].values()) == {"ok"}


def test_request_id_is_echoed_or_made(client):
    echoed = client.get("/healthz", headers={"X-Request-ID": "req-42.a"})
    assert echoed.headers["x-request-id"] == "req-42.a"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(made.headers["x-request-id"]) == 32
    assert made.headers["x-request-id"] != client.get("/healthz").headers["x-request-id"]


def test_metrics_histogram_by_route_template(client, service, new_id):
    client.get(f"/v1/invoices/{new_id('INV')}", headers=service)
    text = client.get("/metrics", headers=service).text
    line = [
        row
        for row in text.splitlines()
        if row.startswith("arbiter_request_seconds_count")
        and 'route="/v1/invoices/{invoice_id}"' in row
        and 'status="404"' in row
    ]
    assert len(line) == 1 and float(line[0].rsplit(" ", 1)[1]) >= 1


@pytest.fixture()
def log_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_logs_are_json_with_request_id_and_no_amounts_or_keys(
    client, service, tokens, log_lines, new_id
):
    cid, iid = new_id("C"), new_id("INV")
    client.post("/v1/customers", json={"customer_id": cid}, headers=service)
    invoice = {
        "invoice_id": iid,
        "customer_id": cid,
        "issue_date": "2025-01-01",
        "due_date": "2025-01-31",
        "amount": "98765.43",
        "currency": "USD",
    }
    client.post("/v1/invoices", json=invoice, headers={**service, "X-Request-ID": "trace-1"})
    client.post("/v1/invoices", json={**invoice, "amount": "11111.11"}, headers=service)
    lines = log_lines()
    traced = [line for line in lines if line["request_id"] == "trace-1"]
    assert traced and traced[-1]["route"] == "/v1/invoices" and traced[-1]["status"] == 201
    assert all(line["level"] in ("INFO", "WARNING", "ERROR") for line in lines)
    everything = json.dumps(lines)
    assert "98765" not in everything and "11111" not in everything
    # arb_<key id>_<secret>: the secret itself may contain "_"
    assert all(token.split("_", 2)[2] not in everything for token in tokens.values())


def test_production_refuses_placeholder_secret():
    with pytest.raises(ValidationError, match="ARBITER_SESSION_SECRET is a placeholder"):
        Settings(env="production", session_secret="changethis")
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(env="production", session_secret="short-but-real")
    ok = Settings(env="production", session_secret="x" * 32)
    assert ok.session_secret == "x" * 32
    assert Settings(env="development").session_secret == "changethis"


def test_settings_read_from_environment(monkeypatch):
    monkeypatch.setenv("ARBITER_DATABASE_URL", "sqlite:///tmp/elsewhere.db")
    monkeypatch.setenv("ARBITER_MAX_BODY_BYTES", "1234")
    settings = Settings()
    assert settings.database_url == "sqlite:///tmp/elsewhere.db"
    assert settings.max_body_bytes == 1234
    assert settings.sqlite_path() is not None and settings.sqlite_path().name == "elsewhere.db"
