"""Machine opens (privacy proxies, bots) and scanner clicks are told apart from people."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tutorpulse.email.machines import classify_click, classify_open, parse_networks

IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
DESKTOP_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0 Safari/537.36"
)
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
SENT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ua", "ip", "reason"),
    [
        ("Mozilla/5.0", "203.0.113.9", "apple_mpp_user_agent"),
        (IPHONE_MAIL, "17.58.101.4", "apple_network"),
        ("python-requests/2.31", "198.51.100.1", "scanner_user_agent"),
        ("Barracuda Sentinel (EE)", "198.51.100.1", "scanner_user_agent"),
        ("", "198.51.100.1", "scanner_user_agent"),
        (None, None, "scanner_user_agent"),
    ],
)
def test_machine_opens(ua: str | None, ip: str | None, reason: str) -> None:
    verdict = classify_open(user_agent=ua, ip=ip)
    assert verdict.is_machine
    assert verdict.reason == reason


@pytest.mark.parametrize("ua", [IPHONE_MAIL, DESKTOP_CHROME, GMAIL_PROXY])
def test_human_opens(ua: str) -> None:
    # Gmail's image proxy fetches when the reader opens the message: a person.
    assert not classify_open(user_agent=ua, ip="203.0.113.9").is_machine


def test_click_within_window_of_sending_is_a_scanner() -> None:
    soon = classify_click(
        user_agent=DESKTOP_CHROME,
        ip="203.0.113.9",
        sent_at=SENT,
        now=SENT + timedelta(seconds=3),
        window_seconds=10,
    )
    assert soon.is_machine
    assert soon.reason == "too_soon_after_send"
    later = classify_click(
        user_agent=DESKTOP_CHROME,
        ip="203.0.113.9",
        sent_at=SENT,
        now=SENT + timedelta(seconds=10),
        window_seconds=10,
    )
    assert not later.is_machine
    off = classify_click(
        user_agent=DESKTOP_CHROME,
        ip="203.0.113.9",
        sent_at=SENT,
        now=SENT + timedelta(seconds=1),
        window_seconds=0,
    )
    assert not off.is_machine


@pytest.mark.parametrize(
    ("ua", "method", "reason"),
    [
        ("Mozilla/5.0 (compatible; Proofpoint URL Defense)", "GET", "scanner_user_agent"),
        ("Go-http-client/1.1", "GET", "scanner_user_agent"),
        ("Slackbot-LinkExpanding 1.0", "GET", "scanner_user_agent"),
        (DESKTOP_CHROME, "HEAD", "head_request"),
    ],
)
def test_scanner_clicks(ua: str, method: str, reason: str) -> None:
    verdict = classify_click(
        user_agent=ua,
        ip="203.0.113.9",
        sent_at=SENT,
        now=SENT + timedelta(hours=2),
        window_seconds=10,
        method=method,
    )
    assert verdict.is_machine
    assert verdict.reason == reason


def test_configured_proxy_networks_mark_opens_as_machine() -> None:
    networks = parse_networks("104.28.0.0/16, 2a02:26f7:b3c0::/44\n172.224.226.0/27")
    assert len(networks) == 3
    verdict = classify_open(user_agent=IPHONE_MAIL, ip="104.28.1.9", extra_proxy_networks=networks)
    assert verdict.is_machine
    assert verdict.reason == "proxy_network"
    v6 = classify_open(
        user_agent=IPHONE_MAIL, ip="2a02:26f7:b3c1::1", extra_proxy_networks=networks
    )
    assert v6.is_machine
    outside = classify_open(
        user_agent=IPHONE_MAIL, ip="198.51.100.1", extra_proxy_networks=networks
    )
    assert not outside.is_machine
    assert parse_networks("") == ()
    with pytest.raises(ValueError, match=re.escape("'10.0.0.300/8' is not an IP network")):
        parse_networks("10.0.0.0/8, 10.0.0.300/8")
