// The customer's tracking page: polls /t/<token>.json (same path + ".json") until the order ends.
"use strict";
(function () {
  const LABELS = {
    placed: "Order received", reserved: "Being packed", held: "On hold", assigned: "Courier on the way to the shop",
    picked_up: "On its way to you", delivered: "Delivered", cancelled: "Cancelled", failed: "Could not be delivered",
  };
  const FINAL = new Set(["delivered", "cancelled", "failed"]);
  const POLL_MS = 2000;
  const url = window.location.pathname.replace(/\/$/, "") + ".json";
  const $ = (id) => document.getElementById(id);
  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "–");

  function show(order) {
    $("status").textContent = LABELS[order.status] || order.status;
    $("status").dataset.status = order.status;
    $("promised").textContent = time(order.promised_by);
    $("predicted").textContent = order.status === "delivered" ? time(order.delivered_at) : time(order.predicted_delivery_at);
    const courier = $("courier");
    if (order.courier) {
      courier.textContent = order.courier.lat.toFixed(5) + ", " + order.courier.lon.toFixed(5);
      courier.dataset.courier = "shown";
    } else {
      courier.textContent = "–";
      courier.dataset.courier = "none";
    }
  }

  async function poll() {
    let response;
    try {
      response = await fetch(url, { cache: "no-store", credentials: "omit" });
    } catch (err) {
      $("note").textContent = "Cannot reach the service; retrying…";
      return true;
    }
    if (response.status === 404) {
      $("status").textContent = "Unknown tracking link";
      $("status").dataset.status = "unknown";
      return false;
    }
    if (!response.ok) { $("note").textContent = "Service busy; retrying…"; return true; }
    $("note").textContent = "";
    const order = await response.json();
    show(order);
    return !FINAL.has(order.status);
  }

  async function loop() {
    if (await poll()) { window.setTimeout(loop, POLL_MS); }
  }
  loop();
})();
