"""A webhook receiver nobody here wrote the checks of: every delivery is verified with the PyPI
``standardwebhooks`` package, then counted (events, duplicates, signature failures, lag).

The demo registers one; the tests and ``bench webhooks`` use it with scripted answers.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

# answer(payload) → the HTTP status to give (may wait: a slow or dead receiver)
Answer = Callable[[dict], Awaitable[int]]


async def accept(payload: dict) -> int:
    return 204


@dataclass(frozen=True, slots=True)
class Receipt:
    webhook_id: str
    order_id: str
    sequence: int
    type: str
    status: int  # what the receiver answered
    received_at: datetime  # the receiver's ``now``
    lag_s: float  # receipt time − the event's occurred_at


@dataclass
class WebhookReceiver:
    """An aiohttp server on 127.0.0.1; set ``secret`` once the endpoint is registered."""

    secret: str = ""
    answer: Answer = accept
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    receipts: list[Receipt] = field(default_factory=list)
    signature_failures: int = 0
    requests: int = 0
    _runner: web.AppRunner | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        return f"http://{bound[0]}:{bound[1]}/hooks"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except (WebhookVerificationError, ValueError) as exc:
            self.signature_failures += 1
            return web.json_response({"error": str(exc)}, status=400)
        status = await self.answer(payload)
        event = payload["data"]["event"]
        occurred = datetime.fromisoformat(event["occurred_at"])
        now = self.now()
        self.receipts.append(
            Receipt(
                webhook_id=request.headers["webhook-id"],
                order_id=event["order_id"],
                sequence=event["sequence"],
                type=payload["type"],
                status=status,
                received_at=now,
                lag_s=(now - occurred).total_seconds(),
            )
        )
        return web.Response(status=status, body=json.dumps({"ok": status < 300}).encode())

    # what the receiver saw ------------------------------------------------------------------
    def accepted(self) -> list[Receipt]:
        return [r for r in self.receipts if 200 <= r.status < 300]

    def unique_ids(self) -> set[str]:
        return {r.webhook_id for r in self.accepted()}

    def duplicates(self) -> int:
        accepted = self.accepted()
        return len(accepted) - len({r.webhook_id for r in accepted})

    def max_lag_s(self) -> float:
        return max((r.lag_s for r in self.accepted()), default=0.0)

    def summary(self) -> dict:
        return {
            "events_received": len(self.unique_ids()),
            "duplicates": self.duplicates(),
            "signature_failures": self.signature_failures,
            "max_lag_s": round(self.max_lag_s(), 3),
        }


# A receiver in its own process (``python -m dispatch.sim.webhook_receiver``), so that a benchmark
# measures the relay rather than the receiver sharing its CPU. Protocol on stdin/stdout: it prints
# its URL; reads the secret as one line; on the next line (or end of input) it prints every
# receipt as a JSON line, then ``{"signature_failures": n}``, and exits.


def _receipt_json(r: Receipt) -> str:
    return json.dumps(
        {
            "webhook_id": r.webhook_id,
            "order_id": r.order_id,
            "sequence": r.sequence,
            "type": r.type,
            "status": r.status,
            "received_at": r.received_at.isoformat(),
            "lag_s": r.lag_s,
        }
    )


def receipt_from_json(line: str) -> Receipt:
    d = json.loads(line)
    return Receipt(
        webhook_id=d["webhook_id"],
        order_id=d["order_id"],
        sequence=d["sequence"],
        type=d["type"],
        status=d["status"],
        received_at=datetime.fromisoformat(d["received_at"]),
        lag_s=d["lag_s"],
    )


async def _serve_from_stdin() -> None:
    import asyncio
    import sys

    receiver = WebhookReceiver()
    print(await receiver.start(), flush=True)
    loop = asyncio.get_running_loop()
    receiver.secret = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
    await loop.run_in_executor(None, sys.stdin.readline)
    await receiver.stop()
    for receipt in receiver.receipts:
        sys.stdout.write(_receipt_json(receipt) + "\n")
    print(json.dumps({"signature_failures": receiver.signature_failures}), flush=True)


if __name__ == "__main__":  # pragma: no cover
    import asyncio

    asyncio.run(_serve_from_stdin())
