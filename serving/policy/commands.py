"""CLI commands of the decision policy: check-policy, backtest, tune-policy.

Thin wiring: files, models and MLflow here; the work is done by the pure functions of
``serving.policy.backtest`` and ``serving.policy.tuning``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from features.console import make_console

console = make_console()
err_console = make_console(stderr=True)
METRICS = ("invoices", "amount", "precision", "late_amount_captured", "disputes_captured")

PolicyOption = Annotated[str, typer.Option(help="Policy file, or 'default' for the shipped one.")]
BookOption = Annotated[Path, typer.Option(help="Book folder (Parquet or CSV tables).")]
FromOption = Annotated[str, typer.Option("--from", help="First issue date, YYYY-MM-DD.")]
ToOption = Annotated[str, typer.Option("--to", help="Last issue date, YYYY-MM-DD.")]
ModelsOption = Annotated[Path, typer.Option(help="Exported model bundle folder.")]


def _fail(message: object) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


def _load_policy(reference: str):  # noqa: ANN202 - serving.policy.engine.Policy
    from serving.policy.engine import load_policy
    from serving.policy.errors import PolicyError

    try:
        return load_policy(None if reference == "default" else Path(reference))
    except (PolicyError, OSError) as error:
        raise _fail(error) from error


def check_policy(
    policy: Annotated[Path, typer.Argument(help="Policy file to validate.")],
) -> None:
    """Validate a policy file and print its tables, or every problem with its line."""
    loaded = _load_policy(str(policy))
    console.print(f"{policy}: valid, policy {loaded.name!r}, version {loaded.version}")
    for table in loaded.spec.tables:
        console.print(f"  table {table.name}: {len(table.rows)} rows, sets {sorted(table.sets)}")


def _history(book: Path, models: Path, start: str, end: str):  # noqa: ANN202 - DataFrame
    from features.book import BookError, load_book
    from serving.bundle import BundleError, load_bundle
    from serving.policy.replay import replay_history

    try:
        with console.status("loading the book and the models"):
            loaded, _ = load_book(book)
            bundle = load_bundle(models)
        with console.status("building features and scores for the window"):
            return replay_history(loaded, bundle, start, end)
    except (BookError, BundleError, ValueError, OSError) as error:
        raise _fail(error) from error


def print_comparison(results: dict) -> None:
    """The per-owner metrics of each policy side by side."""
    table = RichTable(title="Backtest by owner")
    table.add_column("owner")
    labels = list(results)
    for metric in METRICS:
        for label in labels:
            table.add_column(f"{metric} ({label})", justify="right")
    owners = results[labels[0]].by_owner.index
    for owner in owners:
        cells = [
            _cell(metric, results[label].by_owner.loc[owner, metric])
            for metric in METRICS
            for label in labels
        ]
        table.add_row(owner, *cells)
    console.print(table)
    for label, result in results.items():
        busiest = result.team_weeks.max()
        console.print(
            f"{label} = {result.policy}: busiest week finance {busiest['finance']}, "
            f"revenue_owner {busiest['revenue_owner']} cases"
        )


def _cell(metric: str, value: float) -> str:
    if value != value:
        return "-"
    if metric in ("invoices",):
        return f"{int(value):,}"
    if metric == "amount":
        return f"{value:,.0f}"
    return f"{value:.1%}"


def write_reports(results: dict, out: Path) -> list[Path]:
    """Write the side-by-side table and each policy's workload as CSV; return the paths."""
    from serving.policy.backtest import compare_backtests

    out.mkdir(parents=True, exist_ok=True)
    frames = {"backtest_by_owner.csv": compare_backtests(results)}
    for label, result in results.items():
        frames[f"workload_{label}.csv"] = result.workload
        frames[f"team_weeks_{label}.csv"] = result.team_weeks
    written = []
    for name, frame in frames.items():
        with tempfile.NamedTemporaryFile("w", dir=out, suffix=".partial", delete=False) as tmp:
            frame.to_csv(tmp.name)
        written.append(Path(tmp.name).replace(out / name))
    return written


