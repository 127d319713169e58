"""The admin HTTP API (DESIGN section 6; shapes in docs/admin-api.md), one module per resource.

`routes` is one `Mount` at `/api/v1/admin` whose middleware, `auth.AdminAuth`, checks the bearer
token before any handler runs and puts the `Caller` on `request.state`. Handlers are thin: read
the fields (`fields`), resolve the retailer on the connection they then use, call one `db`
function, answer its JSON shape (`shapes`). Refusals are `db.errors.AppError`s, rendered by the
app's one handler. To add a route: a handler in its resource's module, a line in `ADMIN_ROUTES`.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route

from handlers.admin import (
    bank,
    credit_ops,
    credit_views,
    guardrails,
    insights,
    onboarding,
    operations,
    order_desk,
    orders,
    outbox,
    payments,
    statements,
    upkeep,
)
from handlers.admin.auth import AdminAuth

PREFIX = "/api/v1/admin"

GET, POST, PUT, PATCH = ["GET"], ["POST"], ["PUT"], ["PATCH"]

# Paths below PREFIX. Order matters where two patterns overlap: the literal path first.
ADMIN_ROUTES: list[BaseRoute] = [
    Route("/credit/risk-dashboard", credit_views.risk_dashboard, methods=GET),
    Route("/credit/at-risk", credit_views.at_risk, methods=GET),
    Route("/credit/{retailer}", credit_views.profile, methods=GET),
    Route("/credit/{retailer}/pause", credit_ops.pause, methods=POST),
    Route("/credit/{retailer}/unpause", credit_ops.unpause, methods=POST),
    Route("/credit/{retailer}/block", credit_ops.block, methods=POST),
    Route("/credit/{retailer}/unblock", credit_ops.unblock, methods=POST),
    Route("/credit/{retailer}/adjustment", credit_ops.adjustment, methods=POST),
    Route("/credit/{retailer}/statement", statements.statement, methods=GET),
    Route("/payment/record", payments.record_payment, methods=POST),
    Route("/guardrails/validate-order", guardrails.validate_order, methods=POST),
    Route("/guardrails/evaluate", guardrails.evaluate, methods=POST),
    Route("/guardrails/{retailer}", guardrails.set_guardrails, methods=PUT),
    Route("/orders/failed/{retailer}", orders.failed_orders, methods=GET),
    Route("/orders/{order}/fail", orders.fail_order, methods=POST),
    Route("/orders", order_desk.list_orders, methods=GET),
    Route("/orders/{order}", order_desk.get_order, methods=GET),
    Route("/orders/{order}/dispatch", order_desk.dispatch, methods=POST),
    Route("/orders/{order}/deliver", order_desk.deliver, methods=POST),
    Route("/orders/{order}/cancel", order_desk.cancel, methods=POST),
    Route("/orders/{order}/return", order_desk.return_order, methods=POST),
    Route("/pending-orders", statements.pending_orders, methods=GET),
    Route("/insights/{retailer}", insights.insights, methods=GET),
    Route("/insights/{retailer}/message", insights.insights_message, methods=GET),
    Route("/retailers", onboarding.new_retailer, methods=POST),
    Route("/retailers", upkeep.list_retailers, methods=GET),
    Route("/retailers/{retailer}", upkeep.patch_retailer, methods=PATCH),
    Route("/products", onboarding.new_product, methods=POST),
    Route("/products", upkeep.list_products, methods=GET),
    Route("/products/{id}", upkeep.patch_product, methods=PATCH),
    Route("/audit", operations.audit, methods=GET),
    Route("/jobs/{job}/run", operations.run_job, methods=POST),
    Route("/whatsapp/send", operations.whatsapp_send, methods=POST),
    Route("/outbox", outbox.outbox, methods=GET),
    Route("/bank/import", bank.bank_import, methods=POST),
    Route("/bank/unmatched", bank.unmatched, methods=GET),
    Route("/bank/unmatched/{id}/assign", bank.assign, methods=POST),
    Route("/bank/unmatched/{id}/dismiss", bank.dismiss, methods=POST),
    Route("/retailers/{retailer}/vpa", bank.set_vpa, methods=PUT),
]

routes: list[BaseRoute] = [
    Mount(
        PREFIX,
        routes=ADMIN_ROUTES,
        middleware=[Middleware(AdminAuth, routes=ADMIN_ROUTES)],
    )
]
