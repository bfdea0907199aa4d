"""The periodic usage report of one jurisdiction, built from facts the queries read. Pure.

**Which customers a jurisdiction covers** (:func:`scope`), a rule kept simple and data-driven:

- the provider's home (setting ``provider_country``, default ``US``): every customer, whatever its
  country (the provider answers to its own regulator for all of its business);
- a policy group's name in upper case (``EU`` for ``[groups.eu]`` in ``policies/countries.toml``):
  customers whose ``customers.country`` is one of the group's countries;
- any other ISO 3166-1 alpha-2 code: customers whose ``customers.country`` is that code.

The country is the account's (``customers.country``, incorporation or residence as given at
creation), not its owners' or addresses': one country per customer, so that the reports of two
jurisdictions never count a customer twice unless one of them is the provider's home.

Everything in the report is a count or a sum over the covered customers; no name, no id. Sums of
measured quantities are exact decimals (summed as ``numeric`` in PostgreSQL, or with
:class:`decimal.Decimal` here), so that neither the order of rows nor a parallel plan changes a digit.
"""

from __future__ import annotations

import datetime as dt
import decimal as _decimal
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import msgspec

from ..audit.entry import decimal
from ..compute.flags import Flag
from ..kyc.jurisdictions import policy_facts
from ..policy.decide import compile_entitlement
from ..policy.model import Policy, country_codes
from .model import (
    ComputeUsed,
    CustomerCounts,
    FlagCount,
    Period,
    Provider,
    Refusals,
    ReportError,
    Scope,
    ScreeningOutcomes,
    TrainingFlags,
    UsageReport,
    fixed,
    rfc3339,
    whole,
)

UNKNOWN_COUNTRY = "unknown"


class CustomerRow(msgspec.Struct, frozen=True):
    """A customer as the report counts it."""

    id: str
    country: str | None
    kyc_status: str
    kyc_level: str
    jurisdictions: str
    """``customers.jurisdictions`` as JSON text: what the policy tier is compiled from."""


class UsageRow(msgspec.Struct, frozen=True):
    """One customer's calls in the period with one refusal code (None: not refused with 403/429)."""

    customer_id: str
    refusal_code: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int


class ComputeRow(msgspec.Struct, frozen=True):
    """One customer's jobs that ended in the period."""

    customer_id: str
    jobs: int
    gpu_seconds: _decimal.Decimal
    flop_settled: _decimal.Decimal


class HitRow(msgspec.Struct, frozen=True):
    """One customer's screening hits in one state: raised in the period, decided in the period."""

    customer_id: str
    state: str
    raised: int
    decided: int


def scope(code: str, policy: Policy, provider_country: str) -> Scope:
    """The customers a report for ``code`` counts (see the module's docstring)."""
    code = code.strip().upper()
    if code == provider_country:
        return Scope(code=code, rule="the provider's home country: every customer", countries=None)
    group = policy.groups.get(code.lower())
    if group is not None:
        return Scope(
            code=code,
            rule=f"customers whose country is in policy group {code.lower()!r} ({group.title})",
            countries=sorted(group.countries),
        )
    if code in country_codes():
        return Scope(code=code, rule=f"customers whose country is {code}", countries=[code])
    raise ReportError(
        f"unknown jurisdiction {code!r}: an ISO 3166-1 alpha-2 code, or a policy group's name in"
        " upper case (EU for [groups.eu])"
    )


