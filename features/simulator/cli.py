"""``arbiter generate``: simulate a book and write it, with its oracle, to a folder."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from features.console import make_console

console = make_console()
err_console = make_console(stderr=True)


def generate(
    out: Annotated[Path, typer.Argument(help="Folder to write the book into (replaced).")],
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 2000,
    months: Annotated[int, typer.Option(help="Months simulated; as_of is their end.")] = 24,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same bytes.")] = 7,
    start: Annotated[str, typer.Option(help="First day of the period (YYYY-MM-01).")] = (
        "2023-01-01"
    ),
    invoices_target: Annotated[
        int | None,
        typer.Option(help="Size the book for about this many invoices (sets --customers)."),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
) -> None:
    """Simulate an AR book and write it to OUT, with the oracle table beside it."""
    from features.simulator.config import SimulationConfig

    if fmt not in ("parquet", "csv"):
        err_console.print(f"[red]error:[/red] --format {fmt!r}: use parquet or csv")
        raise typer.Exit(2)
    try:
        if invoices_target is not None:
            config = SimulationConfig.for_invoices(invoices_target, months, seed, start=start)
        else:
            config = SimulationConfig(customers=customers, months=months, seed=seed, start=start)
        config.validate()
    except ValueError as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    if not replaceable(out):
        err_console.print(
            f"[red]error:[/red] {out} exists and is not a book folder (no book.json or "
            "invoices table); give a new or empty folder, or a previous book to replace"
        )
        raise typer.Exit(2)
    simulated = _simulate_with_progress(config, out, fmt)
    _print_headline(simulated, config, out)


def _simulate_with_progress(config, out: Path, fmt: str):  # noqa: ANN001, ANN202
    from rich.progress import Progress

    from features.simulator.generate import STAGES, simulate_book

    with Progress(console=console, transient=False) as progress:
        task = progress.add_task("simulating", total=len(STAGES) + 1)

        def on_stage(stage: str) -> None:
            progress.update(task, description=f"simulating: {stage}", completed=STAGES.index(stage))

        simulated = simulate_book(config, on_stage=on_stage)
        progress.update(task, description=f"writing {out}", completed=len(STAGES))
        write_simulated_book(simulated, out, fmt)
        progress.update(task, description="done", completed=len(STAGES) + 1)
    return simulated


def replaceable(out: Path) -> bool:
    """Whether ``out`` may be (re)written: absent, empty, or holding a previous book."""
    if not out.exists():
        return True
    if not out.is_dir():
        return False
    names = {p.name for p in out.iterdir()}
    return not names or bool(names & {"book.json", "invoices.parquet", "invoices.csv"})


def write_simulated_book(simulated, out: Path, fmt: str = "parquet") -> Path:  # noqa: ANN001
    """Write the book and its oracle to ``out`` all at once.

    Everything is written to a hidden sibling folder first and swapped in at the end, so an
    interrupted run leaves either the previous book or the new one, never half of each.
    """
    from features.book import write_book
    from features.schema import ORACLE_TABLE

    out = Path(out)
    staging = out.parent / f".{out.name}.partial"
    previous = out.parent / f".{out.name}.previous"
    for leftover in (staging, previous):
        shutil.rmtree(leftover, ignore_errors=True)
    meta = {"as_of": simulated.as_of.strftime("%Y-%m-%d"), "generator": simulated.meta}
    tables = dict(simulated.tables) | {ORACLE_TABLE: simulated.oracle}
    write_book(tables, staging, fmt=fmt, meta=meta)
    if out.exists():
        out.replace(previous)
    staging.replace(out)
    shutil.rmtree(previous, ignore_errors=True)
    return out


def _print_headline(simulated, config, out: Path) -> None:  # noqa: ANN001
    from features.simulator.metrics import headline_rates

    rates = headline_rates(simulated.tables, simulated.as_of, config.dispute.window_days)
    table = RichTable(title=f"Simulated book {out} (as_of {simulated.as_of:%Y-%m-%d})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name in (
        "customers",
        "invoices",
        "payments",
        "disputes",
        "activities",
        "insolvent_customers",
    ):
        table.add_row(name, f"{rates[name]:,.0f}")
    table.add_row("share paid late (due before as_of)", f"{rates['share_late']:.1%}")
    table.add_row("share disputed (mature)", f"{rates['share_disputed']:.1%}")
    table.add_row("DSO, 90-day (days)", f"{rates['dso_days']:.1f}")
    table.add_row(
        "days late: median / p90", f"{rates['median_days_late']:.0f} / {rates['p90_days_late']:.0f}"
    )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(generate)
