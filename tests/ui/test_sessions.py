"""Sessions and forms of the web app over plain HTTP: cookie flags, CSRF, revoked keys."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from serving.keys import create_key, revoke_key
from serving.store.models import Activity


@pytest.fixture()
def http(live_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=30) as client:
        yield client


def sign_in(http: httpx.Client, token: str) -> httpx.Response:
    form = http.get("/ui/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return http.post("/ui/login", data={"api_key": token, "csrf": csrf, "next": "/ui/worklist"})


def page_csrf(http: httpx.Client, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', http.get(path).text).group(1)


def test_the_session_cookie_is_signed_httponly_strict_and_holds_no_key(http, live_server):
    token = live_server.tokens["collector"]
    signed = sign_in(http, token)
    assert (signed.status_code, signed.headers["location"]) == (303, "/ui/worklist")
    cookie = next(h for h in signed.headers.get_list("set-cookie") if "arbiter_session=" in h)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain http here; https responses add it
    value = cookie.split(";")[0].split("=", 1)[1]
    secret = token.split("_", 2)[2]  # arb_<key id>_<secret>; the secret may contain "_"
    assert token not in value and secret not in value
    assert http.get("/ui/worklist").status_code == 200

    payload, mac = value.split(".")
    tampered = ("A" if mac[0] != "A" else "B") + mac[1:]  # a character that carries only data
    http.cookies.set("arbiter_session", f"{payload}.{tampered}", path="/ui")
    refused = http.get("/ui/worklist")
    assert refused.status_code == 303
    assert refused.headers["location"] == "/ui/login?next=%2Fui%2Fworklist"


def test_a_form_without_the_session_csrf_token_is_refused_and_records_nothing(http, live_server):
    sign_in(http, live_server.tokens["collector"])
    invoice_id = re.search(r'data-invoice="([^"]+)"', http.get("/ui/worklist").text).group(1)
    for csrf in ("", "forged-token"):
        refused = http.post(
            f"/ui/invoices/{invoice_id}/actions",
            data={"action": "contacted", "csrf": csrf, "detail": "csrf probe"},
        )
        assert refused.status_code == 403
        assert "CSRF check" in refused.text and "Nothing was recorded" in refused.text
    with live_server.store.sessions() as session:
        probes = session.scalars(select(Activity).where(Activity.detail == "csrf probe")).all()
    assert probes == []

    csrf = page_csrf(http, f"/ui/invoices/{invoice_id}")
    done = http.post(
        f"/ui/invoices/{invoice_id}/actions",
        data={"action": "promise_to_pay", "csrf": csrf, "next": "/ui/worklist"},
    )
    assert done.status_code == 422
    assert "promise_to_pay needs promised_date" in done.text


def test_a_revoked_key_loses_its_session_at_once(http, live_server):
    with live_server.store.sessions() as session:
        issued = create_key(session, "collector", "soon revoked")
        session.commit()
    sign_in(http, issued.token)
    assert http.get("/ui/worklist").status_code == 200
    with live_server.store.sessions() as session:
        revoke_key(session, issued.key_id)
        session.commit()
    after = http.get("/ui/worklist")
    assert (after.status_code, after.headers["location"]) == (
        303,
        "/ui/login?next=%2Fui%2Fworklist",
    )


def test_a_forged_sign_in_form_is_refused(http, live_server):
    response = http.post(
        "/ui/login", data={"api_key": live_server.tokens["admin"], "csrf": "x", "next": "/ui/admin"}
    )
    assert response.status_code == 403
    assert "arbiter_session" not in response.headers.get("set-cookie", "")
