"""JSON shapes of the business day's routes (orders, returns, products, retailers, checkouts,
statements): camelCase keys, amounts as rupee strings, times ISO 8601 (docs/admin-api.md)."""

from __future__ import annotations

from typing import Any

from bot.money import rupees_json
from db import order_queries as oq
from db import upkeep
from db.ledger import OrderMoved, ReturnResult
from db.statements import Statement
from handlers.admin.shapes import allocations_json, day, ts


def order_row_json(o: oq.OrderRow) -> dict[str, Any]:
    return {
        "id": o.order_id,
        "retailerId": o.retailer_id,
        "retailerName": o.retailer_name,
        "shopName": o.shop_name,
        "phone": o.phone,
        "total": rupees_json(o.total),
        "paymentMode": o.payment_mode,
        "status": o.status,
        "itemCount": o.item_count,
        "dueDate": day(o.due_date),
        "createdAt": ts(o.created_at),
        "dispatchedAt": ts(o.dispatched_at),
        "deliveredAt": ts(o.delivered_at),
        "closedAt": ts(o.closed_at),
        "closeReason": o.close_reason,
    }


def _ledger_line_json(line: oq.LedgerLine) -> dict[str, Any]:
    return {
        "transactionId": line.transaction_id,
        "type": line.type,
        "direction": line.direction,
        "status": line.status,
        "amount": rupees_json(line.amount),
        "reason": line.reason,
        "notes": line.notes,
        "performedBy": line.performed_by,
        "createdAt": ts(line.created_at),
    }


def order_detail_json(d: oq.OrderDetail) -> dict[str, Any]:
    debit = d.debit
    return {
        **order_row_json(d.order),
        "pendingOrderId": d.pending_order_id,
        "items": [
            {
                "productId": i.product_id,
                "sku": i.sku,
                "name": i.name,
                "unitPrice": rupees_json(i.unit_price),
                "quantity": i.quantity,
                "lineTotal": rupees_json(i.line_total),
            }
            for i in d.items
        ],
        "payment": {
            "mode": d.order.payment_mode,
            "dueDate": day(d.order.due_date),
        },
        "debit": (
            {
                **_ledger_line_json(debit),
                "paid": rupees_json(debit.cleared_amount),
                "unpaid": rupees_json(
                    debit.amount - debit.cleared_amount
                    if debit.status in ("OPEN", "PARTIAL")
                    else 0
                ),
                "dueDate": day(debit.due_date),
                "daysOverdue": d.days_overdue,
            }
            if debit
            else None
        ),
        "credits": [_ledger_line_json(c) for c in d.credits],
        "returned": rupees_json(d.returned_total),
        "returnable": rupees_json(
            d.order.total - d.returned_total if d.order.status == "DELIVERED" else 0
        ),
        "returnedItems": [
            {
                "transactionId": r.transaction_id,
                "productId": r.product_id,
                "sku": r.sku,
                "name": r.name,
                "unitPrice": rupees_json(r.unit_price),
                "quantity": r.quantity,
                "lineTotal": rupees_json(r.line_total),
            }
            for r in d.returned_items
        ],
        **{k: ts(v) if k.endswith("At") else v for k, v in d.stamps.items()},
        "history": [
            {
                "action": e.action,
                "fromStatus": e.from_status,
                "toStatus": e.to_status,
                "reason": e.reason,
                "transactionId": e.transaction_id,
                "performedBy": e.performed_by,
                "at": ts(e.at),
            }
            for e in d.history
        ],
    }


def order_moved_json(m: OrderMoved) -> dict[str, Any]:
    return {
        "orderId": m.order_id,
        "retailerId": m.retailer_id,
        "action": m.action.value,
        "previousStatus": m.previous_status.value,
        "status": m.status.value,
        "reason": m.reason,
        "at": ts(m.at),
        "performedBy": m.performed_by,
        "total": rupees_json(m.total),
        "paymentMode": m.payment_mode.value,
        "reversalTransactionId": m.reversal_id,
        "reversedAmount": rupees_json(m.reversed_amount),
        "credited": rupees_json(m.credited),
        "allocations": allocations_json(m.allocations),
        "toAdvance": rupees_json(m.to_advance),
    }


