"""The admin mount's auth: before any handler for a route, never in the way of a 404 or 405."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN

A = "/api/v1/admin"
HEADERS = [{}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {ADMIN_TOKEN}"}]


@pytest.mark.parametrize("headers", HEADERS)
async def test_a_path_that_names_no_route_is_404_whatever_the_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for path in (f"{A}/nope", f"{A}/", f"{A}/credit/risk-dashboard/x"):
        r = await client.get(path, headers=headers)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "NOT_FOUND"), path
    r = await client.delete(f"{A}/audit", headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (405, "METHOD_NOT_ALLOWED")


async def test_a_route_answers_only_with_the_token(client: httpx.AsyncClient) -> None:
    r = await client.get(f"{A}/audit")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, "Bearer")
    r = await client.get(f"{A}/audit", headers=HEADERS[2])
    assert r.status_code == 200 and r.json() == {"entries": []}
