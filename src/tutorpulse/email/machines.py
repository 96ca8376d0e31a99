"""Was a tracking hit made by a person or a machine? (pure)

``classify_open`` / ``classify_click`` flag mail privacy proxies, link scanners,
HEAD probes and clicks too soon after sending. Machine hits are recorded with
``is_machine=True`` and kept out of engagement figures.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """CIDR ranges from a comma- or whitespace-separated list; ValueError names a bad one."""
    networks: list[Network] = []
    for item in re.split(r"[,\s]+", text.strip()):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an IP network (CIDR)") from exc
    return tuple(networks)


@dataclass(frozen=True)
class Verdict:
    """Whether a tracking hit came from a machine, and why (None for a person)."""

    is_machine: bool
    reason: str | None = None


HUMAN = Verdict(False, None)

# Apple Mail Privacy Protection fetches every remote image of a message through
# Apple's proxies when the message is downloaded, whether or not it is read.
# Sources: Bird (SparkPost), "4 insights on the not-immediately-obvious impacts of
# iOS 15 Mail Privacy Protection", 2021: the proxy sends the bare user agent
# "Mozilla/5.0" (which may change); SocketLabs, "Identifying Apple MPP opens":
# images are fetched through at least two proxies on download; Word to the Wise,
# "Apple MPP reporting and geolocation", 2021: MPP runs on the iCloud Private
# Relay infrastructure, whose egress ranges Apple publishes as a CSV that changes
# often (configure them as ``EMAIL_MACHINE_OPEN_NETWORKS``). 17.0.0.0/8 is Apple's own
# registered network (ARIN): a fetch from there is Apple's servers, not a reader.
APPLE_PROXY_USER_AGENTS = frozenset({"mozilla/5.0"})
APPLE_NETWORKS = (ipaddress.ip_network("17.0.0.0/8"),)

# Substrings (lower case) of user agents of link scanners, previewers and HTTP
# libraries: security gateways (Safe Links, Proofpoint, Mimecast, Barracuda)
# pre-fetch every link in a message on delivery; chat apps unfurl links.
SCANNER_USER_AGENT_MARKERS = (
    "bot",
    "crawler",
    "spider",
    "scanner",
    "preview",
    "barracuda",
    "proofpoint",
    "mimecast",
    "urldefense",
    "safelinks",
    "fireeye",
    "trendmicro",
    "symantec",
    "forcepoint",
    "headlesschrome",
    "phantomjs",
    "python-requests",
    "python-httpx",
    "python-urllib",
    "aiohttp",
    "go-http-client",
    "curl/",
    "wget/",
    "java/",
    "okhttp",
    "libwww-perl",
    "facebookexternalhit",
    "slackbot",
    "whatsapp",
)


def _in_networks(ip: str | None, networks: tuple[Network, ...]) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in networks)


def _scanner_ua(user_agent: str | None) -> bool:
    ua = (user_agent or "").strip().lower()
    return not ua or any(marker in ua for marker in SCANNER_USER_AGENT_MARKERS)


def classify_open(
    *,
    user_agent: str | None,
    ip: str | None,
    extra_proxy_networks: tuple[Network, ...] = (),
) -> Verdict:
    """Machine if an Apple privacy proxy or a scanner/bot fetched the pixel."""
    ua = (user_agent or "").strip().lower()
    if ua in APPLE_PROXY_USER_AGENTS:
        return Verdict(True, "apple_mpp_user_agent")
    if _in_networks(ip, APPLE_NETWORKS):
        return Verdict(True, "apple_network")
    if _in_networks(ip, extra_proxy_networks):
        return Verdict(True, "proxy_network")
    if _scanner_ua(user_agent):
        return Verdict(True, "scanner_user_agent")
    return HUMAN


def classify_click(
    *,
    user_agent: str | None,
    ip: str | None,
    sent_at: datetime | None,
    now: datetime,
    window_seconds: int,
    method: str = "GET",
) -> Verdict:
    """Machine if a scanner user agent, a HEAD probe, or within ``window_seconds`` of sending.

    Security gateways follow every link while the message is being delivered;
    a person needs longer than that to open the message and click.
    """
    if method.upper() == "HEAD":
        return Verdict(True, "head_request")
    if _scanner_ua(user_agent):
        return Verdict(True, "scanner_user_agent")
    if (
        sent_at is not None
        and window_seconds > 0
        and (now - sent_at).total_seconds() < window_seconds
    ):
        return Verdict(True, "too_soon_after_send")
    return HUMAN
