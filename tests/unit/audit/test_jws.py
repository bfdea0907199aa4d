"""Detached JWS with the audit keys: RFC 7515 compact form, payload detached, EdDSA, verified with
the JWK Set alone; joserfc (an independent JOSE implementation) agrees both ways."""

from __future__ import annotations

import base64
import json
import warnings

import pytest
from joserfc import jws as jose
from joserfc.jwk import KeySet, OKPKey

from gateway.audit.jws import JwsError, b64url, verify_detached
from gateway.audit.keys import SigningKeys, new_key_spec

ORIGIN = "reports.example/audit"
BODY = b'{"kind":"usage","n":"100000000000000000000000000"}'


@pytest.fixture(scope="module")
def keys() -> SigningKeys:
    return SigningKeys.parse(ORIGIN, new_key_spec(1) + "," + new_key_spec(2))


def test_the_form_is_compact_with_the_payload_detached(keys: SigningKeys) -> None:
    token = keys.sign_jws(BODY)
    header, payload, signature = token.split(".")
    assert payload == ""
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "EdDSA", "kid": keys.jws_kid}
    assert len(base64.urlsafe_b64decode(signature + "==")) == 64
    assert "=" not in token
    # The newest key signs, and its kid is the one the JWK Set publishes for it.
    assert keys.jws_kid == keys.signers[-1].key_id.hex() == keys.jwks()["keys"][-1]["kid"]
    assert keys.sign_jws(BODY) == token  # Ed25519 is deterministic: same body, same signature


def test_it_verifies_with_the_jwks_alone(keys: SigningKeys) -> None:
    assert verify_detached(BODY, keys.sign_jws(BODY), keys.jwks()) == keys.jws_kid


def test_a_changed_body_or_another_key_fails(keys: SigningKeys) -> None:
    token = keys.sign_jws(BODY)
    with pytest.raises(JwsError, match="does not verify"):
        verify_detached(BODY.replace(b"usage", b"usagf"), token, keys.jwks())
    other = SigningKeys.parse(ORIGIN, new_key_spec(2))
    with pytest.raises(JwsError, match="no key with kid"):
        verify_detached(BODY, token, other.jwks())
    # A JWK Set that names the right kid with another key's material: the signature fails.
    forged = {"keys": [{**other.jwks()["keys"][0], "kid": keys.jws_kid}]}
    with pytest.raises(JwsError, match="does not verify"):
        verify_detached(BODY, token, forged)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"alg": "none", "kid": "x"}, "alg is 'none'"),
        ({"alg": "HS256", "kid": "x"}, "alg is 'HS256'"),
        ({"alg": "EdDSA"}, "names no kid"),
        ({"alg": "EdDSA", "kid": "x", "b64": False, "crit": ["b64"]}, "does not accept: b64, crit"),
        ({"alg": "EdDSA", "kid": "x", "jwk": {}}, "does not accept: jwk"),
    ],
)
def test_headers_that_change_how_it_is_read_are_refused(keys: SigningKeys, header, message) -> None:
    token = b64url(json.dumps(header).encode()) + ".." + keys.sign_jws(BODY).split("..")[1]
    with pytest.raises(JwsError, match=message):
        verify_detached(BODY, token, keys.jwks())


@pytest.mark.parametrize("token", ["", "a.b.c", "a..b..c", "x", "@@..AA"])
def test_malformed_tokens_are_refused(keys: SigningKeys, token: str) -> None:
    with pytest.raises(JwsError):
        verify_detached(BODY, token, keys.jwks())


def test_joserfc_verifies_ours_and_we_verify_joserfcs(keys: SigningKeys) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc warns that RFC 9864 prefers "Ed25519" to "EdDSA"
        found = jose.deserialize_compact(
            keys.sign_jws(BODY), KeySet.import_key_set(keys.jwks()), payload=BODY, algorithms=["EdDSA"]
        )
        assert found.protected == {"alg": "EdDSA", "kid": keys.jws_kid}
        private = OKPKey.import_key(keys.signers[-1].key)
        theirs = jose.serialize_compact({"alg": "EdDSA", "kid": keys.jws_kid}, BODY, private,
                                        algorithms=["EdDSA"])  # fmt: skip
    detached = jose.detach_content(theirs)
    assert detached.split(".")[1] == ""
    assert verify_detached(BODY, detached, keys.jwks()) == keys.jws_kid
