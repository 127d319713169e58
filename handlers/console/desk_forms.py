"""The console's forms for the business day (POST): moving an order along its lifecycle, returns,
the catalogue and a retailer's details. Each works as `handlers.console.forms` describes: the
admin API's readers, the same `db` function the API route calls, a refusal beside the form and a
redirect (303) on success.
"""

from __future__ import annotations

import logging

from starlette.responses import Response

from bot.money import format_inr
from bot.orders import OrderAction
from db import ledger, upkeep
from db.errors import AppError
from db.onboarding import NewProduct, create_product
from handlers.admin import fields as api_fields
from handlers.console import pages, security
from handlers.console.forms import back_to_retailer, refused_on_retailer
from handlers.console.guard import Console

log = logging.getLogger(__name__)

# --- orders ---------------------------------------------------------------------------------------


async def _order_refused(console: Console, order_id: int, exc: AppError) -> Response:
    """A refused move: back on the page it came from, with the sentence."""
    back = security.safe_next(console.form.get("back"))
    message = f"Order #{order_id}: {exc.message}"
    prefix = "/admin/retailers/"
    if back.startswith(prefix) and back[len(prefix) :].isdigit():
        return await pages.retailer_page(
            console, int(back[len(prefix) :]), status=exc.status, error=message, error_form="order"
        )
    return await pages.orders(console, status=exc.status, error=message)


async def _move(console: Console, action: OrderAction) -> Response:
    """`POST /orders/{order}/dispatch|deliver|cancel` as a form (cancel needs a reason)."""
    order_id = pages.path_id(console, "order")
    back = security.safe_next(console.form.get("back"))
    deps = console.deps
    try:
        reason = api_fields.text(console.form, "reason") if action is OrderAction.CANCEL else None
        async with deps.pool.acquire() as conn:
            moved = await ledger.move_order(
                conn,
                order_id,
                action,
                reason=reason,
                performed_by=console.caller.performed_by,
                now=deps.clock.now(),
                tz=deps.settings.tz,
                tolerance=deps.settings.overdue_tolerance_paise,
            )
    except AppError as exc:
        return await _order_refused(console, order_id, exc)
    words = {
        OrderAction.DISPATCH: "dispatched",
        OrderAction.DELIVER: "delivered",
        OrderAction.CANCEL: "cancelled",
    }
    undone = (
        f"; {format_inr(moved.reversed_amount)} taken off what is owed"
        if moved.reversed_amount
        else ""
    )
    return await console.done(back, f"Order #{order_id} {words[action]}{undone}.")


async def dispatch(console: Console) -> Response:
    return await _move(console, OrderAction.DISPATCH)


async def deliver(console: Console) -> Response:
    return await _move(console, OrderAction.DELIVER)


async def cancel(console: Console) -> Response:
    return await _move(console, OrderAction.CANCEL)


async def fail_order(console: Console) -> Response:
    """`POST /orders/{order}/fail` as a form, from the board or a retailer's page."""
    order_id = pages.path_id(console, "order")
    back = security.safe_next(console.form.get("back"))
    deps = console.deps
    try:
        reason = api_fields.text(console.form, "reason")
        async with deps.pool.acquire() as conn:
            failed = await ledger.fail_order(
                conn,
                order_id,
                reason=reason,
                performed_by=console.caller.performed_by,
                now=deps.clock.now(),
                tz=deps.settings.tz,
                tolerance=deps.settings.overdue_tolerance_paise,
            )
    except AppError as exc:
        return await _order_refused(console, order_id, exc)
    reversed_text = (
        f"; {format_inr(failed.reversed_amount)} taken off what is owed"
        if failed.reversed_amount
        else ""
    )
    return await console.done(back, f"Order #{order_id} marked failed{reversed_text}.")


