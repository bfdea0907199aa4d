"""The operator console over HTTP against the real gateway: the review queue, a customer's page
(facts beside screening hits, the ownership graph as SVG), decisions that need a reason, and the
operator role on every console path."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.kyc.facts import FactsIn
from gateway.kyc.models import OwnerIn
from tests.conftest import _run, kyc_service
from tests.e2e.conftest import GatewayProcess
from tests.e2e.test_cli import gateway_cli
from tests.e2e.web.conftest import OPERATOR_ROLE, WebClient, new_subject
from tests.oidc_issuer import TestIssuer

FIXTURES = Path(__file__).parents[2] / "fixtures" / "screening"
CONSOLE = "/web/console"


def query(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return _run(run())


def applied(database_url: str, name: str, *, owners: bool = False, kind: str = "individual") -> uuid.UUID:
    """A customer who applied and submitted, through the KYC service (as the onboarding API does).

    With ``owners``: an organisation held 40 % by a holding (itself half owned by a person on the
    SDN list) and 60 % by a director."""

    async def run() -> uuid.UUID:
        conn = await asyncpg.connect(database_url)
        try:
            kyc = kyc_service()
            made = await kyc.create_customer(
                conn,
                name,
                "organisation" if owners else kind,
                "DE",
                facts=FactsIn(email=f"compliance@{name}.example", business_purpose="model evaluation")
                if owners
                else None,
            )
            if owners:
                holding = await kyc.add_owner(
                    conn,
                    made.id,
                    OwnerIn(
                        name=f"Harbour Holdings {name[-6:]}", kind="organisation", country="NL", percent=40
                    ),
                )
                await kyc.add_owner(
                    conn,
                    made.id,
                    OwnerIn(
                        name="Ivan Petrovich Sidorenko", kind="person", country="UA", percent=50, of=holding
                    ),
                )
                await kyc.add_owner(
                    conn,
                    made.id,
                    OwnerIn(name=f"Hedy Lamarr {name[-6:]}", kind="person", percent=60, role="director"),
                )
            await kyc.submit(conn, made.id, "test")
            return made.id
        finally:
            await conn.close()

    return _run(run())


@pytest.fixture(scope="module")
def sdn_list(web_gateway: GatewayProcess) -> None:
    """The SDN fixture list, loaded as an operator does, so that a listed owner is a hit."""
    done = gateway_cli(web_gateway, "screening", "load", str(FIXTURES / "sdn.xml"), "--source", "sdn")
    assert done.returncode == 0, done.stderr


@pytest.fixture
def operator(browser_client: WebClient, oidc_issuer: TestIssuer) -> Iterator[tuple[WebClient, str]]:
    subject = new_subject("op")
    browser_client.sign_in(oidc_issuer, subject, roles=[OPERATOR_ROLE])
    yield browser_client, subject


def status_of(database_url: str, customer: uuid.UUID) -> str:
    return str(query(database_url, "select kyc_status from customers where id = $1", customer)[0][0])


def error_for(html: str, field: str) -> str | None:
    found = re.search(rf'data-error-for="{re.escape(field)}">([^<]*)<', html)
    return found.group(1) if found else None


def test_an_applicant_is_in_the_queue_and_its_page_shows_facts_hits_and_the_graph(
    operator: tuple[WebClient, str], database_url: str, sdn_list: None
) -> None:
    client, _ = operator
    name = f"console-co-{uuid.uuid4().hex[:6]}"
    cid = applied(database_url, name, owners=True)

    queue = client.get(CONSOLE + "/queue")
    assert queue.status_code == 200
    assert f'href="{CONSOLE}/customers/{cid}">{name}</a>' in queue.text
    home = client.get(CONSOLE)
    assert home.status_code == 200 and 'data-count="queue"' in home.text

    page = client.get(f"{CONSOLE}/customers/{cid}")
    assert page.status_code == 200, page.text
    html = page.text
    # The facts, decrypted for the reviewer.
    assert f"compliance@{name}.example" in html and "model evaluation" in html
    # The hit beside them: the listed owner, the list, the score and what matched.
    # Other tests load lists of their own into the shared database: this test's hit is the one on
    # the SDN fixture's entry 91001.
    articles = {h: article(html, h) for h in re.findall(r'<article class="hit open" data-hit="(\d+)"', html)}
    hits = [h for h, text in articles.items() if "sdn" in text and "91001" in text]
    assert len(hits) == 1, articles
    hit = articles[hits[0]]
    assert "Ivan Petrovich Sidorenko (owner)" in hit
    score = float(re.search(r"data-score>([0-9.]+)<", hit).group(1))  # type: ignore[union-attr]
    assert 0.8 <= score <= 1.0
    assert "<li>" in hit.split("Matched on")[1]  # the matched fields, listed
    # And how the score was made, part by part: the name's score first, then each field's effect.
    table = hit[hit.index("<table data-explanation>") : hit.index("</table>")]
    assert '<tr data-part="name">' in table
    name_score = float(re.search(r'data-part="name">.*?class="num">([0-9.]+)<', table, re.S).group(1))  # type: ignore[union-attr]
    effects = [float(e) for e in re.findall(r'class="num">([+-][0-9.]+)<', table)]
    assert abs(min(1.0, name_score + sum(effects)) - score) < 0.02
    # The graph: a picture with a title and a description, every owner a node, shares on edges.
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert f'<title id="ownership-title">Ownership of {name}</title>' in svg
    assert 'data-nodes="4"' in svg
    for owner in (f"Harbour Holdings {name[-6:]}", "Ivan Petrovich Sidorenko", f"Hedy Lamarr {name[-6:]}"):
        assert f"<title>{owner} (" in svg
    assert ">40 %<" in svg and ">50 %<" in svg and ">60 % · director<" in svg
    ivan = re.search(r'<g class="node person" data-id="[^"]+" data-level="(\d)"><title>Ivan', svg)
    assert ivan is not None and ivan.group(1) == "2"  # an owner of an owner: one row deeper
    assert "<title>Ivan Petrovich Sidorenko (person, listed)</title>" in svg
    # ... and the same facts in words under it.
    assert (
        f"Ivan Petrovich Sidorenko (on a denied-party list) owns 50 % of Harbour Holdings {name[-6:]}."
        in html
    )

    # Approving is refused while the hit is open, and says why.
    blocked = client.post(
        f"{CONSOLE}/customers/{cid}/decision", {"action": "approve", "reason": "looks fine"}
    )
    assert blocked.status_code == 409 and "must be confirmed or dismissed first" in blocked.text
    assert status_of(database_url, cid) == "in_review"

    # A verdict on the hit needs a reason, beside the hit's own field.
    field = f"hit{hits[0]}_reason"
    empty = client.post(f"{CONSOLE}/customers/{cid}/hits/{hits[0]}", {"verdict": "dismiss", field: "  "})
    assert empty.status_code == 400 and "every decision must say why" in (error_for(empty.text, field) or "")
    state = query(database_url, "select state from screening_hits where id = $1", int(hits[0]))[0][0]
    assert state == "open"
    # The hit is decided from its own customer's page only: from another's, it does not exist.
    stranger = applied(database_url, f"stranger-{uuid.uuid4().hex[:6]}")
    elsewhere = client.post(
        f"{CONSOLE}/customers/{stranger}/hits/{hits[0]}", {"verdict": "dismiss", field: "x"}
    )
    assert elsewhere.status_code == 404 and "hit_not_found" in elsewhere.text
    assert query(database_url, "select state from screening_hits where id = $1", int(hits[0]))[0][0] == "open"
    dismissed = client.post(
        f"{CONSOLE}/customers/{cid}/hits/{hits[0]}",
        {"verdict": "dismiss", field: "different person: DOB differs"},
    )
    assert dismissed.status_code == 303
    row = query(database_url, "select state, decided_by from screening_hits where id = $1", int(hits[0]))[0]
    assert row["state"] == "dismissed" and row["decided_by"] == client_actor(operator)
    after = client.get(dismissed.headers["location"])
    assert "The screening hit is dismissed." in after.text
    assert f'<article class="hit open" data-hit="{hits[0]}"' not in after.text
    if len(articles) == 1:  # alone in this database (this file run by itself): no hit is left open
        assert "data-no-hits" in after.text


def article(html: str, hit: str) -> str:
    """The ``<article>`` of one screening hit on a customer's page."""
    start = html.index(f'data-hit="{hit}"')
    return html[start : html.index("</article>", start)]


