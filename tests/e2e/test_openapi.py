"""The control plane's OpenAPI document: served, valid, complete, and true of a real gateway.

The property-based test (schemathesis) drives a real gateway process with a database of its
own, so that whatever it creates or breaks stays out of the other tests' way. Every generated
request is sent three times: anonymously, authenticated (the admin token, a token from the
loopback OIDC issuer, a valid webhook signature), and authenticated with its ids replaced by
ones that exist, so that the handlers are reached past the lookups. None may answer 5xx, and
every 4xx must carry the gateway's error shape; the authenticated answers must also conform to
the document (documented status, content type and schema; schema-invalid input refused).
Bounded (``MAX_EXAMPLES`` per operation and mode) and deterministic (derandomized, fixed seed).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.api.openapi import OPENAPI_PATH, WEBHOOK_SIGNATURES, openapi_document
from gateway.kyc.webhooks import sign_generic
from gateway.ops.control import create_control_app
from gateway.runtime import Runtime
from gateway.settings import load_settings
from tests.conftest import make_database
from tests.e2e.conftest import ADMIN_TOKEN, GENERIC_SECRET, GatewayProcess, free_port, gateway_config
from tests.e2e.test_detect import flagged
from tests.oidc_issuer import TestIssuer

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
FUZZ_SUBJECT = "fuzz-applicant"
MAX_EXAMPLES = 50  # per operation and mode


def control_routes(config: Path | None) -> set[tuple[str, str]]:
    """(path, method) of every route the control plane's Litestar app has, as built from ``config``;
    but the web pages (``/web``): HTML for people, not part of the API's contract."""
    app = create_control_app(Runtime(load_settings(str(config) if config else None)))
    return {
        (route.path_format, method)
        for route in app.routes
        for method in getattr(route, "route_handler_map", {})
        if method in METHODS and not route.path_format.startswith((OPENAPI_PATH, "/web"))
    }


