"""HTML pages (parsed, not string-matched): layout, overview, tutors list, tutor page."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from bs4 import BeautifulSoup

from tutorpulse.web.templating import fmt_date, fmt_number, fmt_percent


def soup_of(response: Any) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return BeautifulSoup(response.text, "html.parser")


def text(node: Any) -> str:
    return " ".join(node.get_text(" ", strip=True).split())


# --- layout ---------------------------------------------------------------------------------


def test_layout_has_search_user_menu_nav_and_as_of(world: Any, viewer: Any) -> None:
    soup = soup_of(viewer.client.get("/"))
    search = soup.find("form", role="search")
    assert search["action"] == "/tutors"
    assert search.find("input", {"name": "q"})
    assert viewer.user.email in text(soup.find(attrs={"data-testid": "user"}))
    logout = soup.find("form", action="/logout")
    assert logout.find("input", {"name": "csrf_token"})["value"] == viewer.csrf_token
    nav = soup.find("nav", attrs={"aria-label": "Main"})
    links = {a.get_text(strip=True): a["href"] for a in nav.find_all("a")}
    assert links["Overview"] == "/"
    assert links["Tutors"] == "/tutors"
    assert "Audit log" not in links  # admins only
    # Only pages that exist are linked.
    for href in links.values():
        assert viewer.client.get(href).status_code == 200, href
    assert nav.find("a", attrs={"aria-current": "page"})["href"] == "/"
    as_of = soup.find(attrs={"data-testid": "as-of"})
    assert "2025-03-01 00:00 UTC" in text(as_of)
    assert "times in UTC" in text(as_of)
    # HTMX requests carry the CSRF token.
    assert json.loads(soup.body["hx-headers"]) == {"X-CSRF-Token": viewer.csrf_token}


def test_admin_sees_the_audit_link_and_page(world: Any, admin: Any) -> None:
    soup = soup_of(admin.client.get("/"))
    assert soup.find("nav").find("a", href="/audit") is not None
    page = soup_of(admin.client.get("/audit"))
    assert "entries" in text(page.find(class_="lead"))


# --- overview ------------------------------------------------------------------------------------


def test_overview_cards_show_the_api_numbers(world: Any, viewer: Any) -> None:
    api = {k["key"]: k for k in viewer.client.get("/api/dashboard/overview").json()["kpis"]}
    soup = soup_of(viewer.client.get("/"))
    cards = {c["data-kpi"]: c for c in soup.find_all("article", class_="kpi")}
    assert set(cards) == set(api)
    for key, kpi in api.items():
        card = cards[key]
        shown = text(card.find(class_="kpi-value"))
        expected = fmt_percent(kpi["value"]) if kpi["unit"] == "rate" else fmt_number(kpi["value"])
        assert shown == expected, key
        tooltip = card.find(role="tooltip")
        assert tooltip.get_text(strip=True) == kpi["how"]
        assert card.find("button", class_="how")["aria-describedby"] == tooltip["id"]
        assert card.find("svg", class_="spark").find("polyline")["points"]
    assert text(cards["completion_rate"].find(class_="kpi-value")) == "66.7%"
    change = cards["tutors"].find(class_="kpi-change")
    assert text(change).startswith("▲ +25.0%")
    assert "good" in change["class"]
    no_show = cards["tutor_no_show_rate"].find(class_="kpi-change")
    assert text(no_show).startswith("▲ +16.7 pp")
    assert "bad" in no_show["class"]
    assert "(worse)" in text(no_show)  # not colour alone


def test_overview_empty_database_says_what_to_do(viewer: Any) -> None:
    soup = soup_of(viewer.client.get("/"))
    empty = soup.find(class_="empty")
    assert "No tutors yet" in text(empty)
    assert "tutorpulse import" in text(empty)


# --- tutors list --------------------------------------------------------------------------------


def _rows(soup: BeautifulSoup) -> list[Any]:
    return soup.find("table", id="tutors").find("tbody").find_all("tr")


def test_tutor_list_rows_link_and_right_align_numbers(world: Any, viewer: Any) -> None:
    soup = soup_of(viewer.client.get("/tutors"))
    rows = _rows(soup)
    assert [r["data-tutor-id"] for r in rows] == [f"T000{i}" for i in range(1, 7)]
    ann = rows[0]
    assert ann.find("a")["href"] == "/tutors/T0001"
    cells = {td["data-col"]: td for td in ann.find_all("td", attrs={"data-col": True})}
    assert all("num" in td["class"] for td in cells.values())
    assert text(cells["sessions30d"]) == "3"
    assert text(cells["avgRating30d"]) == "4.00"
    assert text(cells["tutorNoShowRate30d"]) == "20.0%"
    headers = soup.find("table", id="tutors").find("thead").find_all("th")
    assert text(cells["priorityScore"]) == "—"  # no alerts run in this world yet
    numeric = [th for th in headers if "num" in (th.get("class") or [])]
    assert len(numeric) == 6
    assert text(soup.find(attrs={"data-testid": "tutor-total"})).startswith("6 tutors")


def test_tutor_list_filters_sort_and_htmx_partial(world: Any, viewer: Any) -> None:
    soup = soup_of(viewer.client.get("/tutors", params={"subject": "English"}))
    assert [r["data-tutor-id"] for r in _rows(soup)] == ["T0004", "T0005"]
    assert (
        soup.find("select", {"name": "subject"}).find("option", selected=True)["value"] == "English"
    )
    sorted_ = soup_of(viewer.client.get("/tutors", params={"sort": "sessions30d", "order": "desc"}))
    assert [r["data-tutor-id"] for r in _rows(sorted_)][:2] == ["T0001", "T0002"]
    th = sorted_.find("th", attrs={"aria-sort": True})
    assert th["aria-sort"] == "descending"
    assert "Sessions 30d" in text(th)
    partial = viewer.client.get("/tutors", params={"q": "chen"}, headers={"HX-Request": "true"})
    part = soup_of(partial)
    assert part.find("html") is None
    assert part.find("nav", attrs={"aria-label": "Main"}) is None
    assert [r["data-tutor-id"] for r in _rows(part)] == ["T0003"]


def test_tutor_list_paging_links(world: Any, viewer: Any) -> None:
    soup = soup_of(viewer.client.get("/tutors", params={"limit": 25, "offset": 0}))
    assert soup.find("a", rel="next") is None
    small = soup_of(viewer.client.get("/tutors", params={"limit": 1, "offset": 1}))
    pager = small.find("nav", class_="pager")
    assert "2–2 of 6" in text(pager)
    nxt = pager.find("a", rel="next")["href"]
    assert "offset=2" in nxt
    assert "limit=1" in nxt
    assert "offset=0" in pager.find("a", rel="prev")["href"]


def test_tutor_list_empty_state_explains(world: Any, viewer: Any) -> None:
    soup = soup_of(viewer.client.get("/tutors", params={"q": "nobody-by-this-name"}))
    empty = soup.find(attrs={"data-testid": "empty"})
    assert "No tutor matches" in text(empty)
    assert empty.find("a", href="/tutors") is not None


# --- tutor page ------------------------------------------------------------------------------------


def test_tutor_page_shows_live_figures_chart_sessions_and_events(world: Any, viewer: Any) -> None:
    api = viewer.client.get("/api/tutors/T0001").json()
    soup = soup_of(viewer.client.get("/tutors/T0001"))
    assert "T0001" in text(soup.find("h1"))
    assert "Ann Alvarez" in text(soup.find("h1"))
    stat = {s["data-stat"]: text(s) for s in soup.find_all(attrs={"data-stat": True})}
    assert stat["sessions30d"] == fmt_number(api["live"]["sessions30d"]) == "3"
    assert stat["avgRating30d"] == "4.00"
    assert stat["tutorNoShowRate30d"] == "20.0%"
    assert stat["firstSessionCount"] == "2"
    spec = json.loads(soup.find("canvas", id="ratings-chart")["data-chart"])
    assert spec["n"] == [w["n"] for w in api["ratingsByWeek"]]
    assert spec["mean"][-1] == 4.5
    method = text(soup.find(class_="method"))
    assert "n = 4 ratings" in method
    assert "95%" in method
    sessions = soup.find(attrs={"data-testid": "sessions"})
    assert len(sessions.find("tbody").find_all("tr")) == 7
    events = soup.find(attrs={"data-testid": "events"})
    assert "login" in text(events)
    risk = soup.find(id="risk-h").parent
    assert "Not scored yet" in text(risk)
    last = api["health"]["lastCompletedOn"]
    assert last is not None
    shown = text(soup.find(attrs={"data-health": "lastCompletedOn"}))
    assert shown == fmt_date(date.fromisoformat(last))


def test_tutor_page_sessions_fragment_for_htmx(world: Any, viewer: Any) -> None:
    response = viewer.client.get(
        "/tutors/T0001",
        params={"sessions_offset": 5},
        headers={"HX-Request": "true", "HX-Target": "sessions"},
    )
    soup = soup_of(response)
    assert soup.find("html") is None
    assert len(soup.find("tbody").find_all("tr")) == 2
    assert "6–7 of 7" in text(soup.find("nav", class_="pager"))


def test_tutor_page_shows_health_risk_when_scored(world: Any, viewer: Any, factory: Any) -> None:
    factory.health(world.tutors["T0002"], churn_probability=0.62, churn_risk_level="high")
    soup = soup_of(viewer.client.get("/tutors/T0002"))
    badge = soup.find(id="risk-h").parent.find(class_="badge")
    assert "sev-high" in badge["class"]
    assert text(badge) == "▲ High · 62.0%"


def test_unknown_tutor_page_is_a_404_page(world: Any, viewer: Any) -> None:
    response = viewer.client.get("/tutors/T9999")
    assert response.status_code == 404
    box = BeautifulSoup(response.text, "html.parser").find(class_="error-box")
    assert "Tutor T9999 not found" in text(box)


@pytest.mark.parametrize("path", ["/", "/tutors", "/tutors/T0001"])
def test_pages_use_only_local_assets(world: Any, viewer: Any, path: str) -> None:
    soup = soup_of(viewer.client.get(path))
    for tag in soup.find_all(["script", "link", "img"]):
        url = tag.get("src") or tag.get("href")
        if url:
            assert url.startswith("/static/"), url
    assert not soup.find_all("script", src=False)  # no inline scripts (CSP)
