"""Features behave as their names say: hand-written books, values checked one by one."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.book import Book
from features.handmade import book_from_rows as make_book
from features.handmade import invoice_row as invoice
from features.offline import build_features, rescore_dates
from features.online import OnlineFeatures
from features.registry import feature_set


def features_at(book: Book, invoice_id: str, as_of: str) -> pd.Series:
    """Offline features of one invoice at one date, checked against the online path."""
    row = build_features(book, pd.DataFrame({"invoice_id": [invoice_id], "as_of": [as_of]}))
    offline = row.iloc[0]
    online = OnlineFeatures(feature_set(book)).replay(book).values(invoice_id, as_of)
    for name, value in online.items():
        assert value == pytest.approx(offline[name], nan_ok=True, rel=1e-12), name
    return offline


# Four invoices, three paid late (i1, i2, i4), i3 early; i5 issued after all are paid.
LATE_BOOK = dict(
    invoices=[
        invoice("i1", "2024-01-01", "2024-01-31", "2024-02-10", 100),
        invoice("i2", "2024-02-01", "2024-03-02", "2024-03-12", 200),
        invoice("i3", "2024-03-01", "2024-03-31", "2024-03-20", 300),
        invoice("i4", "2024-04-01", "2024-05-01", "2024-05-21", 400),
        invoice("i5", "2024-06-01", "2024-07-01", "", 500),
    ]
)


def test_late_share_is_three_quarters_at_next_issue_not_before_fourth_is_paid() -> None:
    book = make_book(**LATE_BOOK)
    at_next_issue = features_at(book, "i5", "2024-06-01")
    assert at_next_issue["hist_n_paid"] == 4
    assert at_next_issue["hist_n_late"] == 3
    assert at_next_issue["hist_late_share"] == 0.75
    # amounts paid late: 100 + 200 + 400 of 1000
    assert at_next_issue["hist_late_share_amount"] == pytest.approx(0.7)
    # days late: 10, 10, -11, 20
    assert at_next_issue["hist_days_late_mean"] == pytest.approx(29 / 4)
    assert at_next_issue["hist_days_late_median"] == pytest.approx(10.0)
    assert at_next_issue["hist_days_late_p90"] == pytest.approx(
        np.percentile([10, 10, -11, 20], 90)
    )
    assert at_next_issue["hist_days_since_last_late"] == 11  # 2024-05-21 -> 2024-06-01
    # The fourth is paid on 2024-05-21: on that very day it is not known yet.
    on_paid_day = features_at(book, "i4", "2024-05-21")
    assert on_paid_day["hist_n_paid"] == 3
    assert on_paid_day["hist_late_share"] == pytest.approx(2 / 3)
    day_after = features_at(book, "i4", "2024-05-22")
    assert day_after["hist_n_paid"] == 4
    assert day_after["hist_late_share"] == 0.75


def test_recent_window_trend_and_ewm_follow_paid_order() -> None:
    book = make_book(**LATE_BOOK)
    row = features_at(book, "i5", "2024-06-01")
    # fewer than five paid: the window is all of them
    assert row["hist_late_share_last5"] == 0.75
    assert row["hist_days_late_trend"] == pytest.approx(0.0)
    ewm = 10.0
    for days_late in (10, -11, 20):  # paid order: i1, i2, i3 (2024-03-20), i4
        ewm = 0.7 * ewm + 0.3 * days_late
    assert row["hist_days_late_ewm"] == pytest.approx(ewm)
    assert row["hist_days_to_pay_mean"] == pytest.approx((40 + 40 + 19 + 50) / 4)


def test_customer_without_history_gets_nan_shares_and_zero_counts() -> None:
    book = make_book(**LATE_BOOK)
    row = features_at(book, "i1", "2024-01-01")
    assert row["hist_n_paid"] == 0 and row["hist_n_invoices"] == 0
    for name in (
        "hist_late_share",
        "hist_days_late_mean",
        "hist_days_late_p90",
        "hist_days_late_ewm",
        "hist_days_since_last_late",
        "inv_amount_vs_usual",
    ):
        assert math.isnan(row[name]), name
    assert row["exp_open_balance"] == 0


def test_unpaid_past_due_invoice_is_overdue_not_a_late_payment() -> None:
    book = make_book(
        invoices=[
            invoice("i1", "2024-01-01", "2024-01-31", "", 120),
            invoice("i2", "2024-02-01", "2024-03-02", "", 80),
            invoice("i3", "2024-03-15", "2024-04-14", "", 50),
        ]
    )
    row = features_at(book, "i3", "2024-03-15")
    assert row["hist_n_late"] == 0 and math.isnan(row["hist_late_share"])
    assert row["exp_open_count"] == 2 and row["exp_open_balance"] == 200
    assert row["exp_overdue_count"] == 2 and row["exp_overdue_balance"] == 200
    assert row["exp_oldest_overdue_days"] == 44  # due 2024-01-31
    assert row["exp_overdue_share"] == 1.0
    on_due = features_at(book, "i1", "2024-01-31")  # i1 due today: not overdue yet
    assert on_due["exp_overdue_count"] == 0 and math.isnan(on_due["exp_oldest_overdue_days"])


def test_oldest_overdue_skips_invoices_paid_before_t() -> None:
    book = make_book(
        invoices=[
            invoice("i1", "2024-01-01", "2024-01-10", "2024-02-01", 10),
            invoice("i2", "2024-01-02", "2024-01-20", "", 20),
            invoice("i3", "2024-03-01", "2024-03-31", "", 30),
        ]
    )
    row = features_at(book, "i3", "2024-03-01")
    assert row["exp_overdue_count"] == 1 and row["exp_overdue_balance"] == 20
    assert row["exp_oldest_overdue_days"] == 41  # i2 due 2024-01-20
    before_i1_paid = features_at(book, "i2", "2024-01-25")
    assert before_i1_paid["exp_oldest_overdue_days"] == 15  # i1 due 2024-01-10


def test_partial_payments_reduce_balance_and_raise_paid_share() -> None:
    book = make_book(
        invoices=[
            invoice("i1", "2024-01-01", "2024-01-31", "2024-02-20", 200),
            invoice("i2", "2024-02-05", "2024-03-06", "", 100),
        ],
        payments=[
            {"payment_id": "p1", "invoice_id": "i1", "payment_date": "2024-01-20", "amount": 50},
            {"payment_id": "p2", "invoice_id": "i1", "payment_date": "2024-02-20", "amount": 150},
        ],
    )
    row = features_at(book, "i2", "2024-02-05")
    assert row["exp_open_balance"] == 150 and row["exp_overdue_balance"] == 150
    assert math.isnan(row["hist_partial_share"])  # i1 not settled yet
    assert features_at(book, "i2", "2024-02-21")["hist_partial_share"] == 1.0
    i1 = features_at(book, "i1", "2024-01-21")
    assert i1["life_paid_share"] == 0.25
    assert features_at(book, "i1", "2024-01-20")["life_paid_share"] == 0.0
    assert features_at(book, "i1", "2024-02-21")["life_paid_share"] == 1.0
    assert features_at(book, "i2", "2024-02-21")["exp_open_balance"] == 100


def test_amount_vs_usual_and_invoice_facts() -> None:
    book = make_book(
        invoices=[
            invoice("i1", "2024-01-01", "2024-01-31", "", 100),
            invoice("i2", "2024-01-05", "2024-02-04", "", 300),
            invoice("i3", "2024-01-27", "2024-02-26", "", 50),
            invoice("i4", "2024-01-27", "2024-03-27", "", 400),
        ]
    )
    row = features_at(book, "i4", "2024-02-10")
    # median of i1, i2 (i3 shares i4's issue date, so it is not earlier)
    assert row["inv_amount_vs_usual"] == pytest.approx(400 / 200)
    assert row["inv_terms_days"] == 60 and row["inv_issue_month"] == 1
    assert row["inv_issue_month_end"] == 1  # 27 January is in the last five days
    assert row["days_past_due"] == -46 and row["life_days_since_issue"] == 14
    assert row["hist_n_invoices"] == 4  # at 2024-02-10 every invoice is issued
    assert features_at(book, "i2", "2024-01-05")["inv_issue_month_end"] == 0


def test_as_of_rows_keep_order_and_columns_are_float() -> None:
    book = make_book(**LATE_BOOK)
    as_of = pd.DataFrame(
        {"invoice_id": ["i5", "i1", "i5"], "as_of": ["2024-06-01", "2024-01-01", "2024-07-15"]}
    )
    frame = build_features(book, as_of)
    names = feature_set(book).names
    assert list(frame.columns) == ["invoice_id", "customer_id", "as_of", *names]
    assert list(frame["invoice_id"]) == ["i5", "i1", "i5"]
    assert frame["days_past_due"].tolist() == [-30, -30, 14]
    assert all(frame[name].dtype == np.float64 for name in names)
    assert len(build_features(book)) == 5


def test_scoring_before_issue_or_an_unknown_invoice_is_an_error() -> None:
    book = make_book(**LATE_BOOK)
    with pytest.raises(ValueError, match="before its issue date"):
        build_features(book, pd.DataFrame({"invoice_id": ["i2"], "as_of": ["2024-01-15"]}))
    with pytest.raises(ValueError, match="'nope' is not in the book"):
        build_features(book, pd.DataFrame({"invoice_id": ["nope"], "as_of": ["2024-01-15"]}))
    online = OnlineFeatures(feature_set(book)).replay(book)
    with pytest.raises(ValueError, match="before its issue date"):
        online.vector("i2", "2024-01-15")
    with pytest.raises(KeyError, match="invoice_issued"):
        online.vector("nope", "2024-01-15")


def test_rescore_dates_step_while_unpaid_and_before_extraction() -> None:
    book = make_book(**LATE_BOOK)
    book.as_of = pd.Timestamp("2024-08-01")
    points = rescore_dates(book, every_days=30)
    by_invoice = points.groupby("invoice_id")["as_of"].apply(
        lambda s: [d.date().isoformat() for d in s]
    )
    assert by_invoice["i1"] == ["2024-01-31"]  # paid 2024-02-10: 2024-03-01 is after
    assert by_invoice["i2"] == ["2024-03-02"]  # paid 2024-03-12
    assert "i3" not in by_invoice  # paid 19 days after issue
    assert by_invoice["i5"] == ["2024-07-01", "2024-07-31"]  # open; 2024-08-30 is too late
    with pytest.raises(ValueError, match="every_days"):
        rescore_dates(book, every_days=0)


def test_ninety_day_window_and_long_late_share() -> None:
    book = make_book(
        invoices=[
            invoice("i1", "2024-01-01", "2024-01-11", "2024-02-20", 100),  # 40 days late
            invoice("i2", "2024-03-01", "2024-03-31", "2024-04-05", 100),  # 5 days late
            invoice("i3", "2024-04-01", "2024-05-01", "2024-04-30", 100),  # 1 day early
            invoice("i4", "2024-06-01", "2024-06-30", "", 100),
        ]
    )
    row = features_at(book, "i4", "2024-06-01")
    assert row["hist_late30_share"] == pytest.approx(1 / 3)
    # 2024-06-01 - 90 days = 2024-03-03: i2 and i3 were paid inside the window, i1 before it
    assert row["hist_late_share_90d"] == 0.5
    assert row["hist_days_late_mean_90d"] == 2.0
    assert row["inv_due_day_of_month"] == 30 and row["inv_due_month"] == 6
    quiet = features_at(book, "i4", "2024-08-15")  # nothing paid since 2024-05-17
    assert math.isnan(quiet["hist_late_share_90d"]) and quiet["hist_n_paid"] == 3
