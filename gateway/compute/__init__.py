"""Compute accounting, pure: a job's FLOP from the accelerator catalog, and training-scale flags.

:func:`job_compute` turns GPUs x time limit into the FLOP bound reserved at admission and the
expected FLOP (bound x utilisation); :func:`settled_flop` what an ended job computed. :func:`evaluate`
sums customers' compute per linked group (:func:`linked_groups`) over the policy's window and
flags those nearing a ``[[thresholds.training]]`` level. Nothing here touches the database or the
clock.
"""

from __future__ import annotations

from .flags import ComputeRecord, Flag, Link, customer_totals, evaluate, linked_groups
from .flop import JobCompute, job_compute, settled_flop

__all__ = [
    "ComputeRecord",
    "Flag",
    "JobCompute",
    "Link",
    "customer_totals",
    "evaluate",
    "job_compute",
    "linked_groups",
    "settled_flop",
]
