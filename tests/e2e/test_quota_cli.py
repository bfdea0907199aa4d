"""`gateway quota set|show|time-zone` and the admin API's quota endpoints: the tightest limit
applies, `show` says which rule set it, and the API serves the same view."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.e2e.conftest import ADMIN_TOKEN
from tests.e2e.test_cli import gateway_cli


def cli_json(gw, *args: str):
    done = gateway_cli(gw, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_overrides_and_policy_caps_tightest_wins(gateway) -> None:
    cid = cli_json(
        gateway, "customers", "create", "--name", "quota-co", "--kind", "individual", "--country", "BR"
    )["id"]
    cli_json(gateway, "kyc", "submit", "--customer", cid)  # derives its jurisdictions: BR is tier 2

    shown = cli_json(gateway, "quota", "show", "--customer", "quota-co")
    assert shown["tier"] == "tier2"
    flop = next(x for x in shown["limits"] if x["dimension"] == "flop")
    assert (flop["limit"], flop["period"], flop["hard"]) == (5e23, "month", True)
    assert flop["source"] == "policy:rules.tier2.caps.flop_per_month"
    # The shipped plans (policies/plans.toml) apply too: per customer and per key.
    by_source = {(x["scope"], x["dimension"], x["period"]): x for x in shown["limits"]}
    assert by_source[("customer", "requests", "minute")]["source"] == "plan:default"
    assert by_source[("key", "requests", "second")]["scope_id"] == "*"
    assert by_source[("customer", "gpu_seconds", "month")]["source"] == "plan:standard_due_diligence"

    made = cli_json(gateway, "quota", "set", "--customer", "quota-co", "--dimension", "flop", "--limit", "1e23",
                    "--period", "month")  # fmt: skip
    shown = cli_json(gateway, "quota", "show", "--customer", "quota-co")
    flop = next(x for x in shown["limits"] if x["dimension"] == "flop")
    assert flop["limit"] == 1e23 and flop["source"] == f"override:{made['id']}"
    assert flop["hard"] is True  # the policy's cap is hard: a looser source cannot soften it
    assert [x["source"] for x in flop["overridden"]] == ["policy:rules.tier2.caps.flop_per_month"]

    # A looser override does not loosen the policy's cap.
    cli_json(gateway, "quota", "set", "--customer", "quota-co", "--dimension", "flop", "--limit", "1e30",
             "--period", "month")  # fmt: skip
    flop = next(x for x in cli_json(gateway, "quota", "show", "--customer", "quota-co")["limits"]
                if x["dimension"] == "flop")  # fmt: skip
    assert flop["limit"] == 5e23 and flop["source"].startswith("policy:")

    cli_json(gateway, "keys", "create", "--customer", "quota-co", "--project", "research")
    per_project = cli_json(gateway, "quota", "set", "--customer", "quota-co", "--dimension", "requests",
                           "--limit", "10", "--period", "minute", "--scope", "project", "--project", "research")  # fmt: skip
    assert per_project["scope"] == "project"
    rows = cli_json(gateway, "quota", "show", "--customer", "quota-co")["limits"]
    assert any(x["scope"] == "project" and x["dimension"] == "requests" and x["limit"] == 10 for x in rows)
    # Lower than the plan's 1,200 a minute: the override wins and names what it beat.
    cli_json(gateway, "quota", "set", "--customer", "quota-co", "--dimension", "requests", "--limit", "300",
             "--period", "minute")  # fmt: skip
    rows = cli_json(gateway, "quota", "show", "--customer", "quota-co")["limits"]
    per_minute = next(
        x for x in rows if (x["scope"], x["dimension"], x["period"]) == ("customer", "requests", "minute")
    )
    assert per_minute["limit"] == 300 and [x["source"] for x in per_minute["overridden"]] == ["plan:default"]


def test_bad_quota_requests_exit_with_one_line(gateway) -> None:
    cli_json(gateway, "customers", "create", "--name", "quota-bad", "--kind", "individual", "--country", "US")
    for args, message in [
        (["--limit", "-1", "--period", "day"], "the limit must be a finite number >= 0"),
        (["--limit", "5", "--period", "day", "--scope", "project", "--project", "nope"],
         "this customer has no project 'nope'"),
        (["--limit", "5", "--period", "day", "--scope", "key", "--key", "0000000000000000"],
         "this customer has no key '0000000000000000'"),
    ]:  # fmt: skip
        done = gateway_cli(
            gateway, "quota", "set", "--customer", "quota-bad", "--dimension", "requests", *args
        )
        assert done.returncode == 1 and done.stderr.strip() == f"gateway: error: {message}", done.stderr


def test_time_zone_set_show_and_refused(gateway) -> None:
    cid = cli_json(
        gateway, "customers", "create", "--name", "quota-tz", "--kind", "individual", "--country", "DE"
    )["id"]
    assert cli_json(gateway, "quota", "time-zone", "--customer", "quota-tz") == {
        "customer": cid,
        "time_zone": "UTC",
    }
    made = cli_json(gateway, "quota", "time-zone", "--customer", "quota-tz", "Europe/Berlin")
    assert made == {"customer": cid, "time_zone": "Europe/Berlin"}
    assert cli_json(gateway, "quota", "time-zone", "--customer", cid)["time_zone"] == "Europe/Berlin"
    shown = gateway_cli(gateway, "quota", "time-zone", "--customer", "quota-tz")
    assert (shown.returncode, shown.stdout) == (0, "Europe/Berlin\n"), shown.stderr
    assert cli_json(gateway, "quota", "show", "--customer", "quota-tz")["time_zone"] == "Europe/Berlin"
    text = gateway_cli(gateway, "quota", "show", "--customer", "quota-tz")
    assert text.returncode == 0 and "time zone Europe/Berlin" in text.stdout, text.stderr

    for zone in ["Mars/Olympus_Mons", "../../etc/passwd", "/etc/localtime", "localtime", "America", ""]:
        done = gateway_cli(gateway, "quota", "time-zone", "--customer", "quota-tz", zone)
        assert done.returncode != 0 and repr(zone) in done.stderr, (zone, done.stderr)
        assert done.stderr.startswith("gateway: error: ") and done.stderr.count("\n") == 1
    assert cli_json(gateway, "quota", "time-zone", "--customer", "quota-tz")["time_zone"] == "Europe/Berlin"
    missing = gateway_cli(gateway, "quota", "time-zone", "--customer", "no-such-co", "UTC")
    assert missing.returncode == 1 and "no-such-co" in missing.stderr


def admin(gw, method: str, path: str, token: str | None = ADMIN_TOKEN, **kw) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.request(method, gw.url + path, headers=headers, **kw)


def refused(response: httpx.Response, status: int, code: str) -> dict:
    """The admin API's error: the status, and the body every error has."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and set(error) == {"type", "code", "message", "request_id"}, error
    assert error["request_id"] and error["message"]
    return error


