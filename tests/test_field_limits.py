"""One limit per text field (`bot.limits`), the same on the admin API and in the CSV import."""

from __future__ import annotations

import httpx
import pytest

from bot.cli.importer import parse_products
from bot.limits import MAX_LENGTH

A = "/api/v1/admin"


@pytest.mark.parametrize("field", ["sku", "name", "category", "unit"])
async def test_a_product_field_has_one_limit_on_the_api_and_in_the_csv_import(
    client: httpx.AsyncClient, admin_headers: dict[str, str], field: str
) -> None:
    limit = MAX_LENGTH[field]
    product = {"sku": "GHEE-1", "name": "Ghee", "category": "Dairy", "price": "450", "unit": "kg"}
    for length, accepted in ((limit, True), (limit + 1, False)):
        value = "x" * length
        r = await client.post(
            f"{A}/products",
            json={**product, "sku": f"S{length}", field: value},
            headers=admin_headers,
        )
        assert (r.status_code == 201) is accepted, r.text
        row = {**product, field: value}
        csv = "sku,name,category,price,unit\n" + ",".join(row[k] for k in product) + "\n"
        errors = [str(e) for e in parse_products(csv).errors]
        assert errors == (
            [] if accepted else [f"line 2: {field} is longer than {limit} characters"]
        )
