-- Operators steer (DESIGN.md section 14): held orders, orders pinned to a courier, store status
-- (online / busy / paused, with an end), zone modes, and an audit of store and zone actions
-- (order actions are audited as order events).

ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN
    ('placed', 'reserved', 'held', 'assigned', 'picked_up', 'delivered', 'cancelled', 'failed'));
ALTER TABLE orders ADD COLUMN held_until timestamptz;
ALTER TABLE orders ADD COLUMN pinned_courier_id text;
ALTER TABLE orders ADD COLUMN promise_extension_minutes integer NOT NULL DEFAULT 0;
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

-- Placement records the promise extension a zone mode gave the order (0 without one).
DROP FUNCTION IF EXISTS fd_place_orders(text[], text[], text[], text[], integer[], text[], integer[],
    double precision[], double precision[], integer[], timestamptz[], timestamptz[], timestamptz[],
    timestamptz[], jsonb[], text, text, text[], text[], timestamptz[]);
DROP FUNCTION IF EXISTS fd_place_order(text, text, text, text, text[], integer[], double precision,
    double precision, integer, timestamptz, timestamptz, timestamptz, timestamptz, jsonb,
    text, text, text, text, timestamptz);

CREATE FUNCTION fd_place_order(
    p_order_id text, p_digest text, p_store_id text, p_zone text,
    p_skus text[], p_quantities integer[],
    p_drop_lat double precision, p_drop_lon double precision, p_drop_node integer,
    p_placed_at timestamptz, p_promised_by timestamptz, p_predicted timestamptz,
    p_ready_at timestamptz, p_response jsonb,
    p_status text, p_event text, p_actor_type text, p_actor_id text, p_occurred_at timestamptz,
    p_extension integer
) RETURNS TABLE (result text, request_digest text, response jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    reserved_lines integer;
BEGIN
    INSERT INTO orders (order_id, request_digest, status, store_id, zone, drop_lat, drop_lon,
                        drop_node, placed_at, promised_by, predicted_delivery_at, ready_at, response,
                        event_seq, eta_announced, eta_announced_at, promise_extension_minutes)
    VALUES (p_order_id, p_digest, p_status, p_store_id, p_zone, p_drop_lat, p_drop_lon,
            p_drop_node, p_placed_at, p_promised_by, p_predicted, p_ready_at, p_response,
            1, p_predicted, p_occurred_at, p_extension)
    ON CONFLICT (order_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'exists'::text, o.request_digest, o.response
                     FROM orders o WHERE o.order_id = p_order_id;
        RETURN;
    END IF;

    PERFORM 1 FROM stock
     WHERE store_id = p_store_id AND sku = ANY (p_skus)
     ORDER BY sku FOR UPDATE;
    UPDATE stock s SET reserved = s.reserved + w.quantity
      FROM unnest(p_skus, p_quantities) AS w (sku, quantity)
     WHERE s.store_id = p_store_id AND s.sku = w.sku AND s.on_hand - s.reserved >= w.quantity;
    GET DIAGNOSTICS reserved_lines = ROW_COUNT;
    IF reserved_lines < cardinality(p_skus) THEN
        RAISE EXCEPTION USING ERRCODE = 'FD409', MESSAGE = 'reservation lost: a line is no longer available';
    END IF;

    INSERT INTO order_lines (order_id, sku, quantity)
    SELECT p_order_id, w.sku, w.quantity FROM unnest(p_skus, p_quantities) AS w (sku, quantity);
    INSERT INTO order_events (order_id, sequence, type, occurred_at, actor_type, actor_id, data)
    VALUES (p_order_id, 1, p_event, p_occurred_at, p_actor_type, p_actor_id,
            jsonb_build_object('store_id', p_store_id, 'placed_at', p_placed_at, 'promise_extension_minutes', p_extension,
                               'promised_by', p_promised_by, 'predicted_delivery_at', p_predicted));
    RETURN QUERY SELECT 'placed'::text, p_digest, p_response;
END;
$$;

CREATE FUNCTION fd_place_orders(
    p_order_ids text[], p_digests text[], p_store_ids text[], p_zones text[],
    p_line_counts integer[], p_skus text[], p_quantities integer[],
    p_drop_lats double precision[], p_drop_lons double precision[], p_drop_nodes integer[],
    p_placed_at timestamptz[], p_promised_by timestamptz[], p_predicted timestamptz[],
    p_ready_at timestamptz[], p_responses jsonb[],
    p_status text, p_event text, p_actor_types text[], p_actor_ids text[], p_occurred_at timestamptz[],
    p_extensions integer[]
) RETURNS TABLE (ordinal integer, result text, request_digest text, response jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    n integer := cardinality(p_order_ids);
    line_stores text[] := '{}';
    line_offsets integer[] := '{}';
    i integer;
    k integer;
    placed record;
BEGIN
    FOR i IN 1 .. n LOOP
        line_offsets := line_offsets || coalesce(cardinality(line_stores), 0);
        FOR k IN 1 .. p_line_counts[i] LOOP
            line_stores := line_stores || p_store_ids[i];
        END LOOP;
    END LOOP;

    PERFORM 1 FROM stock s
      JOIN unnest(line_stores, p_skus) AS w (store_id, sku)
        ON s.store_id = w.store_id AND s.sku = w.sku
     ORDER BY s.store_id, s.sku
       FOR UPDATE OF s;

    FOR i IN 1 .. n LOOP
        ordinal := i;
        BEGIN
            SELECT * INTO placed FROM fd_place_order(
                p_order_ids[i], p_digests[i], p_store_ids[i], p_zones[i],
                p_skus[line_offsets[i] + 1 : line_offsets[i] + p_line_counts[i]],
                p_quantities[line_offsets[i] + 1 : line_offsets[i] + p_line_counts[i]],
                p_drop_lats[i], p_drop_lons[i], p_drop_nodes[i], p_placed_at[i],
                p_promised_by[i], p_predicted[i], p_ready_at[i], p_responses[i],
                p_status, p_event, p_actor_types[i], p_actor_ids[i], p_occurred_at[i], p_extensions[i]);
            result := placed.result;
            request_digest := placed.request_digest;
            response := placed.response;
        EXCEPTION WHEN SQLSTATE 'FD409' THEN
            result := 'race_lost';
            request_digest := NULL;
            response := NULL;
        END;
        RETURN NEXT;
    END LOOP;
END;
$$;
