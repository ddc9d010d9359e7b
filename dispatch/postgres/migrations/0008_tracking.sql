-- Tracking (DESIGN.md section 16): every placed order has an unguessable tracking token. The 201
-- answer carries it as "tracking_url" ("/t/<token>") and is stored with the order so that a replay
-- of the same POST answers the same link; the lookup column holds the token's SHA-256 only. It is
-- derived from that stored answer inside the very INSERT that places the order (this trigger), so
-- the link and its digest can never disagree and the placement functions stay as they are.
-- Orders placed before this migration have no tracking link (NULL).

ALTER TABLE orders ADD COLUMN IF NOT EXISTS tracking_hash bytea;
CREATE UNIQUE INDEX IF NOT EXISTS orders_tracking_hash ON orders (tracking_hash) WHERE tracking_hash IS NOT NULL;

CREATE OR REPLACE FUNCTION fd_order_tracking_hash() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.tracking_hash IS NULL AND NEW.response ? 'tracking_url'
       AND left(NEW.response->>'tracking_url', 3) = '/t/' THEN
        NEW.tracking_hash := sha256(convert_to(substr(NEW.response->>'tracking_url', 4), 'UTF8'));
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER orders_tracking_hash BEFORE INSERT ON orders
    FOR EACH ROW EXECUTE FUNCTION fd_order_tracking_hash();
