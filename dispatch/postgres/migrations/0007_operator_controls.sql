-- Operators steer (DESIGN.md section 14): held orders, orders pinned to a courier, store status
-- (online / busy / paused, with an end), zone modes, and an audit of store and zone actions
-- (order actions are audited as order events).

ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN
    ('placed', 'reserved', 'held', 'assigned', 'picked_up', 'delivered', 'cancelled', 'failed'));
ALTER TABLE orders ADD COLUMN held_until timestamptz;
ALTER TABLE orders ADD COLUMN pinned_courier_id text;
DROP INDEX IF EXISTS orders_open;
CREATE INDEX orders_open ON orders (zone, placed_at) WHERE status IN ('reserved', 'held', 'assigned', 'picked_up');
CREATE INDEX orders_held ON orders (held_until) WHERE status = 'held';

ALTER TABLE stores ADD COLUMN status text NOT NULL DEFAULT 'online'
    CHECK (status IN ('online', 'busy', 'paused'));
ALTER TABLE stores ADD COLUMN extra_pick_minutes double precision NOT NULL DEFAULT 0;
ALTER TABLE stores ADD COLUMN status_until timestamptz;
ALTER TABLE stores ADD COLUMN status_reason text;
ALTER TABLE stores ADD COLUMN status_since timestamptz;

CREATE TABLE zone_modes (
    zone                       text PRIMARY KEY,
    radius_factor              double precision NOT NULL DEFAULT 1 CHECK (radius_factor > 0 AND radius_factor <= 1),
    promise_extension_minutes  integer NOT NULL DEFAULT 0 CHECK (promise_extension_minutes BETWEEN 0 AND 60),
    closed                     boolean NOT NULL DEFAULT false,
    closed_area                jsonb,
    on_overload                text NOT NULL DEFAULT 'accept' CHECK (on_overload IN ('accept', 'extend', 'refuse')),
    until                      timestamptz,
    reason                     text NOT NULL,
    set_at                     timestamptz NOT NULL,
    set_by                     text
);

CREATE TABLE operator_actions (
    action_id   bigserial PRIMARY KEY,
    action      text NOT NULL,
    target      text NOT NULL,
    actor_type  text NOT NULL,
    actor_id    text,
    reason      text,
    body        jsonb NOT NULL DEFAULT '{}'::jsonb,
    at          timestamptz NOT NULL
);
CREATE INDEX operator_actions_target ON operator_actions (target, action_id);