async def return_goods(console: Console) -> Response:
    """`POST /orders/{order}/return {"amount", "reason"}` as a form (by amount; the API also
    takes items)."""
    order_id = pages.path_id(console, "order")
    back = security.safe_next(console.form.get("back"))
    deps = console.deps
    try:
        reason = api_fields.text(console.form, "reason")
        amount = api_fields.optional_amount(console.form, "amount")
        async with deps.pool.acquire() as conn:
            result = await ledger.return_goods(
                conn,
                order_id,
                amount=amount,
                reason=reason,
                performed_by=console.caller.performed_by,
                now=deps.clock.now(),
                tz=deps.settings.tz,
                tolerance=deps.settings.overdue_tolerance_paise,
            )
    except AppError as exc:
        return await _order_refused(console, order_id, exc)
    return await console.done(
        back,
        f"Return of {format_inr(result.amount)} on order #{order_id} recorded; "
        f"{format_inr(result.returnable)} more can come back.",
    )


# --- catalogue and retailers' details ------------------------------------------------------------


async def add_product(console: Console) -> Response:
    """`POST /products` as a form."""
    form = console.form
    try:
        new = NewProduct(
            sku=api_fields.text(form, "sku"),
            name=api_fields.text(form, "name"),
            category=api_fields.text(form, "category"),
            price=api_fields.amount(form, "price"),
            unit=api_fields.optional_text(form, "unit") or "pc",
        )
        async with console.deps.pool.acquire() as conn:
            await create_product(conn, new, now=console.deps.clock.now())
    except AppError as exc:
        return await pages.catalogue(console, status=exc.status, error=exc.message)
    return await console.done("/admin/catalogue", f"{new.name} added at {format_inr(new.price)}.")


async def _change_product(console: Console, change: upkeep.ProductChange) -> Response:
    product_id = pages.path_id(console, "product")
    back = security.safe_next(console.form.get("back"))
    try:
        async with console.deps.pool.acquire() as conn:
            product, diff = await upkeep.update_product(
                conn,
                product_id,
                change,
                performed_by=console.caller.performed_by,
                now=console.deps.clock.now(),
            )
    except AppError as exc:
        return await pages.catalogue(
            console, status=exc.status, error=exc.message, error_id=product_id
        )
    if not diff:
        return await console.done(back, f"{product.name}: nothing changed.")
    if "price" in diff:
        return await console.done(back, f"{product.name} now {format_inr(product.price)}.")
    return await console.done(
        back, f"{product.name} {'back in' if product.active else 'retired from'} the catalogue."
    )


async def product_price(console: Console) -> Response:
    """`PATCH /products/{id} {"price"}` as a form."""
    try:
        price = api_fields.amount(console.form, "price")
    except AppError as exc:
        return await pages.catalogue(
            console,
            status=exc.status,
            error=exc.message,
            error_id=pages.path_id(console, "product"),
        )
    return await _change_product(console, upkeep.ProductChange(price=price))


async def product_retire(console: Console) -> Response:
    """`PATCH /products/{id} {"active": false}` as a form."""
    return await _change_product(console, upkeep.ProductChange(active=False))


async def product_restore(console: Console) -> Response:
    """`PATCH /products/{id} {"active": true}` as a form."""
    return await _change_product(console, upkeep.ProductChange(active=True))


async def retailer_details(console: Console) -> Response:
    """`PATCH /retailers/{retailer}` as a form: name, shop, language, WhatsApp number."""
    rid = pages.path_id(console, "retailer")
    form = console.form
    deps = console.deps
    try:
        change = upkeep.RetailerChange(
            name=api_fields.optional_text(form, "name"),
            shop_name=api_fields.optional_text(form, "shopName"),
            language=form.get("language"),
            phone=api_fields.optional_text(form, "phone"),
        )
        async with deps.pool.acquire() as conn:
            _, diff = await upkeep.update_retailer(
                conn,
                rid,
                change,
                admin_numbers=deps.settings.admin_numbers,
                performed_by=console.caller.performed_by,
                now=deps.clock.now(),
            )
    except AppError as exc:
        return await refused_on_retailer(console, rid, "details", exc)
    changed = ", ".join(name.replace("_", " ") for name in diff) or "nothing"
    return await console.done(back_to_retailer(console, rid), f"Details saved ({changed} changed).")
