"""API tokens: roles, scopes, and the hash we store instead of the secret."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dispatch.orders.events import Actor
from dispatch.orders.lifecycle import ActorType


class Role(StrEnum):
    OPERATOR = "operator"
    STORE = "store"
    ORDER_SYSTEM = "order_system"
    COURIER = "courier"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a role and, for store and courier tokens, the one resource it acts for."""

    token_id: str
    role: Role
    store_id: str | None = None
    courier_id: str | None = None

    def can_act_for_store(self, store_id: str) -> bool:
        return self.role is Role.OPERATOR or (
            self.role is Role.STORE and self.store_id == store_id
        )

    @property
    def actor(self) -> Actor:
        """How this caller appears in an order's audit trail: its store, its courier, or its token."""
        return Actor(ActorType(self.role.value), self.store_id or self.courier_id or self.token_id)

    def can_act_for_courier(self, courier_id: str) -> bool:
        return self.role is Role.OPERATOR or (
            self.role is Role.COURIER and self.courier_id == courier_id
        )


@dataclass(frozen=True, slots=True)
class TokenRecord:
    token_id: str
    role: Role
    store_id: str | None
    courier_id: str | None
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewToken:
    """A freshly minted token: the secret is shown once, only its hash is kept."""

    token_id: str
    secret: str
    digest: bytes


def hash_token(secret: str) -> bytes:
    """SHA-256 of the secret: 256-bit random secrets need no slow password hash."""
    return hashlib.sha256(secret.encode("utf-8")).digest()


def mint_token() -> NewToken:
    secret = "fd_" + secrets.token_urlsafe(32)  # 256 bits of randomness
    return NewToken(token_id="tok_" + secrets.token_hex(8), secret=secret, digest=hash_token(secret))


def check_scope(role: Role, store_id: str | None, courier_id: str | None) -> str | None:
    """Why this role/scope combination is invalid, or None when it is fine."""
    if role is Role.STORE and not store_id:
        return "a store token needs store_id"
    if role is Role.COURIER and not courier_id:
        return "a courier token needs courier_id"
    if role is not Role.STORE and store_id:
        return "store_id is only for store tokens"
    if role is not Role.COURIER and courier_id:
        return "courier_id is only for courier tokens"
    return None