def test_the_schema_is_served_valid_and_lists_every_route(gateway, gateway_config_file) -> None:
    r = httpx.get(gateway.url + OPENAPI_PATH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    doc = r.json()
    validate(doc)  # OpenAPI 3.1, with its JSON Schema dialect
    assert doc["openapi"].startswith("3.1")

    documented = {
        (path, m.upper()) for path, item in doc["paths"].items() for m in item if m.upper() in METHODS
    }
    assert documented == control_routes(gateway_config_file)

    schemes = doc["components"]["securitySchemes"]
    assert schemes["adminToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["adminToken"]["description"],
    }
    assert schemes["oidcToken"]["bearerFormat"] == "JWT"
    assert {schemes[n]["name"] for n in WEBHOOK_SIGNATURES} == set(WEBHOOK_SIGNATURES.values())
    error = {"$ref": "#/components/schemas/ErrorBody"}
    detail = doc["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"type", "code", "message", "request_id"}
    expected_security = {"admin": [{"adminToken": []}], "onboarding": [{"oidcToken": []}],
                         "regulator": [{"regulatorToken": []}],
                         "webhooks": [{name: []} for name in WEBHOOK_SIGNATURES]}  # fmt: skip
    assert schemes["regulatorToken"]["type"] == "oauth2"
    assert "reports:EU" in schemes["regulatorToken"]["flows"]["clientCredentials"]["scopes"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            (tag,) = op["tags"]
            if tag == "operations":
                assert "security" not in op, (method, path)
                continue
            assert op["security"] == expected_security[tag], (method, path)
            errors = {int(s): v for s, v in op["responses"].items() if int(s) >= 400}
            assert {401, 503} <= set(errors), (method, path)
            for status, response in errors.items():
                assert response["content"]["application/json"]["schema"] == error, (method, path, status)
            if method in ("post", "put", "patch") and "requestBody" not in op:
                # Only these read no body at all.
                assert path.endswith(("/submit", "/erase", "/reload")), (method, path)

    # Bodies are msgspec's own schemas of the Structs the handlers decode: unknown fields refused.
    owners = doc["paths"]["/admin/v1/customers/{customer_id}/owners"]["post"]["requestBody"]
    assert owners["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/OwnerIn"}
    owner_in = doc["components"]["schemas"]["OwnerIn"]
    assert owner_in["additionalProperties"] is False and set(owner_in["required"]) == {"name", "kind"}
    upload = doc["paths"]["/admin/v1/screening/lists"]["post"]["requestBody"]["content"]
    assert upload == {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}


# -- schemathesis against a gateway of its own ----------------------------------------------------


@dataclass
class FuzzTarget:
    gateway: GatewayProcess
    issuer: TestIssuer
    ids: dict[str, str]
    """Path parameters that exist: a customer, the fuzzing account's application, a provider."""

    def credentials(self, case: schemathesis.Case, body: bytes | None) -> dict[str, str]:
        path = case.operation.path
        if path.startswith("/admin/"):
            return {"authorization": f"Bearer {ADMIN_TOKEN}"}
        if path.startswith("/kyc/v1/applications"):
            return {"authorization": f"Bearer {self.issuer.sign(sub=FUZZ_SUBJECT)}"}
        if path.startswith("/kyc/v1/webhooks/"):
            return {"gateway-signature": sign_generic(GENERIC_SECRET.encode(), body or b"", int(time.time()))}
        return {}


def _raw_body(case: schemathesis.Case) -> bytes | None:
    """The body as it will be sent, so that a webhook signature can cover exactly those bytes."""
    body = case.body
    if isinstance(body, schemathesis.core.NotSet):  # type: ignore[attr-defined]
        return None
    if isinstance(body, bytes):
        return body
    if case.media_type == "application/json":
        return json.dumps(body).encode()
    return str(body).encode()


@pytest.fixture(scope="module")
def fuzz_target(
    admin_url: str,
    upstream,
    oidc_issuer: TestIssuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FuzzTarget]:
    url, drop = make_database(admin_url)
    root = tmp_path_factory.mktemp("fuzz")
    config = root / "gateway.toml"
    config.write_text(gateway_config(upstream[1], free_port(), oidc_issuer.issuer))
    gw = GatewayProcess(config, url, root / "state").start()
    try:
        admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        org = httpx.post(
            gw.url + "/admin/v1/customers",
            headers=admin,
            json={"name": "fuzz-org", "kind": "organisation", "country": "DE"},
        )
        assert org.status_code == 201, org.text
        token = oidc_issuer.sign(sub=FUZZ_SUBJECT)
        app = httpx.post(
            gw.url + "/kyc/v1/applications",
            headers={"authorization": f"Bearer {token}"},
            json={"name": "fuzz-applicant", "kind": "individual", "country": "US"},
        )
        assert app.status_code == 201, app.text
        ids = {"customer_id": org.json()["id"], "application_id": app.json()["id"], "provider": "acme-idv"}
        owner = httpx.post(
            f"{gw.url}/kyc/v1/applications/{ids['application_id']}/owners",
            headers={"authorization": f"Bearer {token}"},
            json={"name": "Fuzz Owner", "kind": "person", "country": "US", "percent": 100},
        )
        assert owner.status_code == 201, owner.text
        override = httpx.put(
            f"{gw.url}/admin/v1/customers/{ids['customer_id']}/quota/overrides",
            headers=admin,
            json={"dimension": "requests", "limit": 100, "period": "day"},
        )
        assert override.status_code == 200, override.text
        # A customer on a loaded list, so that a screening hit exists to confirm or dismiss.
        listed = httpx.post(
            gw.url + "/admin/v1/customers",
            headers=admin,
            json={"name": "Blue Lantern Trading Co., Ltd.", "kind": "organisation", "country": "IR"},
        )
        assert listed.status_code == 201, listed.text
        sdn = Path(__file__).parents[1] / "fixtures" / "screening" / "sdn.csv"
        loaded = httpx.post(
            gw.url + "/admin/v1/screening/lists",
            headers=admin,
            params={"source": "sdn", "name": "sdn.csv"},
            content=sdn.read_bytes(),
        )
        assert loaded.status_code == 201, loaded.text
        status = httpx.get(f"{gw.url}/admin/v1/customers/{listed.json()['id']}/kyc/status", headers=admin)
        # A detection cluster (of the organisation) and its flag, to review, act on and reverse.
        cluster_id, action_id = flagged(url, uuid.UUID(ids["customer_id"]))
        ids |= {
            "cluster_id": str(cluster_id),
            "action_id": str(action_id),
            "owner_id": owner.json()["id"],
            "override_id": str(override.json()["id"]),
            "hit_id": str(status.json()["screening"]["hits"][0]["id"]),
        }
        yield FuzzTarget(gw, oidc_issuer, ids)
    finally:
        gw.stop()
        drop()


@pytest.fixture(scope="module")
def control_plane_schema(fuzz_target: FuzzTarget) -> schemathesis.BaseSchema:
    """The document the gateway serves, as schemathesis loads it (it refuses an invalid one)."""
    # Security parameters are the test's own to send (the credentials above): generated ones
    # would only ever be refused, in every negative case, before any handler ran.
    config = schemathesis.Config.from_dict(
        {
            "seed": 1,
            "generation": {"deterministic": True, "database": "none", "with-security-parameters": False},
        }
    )
    return schemathesis.openapi.from_url(fuzz_target.gateway.url + OPENAPI_PATH, config=config)


CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def assert_error_shape(response: Any, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:500]}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, f"{what}: {body}"
        assert set(body["error"]) == {"type", "code", "message", "request_id"}, f"{what}: {body}"
        assert all(isinstance(v, str) for v in body["error"].values()), f"{what}: {body}"


def fuzz_cases() -> list[Any]:
    """(path, method, mode) for every operation: negative data only where there is input to break."""
    doc = json.loads(json.dumps(openapi_document(create_control_app(Runtime(load_settings(None))))))
    cases = []
    for path, method in sorted(control_routes(None)):
        op = doc["paths"][path][method.lower()]
        modes = [GenerationMode.POSITIVE]
        if op.get("parameters") or op.get("requestBody"):
            modes.append(GenerationMode.NEGATIVE)
        cases += [pytest.param(path, method, mode, id=f"{method} {path} {mode}") for mode in modes]
    return cases


# schemathesis's own pytest integration for a schema known only at run time (from_fixture) does not
# work with pytest 9, so each operation is a parametrized test driving Hypothesis directly.
@pytest.mark.parametrize(("path", "method", "mode"), fuzz_cases())
def test_no_operation_answers_5xx(
    path: str, method: str, mode: GenerationMode, control_plane_schema: Any, fuzz_target: FuzzTarget
) -> None:
    operation = control_plane_schema[path][method]
    base = fuzz_target.gateway.url

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        raw = _raw_body(case)
        label = f"{case.method} {case.formatted_path}"
        assert_error_shape(case.call(base_url=base), f"anonymous {label}")

        headers = fuzz_target.credentials(case, raw)
        kwargs: dict[str, Any] = (
            {"data": raw} if raw is not None and "webhooks" in case.operation.path else {}
        )
        response = case.call(base_url=base, headers=headers, **kwargs)
        case.validate_response(response, checks=CONFORMANCE, headers=headers)
        assert_error_shape(response, f"authenticated {label}")

        if path_ids := {k: v for k, v in fuzz_target.ids.items() if k in (case.path_parameters or {})}:
            case.path_parameters = {**(case.path_parameters or {}), **path_ids}
            response = case.call(base_url=base, headers=headers, **kwargs)
            assert_error_shape(
                response, f"authenticated {case.method} {case.formatted_path} (ids that exist)"
            )

    run()
