"""What the traffic generator produces: customers with their KYC facts and label, campaigns, calls."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Label = Literal["ordinary", "legit_heavy", "ring_linked", "ring_unlinked", "reseller", "extractor"]
CampaignType = Literal["ring_linked", "ring_unlinked", "reseller", "extractor"]
CAMPAIGN_TYPES: tuple[CampaignType, ...] = ("ring_linked", "ring_unlinked", "reseller", "extractor")

OPENAI_ROUTE = "/v1/chat/completions"
ANTHROPIC_ROUTE = "/v1/messages"


@dataclass(frozen=True)
class Key:
    id: str
    """16 hex digits, as in ``api_keys.id``."""
    secret: str
    """The whole key as presented (``gk_<id>_<48 hex>``): real, so a sample can go through the gateway."""


@dataclass(frozen=True)
class Customer:
    id: uuid.UUID
    name: str
    kind: Literal["individual", "organisation"]
    country: str
    label: Label
    profile: str
    """hobbyist, startup, enterprise, benchmark_lab, batch_jobs, popular_app, or the campaign type."""
    campaign: str | None
    payment_fingerprints: tuple[str, ...]
    """Processor fingerprints (as a payment processor hands them over); the KYC service keys them."""
    owners: tuple[str, ...]
    """Beneficial owners' names (organisations); an individual is its own owner and lists none."""
    networks: tuple[str, ...]
    """The /24 networks its own calls come from (end users' networks are not listed)."""
    keys: tuple[Key, ...]
    utc_offset: float
    project: str = "default"


@dataclass(frozen=True)
class Campaign:
    id: str
    type: CampaignType
    members: frozenset[uuid.UUID]
    start: dt.datetime
    """When its traffic begins: time to flag is measured from here."""


@dataclass(slots=True)
class Call:
    """One model-API call, with the ground truth the evaluation (and synthetic features) may use."""

    at: dt.datetime
    request_id: uuid.UUID
    customer_id: uuid.UUID
    key_id: str
    route: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    duration_ms: float
    client_ip: str
    network: str
    family: str
    reasoning: bool
    template: str | None
    """The campaign or job template this prompt was filled from; None for free text."""
    system: str | None
    """Which system prompt (an id), None without one."""
    temperature: float | None
    logprobs: bool
    top_logprobs: int | None
    logit_bias: bool
    text_seed: int
    builder: Callable[[random.Random, Call], dict[str, Any]] = field(repr=False)

    def body(self) -> dict[str, Any]:
        """The request body, built on demand (a separate RNG: building it or not changes nothing else)."""
        return self.builder(random.Random(self.text_seed), self)

    def record(self) -> dict[str, Any]:
        """The call in the usage import format (one JSON object per line)."""
        return {
            "request_id": str(self.request_id),
            "occurred_at": self.at.isoformat(),
            "key_id": self.key_id,
            "route": self.route,
            "model": self.model,
            "status": 200,
            "stream": False,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "duration_ms": self.duration_ms,
            "client_ip": self.client_ip,
            "body": self.body(),
        }
