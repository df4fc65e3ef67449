"""Fixtures of the service tests: one store per backend (SQLite file, PostgreSQL database).

Every API test runs on both backends. PostgreSQL is 127.0.0.1:5432 (user postgres, trust
auth); each test session creates a uniquely named database and drops it afterwards. When the
server cannot be reached the PostgreSQL tests are skipped, unless CI is set: then they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from serving.keys import create_key
from serving.main import create_app
from serving.settings import Settings
from serving.store.db import Store

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; dropped afterwards."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect():
            pass
    except OperationalError as error:
        admin.dispose()
        reason = f"PostgreSQL is not reachable on 127.0.0.1:5432 ({type(error).__name__})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so the PostgreSQL tests must run")
        pytest.skip(f"{reason}; set CI=1 to turn this skip into a failure")
    name = f"arbiter_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[str]:  # noqa: ANN001
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store')}/arbiter.db"
    else:
        yield from postgres_database()


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, env="development", max_body_bytes=200_000)


@pytest.fixture(scope="session")
def app_client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="session")
def tokens(app_client: TestClient) -> dict[str, str]:
    """One valid token per role, created directly in the store."""
    store: Store = app_client.app.state.store
    with store.sessions() as session:
        issued = {role: create_key(session, role, f"test {role}") for role in ROLES}
        session.commit()
    return {role: key.token for role, key in issued.items()}


ROLES = ("service", "collector", "admin")


@pytest.fixture()
def client(app_client: TestClient) -> TestClient:
    return app_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def service(tokens: dict[str, str]) -> dict[str, str]:
    return bearer(tokens["service"])


@pytest.fixture(scope="session")
def collector(tokens: dict[str, str]) -> dict[str, str]:
    return bearer(tokens["collector"])


@pytest.fixture(scope="session")
def admin(tokens: dict[str, str]) -> dict[str, str]:
    return bearer(tokens["admin"])


@pytest.fixture()
def new_id() -> Callable[[str], str]:
    """Makes ids no other test uses (the store is shared by the whole session)."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:10]}"
