"""The operator console's operations pages over HTTP against the real gateway: quota overrides
(bad input refused beside its field, nothing saved), live usage and denials from real calls,
a detection cluster's evidence and its dismissal, the audit log and its verification."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import pytest

from gateway.identity.repository import CreatedKey
from tests.e2e.conftest import GatewayProcess, new_key
from tests.e2e.test_detect import flagged
from tests.e2e.test_quota import chat
from tests.e2e.web.conftest import OPERATOR_ROLE, WebClient, new_subject
from tests.e2e.web.test_console import CONSOLE, applied, error_for, query
from tests.oidc_issuer import TestIssuer

GOOD = {"dimension": "requests", "limit": "1000", "window": "day", "rolling_days": "", "scope": "customer"}


@pytest.fixture
def operator(browser_client: WebClient, oidc_issuer: TestIssuer) -> Iterator[tuple[WebClient, str]]:
    subject = new_subject("op")
    browser_client.sign_in(oidc_issuer, subject, roles=[OPERATOR_ROLE])
    yield browser_client, subject


def overrides_of(database_url: str, customer: uuid.UUID) -> list[dict[str, object]]:
    rows = query(
        database_url,
        'select id, dimension, period, rolling_days, "limit", created_by from quota_overrides'
        " where customer_id = $1 order by id",
        customer,
    )
    return [dict(r) for r in rows]


def test_an_override_is_refused_on_bad_input_then_added_and_removed(
    operator: tuple[WebClient, str], database_url: str
) -> None:
    client, subject = operator
    cid = applied(database_url, f"quota-co-{uuid.uuid4().hex[:6]}")
    path = f"{CONSOLE}/customers/{cid}/overrides"
    bad = [
        ({"limit": ""}, "limit", "Enter the limit."),
        ({"limit": "-5"}, "limit", "at least 0"),
        ({"limit": "lots"}, "limit", "must be a number"),
        ({"limit": "inf"}, "limit", "must be a number"),
        ({"dimension": "bananas"}, "dimension", "Choose the dimension."),
        ({"window": "fortnight"}, "window", "Choose the window."),
        ({"window": "rolling", "rolling_days": ""}, "rolling_days", "Enter the number of rolling days."),
        ({"window": "rolling", "rolling_days": "2.5"}, "rolling_days", "whole number"),
        ({"window": "rolling", "rolling_days": "99999"}, "rolling_days", "whole number"),
        ({"window": "day", "rolling_days": "7"}, "rolling_days", "Leave the rolling days empty"),
        ({"scope": "project"}, "scope_name", "Enter the project or key."),
        ({"scope": "project", "scope_name": "x" * 201}, "scope_name", "at most 200 characters"),
        ({"scope": "project", "scope_name": "no-such-project"}, "scope_name", "has no project"),
        ({"scope": "customer", "scope_name": "p"}, "scope_name", "Leave the project or key empty"),
    ]
    for change, field, message in bad:
        answer = client.post(path, {**GOOD, **change})
        assert answer.status_code == 400, (change, answer.text[:300])
        assert message in (error_for(answer.text, field) or ""), (change, error_for(answer.text, field))
        assert overrides_of(database_url, cid) == [], change  # nothing saved
    # The values typed stay in the form.
    assert 'value="lots"' in client.post(path, {**GOOD, "limit": "lots"}).text

    added = client.post(
        path, {**GOOD, "window": "rolling", "rolling_days": "7", "limit": "250", "hard": "on"}
    )
    assert added.status_code == 303, added.text
    (row,) = overrides_of(database_url, cid)
    assert (row["dimension"], row["period"], row["rolling_days"], row["limit"]) == (
        "requests",
        None,
        7,
        250.0,
    )
    assert row["created_by"] == f"operator:{subject}"
    page = client.get(added.headers["location"]).text
    assert "The quota override is saved." in page and f'data-override="{row["id"]}"' in page
    assert f"override:{row['id']}" in page  # the effective limit now comes from it

    other = applied(database_url, f"quota-other-{uuid.uuid4().hex[:6]}")
    wrong = client.post(f"{CONSOLE}/customers/{other}/overrides/{row['id']}/delete")
    assert wrong.status_code == 404 and "override_not_found" in wrong.text  # not another customer's
    removed = client.post(f"{path}/{row['id']}/delete")
    assert removed.status_code == 303 and overrides_of(database_url, cid) == []
    assert "The quota override is removed." in client.get(removed.headers["location"]).text
    logged = query(
        database_url,
        "select kind, convert_from(entry, 'UTF8')::jsonb ->> 'actor' as actor from audit_entries"
        " where subject = $1 and kind like 'quota.%' order by seq",
        f"customer:{cid}",
    )
    assert [(r["kind"], r["actor"]) for r in logged] == [
        ("quota.override_set", f"operator:{subject}"),
        ("quota.override_removed", f"operator:{subject}"),
    ]


def _customer_id(database_url: str, name: str) -> uuid.UUID:
    found: uuid.UUID = query(database_url, "select id from customers where name = $1", name)[0][0]
    return found


def _row(html: str, period: str, customer: uuid.UUID) -> str | None:
    section = html.split(f'data-period="{period}"', 1)[1].split("</section>", 1)[0]
    found = re.search(rf'<tr data-customer="{customer}">(.*?)</tr>', section, re.S)
    return found.group(1) if found else None


def test_usage_and_denials_show_a_real_call_and_a_real_refusal(
    operator: tuple[WebClient, str], database_url: str, web_gateway: GatewayProcess
) -> None:
    client, _ = operator
    name = f"usage-co-{uuid.uuid4().hex[:6]}"
    key: CreatedKey = new_key(database_url, web_gateway, name)
    cid = _customer_id(database_url, name)
    served = chat(web_gateway, key.key)
    assert served.status_code == 200, served.text
    refused = chat(web_gateway, key.key, model="no-such-model")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "model_not_found"

    deadline = time.monotonic() + 10  # the ledger writes in batches: poll, with a deadline
    while True:
        recorded, failed = query(
            database_url,
            "select count(*), count(error_code) from usage_events where customer_id = $1",
            cid,
        )[0]
        html = client.get(CONSOLE + "/usage").text
        hour, day = _row(html, "hour", cid), _row(html, "day", cid)
        if hour and day and "model_not_found: 1" in hour and f"data-requests>{recorded}<" in hour:
            break
        assert time.monotonic() < deadline, (recorded, hour)
        time.sleep(0.1)
    assert recorded >= 2  # the call served and the call refused (and the key's first check)
    for row in (hour, day):
        assert row is not None
        assert (
            f">{name}</a>" in row and f"data-requests>{recorded}<" in row and f"data-refused>{failed}<" in row
        )
        assert '<span class="mono" data-code="model_not_found">model_not_found: 1</span>' in row
    assert '<meta http-equiv="refresh" content="30">' in html  # live: it reloads itself
    latest = html.split('data-table="refused"', 1)[1]
    assert refused.headers["x-request-id"] in latest and "model_not_found" in latest
    home = client.get(CONSOLE).text
    assert refused.headers["x-request-id"] not in home  # the front page lists codes, not ids
    assert "model_not_found" in home


def test_a_detection_cluster_shows_its_evidence_and_is_dismissed(
    operator: tuple[WebClient, str], database_url: str, web_gateway: GatewayProcess
) -> None:
    client, subject = operator
    name = f"detect-co-{uuid.uuid4().hex[:6]}"
    new_key(database_url, web_gateway, name)
    customer = _customer_id(database_url, name)
    cluster, flag = flagged(database_url, customer)

    listing = client.get(CONSOLE + "/flags?status=open")
    assert listing.status_code == 200 and f'data-cluster="{cluster}"' in listing.text
    assert 'data-count="clusters"' in client.get(CONSOLE).text
    page = client.get(f"{CONSOLE}/clusters/{cluster}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "data-score>0.90<" in html
    assert "<li>asks for step-by-step reasoning in 95 % of calls</li>" in html
    assert "reasoning_share" in html and ">0.95<" in html
    assert f'href="{CONSOLE}/customers/{customer}">{name}</a>' in html
    assert f'data-action="{flag}"' in html and 'data-state="active"' in html

    path = f"{CONSOLE}/clusters/{cluster}/review"
    empty = client.post(path, {"verdict": "dismiss", "review_reason": ""})
    assert empty.status_code == 400 and error_for(empty.text, "review_reason")
    bad = client.post(path, {"verdict": "maybe", "review_reason": "unsure"})
    assert bad.status_code == 400 and error_for(bad.text, "verdict") == "Choose the verdict."
    assert query(database_url, "select status from detect_clusters where id = $1", cluster)[0][0] == "open"

    done = client.post(path, {"verdict": "dismiss", "review_reason": "a research lab we know"})
    assert done.status_code == 303
    row = query(database_url, "select status, reviewed_by from detect_clusters where id = $1", cluster)[0]
    assert (row["status"], row["reviewed_by"]) == ("dismissed", f"operator:{subject}")
    action = query(database_url, "select state, reversed_by from detect_actions where id = $1", flag)[0]
    assert action["state"] != "active" and action["reversed_by"] == f"operator:{subject}"
    after = client.get(done.headers["location"]).text
    assert 'data-status="dismissed"' in after and "a research lab we know" in after
    missing = client.get(f"{CONSOLE}/clusters/{uuid.uuid4()}")
    assert missing.status_code == 404 and "cluster_not_found" in missing.text


def test_a_confirmed_cluster_can_be_acted_on_and_the_action_reversed(
    operator: tuple[WebClient, str], database_url: str, web_gateway: GatewayProcess
) -> None:
    client, subject = operator
    name = f"act-co-{uuid.uuid4().hex[:6]}"
    new_key(database_url, web_gateway, name)
    customer = _customer_id(database_url, name)
    cluster, _ = flagged(database_url, customer)
    base = f"{CONSOLE}/clusters/{cluster}"
    assert (
        client.post(base + "/review", {"verdict": "confirm", "review_reason": "clear pattern"}).status_code
        == 303
    )
    refused = client.post(base + "/act", {"action": "edd", "member": "", "act_reason": ""})
    assert refused.status_code == 400 and error_for(refused.text, "act_reason")
    taken = client.post(
        base + "/act", {"action": "edd", "member": str(customer), "act_reason": "ask for more"}
    )
    assert taken.status_code == 303, taken.text
    (aid,) = [
        r["id"]
        for r in query(
            database_url,
            "select id from detect_actions where cluster_id = $1 and action = 'edd' and not automatic",
            cluster,
        )
    ]
    assert (
        query(database_url, "select actor from detect_actions where id = $1", aid)[0][0]
        == f"operator:{subject}"
    )
    field = f"reverse{aid}_reason"
    empty = client.post(f"{base}/actions/{aid}/reverse", {field: ""})
    assert empty.status_code == 400 and error_for(empty.text, field)
    back = client.post(f"{base}/actions/{aid}/reverse", {field: "documents arrived"})
    assert back.status_code == 303
    assert query(database_url, "select state from detect_actions where id = $1", aid)[0][0] != "active"


def test_the_audit_log_is_browsed_filtered_and_verified(
    operator: tuple[WebClient, str], database_url: str
) -> None:
    client, subject = operator
    cid = applied(database_url, f"audit-co-{uuid.uuid4().hex[:6]}")
    client.post(f"{CONSOLE}/customers/{cid}/decision", {"action": "approve", "reason": "audited approval"})

    page = client.get(CONSOLE + "/audit")
    assert page.status_code == 200
    seqs = [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', page.text)]
    assert seqs and seqs == sorted(seqs, reverse=True)  # newest first

    mine = client.get(CONSOLE + "/audit", params={"actor": f"operator:{subject}"})
    actors = re.findall(r"data-actor>([^<]*)<", mine.text)
    assert actors and set(actors) == {f"operator:{subject}"}
    assert "kyc.status_changed" in mine.text and f"customer:{cid}" in mine.text
    kinds = re.findall(
        r'<td class="mono">([a-z_.]+)</td><td class="mono" data-actor>',
        client.get(CONSOLE + "/audit", params={"kind": "kyc."}).text,
    )
    assert kinds and all(k.startswith("kyc.") for k in kinds)
    # Paging: the next page starts below the last entry shown.
    if 'rel="next"' in page.text:
        nxt = re.search(r'href="([^"]+)" rel="next"', page.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
        older = [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', client.get(nxt).text)]
        assert older and max(older) < min(seqs)
    bad = client.get(CONSOLE + "/audit", params={"before": "yesterday", "kind": "x" * 101})
    assert bad.status_code == 400 and error_for(bad.text, "before") and error_for(bad.text, "kind")

    verified = client.post(CONSOLE + "/audit/verify")
    assert verified.status_code == 200
    assert 'data-verified="ok"' in verified.text, verified.text[-3000:]
    size = query(database_url, "select size from audit_head")[0][0]
    found = re.search(r"<strong>Verified.</strong> (\d+) entr", verified.text)
    assert found is not None and int(found.group(1)) <= size
    assert "Signed by key" in verified.text and "<code>" in verified.text


def test_the_pages_render_with_odd_queries(operator: tuple[WebClient, str]) -> None:
    client, _ = operator
    for path in ("/usage", "/flags", "/flags?status=dismissed", "/flags?status=bogus", "/customers?q=%00"):
        answer = client.get(CONSOLE + path)
        assert answer.status_code == 200, (path, answer.text[:500])
