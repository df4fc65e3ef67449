"""Online parity through the API: a simulated book of about 1,000 invoices is ingested through
the bulk endpoints of a fresh service; its feature vectors and decisions at several as-of
times equal the offline pipeline's (``build_features``, the bundle, the batch policy)."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.book import validate_tables
from features.offline import build_features
from features.simulator import SimulationConfig, simulate_book
from serving.bundle import load_bundle
from serving.keys import create_key
from serving.main import create_app
from serving.policy.engine import load_policy
from serving.policy.frames import decision_inputs
from serving.settings import Settings
from serving.store.loader import SCHEMAS, records

pytestmark = pytest.mark.slow
AFTER_ISSUE_DAYS = (0, 45)


def as_json(value: object) -> object:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@pytest.fixture(scope="module")
def book():
    sim = simulate_book(SimulationConfig.for_invoices(1000, months=12, seed=3))
    loaded, report = validate_tables(dict(sim.tables))
    assert report.total_rejected == 0
    return loaded


@pytest.fixture(scope="module")
def parity_client(tmp_path_factory, bundle_dir, book):
    folder = tmp_path_factory.mktemp("parity")
    app = create_app(
        Settings(database_url=f"sqlite:///{folder}/arbiter.db", models=str(bundle_dir))
    )
    with TestClient(app) as client:
        with app.state.store.sessions() as session:
            token = create_key(session, "service").token
            session.commit()
        headers = {"Authorization": f"Bearer {token}"}
        for table in ("customers", "invoices", "payments", "disputes", "activities"):
            rows = [
                {k: as_json(v) for k, v in row.items()}
                for row in records(book[table], SCHEMAS[table])
            ]
            for start in range(0, len(rows), 1000):
                response = client.post(
                    f"/v1/{table}/bulk", json={"items": rows[start : start + 1000]}, headers=headers
                )
                assert response.json()["counts"]["rejected"] == 0, response.json()["items"][:3]
        yield client, headers


def test_features_and_decisions_equal_the_offline_pipeline(parity_client, book, bundle_dir):
    client, headers = parity_client
    invoices = book.invoices
    assert len(invoices) >= 900
    as_of = pd.concat(
        [
            pd.DataFrame(
                {
                    "invoice_id": invoices["invoice_id"],
                    "as_of": invoices["issue_date"] + pd.Timedelta(days=d),
                }
            )
            for d in AFTER_ISSUE_DAYS
        ],
        ignore_index=True,
    )
    offline = build_features(book, as_of)
    bundle = load_bundle(bundle_dir)
    scores = bundle.predict(offline.loc[:, bundle.feature_names].to_numpy())
    expected = load_policy().decide_batch(decision_inputs(offline, scores, book.tables))

    items = [
        {"invoice_id": i, "as_of": d.date().isoformat()}
        for i, d in zip(as_of["invoice_id"], as_of["as_of"], strict=True)
    ]
    decisions = []
    for start in range(0, len(items), 1000):
        response = client.post(
            "/v1/decisions/batch", json={"items": items[start : start + 1000]}, headers=headers
        )
        body = response.json()
        assert body["rejected"] == 0
        decisions += [item["decision"] for item in body["items"]]

    served = pd.DataFrame(
        {
            "p_late": [d["scores"]["p_late"] for d in decisions],
            "p_dispute": [d["scores"]["p_dispute"] for d in decisions],
            "owner": [d["owner"] for d in decisions],
            "action": [d["action"] for d in decisions],
            "tier": [d["priority"]["tier"] for d in decisions],
        }
    )
    np.testing.assert_allclose(served["p_late"], scores["p_late"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(served["p_dispute"], scores["p_dispute"], rtol=0, atol=1e-12)
    assert served["owner"].tolist() == list(expected.owner)
    assert served["action"].tolist() == list(expected.action)
    assert served["tier"].tolist() == list(expected.tier)

    for position in range(0, len(decisions), 97):
        audit = client.get(
            f"/v1/decisions/{decisions[position]['decision_id']}", headers=headers
        ).json()
        for name in bundle.feature_names:
            online, batch = audit["features"][name], offline.at[position, name]
            assert (online is None and math.isnan(batch)) or online == pytest.approx(
                batch, abs=1e-9
            ), (
                position,
                name,
            )
