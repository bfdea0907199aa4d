"""The customer's application in the browser (``/web/apply``), over HTTP against the real gateway:
step by step to a submitted application, a message beside each field for bad input with nothing
saved (checked in the database), no change once submitted, and one person never reaching another's
application. The onboarding API sees the same application (same issuer and subject)."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import ADMIN_TOKEN, GatewayProcess
from tests.e2e.web.conftest import WebClient, new_subject
from tests.oidc_issuer import TestIssuer

ORG_DETAILS = {
    "legal_name": "Nimbus Research GmbH",
    "incorporation_date": "2019-04-01",
    "incorporation_country": "de",
    "headquarters_country": "DE",
    "email": "compliance@nimbus.example",
    "phone": "+49 30 1234567",
    "business_purpose": "Evaluating language models for customer support",
    "id_type": "vat",
    "id_value": "DE136695976",
    "id_country": "",
}
PERSON_DETAILS = {
    "legal_name": "Ada Lovelace",
    "birth_date": "1990-12-10",
    "nationality": "GB",
    "residence_country": "GB",
    "email": "ada@example.org",
    "phone": "+44 20 7946 0958",
    "business_purpose": "",
    "id_type": "",
    "id_value": "",
    "id_country": "",
}
ADDRESS = {
    "line1": "Unter den Linden 1",
    "line2": "",
    "city": "Berlin",
    "region": "",
    "postal_code": "10117",
    "country": "DE",
}
OWNER = {"name": "Hedy Lamarr", "kind": "person", "country": "AT", "percent": "60", "role": "", "birth_date": "1914-11-09", "nationality": "AT"}  # fmt: skip


# --- helpers ---------------------------------------------------------------------------------------


def query(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.new_event_loop().run_until_complete(run())


def application(database_url: str, subject: str) -> asyncpg.Record | None:
    rows = query(
        database_url,
        "select id, name, kind, country, kyc_status, facts_sealed, oidc_issuer from customers where oidc_subject = $1",
        subject,
    )
    return rows[0] if rows else None


def edges(database_url: str, customer_id: uuid.UUID) -> list[float | None]:
    rows = query(
        database_url, "select percent from ownership_edges where customer_id = $1 order by id", customer_id
    )
    return [r["percent"] for r in rows]


def field_errors(page: httpx.Response) -> dict[str, str]:
    """The message shown beside each field (``data-error-for``)."""
    return {k: html.unescape(v) for k, v in re.findall(r'data-error-for="([^"]+)">([^<]*)</p>', page.text)}


def problem(page: httpx.Response) -> str:
    found = re.search(r"data-problem><p>([^<]*)</p>", page.text)
    return html.unescape(found.group(1)) if found else ""


def current_step(page: httpx.Response) -> str:
    found = re.search(r'<li aria-current="step" data-step="([a-z]+)"', page.text)
    return found.group(1) if found else ""


def start(client: WebClient, issuer: TestIssuer, kind: str, *, country: str = "DE") -> tuple[str, str]:
    """A signed-in person with a new application (step 1 done): their subject and the customer's name."""
    subject = new_subject("applicant")
    client.sign_in(issuer, subject)
    name = f"{kind}-{uuid.uuid4().hex[:8]}"
    made = client.post("/web/apply/applicant", {"kind": kind, "name": name, "country": country})
    assert made.status_code == 303 and made.headers["location"] == "/web/apply/details", made.text
    return subject, name


def admin(gw: GatewayProcess, path: str, **body: str) -> httpx.Response:
    return httpx.post(
        gw.url + path, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, json=body, timeout=10
    )


# --- the whole flow --------------------------------------------------------------------------------


