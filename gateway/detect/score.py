"""Scores (pure): linked clusters as a whole (``ring``), single accounts (``extractor``), and customers
whose traffic looks like many end users behind their keys (``reseller``).

Every score is in 0..1 and is a product of a few factors, each a :func:`~.signals.ramp` of a named
figure between a harmless and an alarming value, so that one strong figure alone never decides:

- **ring** = cohesion x intent x magnitude. *Cohesion*: the members are one operator (hard links,
  shared networks, or shared skeletons sent in step). *Intent*: what distillation looks like, over
  the cluster's pooled traffic: reasoning elicitation or extraction parameters, concentration on
  few task families, templated prompts, machine-like flat load, young accounts, lifted by
  concealment (the same templates in step with no declared link). *Magnitude*: the pooled volume
  against single accounts of the cohort, so 500 small accounts weigh as one big one.
- **extractor** = heavy x elicitation x (targeting, steadiness, novelty). A benchmark lab (bursty
  runs of the same prompts) and a batch job (no reasoning elicitation) stay below the cutoffs.
- **reseller** = spread x many system prompts x flat day. A popular app has many end users but
  one system prompt and a daily rhythm.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping, Sequence

from .findings import Finding, FindingKind
from .linkage import Cluster
from .signals import (
    AccountStats,
    Cohort,
    active_hour_share,
    flatness,
    herfindahl,
    hour_of_day,
    ramp,
    volume_z,
    young,
)

RING_MIN_MEMBERS = 3
"""Fewer linked accounts are scored one by one (two accounts of one company are common)."""
# (lo, hi) of each ramp: where a figure starts to count and where it counts fully.
REASONING = (0.2, 0.5)
"""Share of calls asking for step-by-step reasoning: ordinary traffic asks now and then."""
EXTRACTION = (0.1, 0.4)
"""Share of calls asking for log probabilities or setting logit bias."""
RING_REASONING_SLACK = 0.1
"""For a cluster, the reasoning share counts from the typical account's share plus 0.1 (to plus 0.4):
pooled, a campaign's reasoning calls padded with ordinary ones still stand out."""
LOGPROBS_ALONE = 0.5
"""Log probabilities without logit bias have honest uses (confidence scores, calibration, ranking):
alone they weigh half as much as reasoning elicitation or logit bias with logprobs."""
LOGIT_BIAS_LOGPROBS = (0.05, 0.3)
"""Share of calls setting logit bias and asking for log probabilities together."""
FOCUS = (0.35, 0.7)
"""Herfindahl index over task families (chat and other excluded): 0.5 is two families."""
TEMPLATED = (0.3, 0.7)
"""Share of calls on skeletons that are varied or shared with the other members."""
MACHINE = (0.3, 0.7)
"""Share of the hours since the first call with any call at all (steady streams are machines)."""
REPEATS = (0.5, 0.95)
"""Share of calls on skeletons sent before: an evaluation reruns nearly all of its prompts. A templated
harvester repeats skeletons too (masking makes a template's instances one skeleton), so only a share
near one says "rerun"."""
HEAVY = (1.0, 2.5)
"""Robust z of an account's log volume against the cohort (one account alone must stand out). The
cohort's log spread is wide (hobbyists to enterprises), so 2.5 spreads is already a top account."""
EXTRACTOR_CALLS = (50.0, 200.0)
"""Calls in the window before one account can count as heavy at all, however it ranks."""
POOLED = (1.0, 4.0)
"""Robust z of a cluster's pooled log volume against single accounts."""
SYNC = (0.05, 0.3)
"""Mean correlation of each member's activity with the rest (daily rhythm taken out)."""
CONCEALED_SYNC = (0.1, 0.4)
"""Cluster sync that counts as acting in step for concealment: stricter than for cohesion, since a
shared event (an outage, a launch) moves everybody a little."""
CONCEALED_TEMPLATES = (0.2, 0.5)
"""Share of the pooled calls on varied or shared templates for concealment: in step *on the same
templates* (a shared schedule alone, or a shared task family, is weak)."""
CONCEALMENT = 0.4
"""How much acting in step with no declared link (no payment or owner in common) adds to intent:
intent becomes 1 - (1 - intent) x (1 - 0.4 x concealed)."""
SPREAD_NETWORKS = (8.0, 40.0)
"""Client /24 networks behind one key."""
SPREAD_COUNTRIES = (3.0, 10.0)
SYSTEM_PROMPTS = (3.0, 20.0)
"""Distinct system prompts of one customer."""
SYSTEM_DOMINANCE = (0.5, 0.9)
"""Share of the most common system prompt: an app has one, a reseller its clients' many."""


