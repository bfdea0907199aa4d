"""deploy/: the image, the compose file and Prometheus' configuration say what the README says, and the
settings they give the gateway pass the gateway's own validation (no container engine runs here, so
the files are read and checked, and `docker-compose config` validates the compose file where it is
installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.settings import load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "GATEWAY_KYC_KEYS": "1:" + "A" * 43 + "=",
    "GATEWAY_AUDIT_KEYS": "1:" + "B" * 43 + "=",
    "GATEWAY_ADMIN_TOKEN_SHA256": "0" * 64,
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def interpolate(value: str, environ: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``."""

    def one(m: re.Match[str]) -> str:
        name, kind, rest = m.group(1), m.group(2), m.group(3)
        if environ.get(name):
            return environ[name]
        if kind == "?":
            raise KeyError(f"{name}: {rest}")
        return rest or ""

    return _VARIABLE.sub(one, value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_the_services_a_provider_runs(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "postgres",
        "pgbouncer",
        "migrate",
        "gateway-1",
        "gateway-2",
        "prometheus",
    }
    assert compose["services"]["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"


@pytest.mark.parametrize("name", ["gateway-1", "gateway-2"])
def test_each_replica_is_unprivileged_read_only_with_a_persistent_state(
    compose: dict[str, Any], name: str
) -> None:
    gw = compose["services"][name]
    assert gw["user"] == "10001:10001" and gw["read_only"] is True and gw["tmpfs"] == ["/tmp"]
    state = [v for v in gw["volumes"] if v.endswith(":/var/lib/gateway")]
    assert state == [f"{name}-state:/var/lib/gateway"] and f"{name}-state" in compose["volumes"]
    assert "/readyz" in " ".join(gw["healthcheck"]["test"])
    assert gw["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_replicas_settings_pass_the_gateways_own_validation(compose: dict[str, Any]) -> None:
    env = {
        k: interpolate(str(v), SECRETS) for k, v in compose["services"]["gateway-1"]["environment"].items()
    }
    settings = load_settings(DEPLOY / "gateway.example.toml", environ=env)
    assert settings.database_url == "postgresql://gateway:pg-secret@pgbouncer:6432/gateway"
    assert settings.database_direct_url == "postgresql://gateway:pg-secret@postgres:5432/gateway"
    assert settings.db_statement_cache_size == 0
    assert (
        settings.kyc_keys == SECRETS["GATEWAY_KYC_KEYS"]
        and settings.audit_keys == SECRETS["GATEWAY_AUDIT_KEYS"]
    )
    # Secrets come from the environment, never from the files.
    for secret in SECRETS.values():
        assert secret not in (DEPLOY / "compose.yaml").read_text()
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(compose["services"]["gateway-1"]["environment"]["GATEWAY_DATABASE_URL"], {})


def test_migrations_run_once_straight_to_postgresql(compose: dict[str, Any]) -> None:
    migrate = compose["services"]["migrate"]
    assert migrate["command"][:2] == ["db", "migrate"] and migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_prometheus_scrapes_every_replica() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["gateway-1:8080", "gateway-2:8080"]


def test_the_image_runs_unprivileged_with_a_health_check_and_a_state_volume() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    final = text[text.rindex("\nFROM ") :]  # the image that ships, after the build stage
    user = re.search(r"^USER (\d+):(\d+)$", final, re.M)
    assert user is not None and int(user.group(1)) >= 1000
    assert "HEALTHCHECK" in final and "/healthz" in final
    assert 'VOLUME ["/var/lib/gateway"]' in final and "GATEWAY_STATE_DIR=/var/lib/gateway" in final
    assert not re.search(r"(KEY|TOKEN|PASSWORD|SECRET)\w*=\S", final.replace("GATEWAY_STATE_DIR", ""))


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip(
            "no docker-compose: Debian's docker-compose package validates the file (make test installs it where apt can)"
        )
    done = subprocess.run(
        [tool, "-f", str(DEPLOY / "compose.yaml"), "config", "-q"],
        env={"PATH": "/usr/bin:/bin", **SECRETS},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
