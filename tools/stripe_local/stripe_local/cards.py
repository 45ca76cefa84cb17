"""Stripe's test card numbers and what happens when they are charged."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_CARD = "4242424242424242"


@dataclass(frozen=True)
class Card:
    number: str
    brand: str
    #: None: charges succeed. Otherwise Stripe's decline code for every charge.
    decline_code: str | None = None
    #: Message the card holder sees when declined.
    message: str | None = None

    @property
    def last4(self) -> str:
        return self.number[-4:]


_DECLINED = "Your card was declined."
CARDS = {
    c.number: c
    for c in (
        Card("4242424242424242", "visa"),
        Card("4000056655665556", "visa"),
        Card("5555555555554444", "mastercard"),
        Card("378282246310005", "amex"),
        Card("4000000000000002", "visa", "generic_decline", _DECLINED),
        Card("4000000000009995", "visa", "insufficient_funds", "Your card has insufficient funds."),
        Card("4000000000000069", "visa", "expired_card", "Your card has expired."),
        Card(
            "4000000000000127", "visa", "incorrect_cvc", "Your card's security code is incorrect."
        ),
        # Attaches to a customer but every charge fails: for failing renewals.
        Card("4000000000000341", "visa", "generic_decline", _DECLINED),
    )
}


def lookup(number: str) -> Card | None:
    """The test card for `number` (spaces and dashes ignored), None if it is not one."""
    digits = number.replace(" ", "").replace("-", "")
    return CARDS.get(digits)
