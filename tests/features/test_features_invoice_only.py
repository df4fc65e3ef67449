"""Features on invoice-only books: what can be computed is, what cannot is named with why."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.book import load_book, write_book
from features.handmade import book_from_rows, invoice_row
from features.importer import import_extract, import_meta, load_mapping, write_imported_book
from features.offline import build_features, rescore_dates
from features.online import OnlineFeatures
from features.registry import REGISTRY, feature_set

DATA = Path(__file__).parent / "data"


def paperless_invoice(
    invoice_id: str, customer: str, issue: str, due: str, paid: str, amount: float, paperless: str
) -> dict:
    return {**invoice_row(invoice_id, issue, due, paid, amount, customer), "paperless": paperless}


ROWS = [
    paperless_invoice("A1", "acme", "2024-01-02", "2024-02-01", "2024-02-11", 100, "true"),
    paperless_invoice("A2", "acme", "2024-02-01", "2024-03-02", "2024-02-20", 300, "false"),
    paperless_invoice("A3", "acme", "2024-03-01", "2024-03-31", "", 200, "true"),
    paperless_invoice("B1", "bolt", "2024-01-15", "2024-02-14", "2024-03-20", 50, "false"),
    paperless_invoice("B2", "bolt", "2024-04-01", "2024-05-01", "", 70, "true"),
]


@pytest.fixture(scope="module")
def invoice_only(tmp_path_factory: pytest.TempPathFactory):
    """The hand-written rows written to disk and loaded back, as an imported book would be."""
    folder = tmp_path_factory.mktemp("invoice_only")
    write_book({"invoices": pd.DataFrame(ROWS)}, folder, fmt="csv", meta={"as_of": "2024-06-01"})
    book, report = load_book(folder)
    assert report.total_rejected == 0 and list(book.tables) == ["invoices"]
    return book


def test_feature_set_keeps_invoice_features_and_names_why_others_are_out(invoice_only) -> None:
    chosen = feature_set(invoice_only)
    for name in (
        "amount",
        "inv_paperless",
        "hist_late_share",
        "exp_overdue_balance",
        "days_past_due",
        "inv_amount_vs_usual",
        "hist_days_late_p90",
    ):
        assert name in chosen.names
    assert chosen.excluded["cust_segment"] == "needs table customers, absent from this book"
    assert chosen.excluded["exp_credit_use"] == "needs table customers, absent from this book"
    assert chosen.excluded["life_paid_share"] == "needs table payments, absent from this book"
    assert chosen.excluded["inv_dispute_open"] == "needs table disputes, absent from this book"
    assert chosen.excluded["rel_open_tickets"] == "needs table activities, absent from this book"
    assert len(chosen.names) + len(chosen.excluded) == len(REGISTRY)


def test_invoice_only_features_have_real_values(invoice_only) -> None:
    as_of = pd.DataFrame(
        {"invoice_id": ["A3", "B2", "A3"], "as_of": ["2024-03-01", "2024-04-01", "2024-04-15"]}
    )
    frame = build_features(invoice_only, as_of).set_index(["invoice_id", "as_of"])
    a3 = frame.loc[("A3", pd.Timestamp("2024-03-01"))]
    assert a3["inv_paperless"] == 1 and a3["amount"] == 200
    assert a3["hist_n_paid"] == 2 and a3["hist_late_share"] == 0.5  # A1 10 days late, A2 early
    assert a3["inv_amount_vs_usual"] == pytest.approx(200 / 200)  # median of 100 and 300
    assert a3["exp_open_balance"] == 0
    b2 = frame.loc[("B2", pd.Timestamp("2024-04-01"))]
    assert b2["inv_paperless"] == 1 and b2["hist_late_share"] == 1.0
    assert b2["hist_days_late_mean"] == 35  # paid 2024-03-20, due 2024-02-14
    rescored = frame.loc[("A3", pd.Timestamp("2024-04-15"))]
    assert rescored["days_past_due"] == 15 and rescored["exp_overdue_balance"] == 200
    assert rescored["exp_oldest_overdue_days"] == 15
    assert not any(c.startswith(("disp_", "rel_", "cust_")) for c in frame.columns)


def test_invoice_only_online_matches_offline_with_rescoring(invoice_only) -> None:
    chosen = feature_set(invoice_only)
    pairs = pd.concat(
        [
            pd.DataFrame(
                {
                    "invoice_id": invoice_only.invoices["invoice_id"],
                    "as_of": invoice_only.invoices["issue_date"],
                }
            ),
            rescore_dates(invoice_only, every_days=10),
        ],
        ignore_index=True,
    )
    assert len(pairs) > 20
    offline = build_features(invoice_only, pairs, chosen)[chosen.names].to_numpy()
    online = OnlineFeatures(chosen).replay(invoice_only)
    answers = np.array(
        [
            online.vector(i, d)
            for i, d in zip(pairs["invoice_id"], pairs["as_of"].dt.date, strict=True)
        ]
    )
    same = np.isclose(offline, answers, rtol=0, atol=1e-9, equal_nan=True)
    assert same.all(), [chosen.names[j] for j in np.flatnonzero(~same.all(axis=0))]


def test_book_without_paperless_values_leaves_the_feature_out() -> None:
    book = book_from_rows(invoices=[invoice_row("X1", "2024-01-01", "2024-01-31")])
    chosen = feature_set(book)
    assert chosen.excluded["inv_paperless"] == "needs column invoices.paperless, empty in this book"
    row = build_features(book).iloc[0]
    assert math.isnan(row["hist_late_share"]) and row["hist_n_invoices"] == 0


def test_book_from_the_importer_gets_features(tmp_path: Path) -> None:
    mapping = load_mapping(DATA / "invoice_only_mapping.yaml")
    tables, report = import_extract(DATA / "invoice_only_extract.csv", mapping)
    out = write_imported_book(tables, import_meta(mapping, tables, report), tmp_path / "book")
    book, _ = load_book(out)
    chosen = feature_set(book)
    assert "inv_paperless" in chosen.names and "disp_n" in chosen.names
    assert chosen.excluded["rel_open_tickets"] == "needs table activities, absent from this book"
    assert chosen.excluded["cust_segment"] == "needs column customers.segment, empty in this book"
    frame = build_features(book)
    assert len(frame) == len(book.invoices)
    assert frame["hist_n_paid"].max() > 0 and frame["hist_late_share"].notna().any()
    assert frame["inv_paperless"].isin([0.0, 1.0]).all()