def test_an_organisation_applies_step_by_step_with_two_owners_and_submits(
    browser_client: WebClient, oidc_issuer: TestIssuer, database_url: str, web_gateway: GatewayProcess
) -> None:
    c = browser_client
    subject = new_subject("org")
    c.sign_in(oidc_issuer, subject)
    first = c.get("/web/apply")
    assert first.status_code == 200 and current_step(first) == "applicant"
    assert '<ol class="steps">' in first.text and 'name="kind"' in first.text
    assert application(database_url, subject) is None

    name = f"Nimbus {uuid.uuid4().hex[:8]}"
    made = c.post("/web/apply/applicant", {"kind": "organisation", "name": name, "country": "de"})
    assert made.status_code == 303 and made.headers["location"] == "/web/apply/details"
    row = application(database_url, subject)
    assert row is not None
    assert (row["name"], row["kind"], row["country"], row["kyc_status"]) == (
        name,
        "organisation",
        "DE",
        "pending",
    )
    assert row["oidc_issuer"] == oidc_issuer.issuer and row["facts_sealed"] is None
    cid = row["id"]

    page = c.get("/web/apply/details")
    assert page.status_code == 200 and current_step(page) == "details"
    assert 'name="incorporation_date"' in page.text and 'name="birth_date"' not in page.text
    saved = c.post("/web/apply/details", ORG_DETAILS)
    assert saved.status_code == 303 and saved.headers["location"] == "/web/apply/addresses", saved.text
    assert application(database_url, subject)["facts_sealed"] is not None

    assert c.post("/web/apply/addresses", ADDRESS).status_code == 303
    page = c.get("/web/apply/addresses")
    assert (
        current_step(page) == "addresses"
        and "Unter den Linden 1" in page.text
        and "10117 Berlin" in page.text
    )

    assert c.post("/web/apply/owners", OWNER).status_code == 303
    parent = {**OWNER, "name": "Nimbus Holding AG", "kind": "organisation", "country": "CH", "percent": "40",
              "role": "", "birth_date": "", "nationality": ""}  # fmt: skip
    assert c.post("/web/apply/owners", parent).status_code == 303
    assert sorted(edges(database_url, cid)) == [40.0, 60.0]
    page = c.get("/web/apply/owners")
    assert current_step(page) == "owners" and "Hedy Lamarr" in page.text and "Nimbus Holding AG" in page.text
    assert 'data-held="100"' in page.text

    handoff = c.get("/web/apply/verification")
    assert handoff.status_code == 200 and current_step(handoff) == "verification"
    assert f"data-reference>{cid}<" in handoff.text
    assert "persona, acme-idv" in handoff.text

    review = c.get("/web/apply/review")
    assert current_step(review) == "review"
    for shown in ("Nimbus Research GmbH", "2019-04-01", "compliance@nimbus.example", "+49301234567",
                  "VAT 136695976 (DE)", "Unter den Linden 1", "Hedy Lamarr", "60%", "40%"):  # fmt: skip
        assert shown in review.text, shown
    assert "data-missing" not in review.text
    done = c.post("/web/apply/submit")
    assert done.status_code == 303 and done.headers["location"] == "/web/apply"
    assert application(database_url, subject)["kyc_status"] == "in_review"

    status = c.get("/web/apply")
    assert status.status_code == 200 and 'data-status="submitted"' in status.text
    assert "Submitted: in review" in status.text and str(cid) in status.text
    actions = [r["action"] for r in query(
        database_url, "select action from customer_access_log where customer_id = $1 and subject = $2 order by id",
        cid, subject)]  # fmt: skip
    assert {"create", "update_facts", "add_owner", "submit"} <= set(actions)

    # The onboarding API's caller with the same issuer and subject sees this very application.
    token = oidc_issuer.sign(sub=subject)
    seen = httpx.get(
        web_gateway.url + "/kyc/v1/applications", headers={"authorization": f"Bearer {token}"}, timeout=10
    )
    assert seen.status_code == 200, seen.text
    [app] = seen.json()
    assert app["id"] == str(cid) and app["status"] == "in_review"
    assert app["facts"]["incorporation_country"] == "DE" and app["facts"]["phone"] == "+49301234567"
    assert app["facts"]["identifiers"][0]["validated"] is True
    assert len(app["owners"]) == 2 and app["missing"] == []