class Pooled:
    """A cluster's traffic pooled, with its figures."""

    def __init__(self, members: Sequence[AccountStats], since: dt.datetime, until: dt.datetime) -> None:
        calls = sum(s.calls for s in members)
        self.calls = calls
        self.tokens = sum(s.prompt_tokens + s.completion_tokens for s in members)
        weight = max(calls, 1)
        families: dict[str, int] = {}
        hourly: dict[int, int] = {}
        for s in members:
            for f, c in s.families.items():
                families[f] = families.get(f, 0) + c
            for h, c in s.hourly.items():
                hourly[h] = hourly.get(h, 0) + c
        self.first_seen = min(s.first_seen for s in members)
        self.reasoning = sum(s.reasoning_calls for s in members) / weight
        self.extraction = sum(s.extraction_calls for s in members) / weight
        self.logit_bias_logprobs = sum(s.logit_bias_logprobs_calls for s in members) / weight
        self.focus = herfindahl(families)
        self.task_focus = herfindahl(families, tasks_only=True)
        self.templated = (
            sum(max(s.variant_share, s.shared_template_share) * s.calls for s in members) / weight
        )
        self.repeats = sum(s.repeat_share * s.calls for s in members) / weight
        self.flatness = flatness(hour_of_day(hourly, since))
        self.steady = active_hour_share(hourly, max(self.first_seen, since), until)
        self.young = sum(1 for s in members if young(s)) / len(members)


