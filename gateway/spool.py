"""The spool folder the ledger and the audit log write to while the database is down: who called
what, from where, and what was decided: readable by the gateway's user only, whatever the umask."""

from __future__ import annotations

from pathlib import Path

SPOOL_FILE_MODE = 0o600
SPOOL_DIR_MODE = 0o700


def spool_folder(path: Path) -> None:
    """The spool folder, created owner-only if it is missing (an existing one is left as it is)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=SPOOL_DIR_MODE, exist_ok=True)  # the umask can only take bits away from 0700
