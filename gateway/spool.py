"""The spool folder the ledger and the audit log write to while the database is down: who called
what, from where, and what was decided: readable by the gateway's user only, whatever the umask."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

SPOOL_FILE_MODE = 0o600
SPOOL_DIR_MODE = 0o700


def spool_folder(path: Path) -> None:
    """The spool folder, created owner-only if it is missing (an existing one is left as it is)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=SPOOL_DIR_MODE, exist_ok=True)  # the umask can only take bits away from 0700


def write_spool_file(path: Path, lines: Iterable[bytes]) -> None:
    """A new spool file of these lines, fsynced; or, if any of it fails (a full disk), no file at
    all and the OSError raised: the caller still holds the lines, and a file cut short would
    only be replayed in part."""
    # The name is new each time: O_EXCL refuses a file (or a link) planted under it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, SPOOL_FILE_MODE)
    try:
        with os.fdopen(fd, "ab") as fh:
            for line in lines:
                fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