def _elicit(p: Pooled, baseline: float = 0.0) -> float:
    """Reasoning elicitation (beyond ``baseline``, what the typical account asks for), or log
    probabilities on novel prompts (a classification batch rerunning one skeleton with logprobs is
    not extraction), or logit bias with logprobs at all (the output-layer attack)."""
    novel = 1.0 - ramp(p.repeats, *REPEATS)
    lo, hi = REASONING
    return max(
        ramp(p.reasoning - baseline, lo - RING_REASONING_SLACK, hi - RING_REASONING_SLACK)
        if baseline
        else ramp(p.reasoning, lo, hi),
        ramp(p.extraction, *EXTRACTION) * novel * LOGPROBS_ALONE,
        ramp(p.logit_bias_logprobs, *LOGIT_BIAS_LOGPROBS),
    )


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def score_ring(
    cluster: Cluster,
    stats: Mapping[uuid.UUID, AccountStats],
    base: Cohort,
    since: dt.datetime,
    until: dt.datetime,
) -> Finding | None:
    """A linked cluster scored as a whole; None below :data:`RING_MIN_MEMBERS`."""
    members = [stats[m] for m in cluster.members if m in stats]
    n = len(members)
    if n < RING_MIN_MEMBERS:
        return None
    p = Pooled(members, since, until)
    hard = cluster.hard_members / n
    network = cluster.network_members / n
    template = cluster.template_members / n
    sync = ramp(cluster.sync, *SYNC)
    cohesion = max(hard, network, template * (0.5 + 0.5 * sync), sync)
    # Pooled over many accounts, ordinary use averages out: what stands out against the typical
    # account counts, and a campaign padded with ordinary-looking calls still shows.
    elicit = _elicit(p, baseline=base.reasoning_median)
    focus = ramp(p.task_focus, *FOCUS)
    templated = ramp(p.templated, *TEMPLATED)
    # Pooled, many members are active every hour whatever they are: only the day's shape tells.
    machine = p.flatness
    # Accounts sending the same templates in step while declaring nothing in common (no payment or
    # owner link) hide their relationship; a company's accounts share a card or an owner. Alone it
    # stays below the flag cutoff (at most CONCEALMENT x cohesion); it lifts weak intent.
    concealed = (1.0 - hard) * ramp(cluster.sync, *CONCEALED_SYNC) * ramp(p.templated, *CONCEALED_TEMPLATES)
    intent = 0.4 * elicit + 0.6 * (focus + templated + machine + p.young) / 4
    intent = 1.0 - (1.0 - intent) * (1.0 - CONCEALMENT * concealed)
    # Harvesting wants outputs it does not have: labs rerunning one public benchmark after a model
    # launch send the same prompts in step, and learn nothing new from the answers.
    novel = 1.0 - ramp(p.repeats, *REPEATS)
    intent *= novel
    z = volume_z(p.calls, p.tokens, base)
    magnitude = 0.5 + 0.5 * ramp(z, *POOLED)
    score = cohesion * intent * magnitude
    signals = {
        "members": float(n),
        "score": round(score, 4),
        "cohesion": round(cohesion, 4),
        "intent": round(intent, 4),
        "magnitude": round(magnitude, 4),
        "hard_linked_share": round(hard, 4),
        "network_linked_share": round(network, 4),
        "template_linked_share": round(template, 4),
        "sync": cluster.sync,
        "calls": float(p.calls),
        "volume_z": round(z, 3),
        "reasoning_share": round(p.reasoning, 4),
        "extraction_share": round(p.extraction, 4),
        "family_concentration": round(p.task_focus, 4),
        "templated_share": round(p.templated, 4),
        "flatness": round(p.flatness, 4),
        "active_hour_share": round(p.steady, 4),
        "young_share": round(p.young, 4),
        "concealed": round(concealed, 4),
        "repeat_share": round(p.repeats, 4),
    }
    typical = math.expm1(base.calls_median)
    reasons = [
        (cohesion, f"{n} accounts linked: {_pct(hard)} by payment or owner, "
                   f"{_pct(network)} by client networks, {_pct(template)} by prompt skeletons "
                   f"(activity correlation {cluster.sync:.2f})"),
        (magnitude, f"together {p.calls} calls, {p.calls / max(typical, 1):.0f}x a typical account's "
                    f"(robust z {z:.1f}), {p.calls / n:.0f} per account"),
        (elicit, f"{_pct(p.reasoning)} of calls ask for step-by-step reasoning, "
                 f"{_pct(p.extraction)} for log probabilities or logit bias"),
        (focus, f"task families concentrated (Herfindahl {p.task_focus:.2f} among task families)"),
        (templated, f"{_pct(p.templated)} of calls on varied or shared prompt templates"),
        (machine, f"flat load over the day (flatness {p.flatness:.2f})"),
        (p.young, f"{_pct(p.young)} of the accounts are younger than two weeks"),
        (concealed, f"{_pct(1 - hard)} of the accounts send the same templates in step with no payment "
                    "or owner in common"),
    ]  # fmt: skip
    return Finding(
        kind="ring",
        members=cluster.members,
        score=round(min(1.0, score), 4),
        signals=signals,
        reasons=tuple(text for w, text in sorted(reasons, key=lambda r: -r[0]) if w > 0),
        links=cluster.links,
        first_seen=p.first_seen,
        since=since,
        until=until,
    )


def score_extractor(s: AccountStats, base: Cohort, since: dt.datetime, until: dt.datetime) -> Finding:
    """One account extracting on its own: heavy, eliciting reasoning (or log probabilities), and
    targeted, steady or novel."""
    p = Pooled([s], since, until)
    z = volume_z(s.calls, s.prompt_tokens + s.completion_tokens, base)
    # Relative volume early in a window (few accounts seen yet) is noise: harvesting takes calls.
    heavy = ramp(z, *HEAVY) * ramp(s.calls, *EXTRACTOR_CALLS)
    elicit = _elicit(p)
    focus = ramp(p.focus, *FOCUS)
    steady = ramp(p.steady, *MACHINE)
    novel = 1.0 - ramp(p.repeats, *REPEATS)
    # Two of the three shapes must show (the weaker of the best two counts): a broad harvester
    # targets no few families; a benchmark lab targets its suite but reruns it in bursts.
    second = sorted((focus, steady, novel))[1]
    score = heavy * elicit * (0.2 + 0.8 * second)
    signals = {
        "score": round(score, 4),
        "heavy": round(heavy, 4),
        "elicitation": round(elicit, 4),
        "calls": float(s.calls),
        "volume_z": round(z, 3),
        "reasoning_share": round(p.reasoning, 4),
        "extraction_share": round(p.extraction, 4),
        "logit_bias_logprobs_share": round(s.logit_bias_logprobs_calls / max(s.calls, 1), 4),
        "family_concentration": round(p.focus, 4),
        "active_hour_share": round(p.steady, 4),
        "repeat_share": round(p.repeats, 4),
        "variant_share": round(s.variant_share, 4),
        "flatness": round(p.flatness, 4),
    }
    reasons = [
        (heavy, f"{s.calls} calls, robust z {z:.1f} against the active accounts"),
        (elicit, f"{_pct(p.reasoning)} of calls ask for step-by-step reasoning, "
                 f"{_pct(p.extraction)} for log probabilities or logit bias"),
        (focus, f"task families concentrated (Herfindahl {p.focus:.2f})"),
        (steady, f"active {_pct(p.steady)} of hours since its first call"),
        (novel, f"{_pct(1 - p.repeats)} of calls on skeletons not sent before "
                f"({_pct(s.variant_share)} systematic variants of one another)"),
    ]  # fmt: skip
    return _one_account("extractor", s, score, signals, reasons, since, until)


