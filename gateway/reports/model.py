"""The two report documents as typed structs, their canonical bytes, and their JSON Schemas.

A report's body is what is signed, hashed and logged, so it must be the same bytes for the same
ledger and parameters, on any machine: RFC 8785 (JCS) canonical JSON of the struct, and nothing in
it that depends on when or by whom it was issued (the envelope, :class:`~.repository.StoredReport`,
holds the id, version, issue time and issuer). JCS cannot carry integers beyond 2^53 exactly, and
a float's text depends on how it was summed: every number that can grow large or carry a fraction
(FLOP, tokens, GPU-hours, utilisation) is a decimal string (:func:`gateway.audit.entry.decimal`),
every time an RFC 3339 UTC string. Counts of things (customers, requests, jobs) are integers.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
import decimal as _decimal
import json
from typing import Annotated, Any, Literal

import msgspec
import rfc8785

from ..audit.entry import decimal, jcs_problem

Kind = Literal["usage", "large_training"]
KINDS: tuple[Kind, ...] = ("usage", "large_training")
USAGE_FORMAT = "gateway.report.usage/v1"
LARGE_TRAINING_FORMAT = "gateway.report.large_training/v1"


class ReportError(ValueError):
    """A report that cannot be built or read as asked, and why (one line for the CLI)."""


Number = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?$",
        description="A decimal number, exactly, as a string (no exponent, no trailing zeros).",
    ),
]
Instant = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z$",
        description="An instant, RFC 3339 in UTC.",
        extra_json_schema={"format": "date-time"},
    ),
]


class _Part(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every part of a report: immutable, named fields only, nothing unknown accepted back."""


# -- shared parts ----------------------------------------------------------------------------------


class Provider(_Part, frozen=True, kw_only=True):
    """Who issues the report (settings ``provider_name``, ``provider_country``, ``audit_origin``)."""

    name: str
    country: str
    audit_log: str
    """The audit log's origin: where the report's ``report.issued`` entry can be proven."""


class Period(_Part, frozen=True, kw_only=True):
    start: Instant
    """Inclusive, RFC 3339 UTC."""
    end: Instant
    """Exclusive, RFC 3339 UTC."""


class Scope(_Part, frozen=True, kw_only=True):
    """Which customers a jurisdiction's report counts (see :func:`gateway.reports.usage.scope`)."""

    code: str
    """``EU``, ``US``, ``DE`` ...: an ISO 3166-1 alpha-2 code or a policy group's name in upper case."""
    rule: str
    """The rule applied, in words."""
    countries: list[str] | None
    """The customers' countries counted (sorted); None: every customer (the provider's home)."""


# -- usage -----------------------------------------------------------------------------------------


class CustomerCounts(_Part, frozen=True, kw_only=True):
    """Customers the jurisdiction covers that existed before the period's end: counts only."""

    total: int
    active: int
    """Of them, those with at least one call or one settled job in the period."""
    by_country: dict[str, int]
    """By ``customers.country`` (``unknown`` when none is recorded)."""
    by_tier: dict[str, int]
    """By the policy tier their KYC facts put them in now (the policy of ``policy_hash``)."""
    by_kyc_status: dict[str, int]


class ComputeUsed(_Part, frozen=True, kw_only=True):
    """What the covered customers used in the period, from ``usage_events`` and ``compute_events``."""

    requests: int
    """Calls to the model and cluster APIs, refused ones included."""
    prompt_tokens: Number
    completion_tokens: Number
    cluster_jobs: int
    """Cluster jobs that ended in the period."""
    gpu_hours: Number
    """Their GPU time, hours, to 0.001."""
    flop_settled: Number
    """What they are counted to have computed (GPUs x run time x peak x utilisation), whole FLOP."""


class Refusals(_Part, frozen=True, kw_only=True):
    """Calls refused with 403 (KYC, jurisdiction, policy) or 429 (quota), by error code."""

    total: int
    by_code: dict[str, int]


class FlagCount(_Part, frozen=True, kw_only=True):
    """Training-scale flags of one level of one threshold, among the covered customers."""

    threshold: str
    jurisdiction: str | None
    threshold_flop: Number
    level: Number
    """The alert fraction of the threshold reached (``1`` is the threshold itself)."""
    groups: int
    """Linked groups at this level (customers whose compute is summed together count once)."""
    customers: int


