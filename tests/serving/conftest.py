"""Fixtures of the service tests: one store per backend (SQLite file, PostgreSQL database).

Every API test runs on both backends. PostgreSQL is 127.0.0.1:5432 (user postgres, trust
auth); each test session creates a uniquely named database and drops it afterwards. When the
server cannot be reached the PostgreSQL tests are skipped, unless CI is set: then they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from features.registry import REGISTRY
from serving.bundle import ModelBundle
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


BUNDLE_FEATURES = [spec.name for spec in REGISTRY[:24]]


def write_bundle(folder: Path, version: str, seed: int = 0) -> Path:
    """A small real bundle: LightGBM models of every target on synthetic rows.

    Args:
        folder: Where the bundle is written (replaced whole).
        version: The registry version every target reports.
        seed: Seed of the synthetic training rows.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, len(BUNDLE_FEATURES)))
    late = (X[:, 0] + rng.normal(scale=0.5, size=400) > 0).astype(float)
    dispute = (X[:, 1] > 0.8).astype(float)
    days = 30 + 10 * X[:, 2] + rng.normal(scale=5, size=400)
    params = {"num_leaves": 7, "verbose": -1, "min_data_in_leaf": 10, "num_threads": 1}

    def fit(y: np.ndarray, **extra: object) -> lgb.Booster:
        data = lgb.Dataset(X, y, feature_name=BUNDLE_FEATURES, free_raw_data=False)
        return lgb.train({**params, **extra}, data, num_boost_round=15)

    boosters = {
        "late": fit(late, objective="binary"),
        "dispute": fit(dispute, objective="binary"),
        **{
            f"days_to_pay_{q}": fit(days, objective="quantile", alpha=alpha)
            for q, alpha in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9))
        },
    }
    identity = {"method": "isotonic", "x": [0.0, 1.0], "y": [0.0, 1.0]}
    calibration = {"late": identity, "dispute": identity, "days_to_pay": {"interval_offset": 2.0}}
    manifest = {"targets": {t: {"version": version} for t in ("late", "dispute", "days_to_pay")}}
    return ModelBundle(BUNDLE_FEATURES, boosters, calibration, manifest).save(folder)


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory) -> Path:  # noqa: ANN001
    return write_bundle(tmp_path_factory.mktemp("models") / "champion", version="1")


@pytest.fixture(scope="session")
def settings(database_url: str, bundle_dir: Path) -> Settings:
    return Settings(
        database_url=database_url,
        env="development",
        max_body_bytes=200_000,
        models=str(bundle_dir),
    )


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


@pytest.fixture(scope="session")
def bundle_writer() -> Callable[..., Path]:
    """``write_bundle``, for tests that need bundles of their own."""
    return write_bundle
