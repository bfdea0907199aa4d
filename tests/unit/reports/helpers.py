"""Facts for the pure report builders: customers, ledger rows and flags, made up by hand."""

from __future__ import annotations

import datetime as dt
import decimal

from gateway.compute.flags import Flag
from gateway.policy import load_policy
from gateway.reports.model import Provider
from gateway.reports.usage import ComputeRow, CustomerRow, HitRow, UsageRow

POLICY = load_policy()
PROVIDER = Provider(name="gpu.example", country="US", audit_log="gpu.example/audit")
SINCE = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
UNTIL = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)

DE = "00000000-0000-0000-0000-00000000000d"
FR = "00000000-0000-0000-0000-00000000000f"
US = "00000000-0000-0000-0000-000000000001"
IR = "00000000-0000-0000-0000-000000000002"
NONE = "00000000-0000-0000-0000-000000000003"


def jurisdictions(*countries: str) -> str:
    return "[" + ",".join(f'{{"country":"{c}","source":"account"}}' for c in countries) + "]"


CUSTOMERS = [
    CustomerRow(DE, "DE", "verified", "standard", jurisdictions("DE")),
    CustomerRow(FR, "FR", "verified", "enhanced", jurisdictions("FR")),
    CustomerRow(US, "US", "verified", "standard", jurisdictions("US")),
    CustomerRow(IR, "IR", "rejected", "standard", jurisdictions("IR")),
    CustomerRow(NONE, None, "pending", "standard", "[]"),
]
USAGE = [
    UsageRow(DE, None, 100, 10_000, 2_000),
    UsageRow(DE, "budget_exhausted", 7, 0, 0),
    UsageRow(FR, "jurisdiction_denied", 3, 0, 0),
    UsageRow(US, None, 2**40, 2**52, 2**53),  # sums beyond 2^53
    UsageRow(IR, "kyc_rejected", 5, 0, 0),
]
COMPUTE = [
    ComputeRow(DE, 2, decimal.Decimal("7200"), decimal.Decimal("1.5E+21")),
    ComputeRow(US, 1, decimal.Decimal("1800.5"), decimal.Decimal("300000000000000000000000")),
]
HITS = [
    HitRow(FR, "open", 1, 0),
    HitRow(FR, "dismissed", 1, 1),
    HitRow(IR, "confirmed", 1, 1),
]


def flag(
    customer: str, threshold: str, fraction: float, group: list[str] | None = None, **kw: object
) -> Flag:
    levels = {t.name: t for t in POLICY.thresholds.training}
    fields: dict[str, object] = {
        "customer": customer,
        "group": sorted(group or [customer]),
        "threshold": threshold,
        "threshold_flop": levels[threshold].flop,
        "fraction": fraction,
        "flop": levels[threshold].flop * fraction,
        "flop_settled": levels[threshold].flop * fraction,
        "flop_expected": 0.0,
        "jobs": [],
        "links": [],
        "assumptions": "test",
    }
    fields.update(kw)
    return Flag(**fields)  # type: ignore[arg-type]
