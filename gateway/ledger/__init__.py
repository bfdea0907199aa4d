"""The ledger: one event per proxied call and one per settled cluster job, written in batches,
never dropped, and read back (:mod:`.repository`) by everything that reports on usage."""

from .events import ComputeEvent, UsageEvent
from .writer import LedgerWriter

__all__ = ["ComputeEvent", "LedgerWriter", "UsageEvent"]
