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
import numpy as np

from .bands import band_figures, network_postings
from .linkage import BANDS, Artifact, Posting
from .signals import AccountStats

POSTINGS_PER_ACCOUNT = 160
"""Shared artifacts kept per account and kind, its most used first (twenty skeletons' worth of
bands): an account's evidence is its main traffic, and the graph stays linear in the accounts. At 64
a campaign spread over many templates kept different subsets of its bands per member and fell
apart into pieces (measured: 10M calls, 43 of 100 members found in five clusters; at 160, one
cluster of 100, for 7 % more time)."""
SAMPLE = 4
"""Skeletons sent once are unnested into band keys for one in ``SAMPLE`` of them (by fingerprint, so
the same skeleton is in or out for every account); repeated ones always. Chat traffic is mostly
one-off skeletons and was most of the cost; a campaign's varied skeletons are many, so a quarter of
them still show its shares and shared bands (shares are over the sampled calls)."""

_WINDOW = "occurred_at >= $1 and occurred_at < $2"

# One pass for everything but the skeletons: grouping sets hash the same rows six ways at once (a
# third of the time of six passes). ``grouping(...)`` (a bit set per column left out: family 32,
# h 16, key_id 8, network 4, system_fp 2, country 1) tells the sets apart: 63 the account, 31 its
# task families, 47 its hours, 51 its (key, network) pairs, 61 its system prompts, 62 its countries.
_PROFILE = f"""
select grouping(family, h, key_id, network, system_fp, country), customer_id,
       family, h, key_id, network::text, system_fp, country, count(*),
       coalesce(sum(prompt_tokens), 0)::bigint, coalesce(sum(completion_tokens), 0)::bigint,
       count(*) filter (where reasoning),
       count(*) filter (where logprobs or logit_bias or coalesce(top_logprobs, 0) > 0),
       count(*) filter (where logit_bias and logprobs),
       min(occurred_at)
from (
    select *, floor(date_part('epoch', occurred_at - $1) / 3600)::int as h
    from call_features where {_WINDOW}
) c
group by grouping sets ((customer_id), (customer_id, family), (customer_id, h),
                        (customer_id, key_id, network), (customer_id, system_fp), (customer_id, country))
"""  # noqa: S608 - constants only

# One pass over the skeletons: tag 0 rows are per-account figures (skeletons, calls, calls on the
# commonest, calls on repeated skeletons, sampled calls), tag 1 rows the sampled skeletons (calls, the
# first BANDS band keys), which :mod:`.bands` reads.
_TEMPLATES = f"""
with t as materialized (
    select customer_id, template_fp, count(*) as calls, min(bands) as bands
    from call_features where {_WINDOW} and template_fp is not null
    group by customer_id, template_fp
)
select 0, customer_id, count(*), sum(calls)::bigint, max(calls)::bigint,
       coalesce(sum(calls) filter (where calls >= 2), 0)::bigint,
       coalesce(sum(calls) filter (where calls >= 2 or template_fp % {SAMPLE} = 0), 0)::bigint,
       null::bigint[]
from t group by customer_id
union all
select 1, customer_id, 0, calls, 0, 0, 0, bands[1:{BANDS}]
from t where calls >= 2 or template_fp % {SAMPLE} = 0
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
    rows = await conn.fetch(_PROFILE, since, until)
    for r in rows:
        if r[0] == 63:
            base[r[1]] = {
                "customer_id": r[1], "calls": r[8], "prompt_tokens": r[9], "completion_tokens": r[10],
                "reasoning_calls": r[11], "extraction_calls": r[12], "logit_bias_logprobs_calls": r[13],
                "first_seen": r[14], "families": {}, "hourly": {},
            }  # fmt: skip
    if not base:
        return Window(stats=[], postings=[], hard=[])
    key_networks: dict[tuple[uuid.UUID, str], int] = {}
    network_calls: dict[tuple[uuid.UUID, str], int] = {}
    systems: dict[uuid.UUID, list[int]] = {}
    countries: dict[uuid.UUID, int] = {}
    key_ids: dict[uuid.UUID, set[str]] = {}
    for r in rows:
        tag, customer = r[0], r[1]
        if tag == 31:
            _dict(base[customer], "families")[r[2]] = r[8]
        elif tag == 47:
            _dict(base[customer], "hourly")[r[3]] = r[8]
        elif tag == 51:
            key_ids.setdefault(customer, set()).add(r[4])
            if r[5] is not None:
                key_networks[(customer, r[4])] = key_networks.get((customer, r[4]), 0) + 1
                network_calls[(customer, r[5])] = network_calls.get((customer, r[5]), 0) + r[8]
        elif tag == 61 and r[6] is not None:
            systems.setdefault(customer, []).append(r[8])
        elif tag == 62 and r[7] is not None:
            countries[customer] = countries.get(customer, 0) + 1
    for (customer, _key), n in key_networks.items():
        row = base[customer]
        row["max_networks_per_key"] = max(_int(row, "max_networks_per_key"), n)
    for (customer, _net), _calls in network_calls.items():
        base[customer]["networks"] = _int(base[customer], "networks") + 1
    for customer, counts in systems.items():
        base[customer]["system_prompts"] = len(counts)
        base[customer]["system_top_share"] = max(counts) / sum(counts)
    for customer, n in countries.items():
        base[customer]["countries"] = n
    for customer, names in key_ids.items():
        base[customer]["keys"] = len(names)
    postings: list[Posting] = []
    ids = sorted(base)
    where = {c: i for i, c in enumerate(ids)}
    owner: list[int] = []
    calls: list[int] = []
    keys: list[list[int]] = []
    for r in await conn.fetch(_TEMPLATES, since, until):
        if r[0] == 1:
            if r[7] is not None and len(r[7]) == BANDS:  # a prompt too short for a signature has none
                owner.append(where[r[1]])
                calls.append(r[3])
                keys.append(r[7])
            continue
        total = max(r[3], 1)
        base[r[1]].update(
            templates=r[2], top_template_share=r[4] / total, repeat_share=r[5] / total, band_calls=r[6]
        )
    figures = band_figures(
        ids,
        np.array(owner, dtype=np.int64),
        np.array(calls, dtype=np.int64),
        np.array(keys, dtype=np.int64).reshape(len(keys), BANDS),
        per_account=POSTINGS_PER_ACCOUNT,
    )
    for c, v in figures.variant_calls.items():
        base[c]["variant_share"] = v / max(_int(base[c], "band_calls"), 1)
    for c, v in figures.shared_calls.items():
        base[c]["shared_template_share"] = v / max(_int(base[c], "band_calls"), 1)
    postings += figures.postings
    postings += network_postings(network_calls, per_account=POSTINGS_PER_ACCOUNT)
    for r in await conn.fetch(_CREATED, ids):
        base[r[0]]["created_at"] = r[1]
    hard = [(r[0], (r[1], r[2])) for r in await conn.fetch(_HARD, ids)]
    stats = [msgspec.convert(base[i], AccountStats) for i in ids]
    return Window(stats=stats, postings=postings, hard=sorted(hard))


def _int(row: dict[str, object], name: str) -> int:
    value = row.get(name, 0)
    assert isinstance(value, int)
    return value


def _dict(row: dict[str, object], name: str) -> dict[object, int]:
    value = row[name]
    assert isinstance(value, dict)
    return value


def customers(stats: Sequence[AccountStats]) -> list[uuid.UUID]:
    return [s.customer_id for s in stats]
