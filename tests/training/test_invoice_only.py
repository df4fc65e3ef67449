"""Training on an invoice-only extract imported through the declarative mapping."""

import io
import uuid
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from training.cli import app
from training.run import evaluate_model, train_book

MAPPING = Path(__file__).resolve().parents[1] / "features" / "data" / "invoice_only_mapping.yaml"


def foreign_extract(folder: Path) -> Path:
    """A simulated ledger rewritten as the ERP's invoice-only CSV (M/D/YYYY, Yes/No flags)."""
    from features.simulator import SimulationConfig, simulate_book

    sim = simulate_book(SimulationConfig(customers=250, months=24, seed=5))
    invoices = sim.tables["invoices"]
    disputed = invoices["invoice_id"].isin(sim.tables["disputes"]["invoice_id"])
    us_date = "%m/%d/%Y"
    extract = pd.DataFrame(
        {
            "countryCode": "391",
            "customerID": invoices["customer_id"],
            "invoiceNumber": invoices["invoice_id"],
            "InvoiceDate": invoices["issue_date"].dt.strftime(us_date),
            "DueDate": invoices["due_date"].dt.strftime(us_date),
            "InvoiceAmount": invoices["amount"].round(2),
            "Disputed": disputed.map({True: "Yes", False: "No"}),
            "SettledDate": invoices["paid_date"].dt.strftime(us_date),
            "PaperlessBill": invoices["paperless"].map({True: "Electronic", False: "Paper"}),
        }
    )
    path = folder / "invoice_only_extract.csv"
    extract.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_invoice_only_book_trains_and_reports_its_features(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    source = foreign_extract(tmp_path)
    book = tmp_path / "book"
    result = CliRunner().invoke(app, ["import", "--mapping", str(MAPPING), str(source), str(book)])
    assert result.exit_code == 0, result.output
    console = Console(record=True, width=200)
    uri, experiment = f"sqlite:///{tmp_path / 'mlflow.db'}", f"invoice-only-{uuid.uuid4().hex[:8]}"
    outcome = train_book(
        book,
        tracking_uri=uri,
        experiment=experiment,
        artifact_root=tmp_path / "artifacts",
        console=console,
        show_progress=False,
    )
    # `arbiter evaluate` scores the registered champion on the same windows: same figures.
    evaluated = evaluate_model(
        book,
        "champion",
        tracking_uri=uri,
        experiment=experiment,
        console=Console(file=io.StringIO()),
    )
    mlflow.set_tracking_uri(None)
    for target in ("late", "dispute", "days_to_pay"):
        for model, metrics in outcome.evaluations[target]["overall"].items():
            assert evaluated[target]["overall"][model] == pytest.approx(metrics, nan_ok=True)
    assert set(outcome.evaluations) == {"late", "dispute", "days_to_pay"}
    assert "hist_late_share" in outcome.feature_names
    assert "rel_open_tickets" not in outcome.feature_names
    assert "activities" in outcome.excluded_features["rel_open_tickets"]
    assert outcome.evaluations["late"]["overall"]["lightgbm"]["roc_auc"] > 0.6
    printed = console.export_text()
    assert f"{len(outcome.feature_names)} features used; left out: " in printed
    assert "rel_open_tickets (needs table activities" in printed
