-- Order placement in one round trip: claim the order id, reserve every line with a conditional
-- write (rows locked in SKU order so concurrent placements cannot deadlock), record lines and
-- events. Any failure raises and rolls back the whole call: a refused order writes nothing.

CREATE OR REPLACE FUNCTION fd_place_order(
    p_order_id text, p_digest text, p_store_id text, p_zone text,
    p_skus text[], p_quantities integer[],
    p_drop_lat double precision, p_drop_lon double precision, p_drop_node integer,
    p_placed_at timestamptz, p_promised_by timestamptz, p_predicted timestamptz,
    p_ready_at timestamptz, p_response jsonb
) RETURNS TABLE (result text, request_digest text, response jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    reserved_lines integer;
BEGIN
    INSERT INTO orders (order_id, request_digest, status, store_id, zone, drop_lat, drop_lon,
                        drop_node, placed_at, promised_by, predicted_delivery_at, ready_at, response)
    VALUES (p_order_id, p_digest, 'reserved', p_store_id, p_zone, p_drop_lat, p_drop_lon,
            p_drop_node, p_placed_at, p_promised_by, p_predicted, p_ready_at, p_response)
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
    INSERT INTO order_events (order_id, status, at, detail) VALUES
        (p_order_id, 'placed', p_placed_at, NULL),
        (p_order_id, 'reserved', p_placed_at, jsonb_build_object('store_id', p_store_id));
    RETURN QUERY SELECT 'placed'::text, p_digest, p_response;
END;
$$;
