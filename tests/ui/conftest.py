"""Fixtures of the web app tests: a small simulated book in a SQLite store, small real models,
the service on a real uvicorn server in a thread, and Debian's Chromium through Playwright.

Without /usr/bin/chromium the browser tests are skipped, unless CI is set: then they fail.
Screenshots are written to test-artifacts/ui/ (git-ignored).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import uvicorn

from features.book import validate_tables
from features.simulator.config import SimulationConfig
from features.simulator.generate import simulate_book
from serving.keys import create_key
from serving.main import create_app
from serving.settings import Settings
from serving.store.db import Store
from serving.store.loader import load_into_store

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui"
SERVING_CONFTEST = Path(__file__).resolve().parents[1] / "serving" / "conftest.py"


def write_bundle(folder: Path, version: str) -> Path:
    """The small real bundle of the service tests (``tests/serving/conftest.py``)."""
    spec = importlib.util.spec_from_file_location("serving_conftest", SERVING_CONFTEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_bundle(folder, version)


def months_ago(months: int) -> str:
    """The first day of the month ``months`` before this one, so the book ends this month."""
    first = date.today().replace(day=1)
    index = first.year * 12 + first.month - 1 - months
    return f"{index // 12}-{index % 12 + 1:02d}-01"


@dataclass(frozen=True)
class LiveServer:
    """The service on ``url``, its store and one token per role."""

    url: str
    store: Store
    tokens: dict[str, str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """30 customers over 6 months (about 85 open invoices in 6 currencies), served for real."""
    folder = tmp_path_factory.mktemp("ui")
    settings = Settings(
        database_url=f"sqlite:///{folder}/arbiter.db",
        models=str(write_bundle(folder / "champion", version="1")),
        log_level="WARNING",
    )
    store = Store(settings.database_url)
    store.upgrade()
    simulated = simulate_book(SimulationConfig(customers=30, months=6, seed=3, start=months_ago(6)))
    book, report = validate_tables(dict(simulated.tables))
    assert report.total_rejected == 0
    load_into_store(store, book)
    with store.sessions() as session:
        issued = {
            role: create_key(session, role, f"{role} of the tests")
            for role in ("service", "collector", "admin")
        }
        session.commit()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=free_port(), log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield LiveServer(f"http://127.0.0.1:{port}", store, {r: k.token for r, k in issued.items()})
    server.should_exit = True
    thread.join(timeout=20)
    store.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless; never a downloaded browser."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (make test installs Debian's chromium package)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so the browser tests must run")
        pytest.skip(f"{reason}; set CI=1 to turn this skip into a failure")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, live_server: LiveServer) -> Iterator[object]:  # noqa: ANN001
    """A fresh browser context (no cookies) on a laptop-sized window."""
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, base_url=live_server.url, accept_downloads=True
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
