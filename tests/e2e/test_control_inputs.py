"""Control-plane inputs that were answered 500: the first two found by the property-based test
(test_openapi.py), the upload names by reading that handler while fixing the second.

Each is now a 4xx in the gateway's error shape; these pin them down one by one.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.conftest import ADMIN_TOKEN

ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", f"/admin/v1/customers/{uuid.uuid4()}/quota/overrides/{2**63}"),
        ("POST", f"/admin/v1/screening/hits/{2**63}/dismiss"),
    ],
    ids=["quota-override", "screening-hit"],  # the same in every pytest-xdist worker (not the uuid)
)
def test_a_row_id_outside_bigint_is_a_bad_request(gateway, method, path) -> None:
    # PostgreSQL's bigint ends at 2**63 - 1: a larger id used to reach asyncpg and fail there.
    r = httpx.request(method, gateway.url + path, headers=ADMIN, json={"reason": "checked"})
    refused(r, 400, "invalid_request")


@pytest.mark.parametrize("source", ["sdn", "csl"])
def test_a_list_the_csv_reader_refuses_is_an_invalid_list(gateway, source) -> None:
    # A bare carriage return inside an unquoted field: csv.Error, which escaped the parser.
    r = httpx.post(
        gateway.url + "/admin/v1/screening/lists",
        params={"source": source},
        headers=ADMIN,
        content=b"\xff7<Y^\xe9\r\x03\x07A@",
    )
    refused(r, 400, "invalid_list")
    assert "not a readable CSV file" in r.json()["error"]["message"]


@pytest.mark.parametrize("name", ["..", "a\x00b", "x" * 300])
def test_an_upload_name_that_cannot_be_a_file_name_is_replaced(gateway, name) -> None:
    # ".." named the temporary folder's parent (IsADirectoryError), NUL and overlong names
    # failed open(): all three were 500s. The list is recorded under a name of the gateway's.
    r = httpx.post(
        gateway.url + "/admin/v1/screening/lists",
        params={"source": "sdn", "name": name},
        headers=ADMIN,
        content=b"<sdnList></sdnList>",
    )
    refused(r, 400, "empty_list")
    assert "sdn-upload holds no screenable entries" in r.json()["error"]["message"]
