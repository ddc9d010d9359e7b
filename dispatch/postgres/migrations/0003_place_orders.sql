-- Group commit for order placement: many placements in one call and one transaction (one WAL
-- flush). Every stock row the batch touches is locked first, in (store_id, sku) order, so two
-- batches (or a batch and a single placement) cannot deadlock; then each order runs
-- fd_place_order in its own subtransaction, so a lost reservation rolls back that order only
-- and every order keeps its own result ('placed', 'exists' or 'race_lost'). Lines arrive
-- flattened: order i owns p_line_counts[i] consecutive entries of p_skus / p_quantities.

CREATE OR REPLACE FUNCTION fd_place_orders(
    p_order_ids text[], p_digests text[], p_store_ids text[], p_zones text[],
    p_line_counts integer[], p_skus text[], p_quantities integer[],
    p_drop_lats double precision[], p_drop_lons double precision[], p_drop_nodes integer[],
    p_placed_at timestamptz[], p_promised_by timestamptz[], p_predicted timestamptz[],
    p_ready_at timestamptz[], p_responses jsonb[]
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
                p_promised_by[i], p_predicted[i], p_ready_at[i], p_responses[i]);
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
