"""Webhook signatures exactly as Stripe makes them.

`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` — what
`stripe.Webhook.construct_event` verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import time


def signature_header(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value for `payload` signed with the endpoint `secret`."""
    body = payload.encode("utf-8") if isinstance(payload, str) else payload
    ts = int(time.time()) if timestamp is None else int(timestamp)
    signed = f"{ts}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"
