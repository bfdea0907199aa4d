-- Sign-in to the web pages (gateway/web/): OIDC authorization code with PKCE, and the sessions it
-- opens. Both live in PostgreSQL so that any replica can finish a sign-in another one started, and
-- a sign-out ends the session on every replica at once.
--
-- web_logins: one row per sign-in under way, between the redirect to the identity provider and its
-- return. Keyed by the sha256 of the `state` parameter; the PKCE verifier and the nonce never leave
-- the server. A row is used once (deleted when the provider returns) and is void after 10 minutes.
create table web_logins (
    state_hash     bytea primary key check (length(state_hash) = 32),
    code_verifier  text not null,
    nonce          text not null,
    return_to      text not null check (return_to like '/web%'),
    created_at     timestamptz not null default now()
);

-- web_sessions: a signed-in person. The cookie carries a random token; only its sha256 is kept,
-- so a copy of this table opens no session. Who it is (issuer, subject) and the roles the ID token
-- granted at sign-in; nothing else about the person (their name and e-mail stay with the provider).
-- `csrf` is the token every form of this session must carry back.
create table web_sessions (
    token_hash     bytea primary key check (length(token_hash) = 32),
    issuer         text not null,
    subject        text not null,
    roles          text[] not null default '{}',
    csrf           text not null,
    created_at     timestamptz not null default now(),
    expires_at     timestamptz not null,
    check (expires_at > created_at)
);
create index web_sessions_expiry on web_sessions (expires_at);
