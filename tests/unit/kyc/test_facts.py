"""CIP facts: every validator's good and bad values, payment fingerprints, PATCH merging."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from gateway.kyc.facts import (
    Address,
    AddressIn,
    Facts,
    FactsIn,
    FactsInvalid,
    Identifier,
    IdentifierIn,
    PaymentIn,
    merge_facts,
    missing_for_submission,
    validate_facts,
)

KEY = b"k" * 32
TODAY = dt.date(2025, 6, 1)
CARD = "4242 4242 4242 4242"  # passes Luhn


def check(kind: str = "individual", key: bytes = KEY, **fields: object) -> Facts:
    return validate_facts(kind, FactsIn(**fields), fingerprint_key=key, today=TODAY)  # type: ignore[arg-type]


def refused(message: str, kind: str = "individual", **fields: object) -> None:
    with pytest.raises(FactsInvalid) as err:
        check(kind, **fields)
    assert err.value.message == message
    assert (err.value.code, err.value.status) == ("invalid_facts", 400)


def test_individual_normalised() -> None:
    facts = check(
        legal_name="  Ada Lovelace ",
        addresses=[AddressIn(" 1 Main St ", "Berlin", "de", postal_code="10115")],
        birth_date="1990-02-28",
        nationality="gb",
        residence_country="De",
        email="Ada@Example.COM",
        phone="030 901820",
        business_purpose="fine-tuning",
    )
    assert facts == Facts(
        legal_name="Ada Lovelace",
        addresses=(Address("1 Main St", "Berlin", "DE", postal_code="10115"),),
        birth_date="1990-02-28",
        nationality="GB",
        residence_country="DE",
        email="Ada@example.com",  # the domain is case-insensitive, the local part is not
        phone="+4930901820",  # national format read in the residence country
        business_purpose="fine-tuning",
    )


def test_organisation_normalised() -> None:
    facts = check(
        "organisation",
        legal_name="ACME GmbH",
        incorporation_date="2001-05-04",
        incorporation_country="DE",
        headquarters_country="us",
        phone="+1 202-456-1111",
    )
    assert (facts.incorporation_date, facts.headquarters_country) == ("2001-05-04", "US")
    assert facts.phone == "+12024561111"


# --- countries, email, phone --------------------------------------------------------------------


@pytest.mark.parametrize("code", ["XX", "DEU", "D", "12"])
def test_bad_country(code: str) -> None:
    refused("nationality: not an ISO 3166-1 alpha-2 country code", nationality=code)


def test_bad_address_country_names_its_path() -> None:
    refused(
        "addresses[1].country: not an ISO 3166-1 alpha-2 country code",
        addresses=[AddressIn("a", "b", "DE"), AddressIn("a", "b", "ZZ")],
    )


@pytest.mark.parametrize("email", ["not-an-email", "a@localhost", "a b@example.com"])
def test_bad_email(email: str) -> None:
    with pytest.raises(FactsInvalid, match=r"^email: "):
        check(email=email)


def test_phone_in_national_format_needs_a_country() -> None:
    refused(
        "phone: not a valid phone number (give it as +<country code><number>, or set the country)",
        phone="030 901820",
    )


@pytest.mark.parametrize("phone", ["+49 30 1", "12", "+1 000-000-0000", "call me"])
def test_invalid_phone(phone: str) -> None:
    refused("phone: not a valid phone number", residence_country="DE", phone=phone)


def test_phone_region_for_an_organisation_is_its_incorporation_country() -> None:
    facts = check("organisation", incorporation_country="GB", phone="020 7946 0958")
    assert facts.phone == "+442079460958"


# --- identifiers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (IdentifierIn("vat", "DE 136 695 976"), Identifier("vat", "136695976", "DE", True)),
        (IdentifierIn("VAT", "136695976", "de"), Identifier("vat", "136695976", "DE", True)),
        (IdentifierIn("lei", "5299 00T8BM49AURSDO55"), Identifier("lei", "529900T8BM49AURSDO55", None, True)),
        (IdentifierIn("ein", "04-2103594"), Identifier("ein", "042103594", "US", True)),
        (IdentifierIn("ssn", "536-90-4399", "US"), Identifier("ssn", "536904399", "US", True)),
        (IdentifierIn("idnr", "36 574 261 809", "DE"), Identifier("idnr", "36574261809", "DE", True)),
        # no validator for these: kept as given, not checked
        (IdentifierIn("passport", "123456789", "GB"), Identifier("passport", "123456789", "GB", False)),
        (IdentifierIn("tax_id", "A-1"), Identifier("tax_id", "A-1", None, False)),
    ],
)
def test_identifiers(given: IdentifierIn, stored: Identifier) -> None:
    assert check(identifiers=[given]).identifiers == (stored,)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            IdentifierIn("vat", "DE136695975"),
            "not a valid VAT number for Germany (the number's checksum or check digit is invalid)",
        ),
        (
            IdentifierIn("vat", "12345", "DE"),
            "not a valid VAT number for Germany (the number has an invalid length)",
        ),
        (
            IdentifierIn("lei", "529900T8BM49AURSDO56"),
            "not a valid LEI (the number's checksum or check digit is invalid)",
        ),
        (
            IdentifierIn("ein", "00-0000000"),
            "not a valid EIN (one of the parts of the number are invalid or unknown)",
        ),
        (
            IdentifierIn("ssn", "078-05-1120"),
            "not a valid SSN (one of the parts of the number are invalid or unknown)",
        ),
    ],
)
def test_identifier_with_a_validator_that_fails(given: IdentifierIn, message: str) -> None:
    ok = IdentifierIn("lei", "529900T8BM49AURSDO55")
    refused(f"identifiers[1].value: {message}", identifiers=[ok, given])


def test_identifier_errors_never_echo_the_number() -> None:
    with pytest.raises(FactsInvalid) as err:
        check(identifiers=[IdentifierIn("ssn", "078-05-1120")])
    assert "078" not in err.value.message


def test_ein_is_american() -> None:
    refused(
        "identifiers[0].country: an EIN is a US number", identifiers=[IdentifierIn("ein", "04-2103594", "DE")]
    )


@pytest.mark.parametrize("kind", ["../vat", "1vat", "v at", "__init__"])
def test_identifier_type_is_a_plain_name(kind: str) -> None:
    refused(
        "identifiers[0].type: letters, digits and '_' only, starting with a letter",
        identifiers=[IdentifierIn(kind, "1", "DE")],
    )


def test_stdnum_attribute_that_is_not_a_validator_is_not_used() -> None:
    # stdnum.de has attributes besides validator modules (from __future__ import annotations)
    facts = check(identifiers=[IdentifierIn("annotations", "x", "DE")])
    assert facts.identifiers == (Identifier("annotations", "x", "DE", False),)


# --- dates and kinds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2025-06-02", "birth_date: in the future"),
        ("1899-12-31", "birth_date: before 1900-01-01"),
        ("1990-02-30", "birth_date: not a date in the form YYYY-MM-DD"),
        ("19900228", "birth_date: not a date in the form YYYY-MM-DD"),
        ("28.02.1990", "birth_date: not a date in the form YYYY-MM-DD"),
    ],
)
def test_bad_birth_date(value: str, message: str) -> None:
    refused(message, birth_date=value)


def test_dates_on_the_boundaries_are_accepted() -> None:
    assert check(birth_date="1900-01-01").birth_date == "1900-01-01"
    assert check("organisation", incorporation_date="2025-06-01").incorporation_date == "2025-06-01"


def test_incorporation_date_in_the_future() -> None:
    refused("incorporation_date: in the future", "organisation", incorporation_date="2030-01-01")


@pytest.mark.parametrize("field", ["birth_date", "nationality", "residence_country"])
def test_individual_fields_on_an_organisation(field: str) -> None:
    value = "1990-01-01" if field == "birth_date" else "DE"
    refused(f"{field}: not allowed for an organisation", "organisation", **{field: value})


@pytest.mark.parametrize("field", ["incorporation_date", "incorporation_country", "headquarters_country"])
def test_organisation_fields_on_an_individual(field: str) -> None:
    value = "1990-01-01" if field == "incorporation_date" else "DE"
    refused(f"{field}: not allowed for an individual", **{field: value})


# --- strings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "legal_name: must not be empty"),
        ("   ", "legal_name: must not be empty"),
        ("x" * 501, "legal_name: longer than 500 characters"),
        ("Ada\x00", "legal_name: contains control characters"),
        ("Ada\nLovelace", "legal_name: contains control characters"),
    ],
)
def test_bad_strings(value: str, message: str) -> None:
    refused(message, legal_name=value)


def test_500_characters_after_trimming_are_accepted() -> None:
    assert check(legal_name=" " + "x" * 500 + " ").legal_name == "x" * 500


def test_too_many_entries() -> None:
    refused("addresses: at most 20 entries", addresses=[AddressIn("a", "b", "DE")] * 21)


# --- payments -----------------------------------------------------------------------------------


def test_same_card_for_two_customers_gives_the_same_fingerprint() -> None:
    one = check(payment_methods=[PaymentIn("card", card_number=CARD, institution="Bank A")])
    two = check("organisation", payment_methods=[PaymentIn("card", card_number=CARD.replace(" ", "-"))])
    assert one.payment_methods[0].fingerprint == two.payment_methods[0].fingerprint
    assert len(one.payment_methods[0].fingerprint) == 64
    assert one.payment_methods[0].last4 == "4242"
    assert one.payment_methods[0].institution == "Bank A"


def test_fingerprint_depends_on_the_key_and_the_kind_of_number() -> None:
    card = check(payment_methods=[PaymentIn("card", card_number="4242424242424242")]).payment_methods[0]
    other_key = check(key=b"other", payment_methods=[PaymentIn("card", card_number="4242424242424242")])
    account = check(payment_methods=[PaymentIn("bank_account", account_number="4242424242424242")])
    assert card.fingerprint != other_key.payment_methods[0].fingerprint
    assert card.fingerprint != account.payment_methods[0].fingerprint


def test_numbers_are_never_in_the_stored_facts() -> None:
    facts = check(
        payment_methods=[
            PaymentIn("card", card_number=CARD),
            PaymentIn("bank_account", account_number="DE89 3704 0044 0532 0130 00"),
            PaymentIn("wallet", wallet_address="0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"),
        ]
    )
    encoded = msgspec.json.encode(facts).decode()
    for secret in ("4242424242424242", "4242 4242", "DE89370400440532013000", "0532", "abcdef0123456789"):
        assert secret not in encoded.lower()
    assert [p.last4 for p in facts.payment_methods] == ["4242", "3000", None]
    assert msgspec.json.decode(encoded, type=Facts) == facts


def test_wallet_hex_addresses_match_whatever_their_case() -> None:
    lower = check(
        payment_methods=[PaymentIn("wallet", wallet_address="0xabcdef0123456789abcdef0123456789abcdef01")]
    )
    mixed = check(
        payment_methods=[PaymentIn("wallet", wallet_address="0xAbCdEf0123456789aBcDeF0123456789AbCdEf01")]
    )
    assert lower.payment_methods[0].fingerprint == mixed.payment_methods[0].fingerprint


def test_processor_fingerprint_is_keyed_too() -> None:
    facts = check(payment_methods=[PaymentIn("card", fingerprint="Xt5EWLLDS7FJjR1c")])
    payment = facts.payment_methods[0]
    assert payment.fingerprint != "Xt5EWLLDS7FJjR1c" and len(payment.fingerprint) == 64
    assert payment.last4 is None


def test_luhn_failure() -> None:
    refused(
        "payment_methods[0].card_number: not a valid card number",
        payment_methods=[PaymentIn("card", card_number="4242 4242 4242 4241")],
    )


@pytest.mark.parametrize("number", ["4242", "4242x42424242424", "42424242424242424242"])
def test_card_number_shape(number: str) -> None:
    refused(
        "payment_methods[0].card_number: not a valid card number",
        payment_methods=[PaymentIn("card", card_number=number)],
    )


def test_payment_needs_an_instrument_unless_invoiced() -> None:
    refused(
        "payment_methods[0]: needs a card_number, account_number, wallet_address or fingerprint",
        payment_methods=[PaymentIn("card", institution="Bank")],
    )
    invoice = check(payment_methods=[PaymentIn("invoice", source_of_funds="revenue")]).payment_methods[0]
    assert (invoice.fingerprint, invoice.last4, invoice.source_of_funds) == ("", None, "revenue")


def test_payment_with_two_instruments_is_refused() -> None:
    refused(
        "payment_methods[0]: give only one of card_number, fingerprint",
        payment_methods=[PaymentIn("card", card_number=CARD, fingerprint="fp")],
    )


def test_payment_method_must_fit_the_number() -> None:
    refused(
        "payment_methods[0].method: card_number needs method 'card' (or 'other')",
        payment_methods=[PaymentIn("bank_account", card_number=CARD)],
    )
    assert check(payment_methods=[PaymentIn("other", card_number=CARD)]).payment_methods[0].last4 == "4242"


def test_bad_account_number() -> None:
    refused(
        "payment_methods[0].account_number: not a valid account number",
        payment_methods=[PaymentIn("bank_account", account_number="12/34")],
    )


# --- submission, merging, decoding --------------------------------------------------------------


def test_missing_for_submission() -> None:
    assert missing_for_submission("individual", Facts()) == ["legal_name", "addresses", "birth_date", "email"]
    assert missing_for_submission("organisation", Facts(legal_name="ACME")) == [
        "addresses",
        "incorporation_date",
        "incorporation_country",
        "email",
    ]
    complete = check(
        legal_name="Ada",
        addresses=[AddressIn("1 Main St", "Berlin", "DE")],
        birth_date="1990-01-01",
        email="ada@example.com",
    )
    assert missing_for_submission("individual", complete) == []
    assert missing_for_submission("organisation", complete) == ["incorporation_date", "incorporation_country"]


def test_merge_facts_replaces_only_what_is_set() -> None:
    old = check(legal_name="Ada", email="ada@example.com", addresses=[AddressIn("1 Main St", "Berlin", "DE")])
    new = check(email="ada@lovelace.example", identifiers=[IdentifierIn("lei", "529900T8BM49AURSDO55")])
    merged = merge_facts(old, new)
    assert merged.legal_name == "Ada"  # None in new: kept
    assert merged.addresses == old.addresses  # empty in new: kept
    assert merged.email == "ada@lovelace.example"  # set in new: replaced
    assert merged.identifiers == new.identifiers
    assert merge_facts(merged, Facts()) == merged


def test_merge_replaces_lists_whole() -> None:
    old = check(addresses=[AddressIn("1 Main St", "Berlin", "DE"), AddressIn("2 Side St", "Paris", "FR")])
    new = check(addresses=[AddressIn("3 New St", "Rome", "IT")])
    assert [a.city for a in merge_facts(old, new).addresses] == ["Rome"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"legal_name": "Ada", "shoe_size": 42}',
        b'{"addresses": [{"line1": "a", "city": "b", "country": "DE", "planet": "earth"}]}',
        b'{"identifiers": [{"type": "vat", "value": "x", "verified": true}]}',
        b'{"payment_methods": [{"method": "card", "cvv": "123"}]}',
    ],
)
def test_unknown_fields_are_refused_when_decoding(body: bytes) -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(body, type=FactsIn)


def test_unknown_payment_method_is_refused_when_decoding() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"payment_methods\[0\]\.method"):
        msgspec.json.decode(b'{"payment_methods": [{"method": "cash"}]}', type=FactsIn)
