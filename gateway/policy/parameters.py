"""Limits on extraction-friendly request parameters (``[parameters.<name>]``), merged and checked.

Every rule that matches a customer's tier and KYC level applies; :func:`merge` folds them into the
tightest limit of each kind, remembering which rules set it so that a refusal can name them.
:func:`check` decides one request against the merged limits: the first limit it passes over, as
``(code, message)``, or None. Pure: the stage (``proxy.stages.GuardParameters``) memoises the merged
limits per policy hash, tier and level, and reads the request's parameters from its head.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from .detection import ParameterRule

CODE = "parameter_not_allowed"


class Asked(NamedTuple):
    """The extraction-friendly parameters one request sets."""

    logprobs: bool = False
    top_logprobs: int | None = None
    """Alternatives per token (``top_logprobs``, or legacy completions' ``logprobs: N``)."""
    logit_bias: bool = False
    n: int | None = None


class Cap(NamedTuple):
    limit: int
    rules: tuple[str, ...]
    """The rules that set this limit (several may set the same tightest value)."""


class Limits(NamedTuple):
    deny_logit_bias_with_logprobs: tuple[str, ...] = ()
    """The rules that refuse it; empty: allowed."""
    deny_logit_bias: tuple[str, ...] = ()
    deny_logprobs: tuple[str, ...] = ()
    max_top_logprobs: Cap | None = None
    max_n: Cap | None = None

    @property
    def empty(self) -> bool:
        return self == _NONE


_NONE = Limits()


def _tighter(cap: Cap | None, limit: int | None, name: str) -> Cap | None:
    if limit is None:
        return cap
    if cap is None or limit < cap.limit:
        return Cap(limit, (name,))
    if limit == cap.limit:
        return Cap(limit, (*cap.rules, name))
    return cap


def merge(rules: Sequence[tuple[str, ParameterRule]]) -> Limits:
    """The tightest of each limit over the rules that apply (``Policy.parameter_rules_for``)."""
    both: list[str] = []
    bias: list[str] = []
    logprobs: list[str] = []
    top: Cap | None = None
    n: Cap | None = None
    for name, rule in rules:
        label = f"parameters.{name}"
        if rule.deny_logit_bias_with_logprobs:
            both.append(label)
        if rule.deny_logit_bias:
            bias.append(label)
        if rule.deny_logprobs:
            logprobs.append(label)
        top = _tighter(top, rule.max_top_logprobs, label)
        n = _tighter(n, rule.max_n, label)
    return Limits(tuple(both), tuple(bias), tuple(logprobs), top, n)


def _by(rules: tuple[str, ...]) -> str:
    return f"(policy {', '.join(rules)})"


def check(limits: Limits, asked: Asked) -> tuple[str, str] | None:
    """The first limit the request passes over, as ``(code, message)``; None: within them all."""
    if asked.logit_bias and limits.deny_logit_bias:
        return CODE, f"logit_bias is not allowed for this account {_by(limits.deny_logit_bias)}"
    if asked.logprobs and limits.deny_logprobs:
        return CODE, f"logprobs is not allowed for this account {_by(limits.deny_logprobs)}"
    if asked.logit_bias and asked.logprobs and limits.deny_logit_bias_with_logprobs:
        return CODE, (
            "logit_bias together with logprobs is not allowed for this account "
            f"{_by(limits.deny_logit_bias_with_logprobs)}"
        )
    top = limits.max_top_logprobs
    if top is not None and asked.top_logprobs is not None and asked.top_logprobs > top.limit:
        return CODE, f"top_logprobs {asked.top_logprobs} is above the limit of {top.limit} {_by(top.rules)}"
    n = limits.max_n
    if n is not None and asked.n is not None and asked.n > n.limit:
        return CODE, f"n {asked.n} is above the limit of {n.limit} {_by(n.rules)}"
    return None
