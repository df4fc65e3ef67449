"""CLI commands of the service: serve, load a book into the store, keys, database upgrade."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from features.console import make_console

console = make_console()
err_console = make_console(stderr=True)

keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
db_app = typer.Typer(help="The store's database.", no_args_is_help=True)


def _store():  # noqa: ANN202 - serving.store.db.Store, imported lazily
    from serving.settings import Settings
    from serving.store.db import Store

    store = Store(Settings().database_url)
    store.upgrade()
    return store


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to ARBITER_DATABASE_URL."""
    from serving.migrations import current_revision

    store = _store()
    console.print(f"database at revision {current_revision(store.engine)}")
    store.close()


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="service, collector or admin.")],
    name: Annotated[str | None, typer.Option(help="What the key is for.")] = None,
) -> None:
    """Create a key and print its token once (only its SHA-256 is stored)."""
    from serving.keys import ROLES, create_key

    if role not in ROLES:
        err_console.print(f"[red]error:[/red] unknown role {role!r}; use one of {', '.join(ROLES)}")
        raise typer.Exit(2)
    store = _store()
    with store.sessions() as session:
        issued = create_key(session, role, name)
        session.commit()
    store.close()
    err_console.print(f"created {role} key {issued.key_id}; the token below is shown only once")
    print(issued.token)


@keys_app.command("list")
def keys_list() -> None:
    """List keys: id, role, name, created, revoked (never tokens)."""
    from serving.keys import list_keys

    store = _store()
    with store.sessions() as session:
        for key in list_keys(session):
            revoked = key.revoked_at.isoformat() if key.revoked_at else "-"
            console.print(f"{key.key_id}  {key.role:<9}  {key.name or '-'}  revoked: {revoked}")
    store.close()


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id to revoke.")]) -> None:
    """Revoke a key."""
    from serving.keys import revoke_key

    store = _store()
    with store.sessions() as session:
        key = revoke_key(session, key_id)
        session.commit()
    store.close()
    if key is None:
        err_console.print(f"[red]error:[/red] unknown key id {key_id!r}")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes; one per core serves the most.")
    ] = 1,
) -> None:
    """Serve the API (OpenAPI docs at /docs and the worklist app at /ui).

    Each process keeps its own online feature state and follows the store's event log
    (``serving.events``), so several processes can serve one store. Pending migrations are
    applied once, here, before the processes start.
    """
    from serving.metrics import MULTIPROCESS_DIR
    from serving.settings import Settings

    if Settings().upgrade_on_start:
        store = _store()
        try:
            store.upgrade()
        finally:
            store.close()
        os.environ["ARBITER_UPGRADE_ON_START"] = "false"
    metrics_dir = None
    if workers > 1 and not os.environ.get(MULTIPROCESS_DIR):
        # Every process writes its metrics there; a scrape adds them up.
        metrics_dir = tempfile.mkdtemp(prefix="arbiter-metrics-")
        os.environ[MULTIPROCESS_DIR] = metrics_dir
    try:
        run_server(host, port, workers)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def run_server(host: str, port: int, workers: int) -> None:
    import uvicorn

    from serving.workers import serve_workers

    app = "serving.main:create_app"
    options = {"host": host, "port": port, "access_log": False, "log_level": "warning"}
    if workers == 1:
        uvicorn.run(app, factory=True, **options)
        return
    status = serve_workers(uvicorn.Config(app, factory=True, **options), workers)
    if status:
        raise typer.Exit(status)


def load(
    book: Annotated[Path, typer.Argument(help="Book folder (Parquet or CSV tables).")],
    rejections: Annotated[
        Path | None, typer.Option(help="Write every rejected row with its reason to this CSV.")
    ] = None,
) -> None:
    """Load BOOK into the store (idempotent: a second load changes nothing)."""
    from features.book import BookError, load_book
    from features.commands import print_load_report
    from serving.store.loader import load_into_store

    try:
        loaded, report = load_book(book)
    except BookError as error:
        err_console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    print_load_report(report)
    store = _store()
    try:
        result = load_into_store(store, loaded, progress=True)
    finally:
        store.close()
    result.print(console)
    if rejections is not None:
        result.write_rejections(report.rejections, rejections)
        console.print(f"rejections written to {rejections}")


def register(app: typer.Typer) -> None:
    """Add the service's commands to the ``arbiter`` app."""
    app.command("serve")(serve)
    app.command("load")(load)
    app.add_typer(keys_app, name="keys")
    app.add_typer(db_app, name="db")
