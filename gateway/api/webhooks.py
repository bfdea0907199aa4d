"""Identity-verification providers report results here: ``POST /kyc/v1/webhooks/<provider>``.

The signature is checked over the raw body before anything is parsed; a delivery
is applied once (deduplicated on the provider's event id) and answered 200 even when
it changes nothing, so that providers stop retrying it.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import post

from ..errors import NotFoundInStore, PayloadTooLarge, ServiceUnavailable
from ..kyc.webhooks import parse_event, verify_signature
from .common import AnyRequest, services_of
from .openapi import Body, webhook_api

MAX_WEBHOOK_BYTES = 1 << 20
_EVENT = Body(
    schema={"type": "object"},
    description="The provider's event as it sends it (its scheme's own format), signed in a header.",
)


@post("/kyc/v1/webhooks/{provider:str}", status_code=200, **webhook_api(body=_EVENT))
async def receive(request: AnyRequest, provider: str) -> dict[str, Any]:
    services = services_of(request)
    config = next((p for p in services.settings.kyc_providers if p.name == provider), None)
    if config is None:
        raise NotFoundInStore(f"no identity provider named {provider!r}", code="provider_not_found")
    secrets = config.secrets(services.environ)
    if not secrets:
        raise ServiceUnavailable(
            f"the webhook secret of {provider!r} is not configured (${config.secret_env})",
            code="webhook_unconfigured",
        )
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge(f"a webhook body may not exceed {MAX_WEBHOOK_BYTES} bytes")
    headers = {k.lower(): v for k, v in request.headers.items()}
    now = time.time()
    verify_signature(
        config.scheme, secrets, headers, body, now=now, tolerance_seconds=config.tolerance_seconds
    )
    event = parse_event(config.scheme, provider, body, now=now, tolerance_seconds=config.tolerance_seconds)
    async with services.pool.acquire() as conn:
        applied, note = await services.kyc.apply_provider_event(conn, event)
    return {"event_id": event.event_id, "applied": applied, "note": note}


webhook_routes = [receive]