def log_to_mlflow(results: dict, files: list[Path], window: tuple[str, str]) -> str:
    """Log each policy's per-owner metrics and the CSV files to MLflow; return the run id."""
    import mlflow

    from serving.registry import project_tracking_uri

    mlflow.set_tracking_uri(project_tracking_uri())
    mlflow.set_experiment("arbiter-policy")
    with mlflow.start_run(run_name="backtest " + " vs ".join(results)) as run:
        mlflow.log_params({"from": window[0], "to": window[1]})
        mlflow.log_params({f"policy_{label}": r.policy for label, r in results.items()})
        for label, result in results.items():
            for owner, row in result.by_owner.iterrows():
                mlflow.log_metrics(
                    {f"{label}.{owner}.{m}": float(row[m]) for m in METRICS if row[m] == row[m]}
                )
        for path in files:
            mlflow.log_artifact(str(path))
        return run.info.run_id


def backtest(
    book: BookOption,
    start: FromOption,
    end: ToOption,
    policy: PolicyOption = "default",
    vs: Annotated[str | None, typer.Option(help="A second policy to compare.")] = None,
    models: ModelsOption = Path("models/champion"),
    out: Annotated[Path, typer.Option(help="Folder for the CSV reports.")] = Path("backtest"),
    mlflow: Annotated[bool, typer.Option(help="Log the results to MLflow.")] = True,
) -> None:
    """Replay a policy (and another with --vs) on the invoices issued in a window."""
    from serving.policy.backtest import backtest_policy

    policies = {"A": _load_policy(policy)}
    if vs is not None:
        policies["B"] = _load_policy(vs)
    history = _history(book, models, start, end)
    results = {label: backtest_policy(p, history) for label, p in policies.items()}
    print_comparison(results)
    files = write_reports(results, out)
    console.print(f"reports written to {out}")
    if mlflow:
        console.print(f"logged to MLflow run {log_to_mlflow(results, files, (start, end))}")


def tune_policy(
    capacity: Annotated[str, typer.Option(help="e.g. finance=400,revenue_owner=150/week")],
    book: BookOption,
    start: FromOption,
    end: ToOption,
    policy: PolicyOption = "default",
    models: ModelsOption = Path("models/champion"),
    out: Annotated[Path, typer.Option(help="Proposed policy file.")] = Path("proposed.yaml"),
    statistic: Annotated[str, typer.Option(help="max: busiest week fits; mean.")] = "max",
    passes: Annotated[int, typer.Option(help="Coordinate-search passes.")] = 3,
) -> None:
    """Choose the policy's thresholds to fit each team's weekly capacity; write the file."""
    from serving.policy.backtest import backtest_policy
    from serving.policy.tuning import parse_capacity
    from serving.policy.tuning import tune_policy as tune

    try:
        limits = parse_capacity(capacity)
    except ValueError as error:
        raise _fail(error) from error
    start_policy = _load_policy(policy)
    history = _history(book, models, start, end)
    with console.status("searching thresholds"):
        result = tune(start_policy, history, limits, statistic=statistic, passes=passes)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(result.policy.spec.text, encoding="utf-8")
    partial.replace(out)
    console.print(f"proposed policy written to {out} ({result.policy.version})")
    console.print(f"parameters: {result.best.values}; load per week: {result.best.load}")
    if not result.within_capacity:
        console.print(f"[yellow]no candidate fits the capacity; overflow {result.best.overflow}")
    results = {
        "current": backtest_policy(start_policy, history),
        "proposed": backtest_policy(result.policy, history),
    }
    print_comparison(results)


def register(app: typer.Typer) -> None:
    app.command("check-policy")(check_policy)
    app.command("backtest")(backtest)
    app.command("tune-policy")(tune_policy)
