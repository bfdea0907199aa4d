"""The pure parts of the web pages: roles read from ID-token claims, and forms read field by field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway.settings import SettingsError, load_settings
from gateway.web.forms import MAX_TEXT, Form
from gateway.web.roles import party_roles, roles_in

TODAY = dt.date(2026, 12, 6)


@pytest.mark.parametrize(
    ("claims", "path", "expected"),
    [
        ({"roles": ["a", "b"]}, "roles", ("a", "b")),
        ({"realm_access": {"roles": ["gateway-operator"]}}, "realm_access.roles", ("gateway-operator",)),
        ({"groups": "x y"}, "groups", ("x", "y")),
        ({"roles": [1, "a"]}, "roles", ()),  # not all strings: grants nothing
        ({"roles": {"a": 1}}, "roles", ()),
        ({}, "realm_access.roles", ()),
        ({"realm_access": ["roles"]}, "realm_access.roles", ()),
    ],
)
def test_roles_are_read_from_the_configured_claim(
    claims: dict[str, object], path: str, expected: tuple[str, ...]
) -> None:
    assert roles_in(claims, path) == expected


def test_operator_and_regulator_roles() -> None:
    roles = party_roles(
        [
            "gateway-operator",
            "gateway-regulator:eu",
            "gateway-regulator:US",
            "gateway-regulator:",
            "gateway-regulator:../x",
        ],
        "gateway-operator",
        "gateway-regulator:",
    )
    assert roles.operator and roles.regulator
    assert roles.jurisdictions == frozenset({"EU", "US"})
    nobody = party_roles(["gateway-operators", "regulator:EU"], "gateway-operator", "gateway-regulator:")
    assert not nobody.operator and not nobody.regulator


def test_form_fields_report_each_mistake_beside_its_field() -> None:
    form = Form(
        {
            "name": "",
            "long": "x" * (MAX_TEXT + 1),
            "country": "XX",
            "lower": "de",
            "born": "2099-01-01",
            "bad_date": "30/04/1990",
            "share": "120",
            "zero": "0",
            "nan": "nan",
            "limit": "-5",
            "kind": "robot",
        }
    )
    assert form.text("name", "name") is None
    assert form.text("long", "street") is None
    assert form.country("country", "country") is None
    assert form.country("lower", "country") == "DE"
    assert form.date("born", "date of birth", today=TODAY) is None
    assert form.date("bad_date", "date of birth", today=TODAY) is None
    assert form.percent("share", "share") is None
    assert form.percent("zero", "share") is None
    assert form.percent("nan", "share") is None
    assert form.number("limit", "limit") is None
    assert form.choice("kind", "kind", {"individual": "Individual", "organisation": "Organisation"}) is None
    assert not form.ok
    assert form.errors["name"] == "Enter the name."
    assert f"at most {MAX_TEXT} characters" in form.errors["long"]
    assert "two-letter ISO country code" in form.errors["country"] and "'XX'" in form.errors["country"]
    assert "in the past" in form.errors["born"]
    assert "like 1990-04-30" in form.errors["bad_date"]
    assert "at most 100" in form.errors["share"] and "at most 100" in form.errors["zero"]
    assert "between 0 and 100" in form.errors["nan"]
    assert "at least 0" in form.errors["limit"]
    assert set(form.errors) == {
        "name",
        "long",
        "country",
        "born",
        "bad_date",
        "share",
        "zero",
        "nan",
        "limit",
        "kind",
    }


def test_good_answers_pass_and_optional_ones_may_be_empty() -> None:
    form = Form({"name": "  Acme GmbH ", "share": "37.5%", "born": "1990-04-30", "limit": "1e6", "opt": ""})
    assert form.text("name", "name") == "Acme GmbH"
    assert form.percent("share", "share") == 37.5
    assert form.date("born", "date of birth", today=TODAY) == "1990-04-30"
    assert form.number("limit", "limit") == 1e6
    assert form.text("opt", "note", required=False) is None
    assert form.country("missing", "country", required=False) is None
    assert form.ok


def test_control_characters_are_refused() -> None:
    form = Form({"name": "Acme\x00Corp"})
    assert form.text("name", "name") is None
    assert "control characters" in form.errors["name"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('web_client_id = "w"\n', "web_client_id"),  # no oidc_issuer
        ('oidc_issuer = "https://idp"\nweb_client_id = "w"\n', "web_public_url"),
        (
            'oidc_issuer = "https://idp"\nweb_client_id = "w"\nweb_public_url = "http://gateway.example"\n',
            "must be https://",
        ),
        (
            'oidc_issuer = "https://idp"\nweb_client_id = "w"\nweb_public_url = "https://gw.example/web"\n',
            "must be an origin",
        ),
        (
            'oidc_issuer = "https://idp"\nweb_client_id = "w"\nweb_public_url = "https://gw.example"\nweb_session_minutes = 1\n',
            "web_session_minutes",
        ),
        (
            'oidc_issuer = "https://idp"\nweb_client_id = "w"\nweb_public_url = "https://gw.example"\nweb_client_secret_env = "a b"\n',
            "web_client_secret_env",
        ),
    ],
)
def test_bad_web_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=message):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    "url", ["https://gateway.example", "http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"]
)
def test_good_web_public_urls(tmp_path: Path, url: str) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(f'oidc_issuer = "https://idp"\nweb_client_id = "w"\nweb_public_url = "{url}"\n')
    assert load_settings(path, environ={}).web_public_url == url
