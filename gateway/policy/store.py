"""The policy in force: loaded at start-up, swapped atomically on reload, never half-applied.

A reload that fails (a bad file, an unknown country) keeps the policy in force and
says why. The files of the last policy that loaded are copied to the state folder,
so a worker that a server restarts (granian and uvicorn restart workers on SIGHUP)
while the folder holds a broken edit starts on the last good policy instead of not
starting, and reports the error on ``/readyz`` and in the log.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import structlog

from .loader import PolicyError, load_policy, shipped_policy_dir
from .model import Policy

if TYPE_CHECKING:
    from ..settings import Settings

_log = structlog.get_logger(__name__)


def policy_dirs(settings: Settings) -> list[Path]:
    """The shipped policy, then the deployment's folder that overrides or extends it."""
    dirs = [shipped_policy_dir()]
    if settings.policy_dir is not None:
        dirs.append(Path(settings.policy_dir).expanduser())
    return dirs


class ReloadResult(msgspec.Struct, frozen=True):
    ok: bool
    policy_hash: str
    """The hash of the policy in force after the attempt."""
    previous_hash: str
    error: str | None = None


class PolicyStore:
    def __init__(
        self, dirs: Sequence[Path], snapshot_dir: Path | None = None, *, strict: bool = False
    ) -> None:
        """``strict``: a policy that does not load stops start-up (the server's parent process);
        otherwise the last good copy is used (workers the server restarts)."""
        self.dirs = [Path(d) for d in dirs]
        self.snapshot_dir = snapshot_dir
        self._strict = strict
        self.error: str | None = None
        """Why the configured folders do not load, while an older policy is in force."""
        self._listeners: list[Callable[[Policy], None]] = []
        self.policy = self._initial()

    def _initial(self) -> Policy:
        try:
            policy = load_policy(*self.dirs)
        except PolicyError as exc:
            snapshot = [] if self._strict else self._snapshot_dirs()
            if not snapshot:
                raise
            policy = load_policy(*snapshot)
            self.error = str(exc)
            _log.error("policy_invalid_using_last_good", error=self.error, policy_hash=policy.hash)
            return policy
        self._save_snapshot()
        return policy

    def subscribe(self, listener: Callable[[Policy], None]) -> None:
        """Called with the new policy after each successful swap (e.g. to recompile entitlements)."""
        self._listeners.append(listener)

    def reload(self) -> ReloadResult:
        previous = self.policy.hash
        try:
            policy = load_policy(*self.dirs)
        except PolicyError as exc:
            self.error = str(exc)
            _log.error("policy_reload_failed", error=self.error, policy_hash=previous)
            return ReloadResult(False, previous, previous, self.error)
        self.error = None
        if policy.hash != previous:
            self.policy = policy  # one reference swap: a request sees the old policy or the new one
            for listener in self._listeners:
                listener(policy)
            self._save_snapshot()
            _log.info("policy_reloaded", policy_hash=policy.hash, previous_hash=previous)
        return ReloadResult(True, policy.hash, previous)

    # -- the last good policy's files --------------------------------------------------

    def _snapshot_dirs(self) -> list[Path]:
        if self.snapshot_dir is None or not self.snapshot_dir.is_dir():
            return []
        return sorted(p for p in self.snapshot_dir.iterdir() if p.is_dir())

    def _save_snapshot(self) -> None:
        if self.snapshot_dir is None:
            return
        self.snapshot_dir.parent.mkdir(parents=True, exist_ok=True)
        # Workers and replicas sharing a state folder reload at the same moment: one at a time.
        with (self.snapshot_dir.parent / ".policy.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._replace_snapshot(self.snapshot_dir)

    def _replace_snapshot(self, target: Path) -> None:
        staging = Path(tempfile.mkdtemp(prefix=".policy-", dir=target.parent))
        for i, source in enumerate(self.dirs):
            shutil.copytree(source, staging / f"{i:02d}", ignore=shutil.ignore_patterns("*.md", ".*"))
        old = target.with_name(target.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