def return_json(r: ReturnResult) -> dict[str, Any]:
    return {
        "transactionId": r.transaction_id,
        "orderId": r.order_id,
        "retailerId": r.retailer_id,
        "amount": rupees_json(r.amount),
        "reason": r.reason,
        "items": [
            {
                "productId": i.product_id,
                "sku": i.sku,
                "name": i.name,
                "unitPrice": rupees_json(i.unit_price),
                "quantity": i.quantity,
                "lineTotal": rupees_json(i.line_total),
            }
            for i in r.items
        ],
        "returnedTotal": rupees_json(r.returned_total),
        "returnable": rupees_json(r.returnable),
        "allocations": allocations_json(r.allocations),
        "toAdvance": rupees_json(r.to_advance),
        "outstandingBefore": rupees_json(r.outstanding_before),
        "outstanding": rupees_json(r.outstanding_after),
        "performedBy": r.performed_by,
        "at": ts(r.at),
    }


def product_json(p: upkeep.ProductRow) -> dict[str, Any]:
    return {
        "id": p.product_id,
        "sku": p.sku,
        "name": p.name,
        "category": p.category,
        "price": rupees_json(p.price),
        "unit": p.unit,
        "active": p.active,
        "createdAt": ts(p.created_at),
    }


def changes_json(diff: dict[str, Any]) -> dict[str, Any]:
    """{field: {"from", "to"}}; prices as rupee strings."""
    return {
        field: {
            "from": rupees_json(old) if field == "price" else old,
            "to": rupees_json(new) if field == "price" else new,
        }
        for field, (old, new) in diff.items()
    }


def retailer_json(r: upkeep.RetailerRow) -> dict[str, Any]:
    return {
        "id": r.retailer_id,
        "phone": r.phone,
        "name": r.name,
        "shopName": r.shop_name,
        "language": r.language,
        "creditStatus": r.credit_status,
        "creditLimit": rupees_json(r.credit_limit or 0),
        "outstanding": rupees_json(r.outstanding or 0),
        "optedOut": r.opted_out,
        "lastInboundAt": ts(r.last_inbound_at),
        "createdAt": ts(r.created_at),
    }


def pending_json(p: oq.PendingRow, age_seconds: int) -> dict[str, Any]:
    return {
        "id": p.pending_id,
        "retailerId": p.retailer_id,
        "retailerName": p.retailer_name,
        "phone": p.phone,
        "status": p.status,
        "cart": [
            {
                "productId": line.get("product_id"),
                "sku": line.get("sku"),
                "name": line.get("name"),
                "unitPrice": rupees_json(int(line.get("unit_price", 0))),
                "quantity": line.get("quantity"),
                "lineTotal": rupees_json(int(line.get("line_total", 0))),
            }
            for line in p.lines
            if isinstance(line, dict)
        ],
        "total": rupees_json(p.total),
        "paymentMode": p.payment_mode,
        "createdAt": ts(p.created_at),
        "updatedAt": ts(p.updated_at),
        "expiresAt": ts(p.expires_at),
        "ageMinutes": age_seconds // 60,
        "followUps": p.follow_up_count,
        "lastFollowUpAt": ts(p.follow_up_sent_at),
        "orderId": p.order_id,
    }


def statement_json(s: Statement) -> dict[str, Any]:
    return {
        "retailerId": s.retailer_id,
        "name": s.name,
        "shopName": s.shop_name,
        "phone": s.phone,
        "from": day(s.from_date),
        "to": day(s.to_date),
        "openingBalance": rupees_json(s.opening_balance),
        "closingBalance": rupees_json(s.closing_balance),
        "totalDebits": rupees_json(s.total_debits),
        "totalCredits": rupees_json(s.total_credits),
        "outstanding": rupees_json(s.outstanding),
        "advance": rupees_json(s.advance),
        "entries": [
            {
                "transactionId": e.transaction_id,
                "date": e.day.isoformat(),
                "entry": e.kind,
                "type": e.type,
                "direction": e.direction,
                "status": e.status,
                "orderId": e.order_id,
                "relatedTransactionId": e.related_transaction_id,
                "reference": e.reference,
                "reason": e.reason,
                "notes": e.notes,
                "debit": rupees_json(e.debit),
                "credit": rupees_json(e.credit),
                "balance": rupees_json(e.balance),
                "dueDate": day(e.due_date),
                "advanceApplied": rupees_json(e.advance_applied),
                "performedBy": e.performed_by,
                "source": e.source,
                "createdAt": ts(e.created_at),
            }
            for e in s.entries
        ],
    }
