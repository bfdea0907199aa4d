"""A small filesystem of its own (a tmpfs) mounted on a folder, that a test can fill and free: a full
disk, for real (ENOSPC, short writes at the edge of a page), without touching any other disk.

Mounting needs root (``CAP_SYS_ADMIN``); :func:`unavailable` says why it cannot be had, for a skip.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path


def unavailable() -> str | None:
    """Why a small disk cannot be mounted here, or None."""
    if os.geteuid() != 0:
        return "mounting a small tmpfs (a disk to fill) needs root"
    return None


class SmallDisk:
    def __init__(self, folder: Path, size: str = "256k") -> None:
        self.folder = folder
        self.size = size
        self._filler = folder / ".filler"

    def mount(self) -> SmallDisk:
        self.folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={self.size},mode=0700", "tmpfs", str(self.folder)],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        return self

    def fill(self) -> int:
        """Write a file until the disk refuses another byte; returns the bytes it took."""
        taken = 0
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (65536, 4096, 1):
                with contextlib.suppress(OSError):
                    while True:
                        taken += os.write(fd, b"\0" * chunk)
        finally:
            os.close(fd)
        return taken

    def free(self) -> None:
        self._filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.folder)], check=False, capture_output=True, timeout=30)
