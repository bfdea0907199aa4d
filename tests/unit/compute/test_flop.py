"""A job's compute from the accelerator catalog: bound, expected, settled."""

from __future__ import annotations

import pytest

from gateway.compute import JobCompute, job_compute, settled_flop
from gateway.policy.model import Compute

from ..policy.helpers import SHIPPED, rebuilt

HOUR = 3600


def test_eight_h100_for_an_hour() -> None:
    got = job_compute(8, HOUR, "h100", SHIPPED, default_accelerator="a100")
    assert got == JobCompute(
        accelerator="h100",
        gpus=8,
        peak_flops_per_gpu=989e12,
        utilisation=0.4,
        gpu_seconds_bound=8 * 3600,
        flop_bound=8 * 3600 * 989e12,
        flop_expected=8 * 3600 * 989e12 * 0.4,
    )


@pytest.mark.parametrize("asked", ["h100-sxm", "H100-SXM5", " H100 ", "h100-80gb"])
def test_aliases_resolve_to_the_catalog_name(asked: str) -> None:
    got = job_compute(1, HOUR, asked, SHIPPED, default_accelerator="a100")
    assert got.accelerator == "h100"
    assert got.peak_flops_per_gpu == 989e12


@pytest.mark.parametrize("asked", [None, "", "  "])
def test_no_accelerator_means_the_default_one(asked: str | None) -> None:
    got = job_compute(4, 2 * HOUR, asked, SHIPPED, default_accelerator="Trillium")
    assert got.accelerator == "tpu-v6e"
    assert got.flop_bound == 4 * 7200 * 918e12


def test_precision() -> None:
    fp8 = job_compute(2, HOUR, "b200", SHIPPED, default_accelerator="h100", precision="FP8")
    assert fp8.peak_flops_per_gpu == 4500e12
    assert fp8.flop_bound == 2 * 3600 * 4500e12
    bf16 = job_compute(2, HOUR, "b200", SHIPPED, default_accelerator="h100", precision="bf16")
    assert bf16.peak_flops_per_gpu == 2250e12


def test_a_precision_the_accelerator_has_no_peak_for() -> None:
    with pytest.raises(ValueError) as exc:
        job_compute(8, HOUR, "a100", SHIPPED, default_accelerator="h100", precision="fp8")
    assert str(exc.value) == "accelerator 'a100' has no peak for precision 'fp8' (it has: bf16)"
    with pytest.raises(ValueError, match="precision 'fp4'"):
        job_compute(8, HOUR, "h100", SHIPPED, default_accelerator="h100", precision="fp4")


def test_unknown_accelerator_names_it_and_the_known_ones() -> None:
    with pytest.raises(ValueError) as exc:
        job_compute(8, HOUR, "rtx4090", SHIPPED, default_accelerator="h100")
    message = str(exc.value)
    assert message.startswith("unknown accelerator 'rtx4090' (known: a100 (a100-40gb, ")
    for name in SHIPPED.accelerators:
        assert name in message
    assert "tpu-v6e (trillium, v6e)" in message


def test_an_unknown_default_accelerator_is_named() -> None:
    with pytest.raises(ValueError, match="unknown accelerator 'h100-nvl'"):
        job_compute(8, HOUR, None, SHIPPED, default_accelerator="h100-nvl")


def test_a_policy_without_catalog() -> None:
    bare = rebuilt(accelerators=None, compute=None)
    with pytest.raises(ValueError) as exc:
        job_compute(8, HOUR, "h100", bare, default_accelerator="h100")
    assert str(exc.value) == "unknown accelerator 'h100' (known: none: the policy has no accelerator catalog)"


def test_the_policy_utilisation_and_default_precision_apply() -> None:
    policy = rebuilt(
        accelerators={"h100": SHIPPED.accelerators["h100"]},
        compute=Compute(utilisation=0.5, default_precision="fp8"),
    )
    got = job_compute(10, 100, None, policy, default_accelerator="h100")
    assert (got.peak_flops_per_gpu, got.utilisation) == (1979e12, 0.5)
    assert got.flop_expected == 10 * 100 * 1979e12 * 0.5


def test_zero_and_negative() -> None:
    zero = job_compute(0, HOUR, "h100", SHIPPED, default_accelerator="h100")
    assert (zero.gpu_seconds_bound, zero.flop_bound, zero.flop_expected) == (0, 0, 0)
    with pytest.raises(ValueError, match="GPU count"):
        job_compute(-1, HOUR, "h100", SHIPPED, default_accelerator="h100")
    with pytest.raises(ValueError, match="time limit"):
        job_compute(1, -5, "h100", SHIPPED, default_accelerator="h100")


def test_settled_flop() -> None:
    assert settled_flop(8, 1800.0, 989e12, 0.4) == 8 * 1800 * 989e12 * 0.4
    assert settled_flop(8, -3.0, 989e12, 0.4) == 0  # a clock stepping back settles nothing
    assert settled_flop(8, float("nan"), 989e12, 0.4) == 0
    with pytest.raises(ValueError):
        settled_flop(8, 10.0, 989e12, 1.5)
    with pytest.raises(ValueError):
        settled_flop(-8, 10.0, 989e12, 0.4)


def test_a_job_that_runs_to_its_limit_settles_to_its_expected_compute() -> None:
    job = job_compute(64, 12 * HOUR, "mi300x", SHIPPED, default_accelerator="h100")
    settled = settled_flop(job.gpus, 12 * HOUR, job.peak_flops_per_gpu, job.utilisation)
    assert settled == pytest.approx(job.flop_expected, rel=1e-15)
    assert settled <= job.flop_bound
