-- bench/README.md "The scheduler pass vs ledger size": with 1,000,000 notifications and
-- a backlog building up (a client app down for hours), the default autovacuum analyzes
-- `notifications` only after 10 % of it changed, so notify_lease keeps a plan made for
-- "1 pending row" that reads every pending notification per batch of 20 (122.5 ms and
-- 63,052 buffers with 20,000 pending; 1.1 ms once analyzed). Analyze after every 5,000
-- changed rows instead, whatever the table's size.
ALTER TABLE notifications SET (autovacuum_analyze_scale_factor = 0,
                               autovacuum_analyze_threshold = 5000);
