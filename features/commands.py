"""CLI commands of the data layer: validate (and, from their own modules, generate, import)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from features.console import make_console

console = make_console()
err_console = make_console(stderr=True)


def print_load_report(report) -> None:  # noqa: ANN001 - LoadReport, imported lazily
    """Print per-table counts and the first rejections of a load."""
    table = RichTable(title="Book load")
    for name in ("table", "read", "loaded", "rejected"):
        table.add_column(name, justify="left" if name == "table" else "right")
    for name, count in report.counts.items():
        table.add_row(name, f"{count.read:,}", f"{count.loaded:,}", f"{count.rejected:,}")
    console.print(table)
    for name, columns in report.ignored_columns.items():
        if columns:
            console.print(f"[yellow]{name}: ignored undeclared columns {', '.join(columns)}")
    if len(report.rejections):
        console.print(report.rejections.head(20).to_string(index=False))
        if len(report.rejections) > 20:
            console.print(f"... and {len(report.rejections) - 20:,} more problems")


def validate(
    book: Annotated[Path, typer.Argument(help="Book folder (Parquet or CSV tables).")],
    rejections: Annotated[
        Path | None, typer.Option(help="Write every rejected row with its reason to this CSV.")
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="Exit with status 1 if any row is rejected.")
    ] = False,
) -> None:
    """Load BOOK through the data contract and report what was loaded and rejected."""
    from features.book import BookError, load_book

    try:
        _, report = load_book(book)
    except BookError as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    print_load_report(report)
    if rejections is not None:
        report.rejections.to_csv(rejections, index=False)
        console.print(f"rejections written to {rejections}")
    if strict and report.total_rejected:
        raise typer.Exit(1)


def import_book(
    source: Annotated[Path, typer.Argument(help="The extract: a file, or a folder of files.")],
    out: Annotated[Path, typer.Argument(help="Folder to write the canonical book to.")],
    mapping: Annotated[Path, typer.Option(help="The declarative column mapping (YAML).")],
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it is not empty.")] = False,
    rejections: Annotated[
        Path | None, typer.Option(help="Write every rejected row with its reason to this CSV.")
    ] = None,
) -> None:
    """Turn a foreign extract into a canonical book through a mapping, then validate it."""
    import pandas as pd

    from features.book import BookError, load_book
    from features.importer import (
        MappingError,
        import_extract,
        import_meta,
        load_mapping,
        write_imported_book,
    )

    try:
        rules = load_mapping(mapping)
        tables, report = import_extract(source, rules)
        write_imported_book(tables, import_meta(rules, tables, report), out, fmt, overwrite)
        _, load_report = load_book(out)
    except (MappingError, BookError, FileExistsError, ValueError) as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    for table, written in report.written.items():
        console.print(
            f"{table}: {written:,} rows written, {report.rejected[table]:,} rejected, "
            f"{report.filtered[table]:,} left out by the mapping (rows_where / distinct_on)"
        )
    for rule in report.dating_rules:
        console.print(f"[yellow]dating rule applied:[/yellow] {rule}")
    print_load_report(load_report)
    if rejections is not None:
        both = pd.concat([report.rejections, load_report.rejections], ignore_index=True)
        both.to_csv(rejections, index=False)
        console.print(f"rejections written to {rejections}")


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command("import")(import_book)
