"""The admin console at /admin (DESIGN section 10): the credit desk in a browser.

Server-rendered pages (Jinja, templates/console/), one stylesheet, no script at all. Sign-in and
its defences are in `auth` and `security`; every other route is a `guard.ConsoleRoute` naming the
action it performs, checked against the operator's role (`bot.roles`) before it runs. Pages
read through `db` (`pages`); forms call the same readers and `db` functions as the admin API
(`forms`). Without SESSION_SECRET every page answers 503.
"""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.roles import Action
from handlers.console import auth, desk_forms, forms, pages
from handlers.console.guard import ConsoleRoute
from handlers.console.security import PREFIX, SecurityHeaders


async def _to_dashboard(request: Request) -> Response:
    return RedirectResponse(PREFIX, status_code=308)


STATIC_DIR = Path(__file__).resolve().parent / "static"

POST = ("POST",)

CONSOLE_ROUTES: list[BaseRoute] = [
    Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    *auth.routes,
    Route("/", _to_dashboard),
    ConsoleRoute("/retailers", pages.retailers, action=Action.VIEW),
    ConsoleRoute("/retailers/{retailer}", pages.retailer, action=Action.VIEW),
    ConsoleRoute(
        "/retailers/{retailer}/payment",
        forms.record_payment,
        action=Action.RECORD_PAYMENT,
        methods=POST,
    ),
    ConsoleRoute("/retailers/{retailer}/adjust", forms.adjust, action=Action.ADJUST, methods=POST),
    ConsoleRoute("/retailers/{retailer}/pause", forms.pause, action=Action.PAUSE, methods=POST),
    ConsoleRoute(
        "/retailers/{retailer}/unpause", forms.unpause, action=Action.UNPAUSE, methods=POST
    ),
    ConsoleRoute("/retailers/{retailer}/block", forms.block, action=Action.BLOCK, methods=POST),
    ConsoleRoute(
        "/retailers/{retailer}/unblock", forms.unblock, action=Action.UNBLOCK, methods=POST
    ),
    ConsoleRoute("/retailers/{retailer}/limits", forms.limits, action=Action.LIMITS, methods=POST),
    ConsoleRoute(
        "/retailers/{retailer}/details",
        desk_forms.retailer_details,
        action=Action.RETAILERS,
        methods=POST,
    ),
    ConsoleRoute(
        "/retailers/{retailer}/statement.csv", pages.statement_download, action=Action.VIEW
    ),
    ConsoleRoute("/orders", pages.orders, action=Action.VIEW),
    ConsoleRoute(
        "/orders/{order}/dispatch", desk_forms.dispatch, action=Action.ORDERS, methods=POST
    ),
    ConsoleRoute("/orders/{order}/deliver", desk_forms.deliver, action=Action.ORDERS, methods=POST),
    ConsoleRoute("/orders/{order}/cancel", desk_forms.cancel, action=Action.ORDERS, methods=POST),
    ConsoleRoute("/orders/{order}/fail", desk_forms.fail_order, action=Action.ORDERS, methods=POST),
    ConsoleRoute(
        "/orders/{order}/return", desk_forms.return_goods, action=Action.RETURN, methods=POST
    ),
    ConsoleRoute("/checkouts", pages.checkouts, action=Action.VIEW),
    ConsoleRoute("/catalogue", pages.catalogue, action=Action.VIEW),
    ConsoleRoute("/catalogue", desk_forms.add_product, action=Action.CATALOGUE, methods=POST),
    ConsoleRoute(
        "/catalogue/{product}/price",
        desk_forms.product_price,
        action=Action.CATALOGUE,
        methods=POST,
    ),
    ConsoleRoute(
        "/catalogue/{product}/retire",
        desk_forms.product_retire,
        action=Action.CATALOGUE,
        methods=POST,
    ),
    ConsoleRoute(
        "/catalogue/{product}/restore",
        desk_forms.product_restore,
        action=Action.CATALOGUE,
        methods=POST,
    ),
    ConsoleRoute("/jobs", pages.jobs, action=Action.VIEW),
    ConsoleRoute("/jobs/{job}/run", forms.run_job, action=Action.JOBS, methods=POST),
    ConsoleRoute("/operators", pages.operators, action=Action.OPERATORS),
    ConsoleRoute("/operators", forms.add_operator, action=Action.OPERATORS, methods=POST),
    ConsoleRoute(
        "/operators/{operator}/tokens", forms.issue_token, action=Action.OPERATORS, methods=POST
    ),
    ConsoleRoute(
        "/operators/{operator}/tokens/{token}/revoke",
        forms.revoke_token,
        action=Action.OPERATORS,
        methods=POST,
    ),
    ConsoleRoute(
        "/operators/{operator}/password", forms.new_password, action=Action.OPERATORS, methods=POST
    ),
]

HEADERS = [Middleware(SecurityHeaders)]

routes: list[BaseRoute] = [
    # The dashboard is /admin itself (a Mount matches only what is below it).
    ConsoleRoute(PREFIX, pages.dashboard, action=Action.VIEW, middleware=HEADERS),
    Mount(PREFIX, routes=CONSOLE_ROUTES, middleware=HEADERS),
]
