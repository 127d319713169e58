"""Twilio's request signature (X-Twilio-Signature), computed exactly as Twilio does; SID shapes.

HMAC-SHA1 over the full URL followed by every POST field sorted by name (name + value, and every
value of a repeated name), keyed by the auth token, base64-encoded. Compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable


def compute_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The signature Twilio sends for a POST of `params` to `url`."""
    payload = url
    for name, value in sorted(params, key=lambda kv: (kv[0], kv[1])):
        payload += name + value
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_valid(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str | None
) -> bool:
    """True when `signature` is Twilio's for this URL and these fields (constant-time compare)."""
    if not signature or not auth_token:
        return False
    expected = compute_signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode(), signature.encode())


_SID = re.compile(r"^[A-Za-z0-9]{2,64}$")


def looks_like_sid(value: str) -> bool:
    """A Twilio resource SID's shape (two letters and 32 hex digits; a little looser here)."""
    return bool(_SID.match(value))
