"""The demo, end to end: a fresh database, the real service on a virtual clock, the simulated city,
the SLA report and its charts."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import secrets
import sys
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from dispatch.app import create_app
from dispatch.clock import VirtualClock
from dispatch.keys import SERVICES
from dispatch.orders.sla import OBJECTIVE
from dispatch.postgres.database import resolve_database_url
from dispatch.postgres.scratch import create_database
from dispatch.settings import Settings
from dispatch.sim.browser import BrowserError, screenshot_map
from dispatch.sim.city import City, DemoConfig, build_city, start_time
from dispatch.sim.demo_report import format_report, summarize, write_report
from dispatch.sim.demo_runner import DemoResult, DemoRunner
from dispatch.sim.rain_report import rain_figures
from dispatch.sim.scenario import RainDay
from dispatch.sim.weather import DRY
from dispatch.sim.webhook_receiver import WebhookReceiver
from geo.loading import load_road_network
from geo.network import RoadNetwork

DEMO_DATABASE = "flashdispatch_demo"


def say(message: str) -> None:
    """Progress, on stderr."""
    print(message, file=sys.stderr, flush=True)


async def run_demo(
    settings: Settings,
    args: argparse.Namespace,
    *,
    database: str = DEMO_DATABASE,
    figures_out: dict | None = None,
    rain: RainDay | None = None,
) -> int:
    """Play the day (the rain day of `rain`, if given); returns the exit code (0 ok, 1 an order
    unaccounted for, 3 SLO missed)."""
    wall = time.perf_counter()
    config = DemoConfig(
        stores=args.stores, couriers=args.couriers, minutes=args.minutes, seed=args.seed,
        weather=rain.weather if rain is not None else DRY,
    )  # fmt: skip
    config = _with_shelf_noise(config, args)
    network, database_url = await _prepare_world(settings, database)
    city = build_city(network, config)
    say(f"city: {len(city.shops)} shops, {len(city.couriers)} couriers, {len(city.orders)} orders planned")
    result, receiver, drained = await _play_day(
        settings, args, city=city, network=network, database_url=database_url, rain=rain
    )
    figures = summarize(result)
    if rain is not None:
        figures.update(rain_figures(result, rain))
    figures.update({f"webhook_{k}": v for k, v in receiver.summary().items()})
    figures["webhook_drained"] = drained
    figures["total_wall_seconds"] = round(time.perf_counter() - wall, 1)
    if figures_out is not None:
        figures_out.update(figures)
    report = format_report(figures)
    print(report)
    out = Path(args.out)
    files = write_report(result, figures, out, network=network, city=city)
    print(f"report and charts: {', '.join(str(f) for f in files)}")
    return _exit_code(figures)


def _with_shelf_noise(config: DemoConfig, args: argparse.Namespace) -> DemoConfig:
    """The shelf-noise options given on the command line (the city's defaults otherwise)."""
    short, split = getattr(args, "short_lines", None), getattr(args, "split_share", None)
    if short is not None:
        config = dataclasses.replace(config, short_line_share=short)
    if split is not None:
        config = dataclasses.replace(config, split_share=split)
    return config


def _day_settings(settings: Settings, city: City, operator_secret: str) -> Settings:
    """The service's settings for the day: the demo's operator token, rounds in lockstep with the
    simulated minutes, and webhooks allowed to the demo's own receiver on 127.0.0.1."""
    return dataclasses.replace(
        settings,
        operator_token=operator_secret,
        policy=dataclasses.replace(settings.policy, dispatch_interval_s=city.config.tick_s),
        webhooks=dataclasses.replace(settings.webhooks, allow_private=True),
    )


async def _prepare_world(settings: Settings, database: str) -> tuple[RoadNetwork, str]:
    """Load the road network and create a fresh database; returns the network and the database URL."""
    say(f"road network: {settings.road_network}")
    network = await asyncio.to_thread(
        load_road_network, settings.road_network, cache_dir=settings.home / "cache", progress=say
    )
    say(f"road network ready: {network.node_count:,} nodes")
    server = await asyncio.to_thread(resolve_database_url, settings.database_url, settings.home)
    database_url = await create_database(server, database, replace=True)  # every run starts from nothing
    where = "DATABASE_URL" if settings.database_url else "embedded PostgreSQL"
    say(f"database: fresh '{database}' on {where}")
    return network, database_url


async def _play_day(
    settings: Settings, args: argparse.Namespace, *, city: City, network: RoadNetwork, database_url: str,
    rain: RainDay | None,
) -> tuple[DemoResult, WebhookReceiver, bool]:
    """Serve the app on a virtual clock, in lockstep with the simulator, and play the city through it;
    a webhook receiver of the demo's own hears every order event. Returns the day, the receiver and
    whether the outbox drained."""
    operator_secret = "demo-" + secrets.token_urlsafe(24)
    settings = _day_settings(settings, city, operator_secret)
    clock = VirtualClock(start_time(city.config))
    receiver = WebhookReceiver(now=clock.now)  # lag in simulated time, like the rest of the report
    hook_url = await receiver.start()
    app = create_app(
        settings, clock=clock, registry=CollectorRegistry(), database_url=database_url, road_network=network,
        run_dispatch_loop=False,
    )  # fmt: skip
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    say(f"service: {base}   metrics: {base}/metrics   (virtual clock, dispatch in lockstep)")
    say(f"operators' map: {base}/ops   operator token for it: {operator_secret} (while the demo runs)")
    operator = {"Authorization": f"Bearer {operator_secret}"}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            async with session.post(base + "/v1/webhooks", json={"url": hook_url}, headers=operator) as r:
                receiver.secret = (await r.json())["secret"]
            say(f"webhook receiver: {hook_url} (verifies every delivery with the PyPI standardwebhooks)")
            await _zone_modes(session, base, operator, city, getattr(args, "on_overload", None))
            demo = DemoRunner(
                city=city, session=session, base_url=base, operator=operator, clock=clock,
                dispatch_round=app[SERVICES].dispatcher.tick, speed=args.speed, progress=say, rain=rain,
            )  # fmt: skip
            result = await demo.run(network)
        drained = await drain_webhooks(app, timeout_s=120)
        await _map_screenshot(base, operator_secret, Path(args.out))
    finally:
        await runner.cleanup()
        await receiver.stop()
    return result, receiver, drained


async def _zone_modes(
    session: aiohttp.ClientSession, base: str, operator: dict, city: City, on_overload: str | None
) -> None:
    """What the operator decided before the day (--on-overload): every zone's mode, through the API."""
    if on_overload is None:
        return
    for zone in sorted({shop.zone for shop in city.shops}):
        body = {"on_overload": on_overload, "reason": f"demo: on_overload {on_overload}"}
        async with session.put(f"{base}/v1/zones/{zone}/mode", json=body, headers=operator) as r:
            if r.status != 200:
                raise RuntimeError(f"zone mode for {zone}: {r.status} {await r.text()}")
    say(f"zone modes: on_overload {on_overload} in every zone")


async def _map_screenshot(base: str, operator_token: str, out: Path) -> None:
    """The operators' map at the end of the day, taken with Debian's headless chromium if present."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        saved = await screenshot_map(base, operator_token, out / "ops-map.png")
    except BrowserError as exc:  # a screenshot is a picture of the day, never a reason to fail it
        say(f"map screenshot failed: {exc}")
        return
    say(f"map screenshot: {saved}" if saved else "map screenshot skipped: no chromium (`make chromium`)")


async def drain_webhooks(app: web.Application, *, timeout_s: float) -> bool:
    """Wait until the relay has nothing pending (every event delivered); False on timeout."""
    relay = app[SERVICES].relay
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        await relay.fan_out()
        if (await relay.store.stats()).oldest_pending_at is None:
            return True
        await asyncio.sleep(0.1)
    return False


def _exit_code(figures: dict) -> int:
    """0 when the day went well, 1 when an order is unaccounted for or a webhook event was lost or
    forged, 3 when the SLO was missed."""
    if not figures["webhook_drained"] or figures["webhook_signature_failures"]:
        print("FAILED: the webhook receiver did not get every event, or a signature failed", file=sys.stderr)
        return 1
    if not figures["all_accounted"]:
        print("FAILED: some order is neither delivered, cancelled nor failed", file=sys.stderr)
        return 1
    if figures["on_time_share"] is None or figures["on_time_share"] < OBJECTIVE:
        print("SLO MISSED: fewer than 95% of orders were on time", file=sys.stderr)
        return 3
    return 0
