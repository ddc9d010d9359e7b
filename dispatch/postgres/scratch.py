"""Whole databases on a server: made fresh for a run (demo, bench, tests) and dropped after it."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def with_database(url: str, name: str) -> str:
    """Swap the database name in a postgresql:// URL (keeps ``?host=…`` for Unix sockets)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def create_database(server_url: str, name: str, *, replace: bool = False) -> str:
    """Create database ``name`` (dropping one of that name first if ``replace``); its URL."""
    conn = await asyncpg.connect(server_url)
    try:
        if replace:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def scratch_name(prefix: str) -> str:
    """A database name no other process picks: the prefix, this pid and a random suffix."""
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"


@contextlib.asynccontextmanager
async def scratch_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A fresh, empty database on the server, dropped afterwards (other databases untouched)."""
    name = scratch_name(prefix)
    url = await create_database(server_url, name)
    try:
        yield url
    finally:
        await drop_database(server_url, name)