def client_actor(operator: tuple[WebClient, str]) -> str:
    return f"operator:{operator[1]}"


def test_approve_needs_a_reason_and_records_who_decided(
    operator: tuple[WebClient, str], database_url: str
) -> None:
    client, subject = operator
    cid = applied(database_url, f"approve-me-{uuid.uuid4().hex[:6]}")
    path = f"{CONSOLE}/customers/{cid}/decision"

    for reason, message in [("", "every decision must say why"), ("x" * 1001, "at most 1000 characters")]:
        refused = client.post(path, {"action": "approve", "reason": reason})
        assert refused.status_code == 400
        assert message in (error_for(refused.text, "reason") or ""), refused.text
        assert 'aria-invalid="true"' in refused.text
        assert status_of(database_url, cid) == "in_review"  # nothing decided
    unknown = client.post(path, {"action": "promote", "reason": "because"})
    assert unknown.status_code == 400 and error_for(unknown.text, "action") == "Choose the decision."
    assert "because" in unknown.text  # what was typed stays in the field
    assert status_of(database_url, cid) == "in_review"

    done = client.post(path, {"action": "approve", "reason": "documents checked against the register"})
    assert done.status_code == 303
    assert done.headers["location"] == f"{CONSOLE}/customers/{cid}?done=approve#decision"
    assert status_of(database_url, cid) == "verified"
    last = query(
        database_url,
        "select to_status, actor, reason from kyc_transitions where customer_id = $1 order by id desc limit 1",
        cid,
    )[0]
    assert (last["to_status"], last["actor"]) == ("verified", f"operator:{subject}")
    assert last["reason"].startswith("documents checked against the register")
    logged = query(
        database_url,
        "select convert_from(entry, 'UTF8')::jsonb as e from audit_entries"
        " where kind = 'kyc.status_changed' and subject = $1 order by seq",
        f"customer:{cid}",
    )
    entries = [json.loads(r["e"]) for r in logged]
    assert any(e["actor"] == f"operator:{subject}" and e["data"]["to"] == "verified" for e in entries)

    page = client.get(done.headers["location"])
    assert "Approved: the customer is verified." in page.text
    assert 'data-status="verified"' in page.text
    assert "documents checked against the register" in page.text  # in the status history