def test_once_submitted_the_forms_refuse_every_change(
    browser_client: WebClient, oidc_issuer: TestIssuer, database_url: str
) -> None:
    c = browser_client
    subject, _ = start(c, oidc_issuer, "organisation")
    c.post("/web/apply/details", ORG_DETAILS)
    c.post("/web/apply/addresses", ADDRESS)
    c.post("/web/apply/owners", {**OWNER, "percent": "100"})
    assert c.post("/web/apply/submit").status_code == 303
    row = application(database_url, subject)
    assert row["kyc_status"] == "in_review"
    owner_id = query(database_url, "select id from owners where customer_id = $1", row["id"])[0]["id"]

    for path, form in (
        ("/web/apply/details", {**ORG_DETAILS, "legal_name": "Changed GmbH"}),
        ("/web/apply/addresses", {**ADDRESS, "line1": "Elsewhere 2"}),
        ("/web/apply/addresses/remove", {"index": "0"}),
        ("/web/apply/owners", {**OWNER, "name": "Late Owner", "percent": "1"}),
        (f"/web/apply/owners/{owner_id}/remove", {}),
        ("/web/apply/submit", {}),
        ("/web/apply/applicant", {"kind": "individual", "name": "Another", "country": "US"}),
    ):
        refused = c.post(path, form)
        assert refused.status_code == 409, (path, refused.status_code)
        assert (
            'data-error-code="application_locked"' in refused.text and "Nothing was changed" in refused.text
        )
    after = application(database_url, subject)
    assert after["facts_sealed"] == row["facts_sealed"] and after["kyc_status"] == "in_review"
    assert after["name"] == row["name"]
    assert edges(database_url, row["id"]) == [100.0]
    # The step pages send a submitted application back to its status.
    for step in ("details", "addresses", "owners", "review"):
        again = c.get(f"/web/apply/{step}")
        assert again.status_code == 303 and again.headers["location"] == "/web/apply"


def test_an_individual_applies_without_owners(
    browser_client: WebClient, oidc_issuer: TestIssuer, database_url: str
) -> None:
    c = browser_client
    subject, _ = start(c, oidc_issuer, "individual", country="GB")
    page = c.get("/web/apply/details")
    assert 'name="birth_date"' in page.text and 'name="incorporation_date"' not in page.text
    assert 'data-step="owners"' not in page.text  # an individual has no beneficial owners
    assert c.post("/web/apply/details", PERSON_DETAILS).status_code == 303
    assert c.post("/web/apply/addresses", {**ADDRESS, "line1": "12 Marylebone Rd", "city": "London",
                                           "postal_code": "NW1 5LR", "country": "GB"}).status_code == 303  # fmt: skip
    owners = c.post("/web/apply/owners", OWNER)
    assert owners.status_code == 400 and "invalid_owner" in owners.text
    review = c.get("/web/apply/review")
    assert "1990-12-10" in review.text and "+442079460958" in review.text and "NW1 5LR London" in review.text
    assert c.post("/web/apply/submit").status_code == 303
    row = application(database_url, subject)
    assert (row["kind"], row["country"], row["kyc_status"]) == ("individual", "GB", "in_review")
    assert query(database_url, "select count(*) from owners where customer_id = $1", row["id"])[0][0] == 0


def test_submitting_an_incomplete_application_says_what_is_missing(
    browser_client: WebClient, oidc_issuer: TestIssuer, database_url: str
) -> None:
    c = browser_client
    subject, _ = start(c, oidc_issuer, "organisation")
    review = c.get("/web/apply/review")
    assert "the legal name" in review.text and "the beneficial owners" in review.text
    refused = c.post("/web/apply/submit")
    assert refused.status_code == 409
    assert "not complete" in problem(refused) and "legal_name" in problem(refused)
    assert application(database_url, subject)["kyc_status"] == "pending"
    overview = c.get("/web/apply")
    assert 'data-status="draft"' in overview.text and 'href="/web/apply/details"' in overview.text


