"""Labels with maturity, on hand-written invoices."""

import numpy as np
import pandas as pd
import pytest

from training.labels import label_counts, make_labels

D = pd.Timestamp


def invoices(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["invoice_id", "issue_date", "due_date", "paid_date"])
    for column in ("issue_date", "due_date", "paid_date"):
        frame[column] = pd.to_datetime(frame[column])
    frame["customer_id"] = "C1"
    frame["amount"] = 100.0
    return frame


BOOK = invoices(
    [
        ("paid_on_time", "2024-01-01", "2024-01-31", "2024-01-31"),
        ("paid_late", "2024-01-01", "2024-01-31", "2024-02-01"),
        ("unpaid_past_due", "2024-01-01", "2024-01-31", None),
        ("unpaid_not_due", "2024-02-20", "2024-03-21", None),
        ("paid_early_not_due", "2024-02-25", "2024-03-26", "2024-03-01"),
    ]
)
AS_OF = D("2024-03-10")


def test_late_label_follows_payment_and_due_date() -> None:
    labels = make_labels(BOOK, None, AS_OF).set_index("invoice_id")
    assert labels.loc["paid_on_time", "late"] == 0.0
    assert labels.loc["paid_late", "late"] == 1.0
    assert labels.loc["unpaid_past_due", "late"] == 1.0
    assert np.isnan(labels.loc["unpaid_not_due", "late"])
    assert labels.loc["paid_early_not_due", "late"] == 0.0
    assert labels.loc["paid_late", "late_mature_from"] == D("2024-02-01")


def test_grace_days_move_the_deadline() -> None:
    labels = make_labels(BOOK, None, AS_OF, grace_days=1).set_index("invoice_id")
    assert labels.loc["paid_late", "late"] == 0.0
    assert labels.loc["paid_late", "late_mature_from"] == D("2024-02-02")


def test_unpaid_on_the_last_grace_day_is_unknown_not_late() -> None:
    book = invoices([("due_today", "2024-01-01", "2024-03-10", None)])
    assert np.isnan(make_labels(book, None, D("2024-03-10"))["late"].iloc[0])
    assert make_labels(book, None, D("2024-03-11"))["late"].iloc[0] == 1.0


def test_payment_after_as_of_is_not_yet_known() -> None:
    labels = make_labels(BOOK, None, D("2024-01-31")).set_index("invoice_id")
    assert np.isnan(labels.loc["paid_late", "late"])
    assert np.isnan(labels.loc["paid_late", "days_to_pay"])


def test_dispute_label_window_and_maturity() -> None:
    disputes = pd.DataFrame(
        {
            "invoice_id": ["paid_late", "unpaid_not_due", "unpaid_past_due"],
            "opened_date": pd.to_datetime(["2024-01-20", "2024-03-01", "2024-03-05"]),
        }
    )
    labels = make_labels(BOOK, disputes, AS_OF, dispute_window_days=60).set_index("invoice_id")
    assert labels.loc["paid_late", "dispute"] == 1.0
    assert labels.loc["unpaid_not_due", "dispute"] == 1.0  # known before the window ends
    assert labels.loc["unpaid_past_due", "dispute"] == 0.0  # opened after its 60-day window
    assert labels.loc["paid_on_time", "dispute"] == 0.0
    assert np.isnan(labels.loc["paid_early_not_due", "dispute"])  # window still open
    assert labels.loc["paid_on_time", "dispute_mature_from"] == D("2024-03-01")


def test_no_disputes_table_means_unknown_not_none() -> None:
    assert make_labels(BOOK, None, AS_OF)["dispute"].isna().all()


def test_days_to_pay_never_treats_unpaid_as_paid_at_as_of() -> None:
    labels = make_labels(BOOK, None, AS_OF, horizon_days=60).set_index("invoice_id")
    assert labels.loc["paid_late", "days_to_pay"] == 31.0
    assert labels.loc["paid_late", "days_to_pay_capped"] == 31.0
    assert np.isnan(labels.loc["unpaid_past_due", "days_to_pay"])
    # Unpaid 69 days after issue with a 60-day horizon: "60 or more".
    assert labels.loc["unpaid_past_due", "days_to_pay_capped"] == 60.0
    assert np.isnan(labels.loc["unpaid_not_due", "days_to_pay_capped"])


def test_days_to_pay_capped_at_the_horizon() -> None:
    book = invoices([("slow", "2024-01-01", "2024-01-31", "2024-05-01")])
    labels = make_labels(book, None, D("2024-06-01"), horizon_days=90)
    assert labels["days_to_pay"].iloc[0] == 121.0
    assert labels["days_to_pay_capped"].iloc[0] == 90.0


def test_label_counts_report_known_and_unknown() -> None:
    counts = label_counts(make_labels(BOOK, None, AS_OF))
    assert counts["late"] == {"known": 4, "unknown": 1, "positive": 2}
    assert counts["dispute"]["unknown"] == 5


def test_missing_column_is_named() -> None:
    with pytest.raises(KeyError, match="due_date"):
        make_labels(BOOK.drop(columns="due_date"), None, AS_OF)


def test_every_mature_label_is_known() -> None:
    rng = np.random.default_rng(5)
    issue = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 200, 500), "D")
    due = issue + pd.to_timedelta(rng.integers(0, 60, 500), "D")
    paid = (due + pd.to_timedelta(rng.integers(-30, 90, 500), "D")).where(rng.random(500) < 0.8)
    paid = paid.where(paid >= issue)
    book = pd.DataFrame(
        {"invoice_id": range(500), "issue_date": issue, "due_date": due, "paid_date": paid}
    ).assign(customer_id="C", amount=1.0)
    disputes = pd.DataFrame({"invoice_id": [0, 1], "opened_date": issue[:2] + pd.Timedelta(days=3)})
    for as_of in pd.date_range("2024-03-01", "2024-10-01", freq="17D"):
        labels = make_labels(book, disputes, as_of, dispute_window_days=30, horizon_days=60)
        for target, column in (
            ("late", "late"),
            ("dispute", "dispute"),
            ("days_to_pay", "days_to_pay_capped"),
        ):
            mature = labels[f"{target}_mature_from"] <= as_of
            assert labels.loc[mature, column].notna().all()
