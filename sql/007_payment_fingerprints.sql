-- Keyed fingerprints of each customer's payment instruments (card, account, wallet, processor
-- fingerprint), beside the sealed facts that hold them: accounts paying with the same instrument
-- are linked (training-compute groups) without decrypting anything. The fingerprints are
-- HMAC-SHA256 under the index key, never the numbers. Cleared by erasure.
create table payment_fingerprints (
    customer_id  uuid not null references customers (id) on delete cascade,
    fingerprint  text not null,
    primary key (customer_id, fingerprint)
);
create index payment_fingerprints_fingerprint on payment_fingerprints (fingerprint);
