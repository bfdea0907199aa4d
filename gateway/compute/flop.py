"""How much a job can compute, and how much it did: GPU time turned into FLOP with the catalog.

A job asks for GPUs for at most its time limit. Its **bound** is what it could compute if every GPU
ran at its dense peak for the whole limit: the amount reserved against the customer's quota at
admission, which the job cannot exceed. Its **expected** compute is the bound times the policy's
assumed utilisation (``[compute] utilisation``): what a training run of that size will most likely
compute, and what the training-scale flags count for queued and running jobs. An ended job settles
to its run time instead of its limit (:func:`settled_flop`).

Pure: the peaks and the utilisation come from the policy passed in.
"""

from __future__ import annotations

import msgspec

from ..policy.model import PRECISIONS, Policy

TERA = 1e12


class JobCompute(msgspec.Struct, frozen=True):
    """A job's compute, as reserved at admission."""

    accelerator: str
    """The catalog name used (an alias resolved to its name)."""
    gpus: int
    peak_flops_per_gpu: float
    """FLOP/s (the catalog's TFLOP/s x 1e12), dense, at the precision used."""
    utilisation: float
    gpu_seconds_bound: float
    """GPUs x time limit, in seconds."""
    flop_bound: float
    """GPUs x time limit x peak: reserved at admission, the most the job can compute."""
    flop_expected: float
    """The bound x utilisation: what the job will likely compute."""


def _known(policy: Policy) -> str:
    if not policy.accelerators:
        return "none: the policy has no accelerator catalog"
    return ", ".join(
        f"{name} ({', '.join(acc.aliases)})" if acc.aliases else name
        for name, acc in sorted(policy.accelerators.items())
    )


def job_compute(
    gpus: int,
    time_limit_seconds: int,
    accelerator: str | None,
    policy: Policy,
    *,
    default_accelerator: str,
    precision: str | None = None,
) -> JobCompute:
    """The bound and expected compute of ``gpus`` devices for ``time_limit_seconds``.

    ``accelerator`` is a catalog name or alias, in any case; None or blank means
    ``default_accelerator`` (the cluster's). ``precision`` (``bf16``, ``fp8``) defaults to the
    policy's ``default_precision``. Raises :class:`ValueError`, with a message fit for the client,
    for an unknown accelerator (naming the known ones), a precision the accelerator has no peak
    for, or a negative GPU count or time limit.
    """
    if gpus < 0:
        raise ValueError(f"the GPU count cannot be negative (got {gpus})")
    if time_limit_seconds < 0:
        raise ValueError(f"the time limit cannot be negative (got {time_limit_seconds} s)")
    asked = accelerator if accelerator is not None and accelerator.strip() else default_accelerator
    found = policy.accelerator(asked)
    if found is None:
        raise ValueError(f"unknown accelerator {asked!r} (known: {_known(policy)})")
    name, entry = found
    used = precision.strip().lower() if precision is not None else policy.compute.default_precision
    tflops = entry.peak_tflops.at(used)
    if tflops is None:
        listed = ", ".join(p for p in PRECISIONS if entry.peak_tflops.at(p) is not None)
        raise ValueError(f"accelerator {name!r} has no peak for precision {used!r} (it has: {listed})")
    peak = tflops * TERA
    utilisation = policy.compute.utilisation
    gpu_seconds = float(gpus * time_limit_seconds)
    bound = gpu_seconds * peak
    return JobCompute(
        accelerator=name,
        gpus=gpus,
        peak_flops_per_gpu=peak,
        utilisation=utilisation,
        gpu_seconds_bound=gpu_seconds,
        flop_bound=bound,
        flop_expected=bound * utilisation,
    )


def settled_flop(gpus: int, run_seconds: float, peak_flops_per_gpu: float, utilisation: float) -> float:
    """What an ended job computed: GPUs x run time x peak x utilisation.

    The same assumption as the expected compute, over the time the job actually ran (the scheduler
    reports run time, not FLOP). A negative run time (a clock stepping back) settles nothing.
    """
    if gpus < 0:
        raise ValueError(f"the GPU count cannot be negative (got {gpus})")
    if peak_flops_per_gpu < 0:
        raise ValueError(f"the peak cannot be negative (got {peak_flops_per_gpu})")
    if not 0 <= utilisation <= 1:
        raise ValueError(f"the utilisation must be between 0 and 1 (got {utilisation})")
    run = run_seconds if run_seconds > 0 else 0.0  # also NaN
    return gpus * run * peak_flops_per_gpu * utilisation