def _count(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def _tier(customer: CustomerRow, policy: Policy) -> str:
    facts = policy_facts(customer.id, customer.jurisdictions, customer.kyc_level)
    return compile_entitlement(facts, policy).tier


def flag_counts(flags: Sequence[Flag], counts: Callable[[str], bool], policy: Policy) -> list[FlagCount]:
    """Per threshold and level: the linked groups and customers flagged among those ``counts`` keeps."""
    jurisdiction = {t.name: t.jurisdiction for t in policy.thresholds.training}
    groups: dict[tuple[str, float, float], set[tuple[str, ...]]] = {}
    customers: dict[tuple[str, float, float], set[str]] = {}
    for flag in flags:
        if not counts(flag.customer):
            continue
        key = (flag.threshold, flag.threshold_flop, flag.fraction)
        groups.setdefault(key, set()).add(tuple(flag.group))
        customers.setdefault(key, set()).add(flag.customer)
    return [
        FlagCount(
            threshold=name,
            jurisdiction=jurisdiction.get(name),
            threshold_flop=whole(flop),
            level=decimal(fraction),
            groups=len(groups[(name, flop, fraction)]),
            customers=len(customers[(name, flop, fraction)]),
        )
        for name, flop, fraction in sorted(groups)
    ]


def build_usage(
    *,
    provider: Provider,
    scope: Scope,
    since: dt.datetime,
    until: dt.datetime,
    policy: Policy,
    customers: Sequence[CustomerRow],
    usage: Sequence[UsageRow],
    compute: Sequence[ComputeRow],
    flags: Sequence[Flag],
    hits: Sequence[HitRow],
) -> UsageReport:
    """The report: ``customers`` are those that existed before ``until``; the other facts are the
    period's (``[since, until)``), for every customer: they are narrowed to the scope here."""
    if since >= until:
        raise ReportError(f"the period must end after it starts ({rfc3339(since)} >= {rfc3339(until)})")
    countries = None if scope.countries is None else set(scope.countries)
    mine = [c for c in customers if countries is None or c.country in countries]
    known = {c.id for c in customers}
    covered = {c.id for c in mine}

    def counts(customer_id: str) -> bool:
        # The home report counts what no customer row explains any more too (the ledger keeps
        # events of customers that were deleted): it covers everyone.
        return customer_id in covered or (countries is None and customer_id not in known)

    calls = [u for u in usage if counts(u.customer_id)]
    jobs = [c for c in compute if counts(c.customer_id)]
    active = {u.customer_id for u in calls if u.requests} | {c.customer_id for c in jobs if c.jobs}
    refused = [u for u in calls if u.refusal_code is not None]
    by_code: Counter[str] = Counter()
    for u in refused:
        by_code[u.refusal_code or ""] += u.requests
    screened = [h for h in hits if counts(h.customer_id)]
    raised: Counter[str] = Counter()
    decided: Counter[str] = Counter()
    for h in screened:
        raised[h.state] += h.raised
        decided[h.state] += h.decided
    return UsageReport(
        provider=provider,
        jurisdiction=scope,
        period=Period(start=rfc3339(since), end=rfc3339(until)),
        policy_hash=policy.hash,
        customers=CustomerCounts(
            total=len(mine),
            active=len(active & covered),
            by_country=_count(c.country or UNKNOWN_COUNTRY for c in mine),
            by_tier=_count(_tier(c, policy) for c in mine),
            by_kyc_status=_count(c.kyc_status for c in mine),
        ),
        compute=ComputeUsed(
            requests=sum(u.requests for u in calls),
            prompt_tokens=whole(sum(u.prompt_tokens for u in calls)),
            completion_tokens=whole(sum(u.completion_tokens for u in calls)),
            cluster_jobs=sum(c.jobs for c in jobs),
            gpu_hours=fixed(sum((c.gpu_seconds for c in jobs), _decimal.Decimal(0)) / 3600, 3),
            flop_settled=whole(sum((c.flop_settled for c in jobs), _decimal.Decimal(0))),
        ),
        refusals=Refusals(total=sum(by_code.values()), by_code=dict(sorted(by_code.items()))),
        training_flags=TrainingFlags(
            evaluated_at=rfc3339(until),
            window_days=policy.compute.window_days,
            counts=flag_counts(flags, counts, policy),
        ),
        screening=ScreeningOutcomes(
            hits_raised=sum(raised.values()),
            raised_by_state={k: v for k, v in sorted(raised.items()) if v},
            decided={k: v for k, v in sorted(decided.items()) if v},
        ),
    )
