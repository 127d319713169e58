"""The admin HTTP API (DESIGN section 6; shapes in docs/admin-api.md), one module per resource.

`routes` is one `Mount` at `/api/v1/admin` whose middleware, `auth.AdminAuth`, checks the bearer
token and the caller's role against the route's action (`bot.roles`) before any handler runs,
and puts the `Caller` on `request.state`. Handlers are thin: read
the fields (`fields`), resolve the retailer on the connection they then use, call one `db`
function, answer its JSON shape (`shapes`). Refusals are `db.errors.AppError`s, rendered by the
app's one handler. To add a route: a handler in its resource's module, a line in `ADMIN_ROUTES`
with the action it performs.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount

from bot.roles import Action
from handlers.admin import (
    bank,
    credit_ops,
    credit_views,
    guardrails,
    insights,
    onboarding,
    operations,
    operators,
    order_desk,
    orders,
    outbox,
    payments,
    statements,
    upkeep,
)
from handlers.admin.auth import AdminAuth, AdminRoute

PREFIX = "/api/v1/admin"

GET, POST, PUT, PATCH, DELETE = ["GET"], ["POST"], ["PUT"], ["PATCH"], ["DELETE"]
A = Action

# Paths below PREFIX. Order matters where two patterns overlap: the literal path first.
ADMIN_ROUTES: list[BaseRoute] = [
    AdminRoute("/credit/risk-dashboard", credit_views.risk_dashboard, methods=GET, action=A.VIEW),
    AdminRoute("/credit/at-risk", credit_views.at_risk, methods=GET, action=A.VIEW),
    AdminRoute("/credit/{retailer}", credit_views.profile, methods=GET, action=A.VIEW),
    AdminRoute("/credit/{retailer}/pause", credit_ops.pause, methods=POST, action=A.PAUSE),
    AdminRoute("/credit/{retailer}/unpause", credit_ops.unpause, methods=POST, action=A.UNPAUSE),
    AdminRoute("/credit/{retailer}/block", credit_ops.block, methods=POST, action=A.BLOCK),
    AdminRoute("/credit/{retailer}/unblock", credit_ops.unblock, methods=POST, action=A.UNBLOCK),
    AdminRoute(
        "/credit/{retailer}/adjustment", credit_ops.adjustment, methods=POST, action=A.ADJUST
    ),
    AdminRoute("/credit/{retailer}/statement", statements.statement, methods=GET, action=A.VIEW),
    AdminRoute("/payment/record", payments.record_payment, methods=POST, action=A.RECORD_PAYMENT),
    AdminRoute(
        "/guardrails/validate-order", guardrails.validate_order, methods=POST, action=A.VIEW
    ),
    AdminRoute("/guardrails/evaluate", guardrails.evaluate, methods=POST, action=A.JOBS),
    AdminRoute("/guardrails/{retailer}", guardrails.set_guardrails, methods=PUT, action=A.LIMITS),
    AdminRoute("/orders/failed/{retailer}", orders.failed_orders, methods=GET, action=A.VIEW),
    AdminRoute("/orders/{order}/fail", orders.fail_order, methods=POST, action=A.ORDERS),
    AdminRoute("/orders", order_desk.list_orders, methods=GET, action=A.VIEW),
    AdminRoute("/orders/{order}", order_desk.get_order, methods=GET, action=A.VIEW),
    AdminRoute("/orders/{order}/dispatch", order_desk.dispatch, methods=POST, action=A.ORDERS),
    AdminRoute("/orders/{order}/deliver", order_desk.deliver, methods=POST, action=A.ORDERS),
    AdminRoute("/orders/{order}/cancel", order_desk.cancel, methods=POST, action=A.ORDERS),
    AdminRoute("/orders/{order}/return", order_desk.return_order, methods=POST, action=A.RETURN),
    AdminRoute("/pending-orders", statements.pending_orders, methods=GET, action=A.VIEW),
    AdminRoute("/insights/{retailer}", insights.insights, methods=GET, action=A.VIEW),
    AdminRoute(
        "/insights/{retailer}/message", insights.insights_message, methods=GET, action=A.VIEW
    ),
    AdminRoute("/retailers", onboarding.new_retailer, methods=POST, action=A.RETAILERS),
    AdminRoute("/retailers", upkeep.list_retailers, methods=GET, action=A.VIEW),
    AdminRoute("/retailers/{retailer}", upkeep.patch_retailer, methods=PATCH, action=A.RETAILERS),
    AdminRoute("/products", onboarding.new_product, methods=POST, action=A.CATALOGUE),
    AdminRoute("/products", upkeep.list_products, methods=GET, action=A.VIEW),
    AdminRoute("/products/{id}", upkeep.patch_product, methods=PATCH, action=A.CATALOGUE),
    AdminRoute("/audit", operations.audit, methods=GET, action=A.VIEW),
    AdminRoute("/jobs/{job}/run", operations.run_job, methods=POST, action=A.JOBS),
    AdminRoute("/whatsapp/send", operations.whatsapp_send, methods=POST, action=A.SEND_MESSAGE),
    AdminRoute("/outbox", outbox.outbox, methods=GET, action=A.VIEW),
    AdminRoute("/operators", operators.list_operators, methods=GET, action=A.OPERATORS),
    AdminRoute("/operators", operators.add_operator, methods=POST, action=A.OPERATORS),
    AdminRoute(
        "/operators/{operator}/tokens", operators.issue_token, methods=POST, action=A.OPERATORS
    ),
    AdminRoute(
        "/operators/{operator}/tokens/{token}",
        operators.revoke_token,
        methods=DELETE,
        action=A.OPERATORS,
    ),
    AdminRoute("/bank/import", bank.bank_import, methods=POST, action=A.RECORD_PAYMENT),
    AdminRoute("/bank/unmatched", bank.unmatched, methods=GET, action=A.VIEW),
    AdminRoute("/bank/unmatched/{id}/assign", bank.assign, methods=POST, action=A.RECORD_PAYMENT),
    AdminRoute("/bank/unmatched/{id}/dismiss", bank.dismiss, methods=POST, action=A.RECORD_PAYMENT),
    AdminRoute("/retailers/{retailer}/vpa", bank.set_vpa, methods=PUT, action=A.RETAILERS),
]

routes: list[BaseRoute] = [
    Mount(
        PREFIX,
        routes=ADMIN_ROUTES,
        middleware=[Middleware(AdminAuth, routes=ADMIN_ROUTES)],
    )
]
