"""`flashdispatch migrate`: apply the migrations shipped in the package."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dispatch.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    del parser


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    import asyncpg

    from dispatch.postgres.database import resolve_database_url
    from dispatch.postgres.migrate import apply_migrations

    async def migrate() -> list[str]:
        conn = await asyncpg.connect(resolve_database_url(settings.database_url, settings.home))
        try:
            return await apply_migrations(conn)
        finally:
            await conn.close()

    applied = asyncio.run(migrate())
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0
