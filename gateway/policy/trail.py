"""What the jurisdiction policy writes to the audit log: each refusal (and, in shadow mode, each
refusal it would have made), with the rule, the policy version and the facts it decided on; and
each policy version a replica loads."""

from __future__ import annotations

import datetime as dt

from ..audit.entry import AuditEntry, entry
from .decide import Decision


def refused(
    decision: Decision,
    *,
    customer_id: str,
    action: str,
    region: str | None,
    origin_country: str | None,
    at: float,
    enforced: bool = True,
    code: str | None = None,
) -> AuditEntry:
    """``code``: the refusal's own code when it is not the decision's (a cap the job exceeds)."""
    return entry(
        "policy.refused" if enforced else "policy.would_refuse",
        actor="gateway",
        at=dt.datetime.fromtimestamp(at, dt.UTC),
        subject=f"customer:{customer_id}",
        data={
            "code": code or decision.code,
            "rule": decision.rule,
            "tier": decision.tier,
            "policy": decision.policy_hash,
            "action": action,
            "region": region,
            "origin": origin_country,
        },
    )


def loaded(policy_hash: str, sources: list[str], *, actor: str, at: dt.datetime) -> AuditEntry:
    return entry(
        "policy.loaded", actor=actor, at=at, subject=f"policy:{policy_hash}", data={"files": len(sources)}
    )