def _one_account(
    kind: FindingKind,
    s: AccountStats,
    score: float,
    signals: dict[str, float],
    reasons: list[tuple[float, str]],
    since: dt.datetime,
    until: dt.datetime,
) -> Finding:
    """A finding about one account; its reasons strongest first, those that did not count left out."""
    return Finding(
        kind=kind,
        members=(s.customer_id,),
        score=round(min(1.0, score), 4),
        signals=signals,
        reasons=tuple(text for w, text in sorted(reasons, key=lambda r: -r[0]) if w > 0),
        first_seen=s.first_seen,
        since=since,
        until=until,
    )


def score_reseller(s: AccountStats, since: dt.datetime, until: dt.datetime) -> Finding:
    """Many end users behind one customer: many client networks or countries per key, many distinct
    system prompts with none dominant, and a flat day."""
    nets = ramp(s.max_networks_per_key, *SPREAD_NETWORKS)
    countries = ramp(s.countries, *SPREAD_COUNTRIES)
    spread = max(nets, countries)
    prompts = ramp(s.system_prompts, *SYSTEM_PROMPTS) * (1.0 - ramp(s.system_top_share, *SYSTEM_DOMINANCE))
    flat = flatness(hour_of_day(s.hourly, since))
    score = spread * prompts * (0.6 + 0.4 * flat)
    signals = {
        "score": round(score, 4),
        "calls": float(s.calls),
        "networks_per_key": float(s.max_networks_per_key),
        "networks": float(s.networks),
        "countries": float(s.countries),
        "keys": float(s.keys),
        "system_prompts": float(s.system_prompts),
        "system_top_share": round(s.system_top_share, 4),
        "flatness": round(flat, 4),
    }
    reasons = [
        (spread, f"up to {s.max_networks_per_key} client networks behind one key, {s.countries} countries"),
        (prompts, f"{s.system_prompts} distinct system prompts, the commonest on {_pct(s.system_top_share)} "
                  "of calls"),
        (flat, f"flatness over the day {flat:.2f}"),
    ]  # fmt: skip
    return _one_account("reseller", s, score, signals, reasons, since, until)


def findings(
    stats: Sequence[AccountStats],
    clusters: Sequence[Cluster],
    since: dt.datetime,
    until: dt.datetime,
    *,
    cutoff: float,
    base: Cohort,
) -> list[Finding]:
    """Every finding at or above ``cutoff``: rings first, then extractors not already in a reported
    ring, then resellers; in a stable order."""
    by_id = {s.customer_id: s for s in stats}
    rings: list[Finding] = []
    for c in clusters:
        ring = score_ring(c, by_id, base, since, until)
        if ring is not None and ring.score >= cutoff:
            rings.append(ring)
    in_ring = {m for f in rings for m in f.members}
    extractors = [
        f
        for s in stats
        if s.customer_id not in in_ring and (f := score_extractor(s, base, since, until)).score >= cutoff
    ]
    resellers = [f for s in stats if (f := score_reseller(s, since, until)).score >= cutoff]
    out = rings + extractors + resellers
    out.sort(key=lambda f: (f.kind, -f.score, f.members))
    return out