def test_a_request_for_information_reopens_the_forms_and_shows_the_reviewer_s_words(
    browser_client: WebClient, oidc_issuer: TestIssuer, database_url: str, web_gateway: GatewayProcess
) -> None:
    c = browser_client
    subject, _ = start(c, oidc_issuer, "individual")
    c.post("/web/apply/details", PERSON_DETAILS)
    c.post("/web/apply/addresses", ADDRESS)
    assert c.post("/web/apply/submit").status_code == 303
    cid = application(database_url, subject)["id"]
    asked = admin(
        web_gateway, f"/admin/v1/customers/{cid}/kyc/request-info", reason="Please add your passport number"
    )
    assert asked.status_code == 200, asked.text
    page = c.get("/web/apply")
    assert 'data-status="needs_information"' in page.text
    assert "Please add your passport number" in page.text
    assert c.post("/web/apply/details", {**PERSON_DETAILS, "id_type": "other", "id_value": "P1234567",
                                         "id_country": "GB"}).status_code == 303  # fmt: skip
    assert c.post("/web/apply/submit").status_code == 303
    assert application(database_url, subject)["kyc_status"] == "in_review"
    rejected = admin(web_gateway, f"/admin/v1/customers/{cid}/kyc/reject", reason="documents did not match")
    assert rejected.status_code == 200, rejected.text
    page = c.get("/web/apply")
    assert 'data-status="rejected"' in page.text and "documents did not match" not in page.text


# --- bad input: a message beside the field, nothing saved ---------------------------------------


@pytest.mark.parametrize(
    ("form", "field", "says"),
    [
        ({"kind": "organisation", "name": "", "country": "DE"}, "name", "Enter the name"),
        ({"kind": "organisation", "name": "x" * 201, "country": "DE"}, "name", "at most 200 characters"),
        ({"kind": "organisation", "name": "Acme", "country": "XX"}, "country", "two-letter ISO country code"),
        (
            {"kind": "organisation", "name": "Acme", "country": "Germany"},
            "country",
            "two-letter ISO country code",
        ),
        ({"kind": "organisation", "name": "Acme", "country": ""}, "country", "Choose the country"),
        ({"kind": "company", "name": "Acme", "country": "DE"}, "kind", "Choose the kind of applicant"),
    ],
)
def test_bad_applicant_input_is_shown_beside_its_field_and_creates_nothing(
    browser_client: WebClient,
    oidc_issuer: TestIssuer,
    database_url: str,
    form: dict[str, str],
    field: str,
    says: str,
) -> None:
    subject = new_subject("bad-applicant")
    browser_client.sign_in(oidc_issuer, subject)
    page = browser_client.post("/web/apply/applicant", form)
    assert page.status_code == 400
    assert says in field_errors(page)[field]
    assert f'aria-describedby="e-{field}' in page.text and 'role="alert"' in page.text
    assert application(database_url, subject) is None


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"legal_name": ""}, "legal_name", "Enter the legal name"),
        ({"legal_name": "x" * 501}, "legal_name", "at most 500 characters"),
        ({"incorporation_country": "XX"}, "incorporation_country", "two-letter ISO country code"),
        ({"headquarters_country": "Deutschland"}, "headquarters_country", "two-letter ISO country code"),
        ({"incorporation_date": "2019-13-01"}, "incorporation_date", "must be a date"),
        ({"incorporation_date": "01/04/2019"}, "incorporation_date", "YYYY-MM-DD"),
        ({"incorporation_date": "2999-01-01"}, "incorporation_date", "in the past"),
        ({"incorporation_date": ""}, "incorporation_date", "Enter the date of incorporation"),
        ({"email": ""}, "email", "Enter the e-mail address"),
        ({"email": "not an address"}, "email", "must have an @"),
        # Only the service can tell these are wrong: its invalid_facts message lands beside the field.
        ({"email": "someone@"}, "email", "after the @-sign"),
        ({"phone": "12"}, "phone", "Not a valid phone number"),
        ({"id_value": "DE000000000"}, "id_value", "Not a valid VAT number for Germany"),
        ({"id_type": "", "id_value": "DE136695976"}, "id_type", "Choose the kind of identifier"),
        ({"business_purpose": "y" * 501}, "business_purpose", "at most 500 characters"),
    ],
)
def test_bad_details_are_shown_beside_their_field_and_nothing_is_saved(
    browser_client: WebClient,
    oidc_issuer: TestIssuer,
    database_url: str,
    changes: dict[str, str],
    field: str,
    says: str,
) -> None:
    subject, _ = start(browser_client, oidc_issuer, "organisation")
    page = browser_client.post("/web/apply/details", {**ORG_DETAILS, **changes})
    assert page.status_code == 400, page.text[:500]
    errors = field_errors(page)
    assert says in errors.get(field, ""), errors
    assert len(errors) == 1  # the other, good answers are not blamed
    assert 'value="compliance@nimbus.example"' in page.text or field == "email"  # what was typed stays
    assert application(database_url, subject)["facts_sealed"] is None