def test_admin_api_quota_view_overrides_and_time_zone(gateway) -> None:
    cid = cli_json(
        gateway, "customers", "create", "--name", "quota-admin", "--kind", "individual", "--country", "BR"
    )["id"]
    cli_json(gateway, "kyc", "submit", "--customer", cid)
    cli_json(gateway, "keys", "create", "--customer", "quota-admin", "--project", "research")
    cli_json(
        gateway, "customers", "create", "--name", "quota-other", "--kind", "individual", "--country", "US"
    )
    theirs = cli_json(gateway, "keys", "create", "--customer", "quota-other", "--project", "theirs")
    base = f"/admin/v1/customers/{cid}"

    # Without the token, nothing.
    for method, path, body in [
        ("GET", f"{base}/quota", None),
        ("PUT", f"{base}/quota/overrides", {"dimension": "requests", "limit": 1, "period": "minute"}),
        ("DELETE", f"{base}/quota/overrides/1", None),
        ("PUT", f"{base}/time-zone", {"time_zone": "UTC"}),
    ]:
        refused(admin(gateway, method, path, token=None, json=body), 401, "missing_token")
        refused(admin(gateway, method, path, token="nope", json=body), 401, "invalid_token")

    # The same view as the CLI's, under the policy the gateway enforces.
    view = admin(gateway, "GET", f"{base}/quota")
    assert view.status_code == 200, view.text
    cli = cli_json(gateway, "quota", "show", "--customer", cid)
    assert view.json()["limits"] == cli["limits"] and cli["limits"]
    assert view.json() == cli
    refused(admin(gateway, "GET", f"/admin/v1/customers/{uuid.uuid4()}/quota"), 404, "customer_not_found")

    made = admin(
        gateway,
        "PUT",
        f"{base}/quota/overrides",
        json={"dimension": "requests", "limit": 7, "period": "minute"},
    )
    assert made.status_code == 200, made.text
    override = made.json()
    assert (override["customer_id"], override["scope"], override["scope_id"]) == (cid, "customer", cid)
    assert (override["limit"], override["period"], override["hard"]) == (7, "minute", False)
    assert override["created_by"].startswith("admin:")
    limits = admin(gateway, "GET", f"{base}/quota").json()["limits"]
    per_minute = next(
        x for x in limits if (x["scope"], x["dimension"], x["period"]) == ("customer", "requests", "minute")
    )
    assert per_minute["limit"] == 7 and per_minute["source"] == f"override:{override['id']}"
    assert [x["source"] for x in per_minute["overridden"]] == ["plan:default"]
    assert limits == cli_json(gateway, "quota", "show", "--customer", cid)["limits"]

    # A project of its own can be limited; another customer's project or key cannot.
    own = admin(gateway, "PUT", f"{base}/quota/overrides", json={
        "dimension": "output_tokens", "limit": 1000, "rolling_days": 30, "scope": "project",
        "scope_name": "research", "hard": True})  # fmt: skip
    assert own.status_code == 200 and own.json()["scope"] == "project" and own.json()["hard"] is True, (
        own.text
    )
    for scope, name, code in [
        ("project", "theirs", "project_not_found"),
        ("key", theirs["id"], "key_not_found"),
    ]:
        error = refused(admin(gateway, "PUT", f"{base}/quota/overrides", json={
            "dimension": "requests", "limit": 1, "period": "second", "scope": scope, "scope_name": name}),
            404, code)  # fmt: skip
        assert name in error["message"]

    bad = refused(
        admin(
            gateway,
            "PUT",
            f"{base}/quota/overrides",
            json={"dimension": "bananas", "limit": 1, "period": "day"},
        ),
        400,
        "invalid_quota",
    )
    assert "dimension" in bad["message"]
    refused(
        admin(gateway, "PUT", f"{base}/quota/overrides", json={"dimension": "requests", "limit": 1}),
        400,
        "invalid_quota",
    )
    unknown = refused(admin(gateway, "PUT", f"{base}/quota/overrides", json={
        "dimension": "requests", "limit": 1, "period": "day", "customer": "someone-else"}), 400, "invalid_body")  # fmt: skip
    assert "customer" in unknown["message"]
    refused(admin(gateway, "PUT", f"{base}/quota/overrides", content=b"{not json"), 400, "invalid_json")
    refused(admin(gateway, "PUT", f"/admin/v1/customers/{uuid.uuid4()}/quota/overrides",
                  json={"dimension": "requests", "limit": 1, "period": "day"}), 404, "customer_not_found")  # fmt: skip

    # Deleted: the plan's limit is back; a second delete, or another customer's override, is a 404.
    other_cid = cli_json(gateway, "quota", "time-zone", "--customer", "quota-other")["customer"]
    refused(admin(gateway, "DELETE", f"/admin/v1/customers/{other_cid}/quota/overrides/{override['id']}"),
            404, "override_not_found")  # fmt: skip
    gone = admin(gateway, "DELETE", f"{base}/quota/overrides/{override['id']}")
    assert (gone.status_code, gone.json()) == (200, {"deleted": True}), gone.text
    limits = admin(gateway, "GET", f"{base}/quota").json()["limits"]
    assert not any(x["source"] == f"override:{override['id']}" for x in limits)
    refused(admin(gateway, "DELETE", f"{base}/quota/overrides/{override['id']}"), 404, "override_not_found")

    # The time zone: set, shown by the API and the CLI, and refused when it is not an IANA name.
    tz = admin(gateway, "PUT", f"{base}/time-zone", json={"time_zone": "America/Sao_Paulo"})
    assert (tz.status_code, tz.json()) == (200, {"customer": cid, "time_zone": "America/Sao_Paulo"}), tz.text
    assert admin(gateway, "GET", f"{base}/quota").json()["time_zone"] == "America/Sao_Paulo"
    assert cli_json(gateway, "quota", "time-zone", "--customer", cid)["time_zone"] == "America/Sao_Paulo"
    for zone in ["Atlantis/Capital", "../../../etc/passwd", "", "Europe\\Paris"]:
        error = refused(
            admin(gateway, "PUT", f"{base}/time-zone", json={"time_zone": zone}), 400, "invalid_time_zone"
        )
        assert repr(zone) in error["message"]
    refused(
        admin(gateway, "PUT", f"{base}/time-zone", json={"time_zone": "UTC", "x": 1}), 400, "invalid_body"
    )
    refused(admin(gateway, "PUT", f"{base}/time-zone", json={}), 400, "invalid_body")
    refused(admin(gateway, "PUT", f"/admin/v1/customers/{uuid.uuid4()}/time-zone", json={"time_zone": "UTC"}),
            404, "customer_not_found")  # fmt: skip
    assert admin(gateway, "GET", f"{base}/quota").json()["time_zone"] == "America/Sao_Paulo"
