"""Taking an action on one customer of a detection cluster, and reversing it; each in the audit log.

- ``flag``: a record, nothing else.
- ``throttle``: a quota override (customer scope, ``requests`` per ``minute``) at the policy's
  ``throttle_requests_per_minute``, set as ``gateway quota set`` sets one (audited there too). An
  override already as tight is left alone; a looser one is replaced and restored on reversal. Two
  clusters throttling one customer share the override: the last reversal removes it.
- ``edd``: enhanced due diligence. A verified customer goes back to review (KYC ``in_review``, through
  the KYC service's transition, actor ``detector``): its traffic is refused until an operator decides.
- ``suspend``: a verified customer is suspended through the KYC service.

The detector changes only a verified customer's status: a customer already out of verified (pending,
in review, suspended, rejected by someone else) is left as it is, and the action says so. A customer
held by another active detector action shares that hold: the last reversal reinstates it.

A reversal (operator and reason required) undoes exactly what the action did, if nothing else changed
since: the override is removed (or the replaced one restored) if it still has the throttle's limit;
the customer is reinstated to verified (``approve`` from review, ``reinstate`` from suspension) if its
status is still the one the action set, from the same change. Otherwise it says what it left alone.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

import asyncpg
import msgspec

from ..audit import log
from ..audit.entry import commitment, decimal, entry
from ..errors import BadRequest, Conflict
from ..quota.overrides import delete_override, set_override
from .repository import Action, get_action

if TYPE_CHECKING:
    from ..kyc.service import Action as KycAction
    from ..kyc.service import KycService
    from ..policy.detection import ActionName

DETECTOR = "detector"
"""The actor of every automatic action."""
_json = msgspec.json.encode
_ANY = msgspec.json.Decoder()
_THROTTLE = {"dimension": "requests", "period": "minute"}


def check_reason(reason: str) -> str:
    """A reason of 1-1000 characters: every operator decision must say why."""
    reason = reason.strip()
    if not reason or len(reason) > 1000:
        raise BadRequest("a reason of 1-1000 characters is required", code="invalid_reason")
    # PostgreSQL text holds neither NUL nor a lone surrogate: refused here, not as a database error.
    if "\x00" in reason or (not reason.isprintable() and _unencodable(reason)):
        raise BadRequest("the reason holds a character that cannot be stored", code="invalid_reason")
    return reason


def _unencodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


async def take(
    conn: asyncpg.Connection,
    kyc: KycService,
    *,
    cluster_id: uuid.UUID,
    customer_id: uuid.UUID,
    action: ActionName,
    automatic: bool,
    shadow: bool,
    actor: str,
    reason: str,
    evidence_hash: str,
    score: float,
    throttle_rpm: float,
    now: dt.datetime,
) -> Action:
    """Take ``action`` on one customer (in one transaction with its audit entry); the recorded row."""
    async with conn.transaction():
        override_id: int | None = None
        if shadow:
            effect: dict[str, Any] = {"none": "shadow mode: recorded, nothing done"}
        elif action == "flag":
            effect = {"none": "a flag is a record"}
        elif action == "throttle":
            override_id, effect = await _throttle(conn, customer_id, throttle_rpm, actor)
        else:
            # The KYC trail cites the cluster, whoever acted.
            cited = reason if str(cluster_id) in reason else f"detection cluster {cluster_id}: {reason}"
            effect = await _hold(conn, kyc, customer_id, action, actor, cited)
        data = {
            "cluster": str(cluster_id),
            "action": action,
            "automatic": automatic,
            "shadow": shadow,
            "evidence": evidence_hash,
            "score": decimal(score),
            "reason": commitment(reason),
            "override": override_id,
            "effect": next(iter(effect)),
        }
        (seq,) = await log.append(
            conn, [entry("detect.action", actor=actor, at=now, subject=f"customer:{customer_id}", data=data)]
        )
        action_id = await conn.fetchval(
            """
            insert into detect_actions (cluster_id, customer_id, action, automatic, shadow, actor, reason,
                                        evidence_hash, override_id, effect, created_at, audit_seq)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12)
            returning id
            """,
            cluster_id,
            customer_id,
            action,
            automatic,
            shadow,
            actor,
            reason,
            evidence_hash,
            override_id,
            _json(effect).decode(),
            now,
            seq,
        )
        return await get_action(conn, action_id)


async def _throttle(
    conn: asyncpg.Connection, customer_id: uuid.UUID, rpm: float, actor: str
) -> tuple[int | None, dict[str, Any]]:
    existing = await conn.fetchrow(
        """
        select id, "limit", hard from quota_overrides
        where customer_id = $1 and scope = 'customer' and scope_id = $2 and dimension = 'requests'
          and period = 'minute' and rolling_days is null
        """,
        customer_id,
        str(customer_id),
    )
    previous = None
    if existing is not None:
        holder = await conn.fetchval(
            "select effect::text from detect_actions"
            " where override_id = $1 and state = 'active' and not shadow order by id limit 1",
            existing["id"],
        )
        if holder is not None:  # another cluster's throttle: share it
            return existing["id"], {"override": _ANY.decode(holder)["override"]}
        if existing["limit"] <= rpm:
            return None, {"none": f"an override of {existing['limit']:g} requests per minute is as tight"}
        previous = {"limit": existing["limit"], "hard": existing["hard"]}
    override = await set_override(
        conn, customer_id, dimension="requests", limit=rpm, period="minute", actor=actor
    )
    return override.id, {"override": {"id": override.id, "limit": rpm, "previous": previous}}


_KYC_MOVE: dict[str, tuple[KycAction, str]] = {
    "edd": ("review", "in_review"),
    "suspend": ("suspend", "suspended"),
}


async def _status(conn: asyncpg.Connection, customer_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow(
        "select kyc_status, status_changed_at from customers where id = $1 for update", customer_id
    )
    assert row is not None, "detect_actions references customers"
    return row


async def _hold(
    conn: asyncpg.Connection, kyc: KycService, customer_id: uuid.UUID, action: str, actor: str, reason: str
) -> dict[str, Any]:
    row = await _status(conn, customer_id)
    status, changed = row["kyc_status"], row["status_changed_at"]
    if status != "verified":
        holder = await conn.fetchval(
            """
            select effect::text from detect_actions
            where customer_id = $1 and state = 'active' and not shadow and effect ? 'kyc'
              and effect -> 'kyc' ->> 'to' = $2 and effect -> 'kyc' ->> 'changed_at' = $3
            order by id limit 1
            """,
            customer_id,
            status,
            changed.isoformat(),
        )
        if holder is not None:  # held by another detector action: share its hold
            return {"kyc": _ANY.decode(holder)["kyc"]}
        return {"none": f"the customer is {status}, not verified: left as it is"}
    move, target = _KYC_MOVE[action]
    await kyc.decide(conn, customer_id, move, actor, reason)
    after = await _status(conn, customer_id)
    assert after["kyc_status"] == target
    return {"kyc": {"from": "verified", "to": target, "changed_at": after["status_changed_at"].isoformat()}}


async def reverse(
    conn: asyncpg.Connection,
    kyc: KycService,
    action_id: int,
    *,
    actor: str,
    reason: str,
    now: dt.datetime,
) -> Action:
    """Undo an action (what it changed, if nothing else changed since) and log the reversal."""
    reason = check_reason(reason)
    async with conn.transaction():
        done = await get_action(conn, action_id, lock=True)
        if done.state == "reversed":
            raise Conflict(f"action {action_id} was already reversed", code="already_reversed")
        if done.shadow:
            raise Conflict(
                f"action {action_id} was recorded in shadow mode and changed nothing", code="shadow_action"
            )
        if done.action == "throttle":
            undone = await _unthrottle(conn, done, actor)
        elif "kyc" in done.effect:
            undone = await _release(conn, kyc, done, actor, reason)
        else:
            undone = {"none": "nothing to undo"}
        data = {
            "action_id": done.id,
            "action": done.action,
            "cluster": str(done.cluster_id),
            "reason": commitment(reason),
            "undone": next(iter(undone)),
        }
        subject = f"customer:{done.customer_id}"
        (seq,) = await log.append(
            conn, [entry("detect.action_reversed", actor=actor, at=now, subject=subject, data=data)]
        )
        await conn.execute(
            """
            update detect_actions set state = 'reversed', reversed_at = $2, reversed_by = $3,
                reversal_reason = $4, reversal_seq = $5,
                effect = effect || jsonb_build_object('undone', $6::jsonb)
            where id = $1
            """,
            action_id,
            now,
            actor,
            reason,
            seq,
            _json(undone).decode(),
        )
        return await get_action(conn, action_id)


async def _unthrottle(conn: asyncpg.Connection, done: Action, actor: str) -> dict[str, Any]:
    if done.override_id is None:
        return {"none": "the throttle set no override"}
    sharing = await conn.fetchval(
        "select count(*) from detect_actions"
        " where override_id = $1 and state = 'active' and not shadow and id <> $2",
        done.override_id,
        done.id,
    )
    if sharing:
        return {"kept": f"{sharing} other active throttle(s) share override {done.override_id}"}
    limit = await conn.fetchval(
        'select "limit" from quota_overrides where id = $1 and customer_id = $2 for update',
        done.override_id,
        done.customer_id,
    )
    mine = done.effect["override"]
    if limit is None:
        return {"none": f"override {done.override_id} was removed since"}
    if limit != mine["limit"]:
        return {"kept": f"override {done.override_id} was changed since (now {limit:g}): left as it is"}
    previous = mine.get("previous")
    if previous is not None:
        await set_override(
            conn,
            done.customer_id,
            dimension="requests",
            limit=previous["limit"],
            period="minute",
            hard=previous["hard"],
            actor=actor,
        )
        return {"restored": f"override {done.override_id} back to {previous['limit']:g} requests per minute"}
    await delete_override(conn, done.customer_id, done.override_id, actor=actor)
    return {"removed": f"override {done.override_id}"}


async def _release(
    conn: asyncpg.Connection, kyc: KycService, done: Action, actor: str, reason: str
) -> dict[str, Any]:
    mine = done.effect["kyc"]
    row = await _status(conn, done.customer_id)
    status = row["kyc_status"]
    if status != mine["to"] or row["status_changed_at"].isoformat() != mine["changed_at"]:
        return {"kept": f"the customer's status changed since (now {status}): left as it is"}
    sharing = await conn.fetchval(
        """
        select count(*) from detect_actions
        where customer_id = $1 and state = 'active' and not shadow and id <> $2
          and effect -> 'kyc' ->> 'changed_at' = $3
        """,
        done.customer_id,
        done.id,
        mine["changed_at"],
    )
    if sharing:
        return {"kept": f"{sharing} other active action(s) hold the customer {status}"}
    move: KycAction = "approve" if status == "in_review" else "reinstate"
    await kyc.decide(conn, done.customer_id, move, actor, f"detection action {done.id} reversed: {reason}")
    return {"reinstated": "verified"}
