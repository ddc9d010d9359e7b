-- Legs (DESIGN.md section 15): an order is one or more legs, each a store and the lines it gives,
-- each reserved, packed, assigned, picked up and delivered on its own. A row of ``orders`` is one
-- leg, the unit the round dispatches: the order's first leg is the row that carries the order's id
-- and the order's own facts (promise, outcome, event numbering, the 201 answer, tracking); a further
-- leg is a row ``<order_id>/<n>`` with ``leg_of`` naming the order ('/' is never in a client's id).
-- Every existing order becomes a one-leg order (leg_of NULL, leg_no 1) without a rewrite.

ALTER TABLE orders ADD COLUMN leg_of text REFERENCES orders (order_id) ON DELETE CASCADE;
ALTER TABLE orders ADD COLUMN leg_no integer NOT NULL DEFAULT 1 CHECK (leg_no >= 1);
-- The store's pick result for this leg as first given: a repeat with the same lines is answered
-- from it, different lines are refused. (What to do on a short pick, ``on_short``, is part of the
-- order's 201 answer, ``response``, kept on the first leg.)
ALTER TABLE orders ADD COLUMN pick_result jsonb;

CREATE UNIQUE INDEX orders_leg_no ON orders ((coalesce(leg_of, order_id)), leg_no);
-- one leg per store and order: (order, store) names a leg for the store's own calls
CREATE UNIQUE INDEX orders_leg_store ON orders ((coalesce(leg_of, order_id)), store_id);
CREATE INDEX orders_legs_of ON orders (leg_of) WHERE leg_of IS NOT NULL;

-- A further leg of an order already placed: the row, its lines and their reservation, atomically
-- with the caller's transaction (FD409 when a line is no longer available: the caller rolls back).
CREATE FUNCTION fd_place_leg(
    p_order_id text, p_leg_no integer, p_store_id text, p_skus text[], p_quantities integer[],
    p_ready_at timestamptz, p_predicted timestamptz, p_status text
) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    leg_id text := p_order_id || '/' || p_leg_no;
    reserved_lines integer;
BEGIN
    PERFORM 1 FROM stock WHERE store_id = p_store_id AND sku = ANY (p_skus) ORDER BY sku FOR UPDATE;
    UPDATE stock s SET reserved = s.reserved + w.quantity
      FROM unnest(p_skus, p_quantities) AS w (sku, quantity)
     WHERE s.store_id = p_store_id AND s.sku = w.sku AND s.on_hand - s.reserved >= w.quantity;
    GET DIAGNOSTICS reserved_lines = ROW_COUNT;
    IF reserved_lines < cardinality(p_skus) THEN
        RAISE EXCEPTION USING ERRCODE = 'FD409', MESSAGE = 'reservation lost: a line is no longer available';
    END IF;
    INSERT INTO orders (order_id, request_digest, status, store_id, zone, drop_lat, drop_lon, drop_node,
                        placed_at, promised_by, predicted_delivery_at, ready_at, response, event_seq,
                        promise_extension_minutes, leg_of, leg_no)
    SELECT leg_id, o.request_digest, p_status, p_store_id, st.zone, o.drop_lat, o.drop_lon, o.drop_node,
           o.placed_at, o.promised_by, p_predicted, p_ready_at, '{}'::jsonb, 0,
           o.promise_extension_minutes, o.order_id, p_leg_no
      FROM orders o JOIN stores st ON st.store_id = p_store_id
     WHERE o.order_id = p_order_id;
    INSERT INTO order_lines (order_id, sku, quantity)
    SELECT leg_id, w.sku, w.quantity FROM unnest(p_skus, p_quantities) AS w (sku, quantity);
    RETURN leg_id;
END;
$$;