def test_request_information_and_reject(operator: tuple[WebClient, str], database_url: str) -> None:
    client, subject = operator
    more = applied(database_url, f"more-info-{uuid.uuid4().hex[:6]}")
    done = client.post(
        f"{CONSOLE}/customers/{more}/decision", {"action": "request_info", "reason": "need proof of address"}
    )
    assert done.status_code == 303 and status_of(database_url, more) == "pending"
    assert "Information requested" in client.get(done.headers["location"]).text

    gone = applied(database_url, f"reject-me-{uuid.uuid4().hex[:6]}")
    done = client.post(
        f"{CONSOLE}/customers/{gone}/decision", {"action": "reject", "reason": "forged documents"}
    )
    assert done.status_code == 303 and status_of(database_url, gone) == "rejected"
    actors = query(database_url, "select actor from kyc_transitions where customer_id = $1 order by id", gone)
    assert actors[-1]["actor"] == f"operator:{subject}"
    # A rejected file offers only reopening; approving it now is refused on the page.
    page = client.get(f"{CONSOLE}/customers/{gone}").text
    assert 'value="reopen"' in page and 'value="approve"' not in page
    refused = client.post(
        f"{CONSOLE}/customers/{gone}/decision", {"action": "approve", "reason": "changed my mind"}
    )
    assert refused.status_code == 409 and "data-problem" in refused.text
    assert status_of(database_url, gone) == "rejected"


def test_customers_list_searches_by_name(operator: tuple[WebClient, str], database_url: str) -> None:
    client, _ = operator
    tag = uuid.uuid4().hex[:8]
    mine = applied(database_url, f"Searchable {tag} Ltd")
    other = applied(database_url, f"unrelated-{uuid.uuid4().hex[:6]}")
    found = client.get(CONSOLE + "/customers", params={"q": f"searchable {tag.upper()}"})
    assert found.status_code == 200
    assert f'data-customer="{mine}"' in found.text and f'data-customer="{other}"' not in found.text
    assert 'data-total="1"' in found.text
    everyone = client.get(CONSOLE + "/customers").text
    assert f'data-customer="{mine}"' in everyone and f'data-customer="{other}"' in everyone


