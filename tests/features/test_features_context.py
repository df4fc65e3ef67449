"""Disputes, relationship context, customer facts, the registry and reasons, by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from features.book import Book
from features.families import features_without_builder
from features.handmade import book_from_rows as make_book
from features.handmade import invoice_row as invoice
from features.offline import build_features
from features.online import OnlineFeatures
from features.online_compute import families_for
from features.registry import REGISTRY, REGISTRY_BY_NAME, feature_set, render_reason
from features.schema import DISPUTE_REASONS, SEGMENTS


def features_at(book: Book, invoice_id: str, as_of: str) -> pd.Series:
    """Offline features of one invoice at one date, checked against the online path."""
    row = build_features(book, pd.DataFrame({"invoice_id": [invoice_id], "as_of": [as_of]}))
    online = OnlineFeatures(feature_set(book)).replay(book).values(invoice_id, as_of)
    for name, value in online.items():
        assert value == pytest.approx(row.iloc[0][name], nan_ok=True, rel=1e-12), name
    return row.iloc[0]


INVOICES = [
    invoice("i1", "2024-01-01", "2024-01-31", "2024-03-01", 100, order="o1"),
    invoice("i2", "2024-01-10", "2024-02-09", "", 200, order="o2"),
    invoice("i3", "2024-02-01", "2024-03-02", "", 300, order="o3"),
    invoice("i4", "2024-06-01", "2024-07-01", "", 400, order="o4"),
]


def dispute(dispute_id: str, invoice_id: str, opened: str, reason: str, resolved: str = "") -> dict:
    return {
        "dispute_id": dispute_id,
        "invoice_id": invoice_id,
        "opened_date": opened,
        "reason": reason,
        "amount": 10,
        "resolved_date": resolved,
    }


def activity(
    activity_id: str,
    date: str,
    kind: str,
    invoice_id: str = "",
    order_id: str = "",
    promised: str = "",
) -> dict:
    return {
        "activity_id": activity_id,
        "customer_id": "C1",
        "invoice_id": invoice_id,
        "order_id": order_id,
        "date": date,
        "kind": kind,
        "detail": "-",
        "promised_date": promised,
    }


def dispute_book():
    return make_book(
        invoices=INVOICES,
        disputes=[
            dispute("d1", "i2", "2024-01-20", "quality", "2024-02-15"),
            dispute("d2", "i2", "2024-02-01", "pricing"),
            dispute("d3", "i1", "2024-01-15", "quality", "2024-01-25"),
            dispute("d4", "i3", "2024-02-10", "pricing"),
        ],
    )


def test_dispute_on_this_invoice_is_open_from_the_day_after_opening_until_resolved() -> None:
    book = dispute_book()
    assert features_at(book, "i2", "2024-01-20")["inv_dispute_open"] == 0
    row = features_at(book, "i2", "2024-01-21")
    assert row["inv_dispute_open"] == 1
    assert DISPUTE_REASONS[int(row["inv_dispute_reason"])] == "quality"
    # d2 (pricing) opened later: the latest open dispute gives the reason
    row = features_at(book, "i2", "2024-02-02")
    assert DISPUTE_REASONS[int(row["inv_dispute_reason"])] == "pricing"
    assert row["inv_disputes"] == 2
    assert features_at(book, "i1", "2024-01-25")["inv_dispute_open"] == 1
    resolved = features_at(book, "i1", "2024-01-26")
    assert resolved["inv_dispute_open"] == 0 and math.isnan(resolved["inv_dispute_reason"])


def test_customer_dispute_history_counts_reasons_and_breaks_ties_by_reason_order() -> None:
    book = dispute_book()
    row = features_at(book, "i3", "2024-02-02")  # d1, d2, d3 known: quality 2, pricing 1
    assert row["disp_n"] == 3 and row["disp_n_quality"] == 2 and row["disp_n_pricing"] == 1
    assert DISPUTE_REASONS[int(row["cust_dispute_top_reason"])] == "quality"
    assert row["disp_open_count"] == 2  # d3 resolved 2024-01-25; d1 open until 2024-02-15
    assert row["disp_days_since_last"] == 1
    assert row["disp_per_invoice"] == 1.0  # 3 disputes, 3 invoices issued before t
    tie = features_at(book, "i4", "2024-06-01")  # quality 2, pricing 2: pricing comes first
    assert DISPUTE_REASONS[int(tie["cust_dispute_top_reason"])] == "pricing"
    assert tie["disp_open_count"] == 2  # d2 and d4 never resolved
    assert math.isnan(features_at(book, "i1", "2024-01-01")["cust_dispute_top_reason"])


def test_dispute_counts_in_the_last_365_days() -> None:
    book = dispute_book()
    # 2025-01-14 - 365 days = 2024-01-15 (2024 is a leap year): d3 is the window's first day
    assert features_at(book, "i4", "2025-01-14")["disp_n_365d"] == 4
    assert features_at(book, "i4", "2025-01-15")["disp_n_365d"] == 3


def relationship_book():
    return make_book(
        invoices=INVOICES,
        activities=[
            activity("a1", "2024-01-05", "support_ticket_opened"),
            activity("a2", "2024-01-06", "support_ticket_opened"),
            activity("a3", "2024-01-20", "support_ticket_closed"),
            activity("a4", "2024-02-05", "delivery_incomplete", order_id="o3"),
            activity("a5", "2024-02-06", "quality_issue", invoice_id="i2"),
            activity("a6", "2024-03-01", "price_change"),
            activity("a7", "2024-01-12", "contact"),
            activity("a8", "2024-01-15", "promise_to_pay", invoice_id="i1", promised="2024-03-05"),
            activity("a9", "2024-01-16", "promise_to_pay", invoice_id="i2", promised="2024-02-20"),
            activity("a10", "2024-02-21", "broken_promise", invoice_id="i2"),
            activity("a11", "2024-02-01", "owner_change"),
            activity("a12", "2024-04-01", "legal_hold"),
            activity("a13", "2024-02-02", "escalation"),
        ],
    )


def test_support_tickets_open_and_in_windows() -> None:
    book = relationship_book()
    row = features_at(book, "i2", "2024-01-20")
    assert row["rel_open_tickets"] == 2 and row["rel_tickets_30d"] == 2
    row = features_at(book, "i2", "2024-01-21")
    assert row["rel_open_tickets"] == 1
    later = features_at(book, "i3", "2024-02-05")  # 2024-02-05 - 30 days = 2024-01-06
    assert later["rel_tickets_30d"] == 1 and later["rel_tickets_90d"] == 2


def test_order_problems_reach_the_invoice_by_order_or_by_invoice_id() -> None:
    book = relationship_book()
    assert features_at(book, "i3", "2024-02-05")["rel_order_delivery_problem"] == 0
    row = features_at(book, "i3", "2024-02-06")
    assert row["rel_order_delivery_problem"] == 1 and row["rel_order_quality_problem"] == 0
    other = features_at(book, "i2", "2024-02-07")
    assert other["rel_order_delivery_problem"] == 0 and other["rel_order_quality_problem"] == 1


def test_pricing_window_contact_owner_changes_and_legal_hold() -> None:
    book = relationship_book()
    # price_change on 2024-03-01, 90 days before 2024-05-30
    assert features_at(book, "i3", "2024-03-01")["rel_pricing_discrepancy_90d"] == 0
    assert features_at(book, "i3", "2024-05-30")["rel_pricing_discrepancy_90d"] == 1
    assert features_at(book, "i3", "2024-05-31")["rel_pricing_discrepancy_90d"] == 0
    row = features_at(book, "i3", "2024-02-03")
    assert row["rel_days_since_contact"] == 22
    assert row["rel_owner_changes_365d"] == 1 and row["rel_escalations_90d"] == 1
    assert row["cust_legal_hold"] == 0
    assert features_at(book, "i4", "2024-06-01")["cust_legal_hold"] == 1
    assert math.isnan(features_at(book, "i1", "2024-01-01")["rel_days_since_contact"])


def test_promises_kept_once_the_payment_is_known_and_broken_ones_counted() -> None:
    book = relationship_book()
    row = features_at(book, "i3", "2024-03-01")  # i1 paid 2024-03-01: not known yet
    assert row["rel_promises_made"] == 2 and row["rel_promises_kept"] == 0
    assert row["rel_promises_broken"] == 1 and row["rel_broken_promises_90d"] == 1
    row = features_at(book, "i3", "2024-03-02")
    assert row["rel_promises_kept"] == 1
    assert features_at(book, "i4", "2024-06-01")["rel_broken_promises_90d"] == 0


def test_customer_attributes_and_credit_use() -> None:
    customers = [
        {
            "customer_id": "C1",
            "segment": "mid_market",
            "strategic": "true",
            "credit_limit": 1000,
            "created_date": "2023-01-01",
        }
    ]
    book = make_book(invoices=INVOICES, customers=customers)
    row = features_at(book, "i3", "2024-02-01")
    assert SEGMENTS[int(row["cust_segment"])] == "mid_market"
    assert row["cust_strategic"] == 1 and row["cust_credit_limit"] == 1000
    assert row["cust_tenure_days"] == 396
    assert row["exp_open_balance"] == 300 and row["exp_credit_use"] == pytest.approx(0.3)


def test_registry_names_are_unique_prefixed_and_templates_name_real_features() -> None:
    names = [spec.name for spec in REGISTRY]
    assert len(names) == len(set(names))
    for spec in REGISTRY:
        assert spec.name.startswith(f"{spec.family}_") or spec.name in ("amount", "days_past_due")
        values = {name: 1.0 for name in names}
        assert render_reason(spec, values)


def test_every_registry_feature_has_an_offline_builder_and_an_online_family() -> None:
    assert features_without_builder() == set()
    computed: dict[str, float] = {}
    book = relationship_book()
    online = OnlineFeatures(feature_set(book)).replay(book)
    invoice = online.invoices["i2"]
    customer_families, invoice_families = families_for([spec.name for spec in REGISTRY])
    for family in customer_families + invoice_families:
        family(online.customers["C1"], invoice, 19800, computed)
    assert set(computed) >= {spec.name for spec in REGISTRY}


def test_render_reason_fills_real_values_and_category_labels() -> None:
    spec = REGISTRY_BY_NAME["hist_late_share"]
    values = {
        "hist_n_late": 3.0,
        "hist_n_paid": 4.0,
        "hist_late_share": 0.75,
        "hist_days_late_mean": 7.25,
    }
    assert render_reason(spec, values) == "Paid 3 of 4 invoices late (75%), 7 days on average"
    reason = REGISTRY_BY_NAME["inv_dispute_reason"]
    assert render_reason(reason, {"inv_dispute_reason": 2.0}).endswith("quality")
    with pytest.raises(ValueError, match="hist_n_paid"):
        render_reason(spec, {"hist_n_late": 3.0})


def test_feature_set_names_what_is_missing_and_why() -> None:
    book = make_book(invoices=INVOICES)
    chosen = feature_set(book)
    assert "hist_late_share" in chosen.names and "exp_overdue_balance" in chosen.names
    assert chosen.excluded["disp_n"] == "needs table disputes, absent from this book"
    assert chosen.excluded["rel_open_tickets"] == "needs table activities, absent from this book"
    assert chosen.excluded["inv_paperless"] == "needs column invoices.paperless, empty in this book"
    assert set(chosen.names) | set(chosen.excluded) == {s.name for s in REGISTRY}
    only = feature_set(book, ["amount", "disp_n"])
    assert only.names == ["amount"] and list(only.excluded) == ["disp_n"]
    with pytest.raises(ValueError, match="unknown features"):
        feature_set(book, ["amount", "no_such_feature"])


def test_build_with_a_chosen_feature_set_returns_only_those_columns() -> None:
    book = relationship_book()
    chosen = feature_set(book, ["rel_open_tickets", "amount"])
    frame = build_features(
        book, pd.DataFrame({"invoice_id": ["i2"], "as_of": ["2024-01-21"]}), chosen
    )
    assert list(frame.columns) == [
        "invoice_id",
        "customer_id",
        "as_of",
        "amount",
        "rel_open_tickets",
    ]
    assert frame.loc[0, "rel_open_tickets"] == 1
