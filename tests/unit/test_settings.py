"""Every bad configuration stops start-up with a message naming the key."""

from pathlib import Path

import pytest

from gateway.settings import SettingsError, load_settings

GOOD_UPSTREAM = """
[[upstreams]]
name = "local-openai"
kind = "openai"
base_url = "http://127.0.0.1:9000/v1"
models = ["gpt-test"]
region = "US"
api_key_env = "LOCAL_OPENAI_KEY"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    return path


def test_defaults_without_file_or_environment() -> None:
    s = load_settings(None, environ={})
    assert s.database_url is None
    assert s.max_body_bytes == 32 * 1024 * 1024
    assert s.upstreams == []


def test_upstream_from_file_and_key_from_named_variable(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, GOOD_UPSTREAM), environ={})
    (up,) = s.upstreams
    assert (up.name, up.kind, up.region, up.models) == ("local-openai", "openai", "US", ["gpt-test"])
    assert up.api_key({"LOCAL_OPENAI_KEY": "sk-up"}) == "sk-up"
    assert up.api_key({}) is None


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "port = 9001\n" + GOOD_UPSTREAM)
    s = load_settings(path, environ={"GATEWAY_PORT": "9002", "GATEWAY_ACCESS_LOG": "true"})
    assert s.port == 9002
    assert s.access_log is True


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "port = 9003\n")
    assert load_settings(None, environ={"GATEWAY_CONFIG": str(path)}).port == 9003


def test_kyc_settings_from_file_and_environment(tmp_path: Path) -> None:
    s = load_settings(
        write(tmp_path, KYC_PROVIDER),
        environ={"GATEWAY_OIDC_ALGORITHMS": "ES256,RS256", "IDV_SECRET": "new, old"},
    )
    assert s.oidc_algorithms == ["ES256", "RS256"]
    assert s.kyc_providers[0].secrets({"IDV_SECRET": "new, old"}) == [b"new", b"old"]
    assert s.kyc_providers[0].secrets({}) == []


KYC_PROVIDER = """
[[kyc_providers]]
name = "idv"
scheme = "generic"
secret_env = "IDV_SECRET"
"""


SLURM = """
[[clusters]]
name = "lab"
kind = "slurm"
base_url = "http://127.0.0.1:6820"
region = "US"
jwt_key_file = "/etc/slurm/jwt_hs256.key"
"""


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("port = 'x'\n", {}, "Expected `int`, got `str` - at `$.port`"),
        ("prot = 1\n", {}, "Object contains unknown field `prot`"),
        ("port = 70000\n", {}, "invalid setting port"),
        ("", {"GATEWAY_PORT": "eighty"}, "invalid setting port (environment GATEWAY_PORT='eighty')"),
        ("", {"GATEWAY_MAX_BODY_BYTES": "10"}, "invalid setting max_body_bytes"),
        ("", {"GATEWAY_DATABASE_URL": "mysql://x"}, "invalid setting database_url"),
        (GOOD_UPSTREAM.replace('"US"', '"XX"'), {}, "invalid setting upstreams[0].region"),
        (GOOD_UPSTREAM.replace('"US"', '"usa"'), {}, "'usa' is not an ISO 3166-1 alpha-2 country code"),
        (GOOD_UPSTREAM.replace('"openai"', '"mistral"'), {}, "at `$.upstreams[0].kind`"),
        (GOOD_UPSTREAM.replace("http://", "ftp://"), {}, "invalid setting upstreams[0].base_url"),
        (GOOD_UPSTREAM.replace('["gpt-test"]', "[]"), {}, "invalid setting upstreams[0].models"),
        (GOOD_UPSTREAM + GOOD_UPSTREAM, {}, "duplicate upstream name 'local-openai'"),
        (
            GOOD_UPSTREAM + GOOD_UPSTREAM.replace('"local-openai"', '"other"'),
            {},
            "model 'gpt-test' is already served by 'local-openai'",
        ),
        (
            GOOD_UPSTREAM.replace('"LOCAL_OPENAI_KEY"', '"sk-live-123"'),
            {},
            "is not an environment variable name",
        ),
        (GOOD_UPSTREAM + "connect_timeout = 0\n", {}, "timeouts must be positive"),
        ("port = [\n", {}, "is not valid TOML"),
        ("", {"GATEWAY_KYC_KEYS": "1:short"}, "invalid setting kyc_keys"),
        ("", {"GATEWAY_KYC_KEYS": "1:c2hvcnQ="}, "key version 1 must be 32 bytes, got 5"),
        ("kyc_reverify_days = 0\n", {}, "invalid setting kyc_reverify_days"),
        ("http_idle_seconds = 0\n", {}, "invalid setting http_idle_seconds"),
        ("server = 'nginx'\n", {}, "at `$.server`"),
        ("screening_review_threshold = 1.5\n", {}, "invalid setting screening_review_threshold"),
        ("admin_token_sha256 = 'secret'\n", {}, "must be 64 lower-case hex digits"),
        ("oidc_issuer = 'issuer.example'\n", {}, "'issuer.example' is not an http(s) URL"),
        ("", {"GATEWAY_OIDC_ALGORITHMS": "RS256,HS256"}, "['HS256'] not allowed; use public-key algorithms"),
        ("oidc_algorithms = ['none']\n", {}, "['none'] not allowed"),
        (KYC_PROVIDER.replace('"generic"', '"acme"'), {}, "at `$.kyc_providers[0].scheme`"),
        (KYC_PROVIDER.replace('"IDV_SECRET"', '"whsec_abc-1"'), {}, "is not an environment variable name"),
        (KYC_PROVIDER + KYC_PROVIDER, {}, "duplicate provider name 'idv'"),
        (KYC_PROVIDER.replace('"idv"', '"Bad Name"'), {}, "invalid setting kyc_providers[0].name"),
        ("", {"GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32,10.0.0.0/33"}, "'10.0.0.0/33' is not an IP network"),
        ("policy_dir = '/nonexistent/policies'\n", {}, "invalid setting policy_dir"),
        ("policy_mode = 'lenient'\n", {}, "at `$.policy_mode`"),
        (
            SLURM.replace('jwt_key_file = "/etc/slurm/jwt_hs256.key"', ""),
            {},
            "invalid setting clusters[0].jwt_key_file ({file}): a Slurm cluster needs the key "
            "slurmctld verifies JWTs with (its AuthAltParameters jwt_key file), so that each "
            "customer's jobs run as the customer's own user",
        ),
        (
            SLURM + 'token_env = "LAB_JWT"\n',
            {},
            "invalid setting clusters[0].token_env ({file}): a Slurm cluster's tokens are minted "
            "per user from jwt_key_file; remove token_env",
        ),
        (
            SLURM + "node_gpus = 0\n",
            {},
            "invalid setting clusters[0].node_gpus ({file}): must be at least 1",
        ),
        (
            SLURM + 'partitions = ["gpu", "gpu"]\n',
            {},
            "clusters[0].partitions ({file}): a partition is named twice",
        ),
        (
            SLURM + 'partitions = ["gpu x"]\n',
            {},
            "clusters[0].partitions[0] ({file}): 'gpu x' is not a Slurm name",
        ),
        (SLURM + 'account = "a;b"\n', {}, "clusters[0].account ({file}): 'a;b' is not a Slurm name"),
        (
            SLURM + 'home_root = "home"\n',
            {},
            "clusters[0].home_root ({file}): 'home' must be a normalised",
        ),
        (SLURM + 'home_root = "/home/"\n', {}, "'/home/' must be a normalised absolute path"),
        (
            "provider_country = 'EU'\n",
            {},
            "invalid setting provider_country ({file}): 'EU' is not an ISO 3166-1",
        ),
        ("", {"GATEWAY_PROVIDER_NAME": " "}, "invalid setting provider_name"),
        (
            "detect_seconds = 0.5\n",
            {},
            "invalid setting detect_seconds ({file}): must be 0 (off) or between 1 and 86400",
        ),
        ("", {"GATEWAY_DETECT_SECONDS": "-1"}, "invalid setting detect_seconds"),
    ],
)
def test_bad_configuration_names_the_key(
    tmp_path: Path, text: str, environ: dict[str, str], message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError) as info:
        load_settings(path, environ=environ)
    assert message.replace("{file}", str(path)) in str(info.value)


def test_a_slurm_cluster_with_its_key_and_policy_fields_loads(tmp_path: Path) -> None:
    text = SLURM + 'node_gpus = 8\npartitions = ["gpu", "big"]\naccount = "lab"\nhome_root = "/scratch"\n'
    (cluster,) = load_settings(write(tmp_path, text), environ={}).clusters
    assert (cluster.node_gpus, cluster.partitions, cluster.account, cluster.home_root) == (
        8,
        ["gpu", "big"],
        "lab",
        "/scratch",
    )


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_shipped_example_configuration_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "deploy" / "gateway.example.toml"
    s = load_settings(example, environ={})
    assert [u.name for u in s.upstreams] == ["openai", "anthropic", "vllm-frankfurt"]


def test_the_report_provider_defaults_to_the_audit_origins_host() -> None:
    s = load_settings(None, environ={})
    assert (s.report_provider_name, s.provider_country) == ("kyc-gateway.local", "US")
    s = load_settings(None, environ={"GATEWAY_AUDIT_ORIGIN": "gpu.example.com/audit/2026h2"})
    assert s.report_provider_name == "gpu.example.com"
    s = load_settings(
        None, environ={"GATEWAY_PROVIDER_NAME": "Example GPU Cloud Inc.", "GATEWAY_PROVIDER_COUNTRY": "DE"}
    )
    assert (s.report_provider_name, s.provider_country) == ("Example GPU Cloud Inc.", "DE")


def test_the_detector_runs_every_five_minutes_unless_told_otherwise(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, ""), environ={}).detect_seconds == 300
    assert load_settings(write(tmp_path, "detect_seconds = 0\n"), environ={}).detect_seconds == 0  # off


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('database_direct_url = "postgresql://db/gw"\n', "set database_url too"),
        (
            'database_url = "postgresql://pooler/gw"\ndatabase_direct_url = "mysql://db/gw"\n',
            "must be a postgresql://",
        ),
    ],
)
def test_a_direct_url_needs_a_pooled_one_and_must_be_postgresql(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=f"database_direct_url .*{message}"):
        load_settings(write(tmp_path, text), environ={})


def test_a_pooled_and_a_direct_url_load(tmp_path: Path) -> None:
    text = 'database_url = "postgresql://pooler:6432/gw"\ndatabase_direct_url = "postgresql://db:5432/gw"\n'
    s = load_settings(write(tmp_path, text), environ={"GATEWAY_DB_STATEMENT_CACHE_SIZE": "0"})
    assert (s.database_url, s.database_direct_url, s.db_statement_cache_size) == (
        "postgresql://pooler:6432/gw",
        "postgresql://db:5432/gw",
        0,
    )
