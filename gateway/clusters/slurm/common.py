"""What the Slurm readers share: supported versions, Slurm's "not set" numbers, finished states."""

from __future__ import annotations

import re

import msgspec

from gateway.errors import BadRequest

SUPPORTED_VERSIONS = ("v0.0.38", "v0.0.39", "v0.0.40", "v0.0.41", "v0.0.42", "v0.0.43", "v0.0.44")

NO_VAL = 0xFFFFFFFE
"""Slurm's "not set" for 32-bit numbers; 0xFFFFFFFF is INFINITE, and newer parsers read anything
from NO_VAL up as INFINITE."""
MAX_ARRAY_INDEX = 4_000_000
"""Slurm's MaxArraySize is at most 4000001, so no array index is above this."""
FINISHED_STATES = frozenset(
    {
        "COMPLETED",
        "CANCELLED",
        "FAILED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "OUT_OF_MEMORY",
        "BOOT_FAIL",
        "DEADLINE",
    }
)

_VERSION_IN_PATH = re.compile(r"(?:^|/)slurm(?:db)?/(v\d+\.\d+\.\d+)(?:[/?]|$)")


def version_of(path: str) -> str | None:
    """``"/slurm/v0.0.38/job/submit"`` -> ``"v0.0.38"`` (also ``/slurmdb/...``); None if no version.

    Any ``vX.Y.Z`` is returned, supported or not: the readers refuse the unsupported ones.
    """
    match = _VERSION_IN_PATH.search(path)
    return match[1] if match else None


def require_supported(version: str) -> None:
    if version not in SUPPORTED_VERSIONS:
        raise BadRequest(
            f"Slurm REST API version {version!r} is not supported; "
            f"supported versions: {', '.join(SUPPORTED_VERSIONS)}",
            code="unsupported_api_version",
        )


class NoVal(msgspec.Struct, kw_only=True):
    """Slurm's ``{"set": true, "infinite": false, "number": 2880}`` (v0.0.39+)."""

    set: bool = False
    infinite: bool = False
    number: int | None = None
