"""The jurisdiction policy as typed data: the structs policy files decode into, and the effective policy.

Policy files (``policies/*.toml``) decode into the ``*File``-level structs below, strictly (unknown
fields refused, numeric ranges checked by msgspec). The loader merges the files of several folders
and validates references; :func:`make_policy` then turns the merged content into a :class:`Policy`:
the content, normalised (set-like lists sorted, so the order of entries in a file does not matter),
its :attr:`Policy.hash`, and the lookups the per-request decision needs, computed once here so that
deciding is a few dictionary reads.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec
import pycountry

from .detection import Detection, ParameterRule

Action = Literal["inference", "fine_tune", "train", "cluster_job"]
ACTIONS: tuple[Action, ...] = ("inference", "fine_tune", "train", "cluster_job")
KycLevel = Literal["standard", "enhanced"]
OriginSetting = Literal["allow", "deny"]
ANY_REGION = "*"
TrainingScope = Literal["all", "eu", "bio"]
Precision = Literal["bf16", "fp8"]
PRECISIONS: tuple[Precision, ...] = ("bf16", "fp8")

if TYPE_CHECKING:
    from .index import PolicyIndex

_NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
_NonNegFloat = Annotated[float, msgspec.Meta(ge=0)]


class Group(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A named list of countries and sub-national regions, with the legal text it comes from."""

    title: str
    source: str
    as_of: dt.date
    """The date of the legal state the list reflects (the last change taken into account)."""
    countries: tuple[str, ...] = ()
    """ISO 3166-1 alpha-2 codes, upper case."""
    regions: tuple[str, ...] = ()
    """ISO 3166-2 codes (``UA-43``): matched against a customer's address region, see the README."""
    notes: str = ""


