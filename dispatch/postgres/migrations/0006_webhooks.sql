-- Webhooks (DESIGN.md section 13): endpoints, and the outbox of deliveries the relay works off.
-- Self-contained: it only reads order_events (0005). A fan-out step copies each event, in the
-- order it became visible, into one delivery row per matching endpoint; relays claim due rows
-- with FOR UPDATE SKIP LOCKED. webhook_fanout is the fan-out's cursor (one row).

CREATE TABLE webhook_endpoints (
    webhook_id      text PRIMARY KEY,
    url             text NOT NULL,
    event_types     text[],                 -- NULL: every type
    secret          text NOT NULL,          -- whsec_…: the relay signs with it (see the README)
    state           text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
    created_at      timestamptz NOT NULL,
    disabled_at     timestamptz,
    disabled_reason text
);

CREATE TABLE webhook_deliveries (
    delivery_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      text NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
    event_id        bigint NOT NULL REFERENCES order_events ON DELETE CASCADE,
    order_id        text NOT NULL,
    sequence        integer NOT NULL,
    event_type      text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,   -- attempts of the current schedule
    claims          integer NOT NULL DEFAULT 0,   -- every claim ever: fences a relay whose lease ran out
    next_attempt_at timestamptz NOT NULL,         -- due time; while claimed, the end of the lease
    created_at      timestamptz NOT NULL,
    last_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    UNIQUE (webhook_id, event_id)
);
-- A queue: rows churn fast, so let autovacuum keep its statistics and dead rows in check early
-- (the relay also analyzes it while it is young and growing: see PostgresWebhookStore.fan_out).
ALTER TABLE webhook_deliveries SET (autovacuum_analyze_threshold = 500, autovacuum_analyze_scale_factor = 0.05,
                                    autovacuum_vacuum_threshold = 500, autovacuum_vacuum_scale_factor = 0.05);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (order_id, webhook_id, sequence)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_listing ON webhook_deliveries (webhook_id, status, delivery_id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_oldest ON webhook_deliveries (occurred_at) WHERE status = 'pending';  -- the lag

CREATE TABLE webhook_fanout (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    txid      xid8 NOT NULL,
    event_id  bigint NOT NULL
);
-- Start at the head of the log: endpoints only ever hear of events after the upgrade.
INSERT INTO webhook_fanout (txid, event_id)
SELECT coalesce((SELECT txid FROM order_events ORDER BY txid DESC, event_id DESC LIMIT 1), '0'::xid8),
       coalesce((SELECT event_id FROM order_events ORDER BY txid DESC, event_id DESC LIMIT 1), 0);
