"""Object ids shaped like Stripe's: a type prefix and a random base62 tail."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits

#: Tail lengths as Stripe uses them; Checkout Session ids are much longer than the rest.
_TAIL = {"cs_test_": 58, "bps_": 24, "req_": 14, "whsec_": 32}


def random_tail(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str) -> str:
    """A fresh id such as `prod_Qx3…` or `cs_test_a1…`."""
    return prefix + random_tail(_TAIL.get(prefix, 24))
