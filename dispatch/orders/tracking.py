"""The customer's tracking link: an unguessable token in a path, looked up by its SHA-256 only."""

from __future__ import annotations

import hashlib
import secrets

#: The link's path prefix; the migration that derives the digest (0008) strips exactly this.
TRACKING_PREFIX = "/t/"
#: Random bytes behind a token: 24 bytes = 192 bits, 32 URL-safe characters.
TOKEN_BYTES = 24


def tracking_url() -> str:
    """A fresh tracking link, ``/t/<token>`` (the token is shown to the order system once, in the 201)."""
    return TRACKING_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def tracking_digest(token: str) -> bytes:
    """The digest an order's link is found by (what the database keeps)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
