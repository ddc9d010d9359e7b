"""`flashdispatch token create`: mint an API token and print it (shown once, stored hashed)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dispatch.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", required=True, choices=("operator", "store", "order_system", "courier"))
    parser.add_argument("--store", dest="store_id", help="the store a store token acts for")
    parser.add_argument("--courier", dest="courier_id", help="the courier a courier token acts for")
    parser.add_argument("--label", help="a note to tell tokens apart")


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    import asyncpg

    from dispatch.access.tokens import Role, check_scope, mint_token
    from dispatch.clock import SystemClock
    from dispatch.postgres.database import resolve_database_url
    from dispatch.postgres.migrate import apply_migrations
    from dispatch.postgres.tokens import PostgresTokenRepository

    role = Role(args.role)
    problem = check_scope(role, args.store_id, args.courier_id)
    if problem:
        print(f"flashdispatch token create: {problem}", file=sys.stderr)
        return 2

    async def create() -> str:
        url = resolve_database_url(settings.database_url, settings.home)
        pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                await apply_migrations(conn)
            token = mint_token()
            await PostgresTokenRepository(pool).create(
                token, role=role, store_id=args.store_id, courier_id=args.courier_id,
                label=args.label, now=SystemClock().now(),
            )
            return token.secret
        finally:
            await pool.close()

    print(asyncio.run(create()))
    return 0
