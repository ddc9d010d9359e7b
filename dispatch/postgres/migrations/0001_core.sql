-- Core schema: tokens, stores and their stock, orders with lines and events, couriers and routes.
-- Business timestamps always come from the service clock (a parameter), never from now().

CREATE TABLE tokens (
    token_id    text PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    role        text NOT NULL CHECK (role IN ('operator', 'store', 'order_system', 'courier')),
    store_id    text,
    courier_id  text,
    label       text,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE TABLE stores (
    store_id        text PRIMARY KEY,
    name            text NOT NULL,
    lat             double precision NOT NULL,
    lon             double precision NOT NULL,
    zone            text NOT NULL,
    pick_minutes    double precision NOT NULL,
    radius_minutes  double precision NOT NULL,
    opening_hours   jsonb,
    stock_version   bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE stock (
    store_id  text NOT NULL REFERENCES stores (store_id) ON DELETE CASCADE,
    sku       text NOT NULL,
    on_hand   bigint NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    reserved  bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    PRIMARY KEY (store_id, sku)
);

CREATE TABLE couriers (
    courier_id     text PRIMARY KEY,
    name           text NOT NULL,
    zone           text NOT NULL,
    capacity       integer NOT NULL CHECK (capacity > 0),
    on_shift       boolean NOT NULL DEFAULT false,
    shift_ends_at  timestamptz,
    lat            double precision,
    lon            double precision,
    position_at    timestamptz,
    route_id       bigint,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE routes (
    route_id         bigserial PRIMARY KEY,
    courier_id       text NOT NULL REFERENCES couriers (courier_id),
    store_id         text NOT NULL REFERENCES stores (store_id),
    zone             text NOT NULL,
    status           text NOT NULL CHECK (status IN ('active', 'done', 'abandoned')),
    created_at       timestamptz NOT NULL,
    depart_at        timestamptz NOT NULL,
    arrive_store_at  timestamptz NOT NULL,
    pickup_at        timestamptz NOT NULL,
    closed_at        timestamptz,
    plan             jsonb NOT NULL
);
CREATE INDEX routes_courier ON routes (courier_id, route_id);
-- One active route per courier, whatever races between rounds or processes.
CREATE UNIQUE INDEX routes_one_active_per_courier ON routes (courier_id) WHERE status = 'active';

CREATE TABLE orders (
    order_id               text PRIMARY KEY,
    request_digest         text NOT NULL,
    status                 text NOT NULL CHECK (status IN
                             ('placed', 'reserved', 'assigned', 'picked_up', 'delivered', 'cancelled', 'failed')),
    store_id               text NOT NULL REFERENCES stores (store_id),
    zone                   text NOT NULL,
    courier_id             text,
    route_id               bigint REFERENCES routes (route_id),
    drop_lat               double precision,
    drop_lon               double precision,
    drop_node              integer NOT NULL,
    placed_at              timestamptz NOT NULL,
    promised_by            timestamptz NOT NULL,
    predicted_delivery_at  timestamptz NOT NULL,
    ready_at               timestamptz NOT NULL,
    packed_at              timestamptz,
    picked_up_at           timestamptz,
    delivered_at           timestamptz,
    closed_at              timestamptz,
    outcome                text CHECK (outcome IN ('on_time', 'late', 'cancelled', 'failed')),
    outcome_at             timestamptz,
    failure_reason         text,
    response               jsonb NOT NULL
);
CREATE INDEX orders_open ON orders (zone, placed_at) WHERE status IN ('reserved', 'assigned', 'picked_up');
CREATE INDEX orders_outcome_pending ON orders (promised_by) WHERE outcome IS NULL;
CREATE INDEX orders_store_queue ON orders (store_id, status, placed_at);

CREATE TABLE order_lines (
    order_id  text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    sku       text NOT NULL,
    quantity  integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, sku)
);

CREATE TABLE order_events (
    event_id  bigserial PRIMARY KEY,
    order_id  text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    status    text NOT NULL,
    at        timestamptz NOT NULL,
    detail    jsonb
);
CREATE INDEX order_events_order ON order_events (order_id, event_id);

CREATE TABLE courier_positions (
    courier_id  text NOT NULL REFERENCES couriers (courier_id) ON DELETE CASCADE,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX courier_positions_courier ON courier_positions (courier_id, at);

CREATE TABLE stock_syncs (
    sync_id     bigserial PRIMARY KEY,
    store_id    text NOT NULL REFERENCES stores (store_id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('snapshot', 'delta')),
    version     bigint NOT NULL,
    skus        integer NOT NULL,
    at          timestamptz NOT NULL
);
