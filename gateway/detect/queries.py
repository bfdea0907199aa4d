"""What the detector reads: one window's aggregates of ``call_features`` and the KYC hard links.

Everything is aggregated in PostgreSQL, by account, over ``[since, until)`` (``call_features_time``),
so the rows that cross the wire grow with the number of active accounts (and their shared
artifacts, bounded per account), not with the number of calls. The LSH band keys are unnested per
distinct skeleton of an account, not per call: a skeleton's bands are a function of the skeleton.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import asyncpg
import msgspec

from .linkage import BANDS, Artifact, Posting
from .signals import AccountStats

POSTINGS_PER_ACCOUNT = 64
"""Shared artifacts kept per account and kind, its most used first (four skeletons' worth of bands):
an account's evidence is its main traffic, and the graph stays linear in the accounts."""
TOP_TEMPLATES = 5
SAMPLE = 4
"""Skeletons sent once are unnested into band keys for one in ``SAMPLE`` of them (by fingerprint, so
the same skeleton is in or out for every account); repeated ones always. Chat traffic is mostly
one-off skeletons and was most of the cost; a campaign's varied skeletons are many, so a quarter of
them still show its shares and shared bands (shares are over the sampled calls)."""

_WINDOW = "occurred_at >= $1 and occurred_at < $2"

_ACCOUNTS = f"""
select customer_id, count(*),
       coalesce(sum(prompt_tokens), 0)::bigint, coalesce(sum(completion_tokens), 0)::bigint,
       count(*) filter (where reasoning),
       count(*) filter (where logprobs or logit_bias or coalesce(top_logprobs, 0) > 0),
       count(*) filter (where logit_bias and logprobs),
       count(distinct network), count(distinct country), count(distinct key_id),
       min(occurred_at)
from call_features where {_WINDOW}
group by customer_id
"""  # noqa: S608 - constants only

_FAMILIES = f"select customer_id, family, count(*) from call_features where {_WINDOW} group by 1, 2"  # noqa: S608

_HOURLY = f"""
select customer_id, floor(extract(epoch from occurred_at - $1) / 3600)::int, count(*)
from call_features where {_WINDOW} group by 1, 2
"""  # noqa: S608 - constants only

_KEY_NETWORKS = f"""
select customer_id, max(n) from (
    select customer_id, key_id, count(distinct network) as n
    from call_features where {_WINDOW} group by 1, 2
) k group by 1
"""  # noqa: S608 - constants only

_SYSTEM = f"""
select customer_id, count(*), sum(c)::bigint, max(c) from (
    select customer_id, system_fp, count(*) as c
    from call_features where {_WINDOW} and system_fp is not null group by 1, 2
) s group by 1
"""  # noqa: S608 - constants only

# One pass for the skeleton figures and the shared band keys (over the skeletons, then over the
# sampled skeletons' bands): tag 0 rows are per-account figures (templates, calls, top-5 calls,
# repeated calls, variant calls, shared calls, sampled calls), tag 1 rows the account's shared band
# keys (band, calls, holders).
_TEMPLATES = f"""
with t as materialized (
    select customer_id, template_fp, count(*) as calls, min(bands) as bands
    from call_features where {_WINDOW} and template_fp is not null
    group by customer_id, template_fp
), tb as materialized (
    select t.customer_id, t.template_fp, t.calls, b.band
    from t cross join lateral unnest(t.bands[1:{BANDS}]) as b(band)
    where t.calls >= 2 or t.template_fp % {SAMPLE} = 0
), cb as materialized (
    select customer_id, band, count(*) as templates, sum(calls)::bigint as calls from tb group by 1, 2
), shared as materialized (
    select band, count(*) as holders from cb group by band having count(*) >= 2
), variant as (
    select distinct tb.customer_id, tb.template_fp
    from tb join cb using (customer_id, band) where cb.templates >= 2
), common as (
    select distinct tb.customer_id, tb.template_fp from tb join shared using (band)
), marked as (
    select t.customer_id, t.template_fp, t.calls, v.template_fp is not null as variant,
           c.template_fp is not null as shared, t.calls >= 2 or t.template_fp % {SAMPLE} = 0 as sampled,
           row_number() over (partition by t.customer_id order by t.calls desc, t.template_fp) as rn
    from t left join variant v using (customer_id, template_fp)
           left join common c using (customer_id, template_fp)
), figures as (
    select customer_id, count(*) as templates, sum(calls) as calls,
           sum(calls) filter (where rn <= {TOP_TEMPLATES}) as top,
           coalesce(sum(calls) filter (where calls >= 2), 0) as repeated,
           coalesce(sum(calls) filter (where variant), 0) as variant,
           coalesce(sum(calls) filter (where shared), 0) as shared,
           coalesce(sum(calls) filter (where sampled), 0) as sampled
    from marked group by customer_id
), postings as (
    select cb.customer_id, cb.band, cb.calls, s.holders,
           row_number() over (partition by cb.customer_id order by cb.calls desc, cb.band) as rn
    from cb join shared s using (band)
)
select 0, customer_id, null::bigint, templates, calls::bigint, top::bigint, repeated::bigint,
       variant::bigint, shared::bigint, sampled::bigint from figures
union all
select 1, customer_id, band, calls::bigint, holders, 0, 0, 0, 0, 0
from postings where rn <= {POSTINGS_PER_ACCOUNT}
"""  # noqa: S608 - constants only

_NETWORKS = f"""
with n as materialized (
    select customer_id, network, count(*) as calls
    from call_features where {_WINDOW} and network is not null group by 1, 2
), shared as (
    select network, count(*) as holders from n group by 1 having count(*) >= 2
), postings as (
    select n.customer_id, n.network, n.calls, s.holders,
           row_number() over (partition by n.customer_id order by n.calls desc, n.network) as rn
    from n join shared s using (network)
)
select customer_id, network::text, calls, holders from postings where rn <= {POSTINGS_PER_ACCOUNT}
"""  # noqa: S608 - constants only

_HARD = """
select customer_id, 'payment', fingerprint from payment_fingerprints
where customer_id = any($1::uuid[]) and fingerprint in (
    select fingerprint from payment_fingerprints where customer_id = any($1::uuid[])
    group by 1 having count(*) >= 2)
union all
select distinct customer_id, 'owner', encode(name_index, 'hex') from owners
where customer_id = any($1::uuid[]) and name_index in (
    select name_index from owners where customer_id = any($1::uuid[]) and name_index is not null
    group by 1 having count(distinct customer_id) >= 2)
"""

_CREATED = "select id, created_at from customers where id = any($1::uuid[])"


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one run scores."""

    stats: list[AccountStats]
    postings: list[Posting]
    hard: list[tuple[uuid.UUID, Artifact]]


async def read_window(conn: asyncpg.Connection, since: dt.datetime, until: dt.datetime) -> Window:
    """The window's per-account aggregates, shared artifacts and hard links, from one snapshot
    when the caller runs it in a repeatable-read transaction (:func:`.engine.detect` does)."""
    base: dict[uuid.UUID, dict[str, object]] = {}
    for r in await conn.fetch(_ACCOUNTS, since, until):
        base[r[0]] = {
            "customer_id": r[0], "calls": r[1], "prompt_tokens": r[2], "completion_tokens": r[3],
            "reasoning_calls": r[4], "extraction_calls": r[5], "logit_bias_logprobs_calls": r[6],
            "networks": r[7], "countries": r[8], "keys": r[9], "first_seen": r[10],
            "families": {}, "hourly": {},
        }  # fmt: skip
    if not base:
        return Window(stats=[], postings=[], hard=[])
    for r in await conn.fetch(_FAMILIES, since, until):
        _dict(base[r[0]], "families")[r[1]] = r[2]
    for r in await conn.fetch(_HOURLY, since, until):
        _dict(base[r[0]], "hourly")[r[1]] = r[2]
    for r in await conn.fetch(_KEY_NETWORKS, since, until):
        base[r[0]]["max_networks_per_key"] = r[1]
    for r in await conn.fetch(_SYSTEM, since, until):
        base[r[0]]["system_prompts"] = r[1]
        base[r[0]]["system_top_share"] = r[3] / r[2] if r[2] else 1.0
    postings: list[Posting] = []
    for r in await conn.fetch(_TEMPLATES, since, until):
        if r[0] == 1:
            postings.append(Posting(r[1], "band", str(r[2]), r[3], r[4]))
            continue
        total, sampled = max(r[4], 1), max(r[9], 1)
        base[r[1]].update(
            templates=r[3], top_template_share=r[5] / total, repeat_share=r[6] / total,
            variant_share=r[7] / sampled, shared_template_share=r[8] / sampled, band_calls=r[9],
        )  # fmt: skip
    for r in await conn.fetch(_NETWORKS, since, until):
        postings.append(Posting(r[0], "network", r[1], r[2], r[3]))
    ids = sorted(base)
    for r in await conn.fetch(_CREATED, ids):
        base[r[0]]["created_at"] = r[1]
    hard = [(r[0], (r[1], r[2])) for r in await conn.fetch(_HARD, ids)]
    stats = [msgspec.convert(base[i], AccountStats) for i in ids]
    return Window(stats=stats, postings=postings, hard=sorted(hard))


def _dict(row: dict[str, object], name: str) -> dict[object, int]:
    value = row[name]
    assert isinstance(value, dict)
    return value


def customers(stats: Sequence[AccountStats]) -> list[uuid.UUID]:
    return [s.customer_id for s in stats]
