"""Twilio's error codes: what each means for a message we sent, in one table (pure).

The same table reads the Messages API's answer (`{"code": 21611, ...}` with a 4xx) and the
`ErrorCode` of a `failed`/`undelivered` status callback, so a code means one thing wherever it
arrives. Each entry names its class:

- TEMPORARY: try again later, with a long backoff (`wait` is the shortest sensible wait);
- RECIPIENT: this number cannot get the message (not on WhatsApp, invalid): no retry;
- OPTED_OUT: the recipient opted out (21610) or blocked the business (63014): the retailer is
  marked opted out and nothing more is sent until they write in;
- WINDOW: outside the 24-hour window: resend as the kind's approved template;
- CONFIGURATION: our account, sender, template or payload is wrong: an operator must act.

Twilio warns that codes are refined over time ("we recommend avoiding writing programmatic logic
based on error code fields", changelog 2024-07-10), so a code not in the table gets `UNKNOWN`:
no retry, the code and Twilio's message kept on the row for an operator. Each entry's comment
gives the page its meaning was taken from (https://www.twilio.com/docs/api/errors/<code> unless
it says otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class ErrorClass(StrEnum):
    TEMPORARY = "temporary"
    RECIPIENT = "recipient"
    OPTED_OUT = "opted_out"
    WINDOW = "window"
    CONFIGURATION = "configuration"


@dataclass(frozen=True)
class TwilioError:
    meaning: str
    kind: ErrorClass
    # TEMPORARY only: the shortest wait before sending again (the backoff may wait longer).
    wait: timedelta = timedelta(0)


TEMPORARY, RECIPIENT, OPTED_OUT, WINDOW, CONFIGURATION = (
    ErrorClass.TEMPORARY,
    ErrorClass.RECIPIENT,
    ErrorClass.OPTED_OUT,
    ErrorClass.WINDOW,
    ErrorClass.CONFIGURATION,
)
_MINUTES_15 = timedelta(minutes=15)
_HOUR = timedelta(hours=1)

TWILIO_ERRORS: dict[str, TwilioError] = {
    # 20429: "Requests that receive 429 responses aren't processed and are safe to retry".
    "20429": TwilioError("Too many requests", TEMPORARY),
    # 21211: not E.164 or not a valid number.
    "21211": TwilioError("Invalid 'To' phone number", RECIPIENT),
    # 21408: Geo Permissions do not allow the destination region.
    "21408": TwilioError("Permission to send to this region is not enabled", CONFIGURATION),
    # 21606: the From is not a message-capable sender of this account.
    "21606": TwilioError("The 'From' number is not a valid sender for this account", CONFIGURATION),
    # 21608: trial account, unverified recipient.
    "21608": TwilioError("The 'To' number is not verified for this trial account", CONFIGURATION),
    # 21610: "has opted out of receiving messages from your Twilio phone number, Channels sender,
    # or Messaging Service [...] until [...] responded with 'START'".
    "21610": TwilioError("Attempt to send to an unsubscribed recipient", OPTED_OUT),
    # 21611: "When a queue for a particular 'From' number exceeds 10 hours, this error will be
    # thrown when attempting to create additional messages": slow down, for a while.
    "21611": TwilioError("The sender's queue of messages is over its limit", TEMPORARY, _HOUR),
    # 21614: "likely [...] a landline number or is an invalid number".
    "21614": TwilioError("'To' number is not a valid mobile number", RECIPIENT),
    # 21617: "The concatenated message body exceeds the 1600 character limit".
    "21617": TwilioError("The message body exceeds 1,600 characters", CONFIGURATION),
    # 21656: not JSON, empty value, or newlines/tabs/more than 4 spaces in a variable.
    "21656": TwilioError("The ContentVariables parameter is invalid", CONFIGURATION),
    # 30001: "Messages can only be queued for 10 hours and then they automatically fail".
    "30001": TwilioError("Queue overflow", TEMPORARY, _HOUR),
    # 30002: the account was suspended after the message was queued.
    "30002": TwilioError("Account suspended", CONFIGURATION),
    # 30003: "temporarily unreachable"; solution: "Retry the message".
    "30003": TwilioError("Unreachable destination handset", TEMPORARY, _MINUTES_15),
    # 30004: blocked by the destination, a prior opt-out or carrier filtering. Not treated as a
    # WhatsApp opt-out: the page names carriers' reasons as much as the recipient's.
    "30004": TwilioError("Message blocked", RECIPIENT),
    # 30005: "The destination number you are trying to reach is unknown and may no longer exist"
    # (Twilio's wording as quoted in ProgressiveCoders/Spoke#316; the page itself not stored).
    "30005": TwilioError("Unknown destination handset", RECIPIENT),
    # 30006: "do not retry the same SMS to that destination".
    "30006": TwilioError("Landline or unreachable carrier", RECIPIENT),
    # 30007: "filtered (blocked) by Twilio or by the carrier": the content must change.
    "30007": TwilioError("Message filtered", CONFIGURATION),
    # 30008: delivery failed for unknown reasons (third-party summaries of Twilio's list; the
    # page itself not stored): a few retries, as for 30003.
    "30008": TwilioError("Unknown error", TEMPORARY, _MINUTES_15),
    # 30010: the MaxPrice parameter was exceeded.
    "30010": TwilioError("Message price exceeds max price", CONFIGURATION),
    # 63001: the channel's credentials were rotated or de-authorised.
    "63001": TwilioError("Channel could not authenticate the request", CONFIGURATION),
    # 63003: "an unregistered WhatsApp number", inactive user or wrong format.
    "63003": TwilioError("Channel could not find the 'To' address", RECIPIENT),
    # 63005: bad media, not a WhatsApp user, or a country the business may not message.
    "63005": TwilioError("Channel did not accept the content", CONFIGURATION),
    # 63007: not a WhatsApp sender, pending approval, or wrong credentials.
    "63007": TwilioError("No channel with this 'From' address", CONFIGURATION),
    # 63013: e.g. "empty or null string [...] template variable", >4 consecutive spaces.
    "63013": TwilioError("Channel policy violation", CONFIGURATION),
    # 63014: "The recipient blocked the sender in the channel [...] Stop sending additional
    # messages to that recipient until they re-engage or restore consent".
    "63014": TwilioError("The recipient blocked the business on WhatsApp", OPTED_OUT),
    # 63015: the Sandbox "can only send messages to phone numbers that have joined the
    # Sandbox"; "If the recipient joined more than three days ago, they must join again".
    "63015": TwilioError("The recipient has not joined the WhatsApp Sandbox", CONFIGURATION),
    # 63016: "Outside messaging window. For WhatsApp, use a Message Template instead".
    "63016": TwilioError("Outside the 24-hour window; use a template", WINDOW),
    # 63018: the account's rate, or "the messaging limit imposed by WhatsApp": "Wait until 24
    # hours have passed" in the latter case; the backoff below reaches that within 5 tries.
    "63018": TwilioError("Rate limit exceeded for the channel", TEMPORARY, _HOUR),
    # 63019: "Attempt to retrieve the media returned 0 bytes".
    "63019": TwilioError("Media failed to download", CONFIGURATION),
    # 63021: "Length of the parameters and the template text exceeds the allowed length of
    # 1024 for WhatsApp".
    "63021": TwilioError("Template and variables exceed 1,024 characters", CONFIGURATION),
    # 63024: "not enabled for WhatsApp", terms not accepted, or an old client.
    "63024": TwilioError("Invalid message recipient", RECIPIENT),
    # 63027: "Template does not exist for a language and locale".
    "63027": TwilioError("Template does not exist for this language", CONFIGURATION),
    # 63032: a WhatsApp marketing experiment; retries keep failing "for an unspecified amount of
    # time" (support.twilio.com/hc/en-us/articles/17388935157915-WhatsApp-Marketing-Experiments).
    "63032": TwilioError("Held back by a WhatsApp marketing experiment", RECIPIENT),
    # 63038: "maximum number of messages permitted within a rolling 24 hour window".
    "63038": TwilioError(
        "Account exceeded the daily messages limit", TEMPORARY, timedelta(hours=6)
    ),
    # 63040: the template was rejected (placeholders at the ends, adjacent, not sequential).
    "63040": TwilioError("Template rejected", CONFIGURATION),
    # 63049: "Meta chose not to deliver this WhatsApp marketing message"; US recipients never
    # get marketing templates, elsewhere "do not immediately resend".
    "63049": TwilioError("Meta chose not to deliver this marketing message", RECIPIENT),
}

UNKNOWN = TwilioError("Not in our table of Twilio error codes", CONFIGURATION)


def classify_error(code: str | int | None) -> TwilioError:
    """The table's entry for `code` (as Twilio's answer or a callback gives it), or UNKNOWN."""
    if code is None:
        return UNKNOWN
    return TWILIO_ERRORS.get(str(code).strip(), UNKNOWN)
