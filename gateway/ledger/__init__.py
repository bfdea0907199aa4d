"""The usage ledger: one event per proxied call, written in batches, never dropped."""

from .events import UsageEvent
from .writer import LedgerWriter

__all__ = ["LedgerWriter", "UsageEvent"]
