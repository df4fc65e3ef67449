"""The loader of the data contract: each bad input is rejected with its reason, counts reconcile."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.book import BookError, load_book, read_oracle, validate_tables, write_book

CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["C1", "C2"],
        "segment": ["enterprise", "small"],
        "payment_terms_days": ["30", "45"],
        "strategic": ["true", "no"],
    }
)


def invoices(**overrides: list) -> pd.DataFrame:
    """Three good invoices; keyword arguments replace whole columns."""
    frame = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3"],
            "customer_id": ["C1", "C1", "C2"],
            "issue_date": ["2024-01-01", "2024-01-10", "2024-02-01"],
            "due_date": ["2024-01-31", "2024-02-09", "2024-03-02"],
            "amount": ["100.00", "250.50", "80"],
            "currency": ["USD", "USD", "EUR"],
            "paid_date": ["2024-02-05", "", ""],
        }
    )
    for column, values in overrides.items():
        frame[column] = values
    return frame


def load(**tables: pd.DataFrame):
    return validate_tables(tables)


def single_rejection(report, table: str) -> pd.Series:
    rows = report.rejections[report.rejections["table"] == table]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_good_book_loads_everything_with_types() -> None:
    book, report = load(customers=CUSTOMERS, invoices=invoices())
    assert report.total_rejected == 0 and report.reconciles
    assert report.counts["invoices"].loaded == 3
    frame = book.invoices
    assert frame["issue_date"].dtype == "datetime64[ns]"
    assert frame["amount"].tolist() == [100.0, 250.5, 80.0]
    assert frame["paid_date"].isna().tolist() == [False, True, True]
    assert book["customers"]["strategic"].tolist() == [True, False]
    assert book["customers"]["payment_terms_days"].tolist() == [30, 45]
    assert book.as_of == pd.Timestamp("2024-02-05")  # paid date; due dates look ahead


@pytest.mark.parametrize(
    ("column", "bad_value", "reason"),
    [
        ("issue_date", "2024-13-01", "unparseable date (expected YYYY-MM-DD)"),
        ("due_date", "2023-12-01", "due_date is before issue_date (2024-01-10)"),
        ("paid_date", "2024-01-05", "paid_date is before issue_date (2024-01-10)"),
        ("amount", "0", "amount must be greater than zero"),
        ("amount", "-20", "amount must be greater than zero"),
        ("amount", "abc", "not a number"),
        ("currency", "XYZ", "unknown ISO 4217 currency code"),
        ("customer_id", "C9", "unknown customer_id: not among the loaded customers"),
        ("invoice_id", "", "missing value"),
    ],
)
def test_bad_invoice_value_rejects_that_row_only(column: str, bad_value: str, reason: str) -> None:
    values = invoices()[column].tolist()
    values[1] = bad_value
    book, report = load(customers=CUSTOMERS, invoices=invoices(**{column: values}))
    rejection = single_rejection(report, "invoices")
    assert rejection["row"] == 2
    assert rejection["column"] == column
    assert rejection["reason"].startswith(reason)
    assert rejection["value"] == bad_value
    assert book.invoices["invoice_id"].tolist() == ["I1", "I3"]
    count = report.counts["invoices"]
    assert (count.read, count.loaded, count.rejected) == (3, 2, 1)
    assert report.reconciles


def test_unknown_customer_is_accepted_when_no_customers_table_is_given() -> None:
    _, report = load(invoices=invoices(customer_id=["C1", "C9", "C2"]))
    assert report.total_rejected == 0


def test_duplicate_key_keeps_the_first_and_names_its_row() -> None:
    book, report = load(invoices=invoices(invoice_id=["I1", "I2", "I1"]))
    rejection = single_rejection(report, "invoices")
    assert (rejection["row"], rejection["column"]) == (3, "invoice_id")
    assert rejection["reason"] == "duplicate key, first seen at row 1"
    assert book.invoices["invoice_id"].tolist() == ["I1", "I2"]


def test_one_row_with_two_problems_counts_once_with_both_reasons() -> None:
    _, report = load(invoices=invoices(amount=["100", "-1", "80"], currency=["USD", "ZZZ", "EUR"]))
    assert report.counts["invoices"].rejected == 1
    assert sorted(report.reasons("invoices")) == [
        "amount must be greater than zero",
        "unknown ISO 4217 currency code",
    ]


def payments(**overrides: list) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "payment_id": ["P1", "P2", "P3"],
            "invoice_id": ["I1", "I1", "I2"],
            "payment_date": ["2024-01-20", "2024-02-05", "2024-02-01"],
            "amount": ["60", "40", "100"],
        }
    )
    for column, values in overrides.items():
        frame[column] = values
    return frame


def test_payment_for_unknown_invoice_is_rejected() -> None:
    _, report = load(invoices=invoices(), payments=payments(invoice_id=["I1", "I1", "I7"]))
    rejection = single_rejection(report, "payments")
    assert (rejection["key"], rejection["column"]) == ("P3", "invoice_id")
    assert rejection["reason"].startswith("unknown invoice_id")


def test_payment_for_a_rejected_invoice_is_rejected_too() -> None:
    bad_invoices = invoices(amount=["-100", "250.50", "80"])
    _, report = load(invoices=bad_invoices, payments=payments())
    assert report.counts["payments"].rejected == 2
    assert set(report.rejections.query("table == 'payments'")["key"]) == {"P1", "P2"}


def test_payments_exceeding_the_invoice_amount_reject_the_payment_that_overshoots() -> None:
    book, report = load(invoices=invoices(), payments=payments(amount=["60", "40.01", "100"]))
    rejection = single_rejection(report, "payments")
    assert rejection["key"] == "P2"
    assert rejection["reason"] == "payments total 100.01 exceeds the invoice amount 100.0"
    assert book["payments"]["payment_id"].tolist() == ["P1", "P3"]
    assert report.reconciles


def test_payments_exactly_settling_the_invoice_are_accepted() -> None:
    _, report = load(invoices=invoices(), payments=payments())
    assert report.total_rejected == 0


def test_payment_before_the_invoice_was_issued_is_rejected() -> None:
    dates = ["2023-12-31", "2024-02-05", "2024-02-01"]
    _, report = load(invoices=invoices(), payments=payments(payment_date=dates))
    rejection = single_rejection(report, "payments")
    assert (rejection["key"], rejection["column"]) == ("P1", "payment_date")


def disputes(**overrides: list) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "dispute_id": ["D1", "D2"],
            "invoice_id": ["I1", "I2"],
            "opened_date": ["2024-01-15", "2024-01-20"],
            "reason": ["pricing", "delivery"],
            "amount": ["20", "250.5"],
            "resolved_date": ["2024-01-30", ""],
            "resolution": ["credit_note", ""],
        }
    )
    for column, values in overrides.items():
        frame[column] = values
    return frame


def test_unknown_dispute_reason_is_rejected_with_the_allowed_reasons() -> None:
    book, report = load(invoices=invoices(), disputes=disputes(reason=["pricing", "weather"]))
    rejection = single_rejection(report, "disputes")
    assert (rejection["key"], rejection["column"], rejection["value"]) == (
        "D2",
        "reason",
        "weather",
    )
    assert "pricing, delivery, quality, billing_error, admin, other" in rejection["reason"]
    assert book["disputes"]["dispute_id"].tolist() == ["D1"]


def test_dispute_resolved_before_it_was_opened_is_rejected() -> None:
    _, report = load(invoices=invoices(), disputes=disputes(resolved_date=["2024-01-01", ""]))
    assert single_rejection(report, "disputes")["column"] == "resolved_date"


def test_activity_kinds_and_references_are_checked() -> None:
    activities = pd.DataFrame(
        {
            "activity_id": ["A1", "A2", "A3"],
            "customer_id": ["C1", "C1", "C7"],
            "invoice_id": ["I1", "", ""],
            "date": ["2024-01-05", "2024-01-06", "2024-01-07"],
            "kind": ["contact", "telepathy", "contact"],
        }
    )
    book, report = load(customers=CUSTOMERS, invoices=invoices(), activities=activities)
    assert report.counts["activities"].rejected == 2
    by_key = report.rejections.set_index("key")
    assert by_key.loc["A2", "column"] == "kind"
    assert by_key.loc["A3", "column"] == "customer_id"
    assert book["activities"]["invoice_id"].tolist() == ["I1"]


def write_csv(folder: Path, name: str, frame: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / f"{name}.csv", index=False)


def test_missing_required_column_names_the_column_and_the_file(tmp_path: Path) -> None:
    write_csv(tmp_path, "invoices", invoices().drop(columns=["due_date"]))
    with pytest.raises(BookError) as error:
        load_book(tmp_path)
    message = str(error.value)
    assert "'due_date'" in message and str(tmp_path / "invoices.csv") in message


def test_a_book_without_invoices_is_an_error(tmp_path: Path) -> None:
    write_csv(tmp_path, "customers", CUSTOMERS)
    with pytest.raises(BookError, match="invoices"):
        load_book(tmp_path)


def test_csv_and_parquet_round_trip_load_the_same_book(tmp_path: Path) -> None:
    good, _ = load(customers=CUSTOMERS, invoices=invoices(), payments=payments())
    write_book(good.tables, tmp_path / "pq", fmt="parquet", meta={"as_of": "2024-03-01"})
    write_book(good.tables, tmp_path / "csv", fmt="csv")
    from_parquet, report_pq = load_book(tmp_path / "pq")
    from_csv, report_csv = load_book(tmp_path / "csv")
    assert report_pq.total_rejected == report_csv.total_rejected == 0
    for name in good.tables:
        pd.testing.assert_frame_equal(from_parquet[name], from_csv[name], check_dtype=False)
    assert from_parquet.as_of == pd.Timestamp("2024-03-01")
    assert read_oracle(tmp_path / "pq") is None


def test_rows_in_the_file_are_reported_by_file_and_row(tmp_path: Path) -> None:
    write_csv(tmp_path, "invoices", invoices(issue_date=["2024-01-01", "01/10/2024", "2024-02-01"]))
    _, report = load_book(tmp_path)
    rejection = single_rejection(report, "invoices")
    assert rejection["file"] == str(tmp_path / "invoices.csv")
    assert rejection["row"] == 2
