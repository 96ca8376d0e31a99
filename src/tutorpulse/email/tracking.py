"""Signed tracking links, the open pixel, unsubscribe links and machine-traffic classification.

Pure functions (no web framework, no database):

- Tokens are ``<payload>.<mac>``: the payload is compact JSON in URL-safe base64,
  the MAC is HMAC-SHA256 over a purpose label and the payload, truncated to 128
  bits, compared in constant time. The purpose ("o" open, "c" click, "u"
  unsubscribe) is part of what is signed, so a click token cannot be replayed as
  an unsubscribe token. Tokens do not expire: a link in a months-old email must
  keep working (and an unsubscribe link must, by law, for at least 30 days).
- ``instrument_html`` rewrites every http(s) ``<a href>`` to ``{base}/t/c/{token}``
  and appends a 1×1 open pixel ``{base}/t/o/{token}.gif``. ``mailto:``, ``tel:``,
  in-page anchors and our own unsubscribe/tracking links are left alone.
- Whether a hit was made by a machine is decided in ``email/machines.py``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html as html_lib
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tutorpulse.core.settings import Settings

OPEN = "o"
CLICK = "c"
UNSUBSCRIBE = "u"
_PURPOSES = (OPEN, CLICK, UNSUBSCRIBE)
_MAC_BYTES = 16  # HMAC-SHA256 truncated to 128 bits (RFC 2104 §5 allows truncation)
_KDF_LABEL = b"tutorpulse email tracking v1"
SECRET_FILE_NAME = "email-tracking.key"  # noqa: S105 - a file name, not a secret
MAX_TOKEN_LENGTH = 4096  # longer path segments are rejected before any decoding

# 43-byte transparent 1×1 GIF89a.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

ONE_CLICK_POST_VALUE = "List-Unsubscribe=One-Click"


# --------------------------------------------------------------------- secret


def signing_secret(settings: Settings) -> bytes:
    """The key every tracking/unsubscribe token is signed with.

    With ``TUTORPULSE_SECRET_KEY`` set, the key is derived from it (HMAC with a
    fixed label, so the raw secret is not reused for another purpose). Without
    it, a random 32-byte key is generated once into ``{data_dir}/email-tracking.key``
    (mode 0600) and read from there afterwards, so links stay valid across
    restarts of one installation; processes on several machines must share
    ``SECRET_KEY`` instead. There is never a built-in key.
    """
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        raw = settings.secret_key.get_secret_value().encode()
        return hmac.new(raw, _KDF_LABEL, hashlib.sha256).digest()
    return _file_secret(Path(settings.data_dir) / SECRET_FILE_NAME)


def _file_secret(path: Path) -> bytes:
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode())
    finally:
        os.close(fd)
    try:
        # link() fails if another process got there first: then everyone uses its key.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    text = path.read_text().strip()
    if len(text) < 32:
        raise ValueError(f"{path} holds no usable tracking key; delete it to generate a new one")
    return hashlib.sha256(text.encode()).digest()


# --------------------------------------------------------------------- tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: str, payload: str) -> bytes:
    message = f"{purpose}|{payload}".encode("ascii")
    return hmac.new(secret, message, hashlib.sha256).digest()[:_MAC_BYTES]


def sign_token(purpose: str, data: dict[str, Any], secret: bytes) -> str:
    """A URL-safe token carrying ``data`` for ``purpose`` (open, click or unsubscribe)."""
    if purpose not in _PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    payload = _b64(json.dumps(data, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_b64(_mac(secret, purpose, payload))}"


def read_token(purpose: str, token: str, secret: bytes) -> dict[str, Any] | None:
    """The data of a genuine token for ``purpose``; None if forged, altered or malformed."""
    if purpose not in _PURPOSES or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    payload, sep, mac_text = token.partition(".")
    if not sep or not payload or not mac_text:
        return None
    try:
        given = _unb64(mac_text)
        expected = _mac(secret, purpose, payload)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    # The MAC text must be the canonical encoding: base64 ignores the unused low
    # bits of its last character, so without this check a changed token could verify.
    if not hmac.compare_digest(given, expected) or _b64(given) != mac_text:
        return None
    try:
        data = json.loads(_unb64(payload))
    except (binascii.Error, ValueError):
        return None
    return data if isinstance(data, dict) else None


_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def looks_like_token(token: str) -> bool:
    """Cheap shape check (no key needed): ``<base64url>.<base64url>`` of a sane length."""
    return 0 < len(token) <= MAX_TOKEN_LENGTH and _TOKEN_SHAPE.match(token) is not None


@dataclass(frozen=True)
class OpenToken:
    intervention_id: int


@dataclass(frozen=True)
class ClickToken:
    intervention_id: int
    url: str


@dataclass(frozen=True)
class UnsubscribeToken:
    intervention_id: int
    email: str


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def verify_open_token(token: str, secret: bytes) -> OpenToken | None:
    data = read_token(OPEN, token, secret)
    iid = _int(data.get("i")) if data else None
    return OpenToken(iid) if iid is not None else None


def verify_click_token(token: str, secret: bytes) -> ClickToken | None:
    data = read_token(CLICK, token, secret)
    if not data:
        return None
    iid, url = _int(data.get("i")), data.get("u")
    if iid is None or not isinstance(url, str) or not is_trackable_url(url):
        return None
    return ClickToken(iid, url)


def verify_unsubscribe_token(token: str, secret: bytes) -> UnsubscribeToken | None:
    data = read_token(UNSUBSCRIBE, token, secret)
    if not data:
        return None
    iid, email = _int(data.get("i")), data.get("e")
    if iid is None or not isinstance(email, str) or "@" not in email:
        return None
    return UnsubscribeToken(iid, email)


# --------------------------------------------------------------------- URLs


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def open_pixel_url(*, intervention_id: int, base_url: str, secret: bytes) -> str:
    return f"{_base(base_url)}/t/o/{sign_token(OPEN, {'i': intervention_id}, secret)}.gif"


def click_url(*, intervention_id: int, url: str, base_url: str, secret: bytes) -> str:
    token = sign_token(CLICK, {"i": intervention_id, "u": url}, secret)
    return f"{_base(base_url)}/t/c/{token}"


def unsubscribe_url(*, intervention_id: int, email: str, base_url: str, secret: bytes) -> str:
    """The one-click unsubscribe URL for this message and recipient (``{base}/u/{token}``)."""
    token = sign_token(UNSUBSCRIBE, {"i": intervention_id, "e": email}, secret)
    return f"{_base(base_url)}/u/{token}"


def unsubscribe_headers(
    *,
    intervention_id: int,
    email: str,
    base_url: str,
    secret: bytes,
    mailto: str | None = None,
) -> dict[str, str]:
    """``List-Unsubscribe`` (RFC 2369) and ``List-Unsubscribe-Post`` (RFC 8058) headers.

    The URL accepts ``POST`` with body ``List-Unsubscribe=One-Click`` and no
    cookies or login, as RFC 8058 requires. RFC 8058 also requires an https URI:
    ``PUBLIC_BASE_URL`` must be https in production. ``mailto`` (an address) adds
    a second, mail-based option for clients that only support that.
    """
    url = unsubscribe_url(
        intervention_id=intervention_id, email=email, base_url=base_url, secret=secret
    )
    value = f"<{url}>"
    if mailto:
        value += f", <mailto:{mailto}?subject={quote('unsubscribe')}>"
    return {"List-Unsubscribe": value, "List-Unsubscribe-Post": ONE_CLICK_POST_VALUE}


def is_trackable_url(url: str) -> bool:
    """True for absolute http(s) URLs (the only ones wrapped and redirected to)."""
    lowered = url.strip().lower()
    return lowered.startswith(("http://", "https://")) and len(url) <= 2048


# --------------------------------------------------------------------- HTML

_A_HREF = re.compile(
    r"""(<a\b[^>]*?\bhref\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE | re.DOTALL
)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)
_TEXT_URL = re.compile(r"""https?://[^\s<>"']+""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}>'\""


def _own_link(url: str, base_url: str) -> bool:
    base = _base(base_url)
    return url.startswith((f"{base}/u/", f"{base}/t/"))


def instrument_html(html: str, *, intervention_id: int, base_url: str, secret: bytes) -> str:
    """``html`` with every http(s) link wrapped in a signed click redirect and an open pixel.

    Links to our own unsubscribe/tracking endpoints and non-http links
    (``mailto:``, ``tel:``, ``#anchor``) are left as they are. The pixel goes
    just before ``</body>`` (or at the end when there is none).
    """

    def wrap(match: re.Match[str]) -> str:
        raw = match.group(2) if match.group(2) is not None else match.group(3)
        url = html_lib.unescape(raw).strip()
        if not is_trackable_url(url) or _own_link(url, base_url):
            return match.group(0)
        tracked = click_url(
            intervention_id=intervention_id, url=url, base_url=base_url, secret=secret
        )
        return f'{match.group(1)}"{html_lib.escape(tracked)}"'

    out = _A_HREF.sub(wrap, html)
    pixel_src = open_pixel_url(intervention_id=intervention_id, base_url=base_url, secret=secret)
    pixel = (
        f'<img src="{html_lib.escape(pixel_src)}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px">'
    )
    closes = list(_BODY_CLOSE.finditer(out))
    if closes:
        at = closes[-1].start()
        return out[:at] + pixel + out[at:]
    return out + pixel


def message_urls(html: str | None, text: str | None, *, base_url: str, secret: bytes) -> set[str]:
    """Every http(s) URL a message links to, as the recipient saw it before wrapping.

    Reads ``<a href>`` values of the HTML and bare URLs of the text part; our own
    click-redirect links are decoded (only when genuinely signed) back to their
    target. The click endpoint redirects only to a URL in this set.
    """
    found: set[str] = set()
    for match in _A_HREF.finditer(html or ""):
        raw = match.group(2) if match.group(2) is not None else match.group(3)
        found.add(html_lib.unescape(raw).strip())
    for match in _TEXT_URL.finditer(text or ""):
        found.add(match.group(0).rstrip(_TRAILING))
    prefix = f"{_base(base_url)}/t/c/"
    urls: set[str] = set()
    for url in found:
        if url.startswith(prefix):
            click = verify_click_token(url[len(prefix) :], secret)
            if click is not None:
                urls.add(click.url)
        elif is_trackable_url(url):
            urls.add(url)
    return urls
