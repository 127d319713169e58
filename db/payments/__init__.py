"""Payments that record themselves: payment link rows, gateway webhook events, and the money
received (gateway or bank) recorded as payments or held for an operator (DESIGN section 10).

Every payment goes through `db.ledger.record_payment` (so its audit entry, the FIFO clearing
and what the ledger adds, such as resuming a SYSTEM pause, happen in its transaction). What this
package adds is a `received_payments` row per gateway payment or bank line, unique per source and
external id, which makes each of them recorded once however often it arrives:

- `handle_gateway_event`: one webhook event, in one transaction: its id claimed in
  `gateway_events` (a redelivery finds it claimed), then the payment's row claimed and locked (a
  second event about the same payment, e.g. `payment.captured` and `payment_link.paid`, waits
  and finds it recorded), the retailer found, the payment recorded, the receipt queued.
- `take`: record a received amount for a retailer, whole (reference = the gateway's payment id
  or the UTR): it clears what is owed and the rest becomes their advance; a reference already
  recorded makes it a DUPLICATE. (Status EXCESS, the rest held on the row, is only on rows
  stored before the ledger kept advances; refunds still give that held part back first.)
- Every function that records takes `tolerance`, the configured OVERDUE_TOLERANCE_PAISE, so a
  SYSTEM pause a payment pays is lifted as the 11:00 run would judge it.
- `assign` / `dismiss`: an operator's decision on an UNMATCHED row.

Lock order, everywhere: the `received_payments` row, then the retailer's credit account (the
ledger's own order follows from there).

The modules, each importing only those above it:
- `links`: payment link rows
- `received`: the `received_payments` rows (claim, lock, the unmatched list)
- `recording`: `take`, and the receipt it queues
- `gateway`: a captured gateway payment, its retailer found by the gateway's clues
- `refunds`: a processed gateway refund
- `events`: a webhook event, dispatched to the three above
- `unmatched`: an operator's `assign` / `dismiss`, and a retailer's UPI address (`set_vpa`)
Bank statement lines are imported by `db.bank`, through `claim_received` and `take`. Import the
names from here: `from db import payments` or `from db.payments import X`.
"""

from db.payments.events import handle_gateway_event
from db.payments.gateway import (
    LINK_REFERENCE_PREFIX,
    EventOutcome,
    gateway_external_id,
    receive_gateway_payment,
)
from db.payments.links import (
    close_provider_link,
    get_active_link,
    get_live_links,
    insert_creating_link,
    mark_link,
    mark_link_active,
)
from db.payments.received import (
    BANK,
    GATEWAY,
    Received,
    claim_received,
    get_received_id,
    get_unmatched,
    lock_received,
)
from db.payments.recording import Taken, take
from db.payments.refunds import apply_refund
from db.payments.unmatched import Assigned, assign, dismiss, set_vpa

__all__ = [
    "BANK",
    "GATEWAY",
    "LINK_REFERENCE_PREFIX",
    "Assigned",
    "EventOutcome",
    "Received",
    "Taken",
    "apply_refund",
    "assign",
    "claim_received",
    "close_provider_link",
    "dismiss",
    "gateway_external_id",
    "get_active_link",
    "get_live_links",
    "get_received_id",
    "get_unmatched",
    "handle_gateway_event",
    "insert_creating_link",
    "lock_received",
    "mark_link",
    "mark_link_active",
    "receive_gateway_payment",
    "set_vpa",
    "take",
]
