"""The demo's shops: registering them, syncing stock by snapshot and delta, and packing orders."""

from __future__ import annotations

from collections import Counter

import numpy as np

from dispatch.sim.api_client import ApiClient, Headers, Json
from dispatch.sim.city import DemoConfig, ShopPlan
from dispatch.sim.events import Action, EventQueue
from dispatch.sim.order_system import OrderRecord
from dispatch.sim.shelf_noise import ShelfNoise

SAMPLED_SKUS = 15  # SKUs a POS sync looks at
RESTOCK_BELOW = 12  # a popular SKU with less on hand than this is restocked
RESTOCK_QUANTITY = 40
PACKERS_PER_SHOP = 2


class Shops:
    """Every shop's staff and POS: packers packing orders, walk-in sales and restocks."""

    def __init__(
        self, *, shops: list[ShopPlan], config: DemoConfig, api: ApiClient, events: EventQueue,
        rng: np.random.Generator,
    ) -> None:
        self.config = config
        self.api = api
        self.events = events
        self.rng = rng
        self.plans = shops
        self.shops = {s.store_id: s for s in shops}
        self.headers: dict[str, Headers] = {}
        self.versions: dict[str, int] = {}
        self.packers: dict[str, list[float]] = {s.store_id: [0.0] * PACKERS_PER_SHOP for s in shops}
        self.stock_syncs = 0
        self.noise = ShelfNoise(share=config.short_line_share, seed=config.seed + 2)
        self.orders_taken: Counter[str] = Counter()
        self.busy: dict[str, tuple[float, float]] = {}  # store → (until second, extra pick minutes)

    async def register(self, shop: ShopPlan) -> None:
        """Register the shop, get its token and send its first stock snapshot (version 1)."""
        body = {
            "name": shop.name,
            "location": {"lat": shop.lat, "lon": shop.lon},
            "zone": shop.zone,
            "pick_minutes": shop.pick_minutes,
            "radius_minutes": 20,
            "opening_hours": [{"days": "daily", "open": "07:00", "close": "23:30"}],
        }
        api = self.api
        status, payload = await api.call("PUT", f"/v1/stores/{shop.store_id}", api.operator, body)
        if status not in (200, 201):
            raise RuntimeError(f"store registration failed: {payload}")
        headers = await api.token("store", store_id=shop.store_id)
        self.headers[shop.store_id] = headers
        self.versions[shop.store_id] = 1
        items = [{"sku": sku, "quantity": qty} for sku, qty in shop.stock.items()]
        status, payload = await api.call(
            "PUT", f"/v1/stores/{shop.store_id}/stock", headers, {"version": 1, "items": items}
        )
        if status != 200:
            raise RuntimeError(f"stock snapshot failed: {payload}")
        self.stock_syncs += 1

    def schedule_syncs(self) -> None:
        """Each shop's first POS sync, staggered over one restock interval."""
        for k, shop in enumerate(self.plans):
            first = self.config.restock_every_s * (1 + k / len(self.plans))
            self.events.schedule(first, self._sync(shop.store_id))

    def start_packing(self, record: OrderRecord, unit: str) -> None:
        """The leg's shop's first free packer packs it; the service hears when it is done."""
        store_id = record.legs[unit]
        now_s = self.events.now_s
        packers = self.packers[store_id]
        k = int(np.argmin(packers))
        self.orders_taken[store_id] += 1
        until_s, extra_min = self.busy.get(store_id, (0.0, 0.0))
        pick_min = self.shops[store_id].pick_minutes + (extra_min if now_s < until_s else 0.0)
        packed = max(now_s, packers[k]) + pick_min * 60.0
        packers[k] = packed
        record.leg_packed_s[unit] = packed
        record.packed_s = max(record.leg_packed_s.values())
        self.events.schedule(packed, self._packed(record, unit))

    def schedule_rush(self, *, at_s: float, until_s: float, stores: int, extra_pick_minutes: float) -> None:
        """At `at_s` the `stores` shops that have taken the most orders so far fall behind: each
        packs `extra_pick_minutes` slower until `until_s`, and says so itself (its own token)."""
        self.events.schedule(at_s, self._go_busy(until_s, stores, extra_pick_minutes))

    def _go_busy(self, until_s: float, stores: int, extra_pick_minutes: float) -> Action:
        async def go_busy() -> None:
            ranked = sorted(self.shops, key=lambda store_id: (-self.orders_taken[store_id], store_id))
            until = self.events.local_time(until_s).isoformat()
            for store_id in ranked[:stores]:
                body = {"status": "busy", "extra_pick_minutes": extra_pick_minutes, "until": until,
                        "reason": "rain: a rush of walk-ins and packers short"}  # fmt: skip
                path = f"/v1/stores/{store_id}/status"
                status, payload = await self.api.call("PUT", path, self.headers[store_id], body)
                if status != 200:
                    raise RuntimeError(f"store status for {store_id}: {status} {payload}")
                self.busy[store_id] = (until_s, extra_pick_minutes)

        return go_busy

    def _packed(self, record: OrderRecord, unit: str) -> Action:
        async def packed() -> None:
            if record.cancelled:
                return
            store_id = record.legs[unit]
            path = f"/v1/stores/{store_id}/orders/{record.plan.order_id}"
            picked = self.noise.pick(record.leg_lines[unit])
            if picked is None:
                await self.api.call("POST", path + "/packed", self.headers[store_id])
                return
            body = {"lines": [{"sku": sku, "picked": n} for sku, n in picked.items()]}
            status, answer = await self.api.call("POST", path + "/pick-result", self.headers[store_id], body)
            if status == 200:
                self._short_picked(record, unit, answer)

        return packed

    def _short_picked(self, record: OrderRecord, unit: str, answer: Json) -> None:
        """What the service did with a short pick: a new leg to pack elsewhere, a line dropped, or
        the order cancelled."""
        record.short_picks += 1
        lines = record.leg_lines[unit]
        for line in answer["missing"]:
            lines[line["sku"]] -= line["quantity"]
            if lines[line["sku"]] <= 0:
                del lines[line["sku"]]
        if answer["action"] == "cancelled":
            record.cancelled = True
            return
        if not lines:  # the service dropped the emptied leg
            record.open_legs.discard(unit)
        added = answer.get("leg_added")
        if answer["action"] == "resourced" and added:
            record.legs_added += 1
            items = {i["sku"]: i["quantity"] for i in added["items"]}
            record.add_leg(added["leg_id"], added["store_id"], items)
            self.start_packing(record, added["leg_id"])
        else:
            record.lines_dropped += len(answer["missing"])
        if not record.open_legs:
            record.cancelled = True  # nothing left to deliver: the service cancelled it

    def _sync(self, store_id: str) -> Action:
        """The shop's POS: walk-in sales and restocks, sent as deltas (never our own sales)."""

        async def sync() -> None:
            changes = await self._pos_changes(store_id)
            if changes:
                await self._send_delta(store_id, changes)
            if self.events.now_s < self.config.minutes * 60.0:
                self.events.schedule(self.events.now_s + self.config.restock_every_s, self._sync(store_id))

        return sync

    async def _pos_changes(self, store_id: str) -> list[Json]:
        """Read a sample of the shop's stock; restock low popular SKUs, sell a little of the rest."""
        skus = list(self.shops[store_id].stock)
        picks = sorted({skus[int(i)] for i in self.rng.integers(0, len(skus), SAMPLED_SKUS)})
        query = "&".join(f"sku={s}" for s in picks)
        path = f"/v1/stores/{store_id}/stock?{query}"
        status, levels = await self.api.call("GET", path, self.headers[store_id])
        changes: list[Json] = []
        if status != 200:
            return changes
        popular = skus[: self.config.popular_skus]
        for item in levels["items"]:
            if item["on_hand"] < RESTOCK_BELOW and item["sku"] in popular:
                changes.append({"sku": item["sku"], "delta": RESTOCK_QUANTITY})
            elif item["available"] > 0:
                sold = min(item["available"], int(self.rng.integers(1, 3)))
                changes.append({"sku": item["sku"], "delta": -sold})
        return changes

    async def _send_delta(self, store_id: str, changes: list[Json]) -> None:
        """Send the changes as the next stock version; counted when the service takes them."""
        version = self.versions[store_id] + 1
        body = {"version": version, "changes": changes}
        status, _ = await self.api.call("PATCH", f"/v1/stores/{store_id}/stock", self.headers[store_id], body)
        if status == 200:
            self.versions[store_id] = version
            self.stock_syncs += 1
