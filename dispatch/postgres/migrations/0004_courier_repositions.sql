-- Prepositioning: where dispatch asks an idle courier to wait for the next orders (a road node).
ALTER TABLE couriers ADD COLUMN IF NOT EXISTS reposition_node integer;