def test_a_bad_change_leaves_saved_details_as_they_were(
    browser_client: WebClient, oidc_issuer: TestIssuer, database_url: str
) -> None:
    subject, _ = start(browser_client, oidc_issuer, "individual")
    assert browser_client.post("/web/apply/details", PERSON_DETAILS).status_code == 303
    before = application(database_url, subject)["facts_sealed"]
    for changes, field in (
        ({"birth_date": "1850-01-01"}, "birth_date"),
        ({"nationality": "UK"}, "nationality"),
        (
            {"legal_name": "Ada King", "phone": "0000"},
            "phone",
        ),  # one bad answer: the good one is not saved either
    ):
        page = browser_client.post("/web/apply/details", {**PERSON_DETAILS, **changes})
        assert page.status_code == 400 and field in field_errors(page)
        assert application(database_url, subject)["facts_sealed"] == before
    assert "Ada Lovelace" in browser_client.get("/web/apply/review").text


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"line1": ""}, "line1", "Enter the first address line"),
        ({"city": ""}, "city", "Enter the city"),
        ({"city": "c" * 501}, "city", "at most 500 characters"),
        ({"country": "XX"}, "country", "two-letter ISO country code"),
        ({"country": ""}, "country", "Choose the country"),
        ({"postal_code": "p" * 501}, "postal_code", "at most 500 characters"),
    ],
)
def test_bad_addresses_are_shown_beside_their_field_and_nothing_is_saved(
    browser_client: WebClient,
    oidc_issuer: TestIssuer,
    database_url: str,
    changes: dict[str, str],
    field: str,
    says: str,
) -> None:
    subject, _ = start(browser_client, oidc_issuer, "organisation")
    page = browser_client.post("/web/apply/addresses", {**ADDRESS, **changes})
    assert page.status_code == 400
    assert says in field_errors(page)[field]
    assert application(database_url, subject)["facts_sealed"] is None


def test_the_last_address_cannot_be_removed_and_others_can(
    browser_client: WebClient, oidc_issuer: TestIssuer, database_url: str
) -> None:
    c = browser_client
    subject, _ = start(c, oidc_issuer, "organisation")
    assert c.post("/web/apply/addresses", ADDRESS).status_code == 303
    sealed = application(database_url, subject)["facts_sealed"]
    refused = c.post("/web/apply/addresses/remove", {"index": "0"})
    assert refused.status_code == 400 and "at least one address" in problem(refused)
    assert application(database_url, subject)["facts_sealed"] == sealed
    assert c.post("/web/apply/addresses/remove", {"index": "7"}).status_code == 404
    assert c.post("/web/apply/addresses", {**ADDRESS, "line1": "Second Street 2"}).status_code == 303
    assert c.post("/web/apply/addresses/remove", {"index": "0"}).status_code == 303
    page = c.get("/web/apply/addresses")
    assert "Second Street 2" in page.text and "Unter den Linden 1" not in page.text


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"percent": "150"}, "percent", "at most 100"),
        ({"percent": "0"}, "percent", "more than 0"),
        ({"percent": "-5"}, "percent", "more than 0"),
        ({"percent": "sixty"}, "percent", "must be a number"),
        ({"percent": "", "role": ""}, "percent", "a control role, or both"),
        ({"name": ""}, "name", "Enter the owner's name"),
        ({"name": "n" * 301}, "name", "at most 300 characters"),
        ({"country": "XX"}, "country", "two-letter ISO country code"),
        ({"nationality": "Austria"}, "nationality", "two-letter ISO country code"),
        ({"birth_date": "1914-02-30"}, "birth_date", "must be a date"),
        ({"kind": "organisation", "nationality": ""}, "birth_date", "no date of birth"),
        ({"kind": "robot"}, "kind", "Choose the kind of owner"),
        ({"role": "emperor"}, "role", "from the list"),
    ],
)
def test_bad_owners_are_shown_beside_their_field_and_nothing_is_saved(
    browser_client: WebClient,
    oidc_issuer: TestIssuer,
    database_url: str,
    changes: dict[str, str],
    field: str,
    says: str,
) -> None:
    subject, _ = start(browser_client, oidc_issuer, "organisation")
    cid = application(database_url, subject)["id"]
    page = browser_client.post("/web/apply/owners", {**OWNER, **changes})
    assert page.status_code == 400
    assert says in field_errors(page).get(field, ""), field_errors(page)
    assert query(database_url, "select count(*) from owners where customer_id = $1", cid)[0][0] == 0
    assert edges(database_url, cid) == []


