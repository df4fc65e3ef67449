"""Foreign extracts come in through a declarative mapping: extract -> book -> load, with counts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from features.book import load_book
from features.importer import (
    MappingError,
    import_extract,
    import_meta,
    load_mapping,
    parse_mapping,
    write_imported_book,
)
from training.cli import app

DATA = Path(__file__).parent / "data"
EXTRACT = DATA / "invoice_only_extract.csv"
MAPPING = DATA / "invoice_only_mapping.yaml"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory):
    mapping = load_mapping(MAPPING)
    tables, report = import_extract(EXTRACT, mapping)
    out = tmp_path_factory.mktemp("imported") / "book"
    write_imported_book(tables, import_meta(mapping, tables, report), out)
    book, load_report = load_book(out)
    return mapping, report, book, load_report, out


def test_import_counts_reconcile_with_the_extract(imported) -> None:
    mapping, report, _, _, _ = imported
    assert report.source_rows == {"invoice_only_extract.csv": 12}
    # Row 9 has the date 13/45/2013: rejected at import, named by source row and column.
    assert report.written["invoices"] == 11 and report.rejected["invoices"] == 1
    # Three rows say Disputed=Yes; one says "Maybe", which is neither flag value.
    assert report.written["disputes"] == 3 and report.rejected["disputes"] == 1
    assert report.filtered["disputes"] == 8
    # Five distinct customers among the 12 rows.
    assert report.written["customers"] == 5 and report.filtered["customers"] == 7
    assert report.reconciles(mapping.tables)
    rejected = report.rejections.set_index(["table", "column"])
    assert rejected.loc[("invoices", "InvoiceDate"), "value"] == "13/45/2013"
    assert rejected.loc[("invoices", "InvoiceDate"), "row"] == 9
    assert "%m/%d/%Y" in rejected.loc[("invoices", "InvoiceDate"), "reason"]
    assert rejected.loc[("disputes", "Disputed"), "value"] == "Maybe"


def test_imported_book_loads_and_the_loader_reports_what_it_rejects(imported) -> None:
    _, _, book, load_report, _ = imported
    counts = load_report.counts
    assert (counts["invoices"].read, counts["invoices"].loaded, counts["invoices"].rejected) == (
        11,
        10,
        1,
    )
    assert load_report.reasons("invoices") == ["amount must be greater than zero"]
    assert counts["customers"].loaded == 5 and counts["disputes"].loaded == 3
    assert load_report.reconciles


def test_foreign_names_and_us_dates_become_canonical_values(imported) -> None:
    _, _, book, _, _ = imported
    invoice = book.invoices.set_index("invoice_id").loc["7900770"]
    assert invoice["customer_id"] == "8976-AMJEO"
    assert invoice["issue_date"] == pd.Timestamp("2013-01-26")
    assert invoice["due_date"] == pd.Timestamp("2013-02-25")
    assert invoice["paid_date"] == pd.Timestamp("2013-03-03")
    assert invoice["amount"] == 61.74 and invoice["currency"] == "USD"
    assert bool(invoice["paperless"]) is True
    open_invoice = book.invoices.set_index("invoice_id").loc["36613012"]
    assert pd.isna(open_invoice["paid_date"])
    assert book["customers"].set_index("customer_id").loc["6627-ELFBK", "country"] == "818"


def test_the_dating_rule_is_applied_and_recorded(imported) -> None:
    _, report, book, _, out = imported
    disputes = book["disputes"].set_index("invoice_id")
    assert disputes.loc["7900770", "opened_date"] == pd.Timestamp("2013-02-09")  # 1/26 + 14
    assert disputes.loc["7900770", "dispute_id"] == "D-7900770"
    assert disputes.loc["7900770", "reason"] == "other"
    expected = ["disputes.opened_date = InvoiceDate + 14 days"]
    assert report.dating_rules == expected
    meta = json.loads((out / "book.json").read_text())
    assert meta["import"]["dating_rules"] == expected
    assert meta["as_of"] == "2013-10-16"  # the latest event: the dispute dated 10/2 + 14 days
    assert book.as_of == pd.Timestamp("2013-10-16")


def mapping_document() -> dict:
    return yaml.safe_load(MAPPING.read_text())


def test_a_flag_only_event_without_a_dating_rule_is_refused() -> None:
    document = mapping_document()
    del document["tables"]["disputes"]["columns"]["opened_date"]
    with pytest.raises(MappingError, match=r"tables\.disputes\.columns\.opened_date.*dating rule"):
        parse_mapping(document, "m.yaml")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["tables"]["invoices"]["columns"].update(colour="Red"),
            "not a column of invoices",
        ),
        (lambda d: d["tables"].update(orders={"source": "x", "columns": {}}), "unknown table"),
        (
            lambda d: d["tables"]["invoices"].update(filter="x"),
            "unknown entry tables.invoices.filter",
        ),
        (
            lambda d: d["tables"]["invoices"]["columns"].update(
                currency={"value": "USD", "column": "x"}
            ),
            "exactly one of",
        ),
        (
            lambda d: d["tables"]["disputes"]["columns"].update(
                opened_date={"days_after": {"column": "InvoiceDate", "days": -3}}
            ),
            "whole number of 0 or more",
        ),
    ],
)
def test_invalid_mappings_name_the_entry(edit, message: str) -> None:
    document = mapping_document()
    edit(document)
    with pytest.raises(MappingError, match=message) as error:
        parse_mapping(document, "m.yaml")
    assert str(error.value).startswith("m.yaml: ")


def test_a_mapped_column_missing_from_the_extract_names_file_and_column(tmp_path: Path) -> None:
    extract = pd.read_csv(EXTRACT, dtype=str).drop(columns=["DueDate"])
    extract.to_csv(tmp_path / "invoice_only_extract.csv", index=False)
    with pytest.raises(MappingError, match="'DueDate'.*missing") as error:
        import_extract(tmp_path, load_mapping(MAPPING))
    assert "invoice_only_extract.csv" in str(error.value)


def test_cli_import_writes_the_book_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "book"
    runner = CliRunner()
    args = ["import", "--mapping", str(MAPPING), str(EXTRACT), str(out), "--format", "csv"]
    result = runner.invoke(app, [*args, "--rejections", str(tmp_path / "rejected.csv")])
    assert result.exit_code == 0, result.output
    assert "dating rule applied" in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "book.json",
        "customers.csv",
        "disputes.csv",
        "invoices.csv",
    ]
    rejected = pd.read_csv(tmp_path / "rejected.csv")
    assert len(rejected) == 3  # bad date and "Maybe" at import, negative amount at load
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "not empty" in again.output
    shutil.rmtree(out)


def test_cli_validate_reports_counts(imported) -> None:
    *_, out = imported
    result = CliRunner().invoke(app, ["validate", str(out), "--strict"])
    assert result.exit_code == 1  # one invoice with a negative amount
    assert "invoices" in result.output
