"""Payments that record themselves (DESIGN section 10), the pure parts.

- `provider`: what a payment gateway is to the rest of the service: the calls it is asked to make
  (an `HttpCall` the I/O client sends), the answers read back (`LinkCreated`, `LinkFailed`), and
  its webhook events parsed into typed values (`PaymentEvent`, `RefundEvent`, `LinkEvent`,
  `OtherEvent`). `PaymentProvider` is the protocol a gateway implements.
- `razorpay`: Razorpay's Payment Links API and webhooks behind that protocol.
- `links`: which payment link to reuse, which to cancel and whether to create one (`plan_link`).
- `pay`: the "how to pay" lines a message carries: a gateway link for the amount due, else a
  `upi://pay` link (`upi_url`) when `UPI_ID` is set.

No I/O here: `jobs/payment_links.py` sends the calls, `db/payments/` records what arrives,
`handlers/payments.py` is the webhook.
"""
