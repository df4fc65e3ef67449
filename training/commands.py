"""CLI commands of the training side: train, evaluate and export models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from features.console import make_console

console = make_console()
err_console = make_console(stderr=True)

BookArg = Annotated[Path, typer.Option("--book", help="Book folder (Parquet or CSV tables).")]
ParamsOpt = Annotated[
    Path | None,
    typer.Option("--params", help="Parameters YAML (default: training/params.yaml)."),
]
ExperimentOpt = Annotated[str, typer.Option(help="MLflow experiment name.")]


def _fail(error: Exception, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {error}")
    return typer.Exit(code)


def _check_book(book: Path) -> None:
    if not book.is_dir():
        raise _fail(ValueError(f"{book}: no such book folder; create one with `arbiter generate`"))


def train(
    book: BookArg,
    params: ParamsOpt = None,
    register: Annotated[
        bool, typer.Option("--register/--no-register", help="Register and gate the models.")
    ] = True,
    experiment: ExperimentOpt = "arbiter",
) -> None:
    """Train the late, dispute and days-to-pay models on BOOK, evaluate and log them.

    Each model is registered; the alias champion moves to it only if it beats the current
    champion on the same test window, otherwise it becomes challenger.
    """
    from features.book import BookError
    from training.params import ParamsError
    from training.run import train_book
    from training.splits import SplitError

    _check_book(book)
    try:
        train_book(book, params, register=register, experiment=experiment, console=console)
    except (BookError, ParamsError, SplitError) as error:
        raise _fail(error) from error


def evaluate(
    book: BookArg,
    model: Annotated[
        str, typer.Option("--model", help="Registry alias (champion, challenger) or version.")
    ] = "champion",
    params: ParamsOpt = None,
    experiment: ExperimentOpt = "arbiter",
) -> None:
    """Evaluate registered models on BOOK's test windows, beside the baselines and oracle."""
    from features.book import BookError
    from training.params import ParamsError
    from training.run import evaluate_model
    from training.splits import SplitError

    _check_book(book)
    if not (model.isdigit() or model.replace("-", "").replace("_", "").isalnum()):
        raise _fail(ValueError(f"--model {model!r}: give an alias (champion) or a version (3)"))
    try:
        evaluations = evaluate_model(book, model, params, experiment=experiment, console=console)
    except (BookError, ParamsError, SplitError, ValueError) as error:
        raise _fail(error) from error
    if not evaluations:
        raise _fail(ValueError(f"no registered model found for {model!r}"), 1)


def export(
    alias: Annotated[str, typer.Option(help="Registry alias or version to export.")] = "champion",
    out: Annotated[Path, typer.Option(help="Bundle folder to write.")] = Path("models/champion"),
) -> None:
    """Write the models at ALIAS as a self-contained bundle that serving loads directly."""
    from training.tracking import export_bundle, use_tracking

    use_tracking()
    try:
        folder = export_bundle(alias, out)
    except ValueError as error:
        raise _fail(error, 1) from error
    console.print(f"bundle written to {folder}")


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command()(evaluate)
    app.command()(export)