def test_unknown_customers_are_not_found(operator: tuple[WebClient, str]) -> None:
    client, _ = operator
    for path in (f"{CONSOLE}/customers/{uuid.uuid4()}", f"{CONSOLE}/customers/not-a-uuid"):
        answer = client.get(path)
        assert answer.status_code == 404 and "customer_not_found" in answer.text
    answer = client.post(f"{CONSOLE}/customers/{uuid.uuid4()}/decision", {"action": "approve", "reason": "x"})
    assert answer.status_code == 404


def test_the_level_is_set_with_a_reason(operator: tuple[WebClient, str], database_url: str) -> None:
    client, subject = operator
    cid = applied(database_url, f"level-co-{uuid.uuid4().hex[:6]}")
    page = client.get(f"{CONSOLE}/customers/{cid}").text
    assert "data-level>standard<" in page and "data-tier>" in page
    path = f"{CONSOLE}/customers/{cid}/level"
    refused = client.post(path, {"level": "enhanced", "level_reason": ""})
    assert refused.status_code == 400 and error_for(refused.text, "level_reason")
    bad = client.post(path, {"level": "extreme", "level_reason": "why not"})
    assert bad.status_code == 400 and error_for(bad.text, "level")
    assert query(database_url, "select kyc_level from customers where id = $1", cid)[0][0] == "standard"
    done = client.post(path, {"level": "enhanced", "level_reason": "high-risk jurisdiction"})
    assert done.status_code == 303
    assert query(database_url, "select kyc_level from customers where id = $1", cid)[0][0] == "enhanced"
    assert "data-level>enhanced<" in client.get(done.headers["location"]).text
    kinds = query(
        database_url,
        "select convert_from(entry, 'UTF8')::jsonb ->> 'actor' as actor from audit_entries"
        " where kind = 'kyc.level_changed' and subject = $1",
        f"customer:{cid}",
    )
    assert [r["actor"] for r in kinds] == [f"operator:{subject}"]


def test_every_console_path_needs_the_operator_role(
    browser_client: WebClient, oidc_issuer: TestIssuer, database_url: str
) -> None:
    cid = applied(database_url, f"private-{uuid.uuid4().hex[:6]}")
    some = uuid.uuid4()
    gets = [
        CONSOLE,
        CONSOLE + "/queue",
        CONSOLE + "/customers",
        f"{CONSOLE}/customers/{cid}",
        CONSOLE + "/usage",
        CONSOLE + "/flags",
        f"{CONSOLE}/clusters/{some}",
        CONSOLE + "/audit",
    ]
    posts = [
        f"{CONSOLE}/customers/{cid}/decision",
        f"{CONSOLE}/customers/{cid}/hits/1",
        f"{CONSOLE}/customers/{cid}/level",
        f"{CONSOLE}/customers/{cid}/overrides",
        f"{CONSOLE}/customers/{cid}/overrides/1/delete",
        f"{CONSOLE}/clusters/{some}/review",
        f"{CONSOLE}/clusters/{some}/act",
        f"{CONSOLE}/clusters/{some}/actions/1/reverse",
        CONSOLE + "/audit/verify",
    ]
    # Not signed in: sent to sign in, nothing shown.
    for path in gets:
        answer = browser_client.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/web/login"), path
    browser_client.sign_in(oidc_issuer, new_subject("customer"), roles=["something-else"])
    for path in gets:
        answer = browser_client.get(path)
        assert answer.status_code == 403 and "role_required" in answer.text, path
        assert "private-" not in answer.text
    for path in posts:
        answer = browser_client.post(path, {"action": "approve", "reason": "sneaky", "verdict": "dismiss"})
        assert answer.status_code == 403 and "role_required" in answer.text, path
    assert status_of(database_url, cid) == "in_review"
    assert 'href="/web/console"' not in browser_client.get("/web/").text
