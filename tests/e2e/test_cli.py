"""The `flashdispatch` command line: tokens, migrations, and building road networks."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import asyncpg

from dispatch.cli import main
from geo.loading import load_road_network

DATA = Path(__file__).resolve().parent.parent / "data" / "osm"


def test_token_create_prints_a_secret_stored_only_as_its_hash(database_url, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FLASHDISPATCH_HOME", str(tmp_path))
    assert main(["token", "create", "--role", "courier", "--courier", "c9"]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert len(secret) > 40

    async def stored():
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetchrow("SELECT role, courier_id, token_hash FROM tokens WHERE token_hash = $1",
                                       hashlib.sha256(secret.encode()).digest())
        finally:
            await conn.close()

    row = asyncio.run(stored())
    assert row is not None and row["role"] == "courier" and row["courier_id"] == "c9"
    assert main(["token", "create", "--role", "store"]) == 2  # a store token needs --store


def test_migrate_is_safe_to_rerun(database_url, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FLASHDISPATCH_HOME", str(tmp_path))
    assert main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_bad_environment_is_named(monkeypatch, capsys):
    monkeypatch.setenv("FLASHDISPATCH_PORT", "eighty")
    assert main(["migrate"]) == 2
    assert "FLASHDISPATCH_PORT" in capsys.readouterr().err


def test_graph_build_and_tile_make_loadable_networks(monkeypatch, tmp_path):
    monkeypatch.setenv("FLASHDISPATCH_HOME", str(tmp_path / "home"))
    built = tmp_path / "jingan.graphml"
    assert main(["graph", "build", "--osm", str(DATA / "shanghai-jingan.osm"), "--out", str(built)]) == 0
    network = load_road_network(built)
    assert network.node_count > 100
    tiled = tmp_path / "city.graphml"
    assert main(["graph", "tile", "--graph", str(built), "--grid", "2x2", "--out", str(tiled)]) == 0
    city = load_road_network(tiled)
    assert city.node_count >= 3 * network.node_count
