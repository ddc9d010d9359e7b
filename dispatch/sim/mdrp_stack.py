"""Stacked MDRP days: an instance's orders and couriers several times over, for scale."""

from __future__ import annotations

from dataclasses import replace

from dispatch.sim.mdrp_format import MdrpCourier, MdrpInstance, MdrpOrder


def stack_instance(instance: MdrpInstance, copies: int) -> MdrpInstance:
    """The instance's orders and couriers ``copies`` times over, on the same restaurants.

    Copy ``j`` (from 0) of order ``o<k>`` is ``o<k + j·N>`` with ``N`` the largest order
    number, and likewise for couriers, so ids keep the MDRPLIB form; times and places are
    the original's. A day ``copies`` times as busy, for timing the engine at scale.

    Parameters
    ----------
    instance
        The instance to stack.
    copies
        How many copies (1: the instance itself, renamed).

    Returns
    -------
    MdrpInstance
    """
    if copies < 1:
        raise ValueError("copies must be at least 1")

    def number(place_id: str) -> int:
        return int(place_id.lstrip("abcdefghijklmnopqrstuvwxyz"))

    n_orders = max(number(o) for o in instance.orders)
    n_couriers = max(number(c) for c in instance.couriers)
    orders: dict[str, MdrpOrder] = {}
    couriers: dict[str, MdrpCourier] = {}
    for j in range(copies):
        for o in instance.orders.values():
            oid = f"o{number(o.order_id) + j * n_orders}"
            orders[oid] = replace(o, order_id=oid)
        for c in instance.couriers.values():
            cid = f"c{number(c.courier_id) + j * n_couriers}"
            couriers[cid] = replace(c, courier_id=cid)
    return replace(
        instance,
        name=f"{instance.name}x{copies}",
        orders=orders,
        couriers=couriers,
        _coords={},
    )
