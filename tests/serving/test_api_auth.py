"""Keys and roles: 401 without a valid key, 403 for the wrong role, key management by admins."""

from __future__ import annotations

import pytest

from serving.keys import hash_token

CUSTOMER = {"customer_id": "auth-C1"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer arb_000000000000_not-a-real-secret"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "nonsense"},
    ],
    ids=["none", "unknown", "basic", "unknown-x-api-key"],
)
def test_missing_or_invalid_key_is_401(client, headers):
    response = client.post("/v1/customers", json=CUSTOMER, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {
        "detail": "a valid API key is required (Authorization: Bearer <key> or X-API-Key)"
    }


def test_healthz_needs_no_key_and_everything_else_does(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}
    for path in ("/readyz", "/metrics", "/v1/customers/x", "/v1/admin/keys"):
        assert client.get(path).status_code == 401, path


def test_x_api_key_header_is_accepted(client, tokens, new_id):
    cid = new_id("C")
    response = client.post(
        "/v1/customers", json={"customer_id": cid}, headers={"X-API-Key": tokens["service"]}
    )
    assert response.status_code == 201
    assert response.json()["record"]["customer_id"] == cid


@pytest.mark.parametrize(
    ("role", "method", "path", "expected"),
    [
        ("collector", "POST", "/v1/customers", 403),
        ("collector", "POST", "/v1/invoices/bulk", 403),
        ("service", "GET", "/v1/admin/keys", 403),
        ("collector", "GET", "/v1/admin/keys", 403),
        ("service", "POST", "/v1/admin/keys", 403),
        ("admin", "GET", "/v1/admin/keys", 200),
        ("collector", "GET", "/v1/customers/none-such", 404),
        ("service", "GET", "/readyz", 200),
        ("collector", "GET", "/metrics", 200),
    ],
)
def test_roles(client, tokens, role, method, path, expected):
    body = {"role": "service"} if path == "/v1/admin/keys" else {"items": [CUSTOMER]}
    if path == "/v1/customers":
        body = CUSTOMER
    response = client.request(
        method,
        path,
        json=body if method == "POST" else None,
        headers={"Authorization": f"Bearer {tokens[role]}"},
    )
    assert response.status_code == expected
    if expected == 403:
        assert response.json()["detail"].startswith(f"a {role} key may not do this; needs ")


def test_admin_may_ingest(client, admin, new_id):
    cid = new_id("C")
    response = client.post("/v1/customers", json={"customer_id": cid}, headers=admin)
    assert (response.status_code, response.json()["result"]) == (201, "created")


def test_admin_creates_lists_and_revokes_keys(client, admin, new_id):
    name = new_id("erp")
    created = client.post("/v1/admin/keys", json={"role": "collector", "name": name}, headers=admin)
    assert created.status_code == 201
    body = created.json()
    token, key_id = body["token"], body["key_id"]
    assert token.startswith(f"arb_{key_id}_") and len(token) > 40
    assert (body["role"], body["name"], body["revoked_at"]) == ("collector", name, None)
    new_key = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/customers/none-such", headers=new_key).status_code == 404

    listed = client.get("/v1/admin/keys", headers=admin).json()
    mine = [k for k in listed if k["key_id"] == key_id]
    assert mine == [
        {
            "key_id": key_id,
            "role": "collector",
            "name": name,
            "created_at": body["created_at"],
            "revoked_at": None,
        }
    ]
    assert token not in created.text.replace(token, "", 1)
    assert all(token not in str(k) and hash_token(token) not in str(k) for k in listed)

    revoked = client.delete(f"/v1/admin/keys/{key_id}", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/v1/customers/none-such", headers=new_key).status_code == 401
    again = client.delete(f"/v1/admin/keys/{key_id}", headers=admin)
    assert (again.status_code, again.json()["revoked_at"]) == (200, revoked.json()["revoked_at"])


def test_revoking_an_unknown_key_is_404(client, admin):
    response = client.delete("/v1/admin/keys/ffffffffffff", headers=admin)
    assert response.status_code == 404
    assert response.json() == {"detail": "unknown key_id 'ffffffffffff'"}


def test_unknown_role_is_422(client, admin):
    response = client.post("/v1/admin/keys", json={"role": "root"}, headers=admin)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "role"]
