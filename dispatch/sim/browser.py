"""Headless Debian chromium over the DevTools protocol (aiohttp's websocket client): the demo's map
screenshot and the browser tests. No driver, no downloaded browser, and every flag that keeps its
traffic on this machine."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

# NOTES.md 'A real browser': chromium reaches out to update and account hosts even headless;
# these flags stop it, and the resolver rule makes every name but the loopback fail inside it.
LOCAL_ONLY_FLAGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-default-apps",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost",
)
START_S = 20.0


class BrowserError(RuntimeError):
    """Chromium did not start, answered with an error, or a page never got where it was asked."""


def chromium_path() -> str | None:
    """Debian's chromium (`make chromium` installs it), or None."""
    return shutil.which("chromium")


class Browser:
    """One headless chromium process (its own process group) and one page over CDP."""

    def __init__(self, profile: Path, *, width: int = 1280, height: int = 800) -> None:
        self.profile = profile
        self.size = (width, height)
        self.proc: subprocess.Popen | None = None
        self.session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.requests: list[str] = []
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None

    async def start(self) -> Browser:
        binary = chromium_path()
        if binary is None:
            raise BrowserError("chromium is missing: run `make chromium` (Debian's chromium package)")
        self.profile.mkdir(parents=True, exist_ok=True)
        args = [binary, "--headless", "--no-sandbox", *LOCAL_ONLY_FLAGS,
                "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1",
                f"--user-data-dir={self.profile}", f"--window-size={self.size[0]},{self.size[1]}",
                "--hide-scrollbars", "--mute-audio", "about:blank"]  # fmt: skip
        log = (self.profile.parent / "chromium.log").open("ab")
        try:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # fmt: skip
        finally:
            log.close()
        port = await self._devtools_port()
        self.session = aiohttp.ClientSession()
        async with self.session.get(f"http://127.0.0.1:{port}/json/list") as r:
            pages = [t for t in await r.json() if t["type"] == "page"]
        self.ws = await self.session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        await self.send("Network.enable")
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        return self

    async def _devtools_port(self) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise BrowserError("chromium exited at start")
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            await asyncio.sleep(0.05)
        raise BrowserError(f"chromium gave no DevTools port in {START_S} s")

    async def _read(self) -> None:
        if self.ws is None:
            return
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._waiting:
                self._waiting.pop(data["id"]).set_result(data)
            elif data.get("method") == "Network.requestWillBeSent":
                self.requests.append(data["params"]["request"]["url"])

    async def send(self, method: str, params: dict | None = None, *, timeout_s: float = 15.0) -> dict:
        if self.ws is None:
            raise BrowserError("the browser is not started")
        ident = next(self._ids)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        await self.ws.send_str(json.dumps({"id": ident, "method": method, "params": params or {}}))
        answer = await asyncio.wait_for(future, timeout_s)
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        result: dict = answer["result"]
        return result

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                      "awaitPromise": True})  # fmt: skip
        if "exceptionDetails" in result:
            raise BrowserError(str(result["exceptionDetails"])[:500])
        return result["result"].get("value")

    async def navigate(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})

    async def wait_for(self, expression: str, *, timeout_s: float = 10.0, every_s: float = 0.05) -> float:
        """Seconds until ``expression`` is truthy in the page (fails after ``timeout_s``)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            with contextlib.suppress(BrowserError):  # the page may be between documents
                if await self.evaluate(expression):
                    return time.monotonic() - started
            await asyncio.sleep(every_s)
        raise BrowserError(f"not true in {timeout_s} s: {expression}")

    async def screenshot(self, path: Path) -> bytes:
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        png = base64.b64decode(shot["data"])
        path.write_bytes(png)
        return png

    async def close(self) -> None:
        """Always: the websocket, then the whole process group, killed and reaped."""
        with contextlib.suppress(Exception):
            if self.ws is not None:
                await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self.session is not None:
            await self.session.close()
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


async def screenshot_map(base_url: str, operator_token: str, path: Path) -> Path | None:
    """The operators' map as an operator sees it (logged in, roads and the first snapshot drawn),
    saved as a PNG; None when chromium is not installed."""
    if chromium_path() is None:
        return None
    scratch = Path(tempfile.mkdtemp(prefix="fd-chromium-"))
    browser = Browser(scratch / "profile")
    try:
        await browser.start()
        await browser.navigate(base_url + "/ops")
        await browser.wait_for("document.getElementById('login') && !document.getElementById('login').hidden")
        await browser.evaluate(
            f"document.getElementById('token-input').value = {json.dumps(operator_token)};"
            " document.getElementById('login').requestSubmit(); true"
        )
        await browser.wait_for("document.body.dataset.roads > 0 && document.body.dataset.renders >= 1")
        await browser.screenshot(path)
    finally:
        await browser.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return path
