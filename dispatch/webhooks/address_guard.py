"""The SSRF guard: which webhook URLs and addresses the service may post to."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from dispatch.errors import WebhookUrlRefused

MAX_URL_LENGTH = 2048
_LABEL = re.compile(rb"[A-Za-z0-9_-]{1,63}")  # a DNS label once IDNA-encoded (underscores: service names)


def parse_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL with a host; raises ``WebhookUrlRefused``."""
    if len(url) > MAX_URL_LENGTH:
        raise WebhookUrlRefused(f"url is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookUrlRefused(f"url is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookUrlRefused("url must be http or https")
    if not parts.hostname:
        raise WebhookUrlRefused("url has no host")
    if ip_literal(parts.hostname) is None and not is_host_name(parts.hostname):
        raise WebhookUrlRefused("url host is not a valid host name")
    if parts.username or parts.password:
        raise WebhookUrlRefused("url must not carry credentials")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def is_host_name(host: str) -> bool:
    """A name DNS can carry: IDNA-encodable, labels of 1 to 63 octets, 253 octets in all."""
    try:
        encoded = host.rstrip(".").encode("idna")
    except UnicodeError:
        return False
    labels = encoded.split(b".")
    return len(encoded) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


def ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_public(address: str) -> bool:
    """True for a globally routable unicast address. Loopback, private (RFC 1918, ULA), link-local,
    carrier-grade NAT, multicast, unspecified and reserved ranges are not (IPv4-mapped IPv6 is
    judged by its IPv4 address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def refuse_unless_public(host: str, addresses: list[str], *, allow_private: bool) -> None:
    """Raise ``WebhookUrlRefused`` if any address ``host`` resolves to is not public."""
    if allow_private:
        return
    for address in addresses:
        if not is_public(address):
            raise WebhookUrlRefused(
                f"{host} resolves to {address}, a loopback, private or link-local address"
                " (set FLASHDISPATCH_WEBHOOK_ALLOW_PRIVATE=1 to allow it)"
            )
