-- Privacy-preserving features of each model-API call, beside the ledger's usage_events (same
-- request_id and occurred_at): no prompt text, only counts, parameters, a task family, 64-bit
-- fingerprints of the masked system prompt and prompt skeleton, and the LSH band keys of the masked
-- prompt's MinHash signature. Written by the ledger writer, from the gateway and from
-- `gateway usage import` alike; read by the detector (gateway/detect/).
create table call_features (
    request_id        uuid not null,
    occurred_at       timestamptz not null,
    customer_id       uuid not null,
    key_id            text not null,
    model             text,
    status            integer not null,
    prompt_tokens     integer,
    completion_tokens integer,
    client_ip         inet,
    network           cidr,              -- the client's /24 (IPv4) or /48 (IPv6)
    country           text,
    temperature       real,
    n                 smallint,
    logprobs          boolean not null,
    top_logprobs      smallint,
    logit_bias        boolean not null,
    reasoning         boolean not null,  -- asks for step-by-step reasoning or its trace
    family            text not null,     -- task family: code, math, tools, translation, ...
    system_fp         bigint,            -- fingerprint of the masked system prompt
    template_fp       bigint,            -- fingerprint of the masked prompt skeleton
    bands             bigint[] not null, -- LSH band keys of the masked prompt's MinHash ({} if none)
    primary key (request_id, occurred_at)
);
create index call_features_time on call_features (occurred_at);
create index call_features_customer_time on call_features (customer_id, occurred_at);
