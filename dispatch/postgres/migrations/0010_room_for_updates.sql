-- Room on each page of ``orders`` for the updates every round makes. A round stores a new
-- prediction on every open order; with pages packed full at insert (fillfactor 100) an updated row
-- cannot stay on its page, so PostgreSQL writes it to another one and adds an entry to each of the
-- table's indexes. Measured on 11,389 rows copied from a demo day, updating every prediction five
-- times over: about 1,050 bytes of WAL per row and update (200 ms) at fillfactor 100; at 70 the
-- row stays on its page (a heap-only tuple, no index entry): 405 bytes on the second update, 165 on
-- the fifth (53-78 ms). Intake's commits wait for the WAL ahead of theirs to be flushed, so this
-- is much of what rounds cost the API. Applies to pages written from now on (no table rewrite).
ALTER TABLE orders SET (fillfactor = 70);