class Tier(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A class of countries treated alike; a customer is in the most restrictive tier of its facts."""

    title: str
    source: str
    as_of: dt.date
    rank: int
    """Orders the tiers: the higher, the more restrictive. Ranks must differ."""
    groups: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    notes: str = ""


class Caps(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Limits that come with an allowed request; absent means not capped. Enforced by the quota stage."""

    max_gpus_per_job: _NonNegInt | None = None
    flop_per_month: _NonNegFloat | None = None
    tokens_per_day: _NonNegInt | None = None

    def any(self) -> bool:
        return (
            self.max_gpus_per_job is not None
            or self.flop_per_month is not None
            or self.tokens_per_day is not None
        )


class Rule(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """What customers of one tier may do (``[rules.<tier>]``)."""

    actions: tuple[Action, ...]
    regions: tuple[str, ...]
    """Where their compute may run: alpha-2 codes, group names (their countries), or ``"*"``."""
    kyc_level: KycLevel = "standard"
    edd_above_gpus: _NonNegInt | None = None
    """Jobs asking for more GPUs than this need enhanced due diligence."""
    caps: Caps = Caps()
    title: str = ""
    notes: str = ""


class OriginFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``[origin]`` as written in one file: a key left out keeps the value from an earlier folder."""

    deny: tuple[str, ...] | None = None
    unknown_origin: OriginSetting | None = None
    partial_country_origin: OriginSetting | None = None


class Origin(msgspec.Struct, frozen=True):
    """Where requests may come from (the client IP's country)."""

    deny: tuple[str, ...] = ()
    """Tier and group names; a request from one of their countries is denied. Order decides which
    name a denial reports when several list the country."""
    unknown_origin: OriginSetting = "allow"
    """No country for the client IP (private, loopback or unlisted addresses)."""
    partial_country_origin: OriginSetting = "allow"
    """A country only some regions of which are listed (UA for Crimea): an IP gives no region."""


class TrainingThreshold(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A training-compute level that triggers a report (used by the training-report issue)."""

    name: str
    flop: Annotated[float, msgspec.Meta(gt=0)]
    alert_fractions: tuple[Annotated[float, msgspec.Meta(gt=0, le=1)], ...]
    scope: TrainingScope
    """``all``; ``eu`` (the same compute, reported to the EU AI Office); ``bio``: jobs declaring
    biological sequence data only."""
    source: str
    as_of: dt.date
    action: Literal["notify", "hold", "deny"] = "notify"
    """What reaching the level does to a new job that would take the customer's linked group to
    it: ``notify`` (a flag, the job runs), ``hold`` (refused until the customer has passed
    enhanced due diligence, KYC level ``enhanced``), ``deny`` (refused)."""
    report_within_days: Annotated[int, msgspec.Meta(ge=1, le=366)] | None = None
    """Days a large-training report is due within, counted from when it became known that the level
    will be met (EU AI Act Art. 52(1): two weeks). Unset: the report carries no deadline."""
    jurisdiction: str | None = None
    """Whom reaching the level is reported to: an ISO 3166-1 alpha-2 code (``US``) or a country
    group's name in upper case (``EU`` for ``[groups.eu]``). Unset: the provider's own country."""


class ThresholdsFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    ownership_threshold: Annotated[float, msgspec.Meta(gt=0, le=100)] | None = None
    training: tuple[TrainingThreshold, ...] = ()


QuotaDimension = Literal["requests", "input_tokens", "output_tokens", "gpu_seconds", "flop", "spend"]
QuotaPeriod = Literal["second", "minute", "hour", "day", "month"]


class PlanLimit(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """One limit of a quota plan (the quota stage turns it into a ``gateway.quota.Limit``)."""

    dimension: QuotaDimension
    limit: _NonNegFloat
    period: QuotaPeriod | None = None
    rolling_days: Annotated[int, msgspec.Meta(ge=1)] | None = None
    scope: Literal["key", "project", "customer"] = "customer"
    hard: bool = False

    def __post_init__(self) -> None:
        if (self.period is None) == (self.rolling_days is None):
            raise ValueError("give a period or rolling_days, not both")


class Plan(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Quota limits for customers of some tiers and KYC levels (``[plans.<name>]``)."""

    title: str
    limits: tuple[PlanLimit, ...]
    tiers: tuple[str, ...] = ()
    """The tiers it applies to; empty: every tier."""
    kyc_levels: tuple[KycLevel, ...] = ()
    """The KYC levels it applies to; empty: both."""
    notes: str = ""


_PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]


class PeakTflops(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """Dense peak TFLOP/s of one device by precision (sparsity figures are twice these)."""

    bf16: _PositiveFloat
    fp8: _PositiveFloat | None = None

    def at(self, precision: str) -> float | None:
        """The peak at ``precision`` (``bf16``, ``fp8``), or None if the device has none listed."""
        value: float | None = getattr(self, precision) if precision in PRECISIONS else None
        return value


class Accelerator(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A device of the accelerator catalog (``[accelerators.<name>]``)."""

    title: str
    peak_tflops: PeakTflops
    """Per device, dense."""
    source: str
    """The vendor document the figures come from."""
    as_of: dt.date
    aliases: tuple[str, ...] = ()
    """Other lower-case names a job may give for it (``h100-sxm`` for ``h100``)."""
    notes: str = ""


class ComputeFile(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``[compute]`` as written in one file: a key left out keeps the value from an earlier folder."""

    utilisation: Annotated[float, msgspec.Meta(gt=0, le=1)] | None = None
    default_precision: Precision | None = None
    window_days: Annotated[int, msgspec.Meta(ge=1)] | None = None


class Compute(msgspec.Struct, frozen=True):
    """How GPU time turns into FLOP, and over which window training compute is summed."""

    utilisation: float = 0.4
    """Assumed model FLOP utilisation: the expected share of the dense peak a job achieves."""
    default_precision: Precision = "bf16"
    """The precision of jobs that do not name one; every accelerator must list a peak for it."""
    window_days: int = 365
    """Training compute is summed over jobs active within this many days."""


class ModelPrice(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """What tokens of some models cost (``[model_prices.<name>]``), for the ``spend`` quota dimension."""

    models: Annotated[tuple[str, ...], msgspec.Meta(min_length=1)]
    """Model names as requests give them, or shell-style patterns (``gpt-4o-mini-*``)."""
    input_per_million: _NonNegFloat
    """Per million input (prompt) tokens, in the price table's currency."""
    output_per_million: _NonNegFloat
    """Per million output (completion) tokens."""
    notes: str = ""

    def cost(self, input_tokens: float, output_tokens: float) -> float:
        return (input_tokens * self.input_per_million + output_tokens * self.output_per_million) / 1e6


class GpuPrice(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """What an hour of one GPU of an accelerator costs (``[gpu_prices.<accelerator>]``)."""

    per_gpu_hour: _NonNegFloat
    notes: str = ""


class Prices(msgspec.Struct, frozen=True, dict=True):
    """The price table: what turns tokens and GPU time into ``spend``, in ``currency``.

    A model is priced by the entry that names it exactly, else by its most specific (longest)
    matching pattern; a GPU by its accelerator's catalog name (aliases resolve to it first).
    """

    currency: str = "USD"
    models: dict[str, ModelPrice] = {}
    gpus: dict[str, GpuPrice] = {}

    def for_model(self, model: str | None) -> ModelPrice | None:
        """The price of ``model``, or None if the table has none (memoised: this is the hot path)."""
        if model is None:
            return None
        memo = self._memo
        try:
            return memo[model]
        except KeyError:
            pass
        found = self._exact.get(model)
        if found is None:
            found = next(
                (price for pattern, price in self._patterns if fnmatch.fnmatchcase(model, pattern)), None
            )
        if len(memo) >= 10_000:  # model names come from callers: bound what they can make us hold
            memo.clear()
        memo[model] = found
        return found

    @functools.cached_property
    def _memo(self) -> dict[str, ModelPrice | None]:
        return {}

    @functools.cached_property
    def _exact(self) -> dict[str, ModelPrice]:
        return {
            name: price for price in self.models.values() for name in price.models if not _is_pattern(name)
        }

    @functools.cached_property
    def _patterns(self) -> list[tuple[str, ModelPrice]]:
        found = [
            (name, price) for price in self.models.values() for name in price.models if _is_pattern(name)
        ]
        return sorted(found, key=lambda item: (-len(item[0]), item[0]))


def _is_pattern(name: str) -> bool:
    return any(c in name for c in "*?[")


class Thresholds(msgspec.Struct, frozen=True):
    ownership_threshold: float = 25.0
    """Owners holding at least this percentage of the customer contribute their countries."""
    training: tuple[TrainingThreshold, ...] = ()


class Policy(msgspec.Struct, frozen=True, dict=True):
    """The effective policy. Build it with :func:`make_policy` (or the loader), never field by field.

    Encodes (``msgspec.json.encode``) to its content, hash and sources: what ``policy show`` prints.
    """

    groups: dict[str, Group]
    tiers: dict[str, Tier]
    rules: dict[str, Rule]
    origin: Origin
    thresholds: Thresholds
    default_tier: str
    """The tier of any country no tier lists."""
    hash: str
    """sha256 (hex) of the canonical encoding of the content above: same content, same hash."""
    sources: tuple[str, ...] = ()
    """The files the policy was read from, in order (not part of the hash)."""
    plans: dict[str, Plan] = {}
    """Quota plans by name: every plan whose tiers and KYC levels match a customer applies."""
    accelerators: dict[str, Accelerator] = {}
    """The accelerator catalog by name: peak FLOP/s per device, for job compute."""
    compute: Compute = Compute()
    """Utilisation, default precision and window of the compute accounting."""
    prices: Prices = Prices()
    """The price table of the ``spend`` quota dimension."""
    parameters: dict[str, ParameterRule] = {}
    """Limits on extraction-friendly request parameters by name (``[parameters.<name>]``)."""
    detection: Detection = Detection()
    """How distillation and abuse detection scores and acts (``[detection]``)."""

    def accelerator(self, name: str) -> tuple[str, Accelerator] | None:
        """The catalog name and entry of ``name``, a name or an alias in any case; None if unknown."""
        key = name.strip().lower()
        catalog_name = self._accelerator_names.get(key)
        return None if catalog_name is None else (catalog_name, self.accelerators[catalog_name])

    @functools.cached_property
    def _accelerator_names(self) -> dict[str, str]:
        names = {name: name for name in self.accelerators}
        for name, acc in self.accelerators.items():
            for alias in acc.aliases:
                names.setdefault(alias.lower(), name)
        return names

    def parameter_rules_for(self, tier: str, kyc_level: str) -> list[tuple[str, ParameterRule]]:
        return [
            (name, rule)
            for name, rule in self.parameters.items()
            if (not rule.tiers or tier in rule.tiers)
            and (not rule.kyc_levels or kyc_level in rule.kyc_levels)
        ]

    def plans_for(self, tier: str, kyc_level: str) -> list[tuple[str, Plan]]:
        return [
            (name, plan)
            for name, plan in self.plans.items()
            if (not plan.tiers or tier in plan.tiers)
            and (not plan.kyc_levels or kyc_level in plan.kyc_levels)
        ]

    @property
    def ownership_threshold(self) -> float:
        return self.thresholds.ownership_threshold

    @property
    def index(self) -> PolicyIndex:
        """The lookups a decision reads, built once with the policy (:func:`~.build.make_policy`)."""
        index: PolicyIndex = self.__dict__["_index"]
        return index


@functools.cache
def country_codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code pycountry knows."""
    return frozenset(c.alpha_2 for c in pycountry.countries)


@functools.cache
def region_codes() -> frozenset[str]:
    """Every ISO 3166-2 subdivision code pycountry knows."""
    return frozenset(s.code for s in pycountry.subdivisions)


def describe_caps(caps: Caps) -> str:
    """``max_gpus_per_job=256, flop_per_month=5e+23``: the caps that are set."""
    parts = [
        f"{name}={value:g}" for name in Caps.__struct_fields__ if (value := getattr(caps, name)) is not None
    ]
    return ", ".join(parts)


def describe_rule(name: str, rule: Rule) -> str:
    actions = ", ".join(rule.actions) or "none"
    regions = ", ".join(rule.regions) or "none"
    text = f"rule {name}: actions {actions}; regions {regions}; kyc {rule.kyc_level}"
    if rule.edd_above_gpus is not None:
        text += f"; edd above {rule.edd_above_gpus} GPUs"
    if rule.caps.any():
        text += f"; caps {describe_caps(rule.caps)}"
    return text
