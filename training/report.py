"""Human-readable results: metric tables for the terminal and a short model card per model."""

from __future__ import annotations

import math

from rich.table import Table

from training.pipeline import GATE_METRICS, TargetModel, TrainingData

SHOWN = {
    "classifier": (
        "n",
        "rate",
        "roc_auc",
        "pr_auc",
        "brier",
        "log_loss",
        "ece",
        "lift_top10",
        "amount_captured_top10",
        "amount_captured_top20",
    ),
    "days_to_pay": ("n", "mae", "coverage_p10_p90", "interval_width", "pinball", "mae_mean"),
}


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4f}"


def metrics_table(target: str, evaluation: dict, label: str = "") -> Table:
    """A rich table: one row per metric, one column per model (LightGBM, baselines, oracle)."""
    columns = SHOWN["days_to_pay" if target == "days_to_pay" else "classifier"]
    overall = evaluation["overall"]
    table = Table(title=f"{target}{label}: test window")
    table.add_column("metric")
    for model in overall:
        table.add_column(model, justify="right")
    for column in columns:
        if any(column in metrics for metrics in overall.values()):
            table.add_row(column, *(_fmt(metrics.get(column)) for metrics in overall.values()))
    return table


def model_card(
    target: str, model: TargetModel, evaluation: dict, data: TrainingData, params: dict
) -> str:
    """A short Markdown model card: purpose, data, windows, results, limits."""
    plan = model.plan.to_dict()
    metric, higher = GATE_METRICS[target]
    overall = evaluation["overall"]
    lines = [
        f"# Model card: arbiter {target}",
        "",
        _PURPOSE[target],
        "",
        "## Data",
        f"- Book hash `{data.book_hash}`, extracted {data.as_of.date()}.",
        f"- Windows (issue dates): train {plan['train_start']} to {plan['train_end']}, "
        f"valid {plan['valid_start']} to {plan['valid_end']}, test {plan['test_start']} to "
        f"{plan['test_end']} (end exclusive); maturity lag {plan['lag_days']} days.",
        "- Invoices per split: " + ", ".join(f"{k} {v:,}" for k, v in model.counts.items()),
        f"- {len(data.feature_names)} features used; left out: "
        + (", ".join(f"{k} ({v})" for k, v in data.excluded_features.items()) or "none"),
        "",
        "## Model",
        f"- LightGBM, trees kept by early stopping: {model.best_iterations}.",
        f"- Calibration: {_calibration_text(model.calibration)}.",
        "",
        "## Test-window results",
        "| model | " + " | ".join(overall[next(iter(overall))].keys()) + " |",
        "|---|" + "---|" * len(overall[next(iter(overall))]),
    ]
    for name, metrics in overall.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(v) for v in metrics.values()) + " |")
    lines += [
        "",
        f"Gate metric: {metric} ({'higher' if higher else 'lower'} is better).",
        "",
        "## Limits",
        "- Scores describe an invoice at its issue date; re-scoring open invoices later uses",
        "  the same model on features at the later date.",
        "- Evaluated on one later window of one book; monitor drift in production.",
    ]
    return "\n".join(lines) + "\n"


def _calibration_text(calibration: dict) -> str:
    if "interval_offset" in calibration:
        return f"p10-p90 widened by {calibration['interval_offset']:.1f} days (CQR on valid)"
    if calibration["method"] == "isotonic":
        return f"isotonic on the validation window ({len(calibration['x'])} thresholds)"
    return f"Platt scaling on the validation window (a={calibration['a']:.3f})"


_PURPOSE = {
    "late": "P(invoice paid after due date + grace), scored at issue; ranks collections work.",
    "dispute": "P(dispute opened within the dispute window), scored at issue; routes "
    "relationship problems to the revenue owner.",
    "days_to_pay": "Days from issue to payment, p10/p50/p90 (capped at the label horizon); "
    "gives the expected pay date and its range.",
}