class TrainingFlags(_Part, frozen=True, kw_only=True):
    evaluated_at: Instant
    """The period's end: compute of jobs submitted before it, active in the window before it."""
    window_days: int
    counts: list[FlagCount]
    """Sorted by threshold, then level."""


class ScreeningOutcomes(_Part, frozen=True, kw_only=True):
    """Denied-party screening of the covered customers and their owners."""

    hits_raised: int
    """Possible matches found in the period."""
    raised_by_state: dict[str, int]
    """Those hits by their state at generation (open, confirmed, dismissed, cleared)."""
    decided: dict[str, int]
    """Hits decided by an operator in the period, by decision (confirmed, dismissed)."""


class UsageReport(_Part, frozen=True, kw_only=True):
    """The periodic report of one jurisdiction: aggregates only, no customer's name or id."""

    format: Literal["gateway.report.usage/v1"] = "gateway.report.usage/v1"
    kind: Literal["usage"] = "usage"
    provider: Provider
    jurisdiction: Scope
    period: Period
    policy_hash: str
    """The jurisdiction policy the tiers and thresholds were read from."""
    customers: CustomerCounts
    compute: ComputeUsed
    refusals: Refusals
    training_flags: TrainingFlags
    screening: ScreeningOutcomes


# -- large training --------------------------------------------------------------------------------


class Threshold(_Part, frozen=True, kw_only=True):
    """The reporting level reached, as the policy states it."""

    name: str
    flop: Number
    scope: str
    source: str
    as_of: str
    jurisdiction: str
    report_within_days: int | None
    level: Number
    """The alert fraction reached: ``1``, the level itself (settled plus expected compute)."""


class Address(_Part, frozen=True, kw_only=True):
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str | None
    country: str


class NationalId(_Part, frozen=True, kw_only=True):
    """Whether an identification number is on file, and of which kind: never the number itself."""

    on_file: bool
    types: list[str]
    issuing_countries: list[str]


class BeneficialOwner(_Part, frozen=True, kw_only=True):
    name: str | None
    """None once the owner's personal data was erased."""
    kind: str
    country: str | None
    percent: Number
    """Effective share of the customer, directly and through every chain of companies."""
    control_roles: list[str]


class CustomerIdentity(_Part, frozen=True, kw_only=True):
    """The CIP identity fields the KYC record holds, for one customer of the group."""

    id: str
    account_name: str
    legal_name: str | None
    kind: str
    country: str | None
    incorporation_country: str | None
    residence_country: str | None
    headquarters_country: str | None
    addresses: list[Address]
    national_id: NationalId
    kyc_status: str
    verified_at: Instant | None
    beneficial_owners: list[BeneficialOwner]


class Workload(_Part, frozen=True, kw_only=True):
    """One cluster job counted towards the level."""

    job: str
    """``<cluster>:<job id>``, as the flag names it."""
    cluster: str
    job_id: str | None
    customer_id: str
    state: str
    accelerator: str
    gpus: int
    time_limit_seconds: int
    submitted_at: Instant
    started_at: Instant | None
    ended_at: Instant | None
    peak_flops_per_gpu: Number
    utilisation: Number
    gpu_seconds_settled: Number
    flop_bound: Number
    flop_expected: Number
    flop_settled: Number
    bio: bool


class AcceleratorUsed(_Part, frozen=True, kw_only=True):
    name: str
    peak_flops_per_gpu: list[Number]
    """Dense peak FLOP/s per device the jobs were admitted with (each distinct value)."""
    utilisation: list[Number]
    catalog_title: str | None
    catalog_source: str | None
    """The vendor document of the accelerator catalog's figure, when the catalog still lists it."""


class Estimate(_Part, frozen=True, kw_only=True):
    """How the compute was estimated: the hardware method, with the figures it used."""

    method: str
    formula: str
    accelerators: list[AcceleratorUsed]
    policy_utilisation: Number
    window_days: int
    assumptions: str
    """The flag's own statement of what was summed, and how."""


class ComputeTotals(_Part, frozen=True, kw_only=True):
    settled: Number
    """FLOP of the group's ended jobs."""
    expected: Number
    """FLOP expected of its queued and running jobs (bound x utilisation)."""
    total: Number
    fraction_of_threshold: Number


