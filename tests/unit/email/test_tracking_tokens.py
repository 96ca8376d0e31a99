"""Signed tracking tokens, link instrumentation and List-Unsubscribe headers (pure)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from pydantic import SecretStr

from tutorpulse.core.settings import Settings
from tutorpulse.email import tracking

SECRET = b"s" * 32
BASE = "https://tp.example.test"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.imgs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")
        if tag == "img":
            self.imgs.append(dict(attrs))


def parse(html: str) -> _Links:
    p = _Links()
    p.feed(html)
    return p


def test_tokens_round_trip_per_purpose() -> None:
    token = tracking.sign_token(tracking.CLICK, {"i": 7, "u": "https://a.test/x"}, SECRET)
    assert tracking.verify_click_token(token, SECRET) == tracking.ClickToken(7, "https://a.test/x")
    # The purpose is signed: a click token is neither an open nor an unsubscribe token.
    assert tracking.verify_open_token(token, SECRET) is None
    assert tracking.verify_unsubscribe_token(token, SECRET) is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # altered MAC
        lambda t: "eyJpIjo4fQ" + t[t.index(".") :],  # payload swapped for {"i":8}
        lambda t: t.split(".")[0],  # MAC stripped
        lambda t: t + "." + t,
        lambda t: "",
        lambda t: "!!!." + t.split(".")[1],
    ],
)
def test_altered_or_forged_tokens_are_refused(mutate) -> None:  # type: ignore[no-untyped-def]
    token = tracking.sign_token(tracking.OPEN, {"i": 7}, SECRET)
    assert tracking.verify_open_token(token, SECRET) == tracking.OpenToken(7)
    assert tracking.verify_open_token(mutate(token), SECRET) is None


def test_token_signed_with_another_key_is_refused() -> None:
    token = tracking.sign_token(tracking.OPEN, {"i": 7}, b"x" * 32)
    assert tracking.verify_open_token(token, SECRET) is None


def test_click_token_for_non_http_url_is_refused() -> None:
    token = tracking.sign_token(tracking.CLICK, {"i": 1, "u": "javascript:alert(1)"}, SECRET)
    assert tracking.verify_click_token(token, SECRET) is None


def test_instrument_html_wraps_http_links_and_appends_pixel() -> None:
    html = (
        "<html><body><p>Hi</p>"
        '<a href="https://portal.test/login?a=1&amp;b=2">Log in</a>'
        "<a href='http://portal.test/help'>Help</a>"
        '<a href="mailto:help@portal.test">Mail us</a>'
        '<a href="#top">Top</a>'
        f'<a href="{BASE}/u/abc.def">Unsubscribe</a>'
        "</body></html>"
    )
    out = tracking.instrument_html(html, intervention_id=42, base_url=BASE + "/", secret=SECRET)
    links = parse(out)
    tracked = [h for h in links.hrefs if h.startswith(f"{BASE}/t/c/")]
    assert len(tracked) == 2
    targets = {tracking.verify_click_token(h.removeprefix(f"{BASE}/t/c/"), SECRET) for h in tracked}
    assert targets == {
        tracking.ClickToken(42, "https://portal.test/login?a=1&b=2"),
        tracking.ClickToken(42, "http://portal.test/help"),
    }
    assert "mailto:help@portal.test" in links.hrefs
    assert "#top" in links.hrefs
    assert f"{BASE}/u/abc.def" in links.hrefs
    # Exactly one pixel, before </body>, 1×1 with empty alt, carrying a genuine open token.
    assert len(links.imgs) == 1
    img = links.imgs[0]
    assert (img["width"], img["height"], img["alt"]) == ("1", "1", "")
    match = re.fullmatch(rf"{re.escape(BASE)}/t/o/(.+)\.gif", img["src"] or "")
    assert match
    assert tracking.verify_open_token(match.group(1), SECRET) == tracking.OpenToken(42)
    assert out.index("<img") < out.index("</body>")


def test_instrument_html_without_body_appends_pixel_at_end() -> None:
    out = tracking.instrument_html("<p>x</p>", intervention_id=1, base_url=BASE, secret=SECRET)
    assert out.startswith("<p>x</p>")
    assert out.endswith(">")
    assert len(parse(out).imgs) == 1


def test_message_urls_decodes_tracked_links_and_reads_text_part() -> None:
    html = tracking.instrument_html(
        '<a href="https://portal.test/a">a</a>', intervention_id=3, base_url=BASE, secret=SECRET
    )
    forged = f'<a href="{BASE}/t/c/eyJpIjozLCJ1IjoiaHR0cHM6Ly9ldmlsLnRlc3QifQ.AAAA">x</a>'
    urls = tracking.message_urls(
        html + forged,
        "Visit https://portal.test/b, or https://portal.test/c.",
        base_url=BASE,
        secret=SECRET,
    )
    assert urls == {"https://portal.test/a", "https://portal.test/b", "https://portal.test/c"}


def test_unsubscribe_headers_follow_rfc_8058() -> None:
    headers = tracking.unsubscribe_headers(
        intervention_id=9, email="ana@example.test", base_url=BASE, secret=SECRET, mailto="u@x.test"
    )
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    value = headers["List-Unsubscribe"]
    https_part, mailto_part = value.split(", ")
    assert https_part.startswith(f"<{BASE}/u/")
    assert https_part.endswith(">")
    token = https_part[len(f"<{BASE}/u/") : -1]
    assert tracking.verify_unsubscribe_token(token, SECRET) == tracking.UnsubscribeToken(
        9, "ana@example.test"
    )
    assert mailto_part == "<mailto:u@x.test?subject=unsubscribe>"
    only_https = tracking.unsubscribe_headers(
        intervention_id=9, email="ana@example.test", base_url=BASE, secret=SECRET
    )
    assert "mailto" not in only_https["List-Unsubscribe"]


def test_signing_secret_derived_from_secret_key(tmp_path: Path) -> None:
    a = Settings(_env_file=None, secret_key=SecretStr("k1" * 20), data_dir=tmp_path)  # type: ignore[call-arg]
    b = Settings(_env_file=None, secret_key=SecretStr("k2" * 20), data_dir=tmp_path)  # type: ignore[call-arg]
    assert tracking.signing_secret(a) == tracking.signing_secret(a)
    assert tracking.signing_secret(a) != tracking.signing_secret(b)
    assert tracking.signing_secret(a) != ("k1" * 20).encode()  # not the raw key
    assert not (tmp_path / tracking.SECRET_FILE_NAME).exists()


def test_signing_secret_without_key_is_generated_once_per_data_dir(tmp_path: Path) -> None:
    s = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    first = tracking.signing_secret(s)
    key_file = tmp_path / "data" / tracking.SECRET_FILE_NAME
    assert key_file.exists()
    assert (key_file.stat().st_mode & 0o777) == 0o600
    assert tracking.signing_secret(s) == first
    other = Settings(_env_file=None, data_dir=tmp_path / "other")  # type: ignore[call-arg]
    assert tracking.signing_secret(other) != first


def test_looks_like_token() -> None:
    assert tracking.looks_like_token(tracking.sign_token(tracking.OPEN, {"i": 1}, SECRET))
    assert not tracking.looks_like_token("T0001")
    assert not tracking.looks_like_token("a.b/c")


def test_every_single_character_change_is_refused() -> None:
    # Including changes base64 would otherwise ignore (the unused bits of the last character).
    token = tracking.sign_token(tracking.CLICK, {"i": 5, "u": "https://a.test/"}, SECRET)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for position in range(len(token)):
        for replacement in alphabet:
            if replacement == token[position] or token[position] == ".":
                continue
            changed = token[:position] + replacement + token[position + 1 :]
            assert tracking.verify_click_token(changed, SECRET) is None, (position, replacement)
