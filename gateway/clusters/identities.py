"""Cluster identities: the cluster user each customer's jobs run as, with its account, QOS and home.

A job runs as its customer's own Unix user, so the cluster's own permissions keep customers
apart (files, signals, ``scancel``), not only the gateway's checks. The provider creates the
user on the cluster (its directory service, ``sacctmgr add user``) and maps it here; the gateway
never guesses one: a customer without an identity on a cluster cannot submit to it.
"""

from __future__ import annotations

import posixpath
import re
import uuid

import asyncpg
import msgspec

from ..errors import BadRequest, Conflict

_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
"""A portable Unix user name (``useradd``'s default rule), at most 32 characters."""
_SLURM_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


class ClusterIdentity(msgspec.Struct, frozen=True):
    """Who a customer's jobs are on one cluster."""

    cluster: str
    customer_id: uuid.UUID
    user: str
    """The Unix user the job runs as (``X-SLURM-USER-NAME``, the JWT's ``sun``)."""
    account: str | None
    """The Slurm account; None: the cluster's ``account`` setting (or Slurm's default)."""
    qos: str | None
    home: str
    """The customer's area: working directories and output files must lie inside it."""


def checked(
    cluster: str,
    customer_id: uuid.UUID,
    user: str,
    *,
    account: str | None = None,
    qos: str | None = None,
    home: str | None = None,
    home_root: str = "/home",
) -> ClusterIdentity:
    """A valid identity, or :class:`BadRequest` naming the bad field. ``home`` defaults to
    ``<home_root>/<user>``; it must be a normalised absolute path, never ``/`` itself."""
    if not _NAME.fullmatch(user):
        raise BadRequest(
            f"user: {user!r} is not a Unix user name (lower-case letters, digits, '_' or '-', "
            "at most 32, not starting with a digit)",
            code="invalid_request",
        )
    if user == "root":
        raise BadRequest("user: a customer's jobs never run as root", code="invalid_request")
    for field, value in (("account", account), ("qos", qos)):
        if value is not None and not _SLURM_NAME.fullmatch(value):
            raise BadRequest(f"{field}: {value!r} is not a Slurm name", code="invalid_request")
    home = home if home is not None else posixpath.join(home_root, user)
    if not home.startswith("/") or posixpath.normpath(home) != home or home == "/":
        raise BadRequest(
            f"home: {home!r} must be a normalised absolute path below '/' (no '..', no trailing '/')",
            code="invalid_request",
        )
    return ClusterIdentity(cluster, customer_id, user, account, qos, home)


_COLUMNS = "cluster, customer_id, unix_user as user, account, qos, home"


async def get(conn: asyncpg.Connection, cluster: str, customer_id: uuid.UUID) -> ClusterIdentity | None:
    row = await conn.fetchrow(
        f"select {_COLUMNS} from cluster_identities where cluster = $1 and customer_id = $2",  # noqa: S608
        cluster,
        customer_id,
    )
    return ClusterIdentity(**dict(row)) if row is not None else None


async def put(conn: asyncpg.Connection, identity: ClusterIdentity) -> ClusterIdentity:
    """Map (or re-map) the customer's identity; 409 ``identity_taken`` if another customer has the user."""
    try:
        await conn.execute(
            """
            insert into cluster_identities (cluster, customer_id, unix_user, account, qos, home)
            values ($1, $2, $3, $4, $5, $6)
            on conflict (cluster, customer_id) do update
               set unix_user = excluded.unix_user, account = excluded.account, qos = excluded.qos,
                   home = excluded.home, updated_at = now()
            """,
            identity.cluster,
            identity.customer_id,
            identity.user,
            identity.account,
            identity.qos,
            identity.home,
        )
    except asyncpg.UniqueViolationError:
        raise Conflict(
            f"the user {identity.user!r} on {identity.cluster!r} belongs to another customer",
            code="identity_taken",
        ) from None
    except asyncpg.ForeignKeyViolationError:
        raise BadRequest(f"no customer {identity.customer_id}", code="invalid_request") from None
    return identity


async def remove(conn: asyncpg.Connection, cluster: str, customer_id: uuid.UUID) -> bool:
    done = await conn.execute(
        "delete from cluster_identities where cluster = $1 and customer_id = $2", cluster, customer_id
    )
    return bool(done.endswith(" 1"))


async def listed(conn: asyncpg.Connection, cluster: str | None = None) -> list[ClusterIdentity]:
    rows = await conn.fetch(
        f"select {_COLUMNS} from cluster_identities"  # noqa: S608
        " where $1::text is null or cluster = $1 order by cluster, unix_user",
        cluster,
    )
    return [ClusterIdentity(**dict(r)) for r in rows]