class Timeline(_Part, frozen=True, kw_only=True):
    first_seen: Instant
    """The first counted job's submission."""
    became_known_at: Instant
    """The submission that took the compute expected of the group's jobs to the threshold: from
    then on it was known the level would be met (Art. 52(1), "or it becomes known that it will")."""
    crossed_at: Instant | None
    """The end of the job that took the settled compute to the threshold; None: not yet."""
    projected_completion_at: Instant | None
    """Not yet crossed: when the live jobs reach their time limits at the latest."""
    evaluated_at: Instant


class Link(_Part, frozen=True, kw_only=True):
    a: str
    b: str
    reason: str


class LargeTrainingReport(_Part, frozen=True, kw_only=True):
    """One linked group's training compute reaching a reporting level (at planning or completion)."""

    format: Literal["gateway.report.large_training/v1"] = "gateway.report.large_training/v1"
    kind: Literal["large_training"] = "large_training"
    provider: Provider
    jurisdiction: str
    period: Period
    """The accounting window the compute was summed over: ``window_days`` before the evaluation."""
    policy_hash: str
    threshold: Threshold
    trigger: Literal["crossed", "projected"]
    """``projected``: the settled compute has not reached the level yet, the expected has (planning)."""
    deadline: Instant | None
    """``became_known_at`` + ``report_within_days``; None when the policy sets no deadline."""
    group: list[str]
    """The customers whose compute was summed (sorted ids)."""
    links: list[Link]
    customers: list[CustomerIdentity]
    workloads: list[Workload]
    compute: ComputeTotals
    estimate: Estimate
    dates: Timeline


Report = UsageReport | LargeTrainingReport
_TYPES: dict[str, type[UsageReport] | type[LargeTrainingReport]] = {
    "usage": UsageReport,
    "large_training": LargeTrainingReport,
}


# -- numbers and times -----------------------------------------------------------------------------


def rfc3339(when: dt.datetime) -> str:
    """UTC, ``Z``, microseconds only when there are some: one text per instant."""
    utc = when.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ")


def maybe_rfc3339(when: dt.datetime | None) -> str | None:
    return None if when is None else rfc3339(when)


def whole(value: float | int | _decimal.Decimal) -> str:
    """A quantity counted in whole units (FLOP, tokens): its shortest decimal, rounded half-even."""
    exact = value if isinstance(value, _decimal.Decimal) else _decimal.Decimal(decimal(value))
    return str(int(exact.quantize(_decimal.Decimal(1), rounding=_decimal.ROUND_HALF_EVEN)))


def fixed(value: float | int | _decimal.Decimal, places: int) -> str:
    """``value`` rounded half-even to ``places`` decimals, written without trailing zeros."""
    exact = value if isinstance(value, _decimal.Decimal) else _decimal.Decimal(decimal(value))
    step = _decimal.Decimal(1).scaleb(-places)
    return decimal(exact.quantize(step, rounding=_decimal.ROUND_HALF_EVEN))


# -- bytes, decoding, schema -----------------------------------------------------------------------


def _check(value: object, path: str) -> None:
    if (problem := jcs_problem(value, path)) is not None:
        raise ReportError(problem)


def canonical(report: Report) -> bytes:
    """The body: RFC 8785 canonical JSON of the report (what is stored, hashed, signed and exported)."""
    raw = msgspec.to_builtins(report)
    _check(raw, "$")
    out: bytes = rfc8785.dumps(raw)
    return out


def decode(kind: str, body: bytes) -> Report:
    """A stored body read back into its struct (strictly: unknown fields refused)."""
    try:
        type_ = _TYPES[kind]
    except KeyError:
        raise ReportError(f"unknown report kind {kind!r} (expected one of: {', '.join(KINDS)})") from None
    return msgspec.json.decode(body, type=type_)


def schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one kind's body, from its struct."""
    try:
        type_ = _TYPES[kind]
    except KeyError:
        raise ReportError(f"unknown report kind {kind!r} (expected one of: {', '.join(KINDS)})") from None
    found: dict[str, Any] = msgspec.json.schema(type_)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:gateway:report:{kind}:v1",
        "title": f"{kind} report",
        **found,
    }


def schema_text(kind: str) -> str:
    """The schema as the published file holds it: indented, keys sorted, a final newline."""
    return json.dumps(schema(kind), indent=2, sort_keys=True) + "\n"