def test_direct_owners_cannot_hold_more_than_100_percent_together(
    browser_client: WebClient, oidc_issuer: TestIssuer, database_url: str
) -> None:
    c = browser_client
    subject, _ = start(c, oidc_issuer, "organisation")
    cid = application(database_url, subject)["id"]
    assert c.post("/web/apply/owners", {**OWNER, "percent": "70"}).status_code == 303
    over = c.post("/web/apply/owners", {**OWNER, "name": "Second Owner", "percent": "40.5"})
    assert over.status_code == 400
    message = field_errors(over)["percent"]
    assert "110.5%" in message and "at most 30%" in message
    assert edges(database_url, cid) == [70.0]
    # A director who owns nothing is no share: a role alone is fine.
    assert (
        c.post(
            "/web/apply/owners", {**OWNER, "name": "A Director", "percent": "", "role": "director"}
        ).status_code
        == 303
    )
    assert c.post("/web/apply/owners", {**OWNER, "name": "Third Owner", "percent": "30"}).status_code == 303
    assert sorted(e or 0 for e in edges(database_url, cid)) == [0, 30.0, 70.0]


def test_one_person_cannot_reach_another_s_application(
    web_gateway: GatewayProcess, oidc_issuer: TestIssuer, database_url: str
) -> None:
    alice, mallory = WebClient(web_gateway), WebClient(web_gateway)
    try:
        a_subject, a_name = start(alice, oidc_issuer, "organisation")
        alice.post("/web/apply/owners", OWNER)
        a_row = application(database_url, a_subject)
        owner_id = query(database_url, "select id from owners where customer_id = $1", a_row["id"])[0]["id"]

        start(mallory, oidc_issuer, "organisation")
        for step in ("/web/apply", "/web/apply/details", "/web/apply/owners", "/web/apply/review"):
            page = mallory.get(step)
            assert (
                a_name not in page.text
                and "Hedy Lamarr" not in page.text
                and str(a_row["id"]) not in page.text
            )
        stolen = mallory.post(f"/web/apply/owners/{owner_id}/remove")
        assert stolen.status_code == 404 and "owner_not_found" in stolen.text
        assert edges(database_url, a_row["id"]) == [60.0]
        # Without a session, nothing: the page asks to sign in.
        anonymous = httpx.get(web_gateway.url + "/web/apply/review", timeout=10)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/web/login")
    finally:
        alice.close()
        mallory.close()


def test_a_form_without_the_session_s_token_is_refused(
    browser_client: WebClient, oidc_issuer: TestIssuer, database_url: str
) -> None:
    subject = new_subject("csrf")
    browser_client.sign_in(oidc_issuer, subject)
    forged = browser_client.post(
        "/web/apply/applicant", {"kind": "individual", "name": "Forged", "country": "DE"}, csrf=False
    )
    assert forged.status_code == 403 and "csrf_failed" in forged.text
    assert application(database_url, subject) is None
