"""With GATEWAY_DATABASE_URL unset, the CLI runs on the embedded PostgreSQL under the state folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def gateway(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_STATE_DIR"] = str(state)
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.embedded
def test_cli_on_the_embedded_default(tmp_path: Path) -> None:
    state = tmp_path / "state"
    migrate = gateway("db", "migrate", "--json", state=state)
    assert migrate.returncode == 0, migrate.stderr
    shipped = sorted(
        int(f.name[:3]) for f in (Path(__file__).parents[2] / "sql").glob("[0-9][0-9][0-9]_*.sql")
    )
    assert len(shipped) >= 9  # 009: cluster identities
    assert [m["version"] for m in json.loads(migrate.stdout)] == shipped
    assert (state / "pgdata" / "PG_VERSION").exists()

    created = gateway("customers", "create", "--name", "embedded-co", "--json", state=state)
    assert created.returncode == 0, created.stderr
    customer = json.loads(created.stdout)
    assert customer["name"] == "embedded-co"

    key = json.loads(
        gateway(
            "keys", "create", "--customer", customer["id"], "--project", "p", "--json", state=state
        ).stdout
    )
    assert set(key) == {"id", "key", "customer", "project"}
    assert key["customer"] == "embedded-co" and key["key"].startswith(f"gk_{key['id']}_")

    listed = json.loads(gateway("keys", "list", "--json", state=state).stdout)
    assert [k["id"] for k in listed] == [key["id"]]
    assert key["key"] not in json.dumps(listed)

    # KYC on the embedded default: no master key configured, so one is made in the state folder.
    refused = gateway("kyc", "submit", "--customer", "embedded-co", state=state)
    assert refused.returncode == 1 and "missing country, beneficial owners" in refused.stderr
    owner = gateway(
        "owners",
        "add",
        "--customer",
        "embedded-co",
        "--name",
        "Em Bedded",
        "--kind",
        "person",
        "--country",
        "FR",
        "--percent",
        "100",
        "--json",
        state=state,
    )
    assert owner.returncode == 0, owner.stderr
    facts = tmp_path / "facts.json"
    facts.write_text('{"incorporation_country": "FR"}')
    assert (
        gateway("kyc", "facts", "--customer", "embedded-co", "--file", str(facts), state=state).returncode
        == 0
    )
    assert gateway("kyc", "submit", "--customer", "embedded-co", state=state).returncode == 0
    approved = gateway("kyc", "approve", "--customer", "embedded-co", "--reason", "ok", "--json", state=state)
    assert json.loads(approved.stdout)["status"] == "verified"
    assert (state / "kyc-master-keys").stat().st_mode & 0o777 == 0o600
    status = json.loads(gateway("db", "status", "--json", state=state).stdout)
    assert status[0]["applied"] is True
