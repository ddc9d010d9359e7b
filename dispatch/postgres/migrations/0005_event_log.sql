-- The order's event log (DESIGN.md section 12): every change of an order appends one event in
-- the same transaction, numbered 1, 2, 3… per order (orders.event_seq is the last number, so
-- the row lock of the order's own write makes the numbering gapless), with the actor, a reason
-- and data. txid records the writing transaction: the events feed reads in that order and only
-- below the oldest running transaction, so no event can commit behind a cursor handed out.
-- Existing events are migrated: types from their old status, actors from their details.

ALTER TABLE orders ADD COLUMN event_seq integer NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN eta_announced timestamptz;
ALTER TABLE orders ADD COLUMN eta_announced_at timestamptz;

ALTER TABLE order_events ADD COLUMN sequence integer;
ALTER TABLE order_events ADD COLUMN type text;
ALTER TABLE order_events ADD COLUMN occurred_at timestamptz;
ALTER TABLE order_events ADD COLUMN actor_type text;
ALTER TABLE order_events ADD COLUMN actor_id text;
ALTER TABLE order_events ADD COLUMN reason text;
ALTER TABLE order_events ADD COLUMN data jsonb;
ALTER TABLE order_events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();

UPDATE order_events e SET
    sequence = n.seq,
    occurred_at = e.at,
    type = CASE
        WHEN e.status = 'reserved' AND e.detail ? 'reason' THEN 'order.unassigned'
        WHEN e.status IN ('placed', 'reserved', 'assigned', 'picked_up', 'delivered', 'cancelled', 'failed',
                          'packed', 'arrived_store', 'stock_shortfall') THEN 'order.' || e.status
        ELSE 'order.' || e.status
    END,
    actor_type = CASE
        WHEN e.status = 'reserved' AND e.detail ->> 'reason' = 'courier rejected the task' THEN 'courier'
        WHEN e.status = 'reserved' AND e.detail ? 'reason' THEN 'system'
        WHEN e.status IN ('placed', 'reserved', 'cancelled') THEN 'order_system'
        WHEN e.status IN ('picked_up', 'delivered', 'arrived_store') THEN 'courier'
        WHEN e.status IN ('packed', 'stock_shortfall') THEN 'store'
        ELSE 'system'
    END,
    actor_id = CASE
        WHEN e.status = 'reserved' AND e.detail ->> 'reason' = 'courier rejected the task' THEN e.detail ->> 'courier_id'
        WHEN e.status = 'reserved' AND e.detail ? 'reason' THEN 'dispatch'
        WHEN e.status IN ('placed', 'reserved', 'cancelled') THEN NULL
        WHEN e.status IN ('picked_up', 'delivered', 'arrived_store') THEN e.detail ->> 'courier_id'
        WHEN e.status IN ('packed', 'stock_shortfall') THEN o.store_id
        ELSE 'dispatch'
    END,
    reason = e.detail ->> 'reason',
    data = coalesce(e.detail - 'reason', '{}'::jsonb)
FROM (SELECT event_id, row_number() OVER (PARTITION BY order_id ORDER BY event_id) AS seq
        FROM order_events) n, orders o
WHERE n.event_id = e.event_id AND o.order_id = e.order_id;

UPDATE orders o SET event_seq = m.last, eta_announced = o.predicted_delivery_at
FROM (SELECT order_id, max(sequence) AS last FROM order_events GROUP BY order_id) m
WHERE m.order_id = o.order_id;

ALTER TABLE order_events DROP COLUMN status, DROP COLUMN at, DROP COLUMN detail;
ALTER TABLE order_events ALTER COLUMN sequence SET NOT NULL;
ALTER TABLE order_events ALTER COLUMN type SET NOT NULL;
ALTER TABLE order_events ALTER COLUMN occurred_at SET NOT NULL;
ALTER TABLE order_events ALTER COLUMN actor_type SET NOT NULL;
ALTER TABLE order_events ALTER COLUMN data SET NOT NULL;
ALTER TABLE order_events ALTER COLUMN data SET DEFAULT '{}'::jsonb;
ALTER TABLE order_events ADD CONSTRAINT order_events_sequence UNIQUE (order_id, sequence);
ALTER TABLE order_events ADD CONSTRAINT order_events_actor CHECK
    (actor_type IN ('system', 'operator', 'store', 'courier', 'order_system'));
DROP INDEX IF EXISTS order_events_order;
CREATE INDEX order_events_feed ON order_events (txid, event_id);

-- Placement now appends one event (the table's RESERVE step), numbered 1, with its actor.
DROP FUNCTION IF EXISTS fd_place_orders(text[], text[], text[], text[], integer[], text[], integer[],
    double precision[], double precision[], integer[], timestamptz[], timestamptz[], timestamptz[],
    timestamptz[], jsonb[]);
DROP FUNCTION IF EXISTS fd_place_order(text, text, text, text, text[], integer[], double precision,
    double precision, integer, timestamptz, timestamptz, timestamptz, timestamptz, jsonb);

CREATE FUNCTION fd_place_order(
    p_order_id text, p_digest text, p_store_id text, p_zone text,
    p_skus text[], p_quantities integer[],
    p_drop_lat double precision, p_drop_lon double precision, p_drop_node integer,
    p_placed_at timestamptz, p_promised_by timestamptz, p_predicted timestamptz,
    p_ready_at timestamptz, p_response jsonb,
    p_status text, p_event text, p_actor_type text, p_actor_id text, p_occurred_at timestamptz
) RETURNS TABLE (result text, request_digest text, response jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    reserved_lines integer;
BEGIN
    INSERT INTO orders (order_id, request_digest, status, store_id, zone, drop_lat, drop_lon,
                        drop_node, placed_at, promised_by, predicted_delivery_at, ready_at, response,
                        event_seq, eta_announced, eta_announced_at)
    VALUES (p_order_id, p_digest, p_status, p_store_id, p_zone, p_drop_lat, p_drop_lon,
            p_drop_node, p_placed_at, p_promised_by, p_predicted, p_ready_at, p_response,
            1, p_predicted, p_occurred_at)
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
            jsonb_build_object('store_id', p_store_id, 'placed_at', p_placed_at,
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
    p_status text, p_event text, p_actor_types text[], p_actor_ids text[], p_occurred_at timestamptz[]
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
                p_status, p_event, p_actor_types[i], p_actor_ids[i], p_occurred_at[i]);
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
