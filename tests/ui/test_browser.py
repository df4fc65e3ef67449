"""The web app in Debian's Chromium: a collector's morning, refusals, the admin page."""

from __future__ import annotations

import csv
import re
from datetime import date, timedelta

import pytest

from serving.ui.worklist_pages import CSV_COLUMNS

pytestmark = pytest.mark.browser


def sign_in(page, token: str) -> None:  # noqa: ANN001
    page.goto("/ui/login")
    page.fill("#api_key", token)
    page.click("form[action='/ui/login'] button[type=submit]")


def listed_total(page) -> int:  # noqa: ANN001
    summary = page.locator("p.summary").inner_text()
    return int(re.match(r"([\d,]+) items?", summary).group(1).replace(",", ""))


def test_a_collector_works_the_worklist(page, live_server, shots, tmp_path):
    page.goto("/ui/worklist")
    assert page.url.endswith("/ui/login?next=%2Fui%2Fworklist")
    page.screenshot(path=shots / "01-sign-in.png")

    sign_in(page, live_server.tokens["collector"])
    page.wait_for_url("**/ui/worklist")
    rows = page.locator("table.worklist tbody tr[data-invoice]")
    assert rows.count() == 50
    everything = listed_total(page)
    assert everything > 50
    assert page.locator("nav.pager").inner_text().startswith("Page 1 of 2")
    page.screenshot(path=shots / "02-worklist.png")

    customer = rows.first.locator("td").first.locator("a").get_attribute("title")
    page.fill("#filters input[name=customer]", customer)
    page.select_option("#filters select[name=owner]", "")
    page.click("#filters button[type=submit]")
    page.wait_for_url(f"**/ui/worklist?*customer={customer}*")
    titles = page.locator("table.worklist tbody tr[data-invoice] td:first-child a")
    assert titles.count() >= 1
    assert {titles.nth(n).get_attribute("title") for n in range(titles.count())} == {customer}
    page.screenshot(path=shots / "03-worklist-one-customer.png")

    invoice_id = page.locator("table.worklist tbody tr[data-invoice]").first.get_attribute(
        "data-invoice"
    )
    page.click(f"a[href='/ui/invoices/{invoice_id}']")
    page.wait_for_url(f"**/ui/invoices/{invoice_id}")
    assert page.locator("h1").inner_text() == f"Invoice {invoice_id}"
    assert page.locator("ol.reasons li").count() >= 1
    assert page.locator("h3 + table tbody tr").count() >= 1
    history_before = page.locator("#history tbody tr").count()
    assert history_before >= 1
    page.screenshot(path=shots / "04-invoice.png", full_page=True)

    promised = (date.today() + timedelta(days=7)).isoformat()
    form = page.locator(".card form.action-form")
    form.locator("select[name=action]").select_option("promise_to_pay")
    form.locator("input[name=promised_date]").fill(promised)
    form.locator("input[name=detail]").fill("wire on Friday")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/ui/invoices/{invoice_id}?recorded=promise_to_pay")
    assert page.locator(".flash").inner_text().startswith("Recorded: Promise to pay.")
    assert page.locator("#status").inner_text() == "promise to pay"
    newest = page.locator("#timeline tbody tr").first.inner_text()
    assert f"promise to pay, promised for {promised}: wire on Friday" in newest
    assert invoice_id in newest and date.today().isoformat() in newest
    assert page.locator("#history tbody tr").count() == history_before + 1
    page.screenshot(path=shots / "05-promise-recorded.png", full_page=True)

    page.goto("/ui/worklist?status=promised")
    promised_rows = page.locator("table.worklist tbody tr[data-invoice]")
    ids = [promised_rows.nth(n).get_attribute("data-invoice") for n in range(promised_rows.count())]
    assert invoice_id in ids
    row = page.locator(f"tr[data-invoice='{invoice_id}']")
    assert row.locator("td.status").inner_text() == "promise to pay"
    page.screenshot(path=shots / "06-worklist-promised.png")

    page.goto("/ui/worklist")
    with page.expect_download() as download:
        page.click("#export")
    path = tmp_path / "worklist.csv"
    download.value.save_as(path)
    with path.open(newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == CSV_COLUMNS
    assert len(lines) - 1 == everything
    exported = {line[0]: dict(zip(CSV_COLUMNS, line, strict=True)) for line in lines[1:]}
    assert exported[invoice_id]["status"] == "promised"
    assert exported[invoice_id]["last_action"] == "promise_to_pay"
    risks = [float(line[CSV_COLUMNS.index("amount_at_risk")]) for line in lines[1:]]
    assert risks == sorted(risks, reverse=True)

    page.click("header form[action='/ui/logout'] button")
    page.wait_for_url("**/ui/login")
    page.goto("/ui/worklist")
    assert "/ui/login" in page.url
    page.screenshot(path=shots / "07-signed-out.png")


def test_a_wrong_key_and_a_service_key_are_refused(page, live_server, shots):
    sign_in(page, "arb_000000000000_not-a-real-key")
    assert "not valid" in page.locator(".alert").inner_text()
    page.screenshot(path=shots / "08-wrong-key.png")
    sign_in(page, live_server.tokens["service"])
    assert page.locator(".alert").inner_text() == (
        "A service key cannot sign in to the web app; use a collector or admin key."
    )
    page.goto("/ui/worklist")
    assert "/ui/login" in page.url


def test_a_collector_cannot_reach_admin_pages_and_an_admin_can(page, live_server, shots):
    sign_in(page, live_server.tokens["collector"])
    page.wait_for_url("**/ui/worklist")
    assert page.locator("header nav a", has_text="Admin").count() == 0
    response = page.goto("/ui/admin")
    assert response.status == 403
    assert "for admin keys only" in page.locator(".alert").inner_text()
    page.screenshot(path=shots / "09-collector-refused-admin.png")

    page.context.clear_cookies()
    sign_in(page, live_server.tokens["admin"])
    page.goto("/ui/admin")
    keys = page.locator("#keys tbody").inner_text()
    assert "collector of the tests" in keys and "arb_" not in keys
    page.screenshot(path=shots / "10-admin.png")


def test_the_overview_charts_one_currency_at_a_time(page, live_server, shots):
    sign_in(page, live_server.tokens["collector"])
    page.goto("/ui/overview")
    assert page.locator("svg.chart").count() == 3
    default = page.locator("select[name=currency]").input_value()
    assert default == "USD"
    assert "never added together" in page.locator("p.summary").inner_text()
    page.screenshot(path=shots / "11-overview.png", full_page=True)
    page.select_option("select[name=currency]", "EUR")
    page.wait_for_url("**/ui/overview?currency=EUR")
    assert "Receivables by owner EUR" in page.locator("h2").nth(1).inner_text()
