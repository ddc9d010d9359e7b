// The operators' map: roads, stores, couriers and their routes, open orders, closed areas, live
// from /v1/ops/stream. The operator token lives in sessionStorage (this tab only) and travels in
// the Authorization header, never in a URL: that is why the stream is read with fetch(), not
// EventSource (which cannot set headers).
"use strict";
(function () {
  const TOKEN_KEY = "flashdispatch-operator-token";
  const SILENT_S = 60;  // a courier not heard from for this long is drawn faded
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  const state = { snapshot: null, renders: 0, map: null, layers: {}, fitted: false };
  window.flashdispatch = state;  // the browser test reads renders and timings from here

  function token() { return window.sessionStorage.getItem(TOKEN_KEY); }

  function askToken() {
    return new Promise((resolve) => {
      const form = $("login");
      form.hidden = false;
      $("token-input").focus();
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        window.sessionStorage.setItem(TOKEN_KEY, $("token-input").value.trim());
        form.hidden = true;
        resolve();
      }, { once: true });
    });
  }

  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + token() };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
    });
    if (response.status === 401) { window.sessionStorage.removeItem(TOKEN_KEY); }
    return response;
  }

  async function showError(response) {
    let text = response.status + "";
    try {
      const body = await response.json();
      text += " " + body.error + ": " + body.detail;
    } catch (err) { /* not JSON */ }
    $("error").textContent = text;
    $("error").dataset.status = response.status;
  }

  function setupMap() {
    const map = L.map("map", { preferCanvas: true, zoomControl: true });
    map.attributionControl.setPrefix("Leaflet");
    map.attributionControl.addAttribution("Road data © OpenStreetMap contributors (ODbL)");
    state.map = map;
    for (const name of ["roads", "areas", "routes", "stores", "couriers", "orders"]) {
      state.layers[name] = L.layerGroup().addTo(map);
    }
    map.setView([0, 0], 2);
  }

  async function loadRoads() {
    const started = performance.now();
    const response = await api("GET", "/v1/ops/roads");
    if (!response.ok) { await showError(response); return; }
    const roads = await response.json();
    const layer = L.geoJSON(roads, { style: { color: "#8d8d8d", weight: 1.2, opacity: 0.9 }, interactive: false });
    layer.addTo(state.layers.roads);
    state.map.fitBounds(layer.getBounds());
    state.roadsDrawnMs = performance.now() - started;
    state.roadFeatures = roads.features.length;
    document.body.dataset.roads = String(roads.features.length);
  }

  function icon(cls, attrs) {
    const data = Object.entries(attrs).map(([k, v]) => "data-" + k + '="' + esc(v) + '"').join(" ");
    return L.divIcon({ className: "", html: '<span class="mk ' + cls + '" ' + data + "></span>", iconSize: [14, 14] });
  }

  function zoneOk(zone) { const z = $("zone-filter").value; return !z || z === zone; }

  function drawStores(snap) {
    for (const s of snap.stores) {
      if (!zoneOk(s.zone)) { continue; }
      L.marker([s.position.lat, s.position.lon], {
        icon: icon("store " + s.status, { "store-id": s.store_id, status: s.status }), title: s.store_id + " (" + s.status + ")",
      }).addTo(state.layers.stores);
    }
  }

  function drawCouriers(snap) {
    for (const c of snap.couriers) {
      if (!c.position || !zoneOk(c.zone)) { continue; }
      const silent = c.position_age_s !== null && c.position_age_s > SILENT_S;
      const cls = "courier " + c.state + (silent ? " silent" : "");
      L.marker([c.position.lat, c.position.lon], {
        icon: icon(cls, { "courier-id": c.courier_id, state: c.state, silent: silent }), title: c.courier_id,
      }).addTo(state.layers.couriers);
      if (c.route) {
        const line = c.route.coordinates.map(([lon, lat]) => [lat, lon]);
        L.polyline(line, { color: "#6a1b9a", weight: 3, dashArray: "6 4" }).addTo(state.layers.routes);
      }
    }
  }

  function visibleOrders(snap) {
    const riskOnly = $("at-risk-only").checked;
    return snap.orders.filter((o) => zoneOk(o.zone) && (!riskOnly || o.at_risk));
  }

  function drawOrders(orders) {
    for (const o of orders) {
      if (!o.drop_off) { continue; }
      const cls = "order " + o.status + (o.at_risk ? " at-risk" : "");
      L.marker([o.drop_off.lat, o.drop_off.lon], {
        icon: icon(cls, { "order-id": o.order_id, status: o.status, "at-risk": o.at_risk }),
        title: o.order_id + " " + o.status + (o.at_risk ? " AT RISK" : ""), zIndexOffset: o.at_risk ? 1000 : 0,
      }).addTo(state.layers.orders);
    }
  }

  function drawAreas(snap) {
    for (const m of snap.zone_modes) {
      if (m.closed_area) {
        L.geoJSON(m.closed_area, { style: { color: "#c62828", weight: 2, fillOpacity: 0.15 } }).addTo(state.layers.areas);
      }
    }
  }

  function listOrders(orders, couriers) {
    const options = couriers.filter((c) => c.state !== "off")
      .map((c) => '<option value="' + esc(c.courier_id) + '">' + esc(c.courier_id) + "</option>").join("");
    $("order-list").innerHTML = orders.map((o) => {
      const id = esc(o.order_id);
      const hold = o.status === "held" ? "release" : "hold";
      return '<li class="' + (o.at_risk ? "at-risk" : "") + '" data-row-order="' + id + '" data-status="' + esc(o.status) + '">'
        + id + " · " + esc(o.status) + (o.at_risk ? " · <b>at risk</b>" : "")
        + (o.leg > 1 ? " · a further leg</li>" :  // operators act on the order (its first leg)
          '<button data-action="' + hold + '" data-order="' + id + '">' + hold + "</button>"
          + '<select data-courier-for="' + id + '"><option value="">pool</option>' + options + "</select>"
          + '<button data-action="reassign" data-order="' + id + '">reassign</button></li>');
    }).join("");
    $("order-count").textContent = String(orders.length);
  }

  function listStores(stores) {
    $("store-list").innerHTML = stores.map((s) => {
      const next = s.status === "paused" ? "online" : "paused";
      return '<li data-row-store="' + esc(s.store_id) + '" data-status="' + esc(s.status) + '">' + esc(s.store_id)
        + " · " + esc(s.status) + '<button data-action="store" data-store="' + esc(s.store_id) + '" data-to="' + next + '">'
        + (next === "paused" ? "pause" : "resume") + "</button></li>";
    }).join("");
  }

  function zonesOf(snap) {
    const select = $("zone-filter");
    const known = new Set(Array.from(select.options).map((o) => o.value));
    for (const z of new Set(snap.stores.map((s) => s.zone).concat(snap.couriers.map((c) => c.zone)))) {
      if (!known.has(z)) { select.add(new Option(z, z)); }
    }
  }

  function render() {
    const snap = state.snapshot;
    if (!snap || !state.map) { return; }
    for (const name of ["areas", "routes", "stores", "couriers", "orders"]) { state.layers[name].clearLayers(); }
    zonesOf(snap);
    const orders = visibleOrders(snap);
    drawAreas(snap);
    drawStores(snap);
    drawCouriers(snap);
    drawOrders(orders);
    listOrders(orders, snap.couriers);
    listStores(snap.stores.filter((s) => zoneOk(s.zone)));
    state.renders += 1;
    state.renderedAt = performance.now();
    document.body.dataset.renders = String(state.renders);
    document.body.dataset.snapshotAt = snap.at;
  }

  function parseEvents(buffer, onEvent) {
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (data) { onEvent(JSON.parse(data)); }
    }
    return buffer;
  }

  async function stream() {
    for (;;) {
      try {
        const response = await api("GET", "/v1/ops/stream");
        if (!response.ok) { await showError(response); if (response.status === 401) { await askToken(); } }
        else {
          $("conn").textContent = "live"; $("conn").dataset.state = "live";
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) { break; }
            buffer = parseEvents(buffer + value, (snap) => { state.snapshot = snap; render(); });
          }
        }
      } catch (err) { /* connection lost: reconnect below */ }
      $("conn").textContent = "reconnecting…"; $("conn").dataset.state = "reconnecting";
      await new Promise((r) => window.setTimeout(r, 2000));
    }
  }

  async function act(button) {
    const reason = $("reason").value || "operator map";
    const action = button.dataset.action;
    let response;
    if (action === "store") {
      response = await api("PUT", "/v1/stores/" + encodeURIComponent(button.dataset.store) + "/status",
        { status: button.dataset.to, reason });
    } else if (action === "reassign") {
      const chosen = document.querySelector('[data-courier-for="' + CSS.escape(button.dataset.order) + '"]').value;
      response = await api("POST", "/v1/orders/" + encodeURIComponent(button.dataset.order) + "/reassign",
        { courier_id: chosen || null, reason });
    } else {
      response = await api("POST", "/v1/orders/" + encodeURIComponent(button.dataset.order) + "/" + action, { reason });
    }
    if (!response.ok) { await showError(response); return; }
    $("error").textContent = ""; delete $("error").dataset.status;
  }

  async function main() {
    if (!token()) { await askToken(); }
    setupMap();
    document.querySelector("aside").addEventListener("click", (ev) => {
      const button = ev.target.closest("button[data-action]");
      if (button) { act(button); }
    });
    $("zone-filter").addEventListener("change", render);
    $("at-risk-only").addEventListener("change", render);
    await loadRoads();
    stream();
  }
  main();
})();
