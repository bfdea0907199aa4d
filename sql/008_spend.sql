-- Spend: a quota dimension in money, at the prices of the policy's price table.

alter table quota_overrides drop constraint quota_overrides_dimension_check;
alter table quota_overrides add constraint quota_overrides_dimension_check
    check (dimension in ('requests', 'input_tokens', 'output_tokens', 'gpu_seconds', 'flop', 'spend'));

-- The price of one GPU-hour a job was admitted at (policies: gpu_prices), so that its spend is
-- settled at that price whatever the table says when the job ends. Null: the accelerator had no
-- price (then no spend limit applied to the job, or it would have been refused).
alter table workloads add column price_per_gpu_hour double precision
    check (price_per_gpu_hour >= 0);
