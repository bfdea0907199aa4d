"""`gateway quota set|show`: the tightest limit applies, and `show` says which rule set it."""

from __future__ import annotations

import json

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
