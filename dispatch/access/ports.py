"""What access control needs from storage (implemented in dispatch/postgres)."""

from __future__ import annotations

from typing import Protocol

from dispatch.access.tokens import Principal


class ActiveTokens(Protocol):
    async def active(self) -> dict[bytes, Principal]:
        """Every token that is not revoked, by digest."""
        ...
