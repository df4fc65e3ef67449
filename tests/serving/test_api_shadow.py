"""Shadow mode: a challenger model and policy decide beside the champion; their decisions are
logged, linked to the champion's, and never returned."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from serving.keys import create_key
from serving.main import create_app
from serving.policy.engine import default_policy_path, load_policy
from serving.settings import Settings
from serving.store.models import Decision


@pytest.fixture()
def shadow_app(tmp_path, bundle_dir, bundle_writer):
    challenger_models = bundle_writer(tmp_path / "challenger", version="9", seed=9)
    text = default_policy_path().read_text().replace("P1: 25000", "P1: 20000")
    challenger_policy = tmp_path / "challenger.yaml"
    challenger_policy.write_text(text)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/arbiter.db",
        models=str(bundle_dir),
        challenger_models=str(challenger_models),
        challenger_policy=str(challenger_policy),
    )
    app = create_app(settings)
    with TestClient(app) as client:
        with app.state.store.sessions() as session:
            token = create_key(session, "admin").token
            session.commit()
        yield client, {"Authorization": f"Bearer {token}"}, load_policy(challenger_policy).version


def test_challenger_is_logged_beside_the_champion_and_never_returned(shadow_app):
    client, headers, challenger_version = shadow_app
    client.post("/v1/customers", json={"customer_id": "C1", "collector_id": "COL"}, headers=headers)
    invoice = {
        "invoice_id": "I1",
        "customer_id": "C1",
        "issue_date": "2025-01-01",
        "due_date": "2025-01-31",
        "amount": "60000.00",
        "currency": "EUR",
    }
    response = client.post(
        "/v1/decisions", json={"invoice": invoice, "as_of": "2025-02-10"}, headers=headers
    )
    assert response.status_code == 200
    decision = response.json()
    champion_policy = load_policy().version
    assert decision["versions"] == {
        "models": {"late": "1", "dispute": "1", "days_to_pay": "1"},
        "policy": champion_policy,
    }
    assert challenger_version != champion_policy

    store = client.app.state.store
    with store.sessions() as session:
        rows = session.scalars(select(Decision).where(Decision.invoice_id == "I1")).all()
    by_role = {row.role: row for row in rows}
    assert set(by_role) == {"champion", "challenger"}
    shadow = by_role["challenger"]
    assert shadow.champion_decision_id == decision["decision_id"]
    assert shadow.model_versions == {"late": "9", "dispute": "9", "days_to_pay": "9"}
    assert shadow.policy_version == challenger_version
    assert shadow.features == by_role["champion"].features
    assert shadow.decision["versions"]["policy"] == challenger_version

    hidden = client.get(f"/v1/decisions/{shadow.decision_id}", headers=headers)
    assert hidden.status_code == 404
    models = client.get("/v1/models", headers=headers).json()
    assert models["challenger"] == {"late": "9", "dispute": "9", "days_to_pay": "9"}
    policy = client.get("/v1/policy", headers=headers).json()
    assert (policy["version"], policy["challenger"]) == (champion_policy, challenger_version)
