"""Drive the dashboard in headless Chromium: log in, overview, filter tutors, a tutor page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tutorpulse.web.templating import fmt_number, fmt_percent

pytestmark = pytest.mark.browser

ADMIN_EMAIL = "admin@browser.test"
ADMIN_PASSWORD = "browser-test-password"


def _login(page: Any, base: str, next_path: str = "/") -> None:
    page.goto(f"{base}{next_path}")
    assert page.url.startswith(f"{base}/login?next=")
    page.fill("#email", ADMIN_EMAIL)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url(f"{base}{next_path}")


def _api(page: Any, path: str) -> Any:
    """GET an API path with the page's session cookie (a dashboard login may read)."""
    response = page.request.get(path)
    assert response.ok, response.text()
    return response.json()


def test_login_overview_tutors_and_tutor_page(
    live_server: Any, page: Any, screenshots: Path
) -> None:
    base = live_server.url
    _login(page, base, "/")

    # Overview: every card shows the API's value.
    kpis = _api(page, f"{base}/api/dashboard/overview")["kpis"]
    assert page.locator("article.kpi").count() == len(kpis) == 6
    for kpi in kpis:
        shown = page.locator(f"article[data-kpi='{kpi['key']}'] .kpi-value").inner_text().strip()
        expected = fmt_percent(kpi["value"]) if kpi["unit"] == "rate" else fmt_number(kpi["value"])
        assert shown == expected, kpi["key"]
    # The "how is this computed" tooltip appears on focus.
    page.focus("article[data-kpi='completion_rate'] button.how")
    assert page.locator("#how-completion_rate").is_visible()
    assert "2025-03-01 00:00 UTC" in page.locator("[data-testid=as-of]").inner_text()
    page.screenshot(path=str(screenshots / "overview.png"), full_page=True)

    # Tutors: filter by subject through HTMX (no full reload), URL follows.
    page.click("nav[aria-label=Main] >> text=Tutors")
    page.wait_for_url(f"{base}/tutors")
    page.select_option("#f-subject", "English")
    page.wait_for_url(re.compile(r".*subject=English.*"))
    expected_ids = [
        t["tutorId"] for t in _api(page, f"{base}/api/tutors?subject=English")["tutors"]
    ]
    page.wait_for_function(
        "n => document.querySelectorAll('#tutors tbody tr').length === n", arg=len(expected_ids)
    )
    shown_ids = page.locator("#tutors tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.tutorId)"
    )
    assert shown_ids == expected_ids
    api_rows = {t["tutorId"]: t for t in _api(page, f"{base}/api/tutors?subject=English")["tutors"]}
    first = expected_ids[0]
    row = page.locator(f"#tutors tbody tr[data-tutor-id='{first}']")
    assert row.locator("td[data-col=sessions30d]").inner_text() == fmt_number(
        api_rows[first]["sessions30d"]
    )
    assert row.locator("td[data-col=tutorNoShowRate30d]").inner_text() == fmt_percent(
        api_rows[first]["tutorNoShowRate30d"]
    )
    # Sorting by a numeric column, server-side.
    page.click("#tutors thead >> text=Sessions 30d")
    page.wait_for_url(re.compile(r".*sort=sessions30d.*"))
    page.wait_for_selector("th[aria-sort=descending]")
    page.screenshot(path=str(screenshots / "tutors.png"), full_page=True)

    # Search from the top bar, then open the tutor.
    page.fill("#global-search", "T0001")
    page.press("#global-search", "Enter")
    page.wait_for_url(re.compile(r".*/tutors\?q=T0001"))
    page.click("#tutors tbody a[href='/tutors/T0001']")
    page.wait_for_url(f"{base}/tutors/T0001")
    detail = _api(page, f"{base}/api/tutors/T0001")
    stats = {
        key: page.locator(f"[data-stat={key}]").inner_text().strip()
        for key in ("sessions7d", "sessions30d", "avgRating30d", "tutorNoShowRate30d")
    }
    assert stats["sessions7d"] == fmt_number(detail["live"]["sessions7d"])
    assert stats["sessions30d"] == fmt_number(detail["live"]["sessions30d"])
    assert stats["avgRating30d"] == fmt_number(detail["live"]["avgRating30d"], 2)
    assert stats["tutorNoShowRate30d"] == fmt_percent(detail["live"]["tutorNoShowRate30d"])
    # The ratings chart was drawn by Chart.js (the vendored file, allowed by the CSP).
    assert page.evaluate("() => !!window.Chart && !!Chart.getChart('ratings-chart')")
    assert "High" in page.locator("#risk-h + p").inner_text()
    # Older sessions load in place.
    page.click("#sessions a[rel=next]")
    page.wait_for_selector("#sessions >> text=21–")
    page.screenshot(path=str(screenshots / "tutor.png"), full_page=True)

    assert page.errors == []  # no CSP violation, no script error

    # Log out through the user menu.
    page.click("form[action='/logout'] button")
    page.wait_for_url(f"{base}/login")
    page.goto(f"{base}/tutors")
    assert page.url.startswith(f"{base}/login?next=")


def test_wrong_password_and_error_pages(live_server: Any, page: Any) -> None:
    base = live_server.url
    page.goto(f"{base}/login")
    page.fill("#email", ADMIN_EMAIL)
    page.fill("#password", "not the password")
    page.click("form.login button[type=submit]")
    assert page.locator("#login-error").inner_text() == "Email or password is not correct."
    _login(page, base, "/tutors")
    response = page.goto(f"{base}/tutors/T9999")
    assert response.status == 404
    assert "Tutor T9999 not found" in page.locator(".error-box").inner_text()
    page.click(".error-box >> text=Back to the overview")
    page.wait_for_url(f"{base}/")


def test_activation_page_charts_heatmap_and_timeline(
    live_server: Any, page: Any, screenshots: Path
) -> None:
    base = live_server.url
    _login(page, base, "/activation")
    platform = _api(page, f"{base}/api/engagement/metrics?days=30")["platform"]
    for key in ("dau", "wau", "mau"):
        shown = page.locator(f"article[data-kpi='{key}'] .kpi-value").inner_text().strip()
        assert shown == fmt_number(platform[key]["value"]), key
    assert platform["mau"]["value"] > 0  # the page is not showing an empty world
    # Every chart was drawn by Chart.js under the page's CSP.
    drawn = page.evaluate(
        "() => Array.from(document.querySelectorAll('canvas[data-chart]'))"
        ".filter(c => Chart.getChart(c)).length"
    )
    assert drawn == page.locator("canvas[data-chart]").count() >= 3
    assert page.locator("table[data-heatmap] tbody td").count() == 7 * 24
    page.fill("input[name=tutor]", "T0002")
    page.click("#timeline button[type=submit]")
    page.wait_for_selector("table[data-timeline]")
    api_events = _api(page, f"{base}/api/engagement/tutors/T0002/timeline?limit=25")["events"]
    assert page.locator("table[data-timeline] tbody tr").count() == len(api_events) > 0
    page.screenshot(path=str(screenshots / "activation.png"), full_page=True)
    assert page.errors == []
