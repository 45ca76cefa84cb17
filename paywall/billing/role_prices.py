"""Role prices at checkout and on the pages: a member carrying a role (`members.role`)
pays the role's price for a product when the build gives one (`Manifest.roles`, keyed by
`kp_contract.manifest.price_key`), in their language's currency. The build has worked every
price out (fixed or `percent_off`), with its own Stripe price (`kp stripe sync`); here it is
only looked up. Gifts are bought at everyone's price: the role is the buyer's, not the
recipient's."""

from __future__ import annotations

from dataclasses import dataclass

from kp_contract.manifest import Manifest, Price, Role


@dataclass(frozen=True)
class RoleQuote:
    """A member's role price for one product, and everyone else's, in one currency."""

    role: Role
    key: str
    price: Price
    was: Price

    @property
    def percent_off(self) -> int | None:
        return self.role.percent_off_for(self.key)


def role_quote(
    manifest: Manifest | None, role: str | None, key: str, base: Price, currency: str | None
) -> RoleQuote | None:
    """The role's price for the product priced `base` (its `price_key` is `key`) in
    `currency`, or None when the member has no role or the role no price for it."""
    if manifest is None or not role:
        return None
    found = manifest.roles.get(role)
    price = found.prices.get(key) if found is not None else None
    if found is None or price is None:
        return None
    was = base.in_currency(currency)
    mine = price.in_currency(was.currency)
    if mine.currency != was.currency:  # the build checks currencies match; an old manifest
        return None
    return RoleQuote(found, key, mine, was)
