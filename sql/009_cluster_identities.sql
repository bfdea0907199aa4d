-- Cluster identities: the Unix user (and Slurm account, QOS, home area) each customer's jobs run
-- as on a cluster. The provider creates the user on the cluster's nodes and maps it here
-- (`gateway cluster identity set`); a customer without one cannot submit jobs to that cluster.
-- One user belongs to one customer per cluster: two customers sharing a user could read and
-- cancel each other's jobs and files.
create table cluster_identities (
    cluster      text not null,
    customer_id  uuid not null references customers (id),
    unix_user    text not null,
    account      text,
    qos          text,
    home         text not null check (home like '/%'),
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now(),
    primary key (cluster, customer_id),
    unique (cluster, unix_user)
);

-- The cluster user a job was submitted as: it is cancelled as that user, and a lost submission
-- is looked for among that user's jobs. Null for jobs from before identities (the cluster's user).
alter table workloads add column cluster_user text;
