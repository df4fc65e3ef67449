"""The store on both backends: migrations, book load (idempotent, refusals reported), keys
stored as hashes, money kept exact, and the CLI commands around them."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import inspect, select
from typer.testing import CliRunner

from features.book import Book, validate_tables
from serving.keys import hash_token
from serving.migrations import current_revision, head_revision, upgrade
from serving.store.db import Store
from serving.store.loader import load_into_store
from serving.store.models import ApiKey, Invoice
from training.cli import app as cli

TABLES = {"customers", "invoices", "payments", "disputes", "activities", "decisions"}
TABLES |= {"worklist_items", "worklist_sync", "feature_events", "api_keys", "alembic_version"}


@pytest.fixture(scope="module")
def store(database_url) -> Store:
    opened = Store(database_url)
    opened.upgrade()
    yield opened
    opened.close()


def small_book(prefix: str, with_customers: bool = True) -> Book:
    frames = {
        "invoices": pd.DataFrame(
            {
                "invoice_id": [f"{prefix}-I1", f"{prefix}-I2", f"{prefix}-I3"],
                "customer_id": [f"{prefix}-C1", f"{prefix}-C1", f"{prefix}-C2"],
                "issue_date": ["2025-01-01", "2025-01-05", "2025-02-01"],
                "due_date": ["2025-01-31", "2025-02-04", "2025-03-03"],
                "amount": ["100.10", "2500.00", "0.07"],
                "currency": ["EUR", "usd", "JPY"],
                "paid_date": ["2025-02-03", None, None],
            }
        ),
        "payments": pd.DataFrame(
            {
                "payment_id": [f"{prefix}-P1", f"{prefix}-P2"],
                "invoice_id": [f"{prefix}-I1", f"{prefix}-I2"],
                "payment_date": ["2025-02-03", "2025-02-10"],
                "amount": ["100.10", "1000.00"],
            }
        ),
    }
    if with_customers:
        frames["customers"] = pd.DataFrame(
            {"customer_id": [f"{prefix}-C1", f"{prefix}-C2"], "collector_id": ["COL", "COL"]}
        )
    book, report = validate_tables(frames)
    assert report.total_rejected == 0
    return book


def test_migrations_create_every_table_and_are_idempotent(store):
    upgrade(store.engine)
    assert current_revision(store.engine) == head_revision(store.engine) == "0003"
    assert set(inspect(store.engine).get_table_names()) >= TABLES
    assert store.check() == "ok"


def test_load_counts_then_second_load_is_unchanged(store, new_id):
    prefix = new_id("L")
    first = load_into_store(store, small_book(prefix))
    assert {t: dict(c) for t, c in first.counts.items()} == {
        "customers": {"created": 2},
        "invoices": {"created": 3},
        "payments": {"created": 2},
    }
    assert first.rejections == [] and first.bare_customers == 0
    again = load_into_store(store, small_book(prefix))
    assert {t: dict(c) for t, c in again.counts.items()} == {
        "customers": {"unchanged": 2},
        "invoices": {"unchanged": 3},
        "payments": {"unchanged": 2},
    }
    with store.sessions() as session:
        stored = session.get(Invoice, f"{prefix}-I1")
        assert (stored.amount, stored.currency) == (Decimal("100.10"), "EUR")
        assert session.get(Invoice, f"{prefix}-I3").amount == Decimal("0.07")
        assert session.get(Invoice, f"{prefix}-I2").paid_date is None


def test_book_without_customers_gets_bare_customers(store, new_id):
    prefix = new_id("B")
    result = load_into_store(store, small_book(prefix, with_customers=False))
    assert result.bare_customers == 2
    assert dict(result.counts["customers"]) == {"created": 2}
    assert dict(result.counts["invoices"]) == {"created": 3}


def test_conflicting_rows_are_reported_not_dropped(store, new_id):
    prefix = new_id("X")
    load_into_store(store, small_book(prefix))
    changed = small_book(prefix)
    changed.tables["invoices"].loc[1, "amount"] = 2600.0
    changed.tables["payments"].loc[1, "payment_id"] = f"{prefix}-P9"
    changed.tables["payments"].loc[1, "amount"] = 1600.0
    result = load_into_store(store, changed)
    assert dict(result.counts["invoices"]) == {"unchanged": 2, "rejected": 1}
    assert dict(result.counts["payments"]) == {"unchanged": 1, "rejected": 1}
    assert result.rejections == [
        {
            "table": "invoices",
            "key": f"{prefix}-I2",
            "column": "amount",
            "reason": f"invoice_id '{prefix}-I2' is already stored with other amount",
        },
        {
            "table": "payments",
            "key": f"{prefix}-P9",
            "column": "amount",
            "reason": "payments total 2600.00 exceeds the invoice amount 2500.00",
        },
    ]


def test_cli_keys_db_and_load(database_url, store, tmp_path, monkeypatch, new_id):
    monkeypatch.setenv("ARBITER_DATABASE_URL", database_url)
    runner = CliRunner()
    upgraded = runner.invoke(cli, ["db", "upgrade"])
    assert upgraded.exit_code == 0 and "database at revision 0003" in upgraded.output
    created = runner.invoke(cli, ["keys", "create", "--role", "collector", "--name", "cli"])
    assert created.exit_code == 0
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("arb_")
    with store.sessions() as session:
        key = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_token(token))).one()
        assert (key.role, key.name, key.revoked_at) == ("collector", "cli", None)
        assert token not in {key.key_id, key.key_hash, key.name}
    listed = runner.invoke(cli, ["keys", "list"])
    assert key.key_id in listed.output and token not in listed.output
    revoked = runner.invoke(cli, ["keys", "revoke", key.key_id])
    assert revoked.exit_code == 0
    bad_role = runner.invoke(cli, ["keys", "create", "--role", "root"])
    assert bad_role.exit_code == 2

    folder = tmp_path / "book"
    from features.book import write_book

    write_book(small_book(new_id("K")).tables, folder, fmt="csv")
    loaded = runner.invoke(cli, ["load", str(folder), "--rejections", str(tmp_path / "r.csv")])
    assert loaded.exit_code == 0, loaded.output
    assert "invoices: created 3" in loaded.output
    again = runner.invoke(cli, ["load", str(folder)])
    assert "invoices: unchanged 3" in again.output
    missing = runner.invoke(cli, ["load", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
